"""Amounts in words: one formatter for the API's sentences, the planner's errors and `orch`, written
as the web pages write them (frontend/tests/format.test.ts holds the same cases)."""

from __future__ import annotations

import pytest
from orchestrator.amounts import format_algo


@pytest.mark.parametrize(
    ("microalgo", "text"),
    [
        (0, "0 ALGO"),
        (1, "0.000001 ALGO"),
        (1_000, "0.001 ALGO"),
        (100_000, "0.1 ALGO"),
        (802_000, "0.802 ALGO"),
        (1_000_000, "1 ALGO"),
        (1_200_000, "1.2 ALGO"),
        (10_000_000, "10 ALGO"),
        (12_345_678, "12.345678 ALGO"),
        (1_000_000_000_000, "1,000,000 ALGO"),
        (1_234_567_890_123, "1,234,567.890123 ALGO"),
        (-802_000, "-0.802 ALGO"),
    ],
)
def test_format_algo(microalgo: int, text: str) -> None:
    assert format_algo(microalgo) == text
