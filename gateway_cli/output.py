"""What every command of the CLI shares: its one-line failure and its tables."""

from __future__ import annotations


class CliError(Exception):
    """A failure reported as one line on stderr with exit status 2."""


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    return [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row[:-1], widths, strict=False))
        + ("  " if len(row) > 1 else "")
        + str(row[-1])
        for row in [headers, *rows]
    ]
