"""Bedrock and targets: no Lambda, no HTTP."""
