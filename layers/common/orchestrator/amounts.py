"""Amounts as people read them: microalgo in ALGO, exactly (integer arithmetic, no float rounding),
without trailing zeros, thousands grouped as the web pages group them."""

from __future__ import annotations

MICROALGO_PER_ALGO = 1_000_000


def format_algo(microalgo: int) -> str:
    """1200000 → '1.2 ALGO', 802000 → '0.802 ALGO', 1234567890123 → '1,234,567.890123 ALGO'."""
    whole, fraction = divmod(abs(microalgo), MICROALGO_PER_ALGO)
    text = f"{whole:,}.{fraction:06d}".rstrip("0").rstrip(".")
    return f"{'-' if microalgo < 0 else ''}{text} ALGO"
