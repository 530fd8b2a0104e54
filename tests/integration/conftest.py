"""What the integration tests share: the dev ledgers they run on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dev_ledgers import DevLedgers


@pytest.fixture(scope="module")
def ledger_servers() -> Iterator[DevLedgers]:
    """Starts the module's dev ledgers (`.start(...)` for the module, `with .running(...)` for one
    test), each on free loopback ports, and stops every one still running when the module ends."""
    ledgers = DevLedgers()
    try:
        yield ledgers
    finally:
        ledgers.stop_all()
