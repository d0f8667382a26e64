"""One construct per concern; :mod:`infra.stack` wires them together."""
