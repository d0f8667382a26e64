"""Thin Lambda handlers that adapt events to the core."""
