"""Small wording helpers shared by pages."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """ "1 asset", "3 assets"."""
    return f"{n} {word}{'' if n == 1 else 's'}"
