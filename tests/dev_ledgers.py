"""Dev ledgers (devstack.ledger: algod and indexer) for tests, each on free loopback ports, so that any
number run side by side (pytest-xdist's workers included). tests/integration/conftest.py's
`ledger_servers` fixture hands one `DevLedgers` to each module and stops what it started."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from devstack.ledger import Ledger, LedgerServer


class DevLedgers:
    """Starts dev ledgers and stops each one it started: at the end of `running`, or in `stop_all`."""

    def __init__(self) -> None:
        self._running: list[LedgerServer] = []

    def start(
        self,
        *,
        block_time: float = 1.0,
        indexer_lag_seconds: float = 0.0,
        funded: Mapping[str, int] | None = None,
    ) -> LedgerServer:
        """A ledger serving until `stop_all`. `block_time`: seconds between the rounds its block
        producer makes (a long one leaves the rounds to the test's `ledger.produce_block()`);
        `indexer_lag_seconds`: how long a round takes to reach its indexer; `funded`: the balances
        of its genesis, by address."""
        ledger = Ledger(
            block_time=block_time, indexer_lag_seconds=indexer_lag_seconds, funded=dict(funded or {})
        )
        server = LedgerServer(ledger, algod_port=0, indexer_port=0)
        server.start()
        self._running.append(server)
        return server

    @contextmanager
    def running(
        self,
        *,
        block_time: float = 1.0,
        indexer_lag_seconds: float = 0.0,
        funded: Mapping[str, int] | None = None,
    ) -> Iterator[LedgerServer]:
        """A ledger (as `start` makes it) for the length of the `with` block: one test's, say."""
        server = self.start(block_time=block_time, indexer_lag_seconds=indexer_lag_seconds, funded=funded)
        try:
            yield server
        finally:
            self._stop(server)

    def stop_all(self) -> None:
        while self._running:
            self._stop(self._running[-1])

    def _stop(self, server: LedgerServer) -> None:
        self._running.remove(server)
        server.stop()
