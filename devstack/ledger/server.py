"""The dev ledger on loopback: algod and indexer endpoints in background threads, plus the block producer."""

from __future__ import annotations

from types import TracebackType

from devstack.ledger.algod_api import AlgodApi
from devstack.ledger.chain import Ledger
from devstack.ledger.indexer_api import IndexerApi
from devstack.serving import ThreadedServer


class LedgerServer:
    """Serves `ledger` as algod (algod_url) and indexer (indexer_url); port 0 picks a free port."""

    def __init__(
        self, ledger: Ledger, *, host: str = "127.0.0.1", algod_port: int = 4001, indexer_port: int = 8980
    ) -> None:
        self.ledger = ledger
        self.host = host
        self._algod_port = algod_port
        self._indexer_port = indexer_port
        self._servers: list[ThreadedServer] = []  # algod, indexer (while started)

    @property
    def algod_url(self) -> str:
        return self._servers[0].url if self._servers else f"http://{self.host}:{self._algod_port}"

    @property
    def indexer_url(self) -> str:
        return self._servers[1].url if self._servers else f"http://{self.host}:{self._indexer_port}"

    def start(self) -> None:
        if self._servers:
            return
        servers: list[ThreadedServer] = []
        try:
            for app, port, name in (
                (AlgodApi(self.ledger), self._algod_port, "algod"),
                (IndexerApi(self.ledger), self._indexer_port, "indexer"),
            ):
                # No access log (the default): wallets and agents poll these several times a second.
                servers.append(ThreadedServer(app, self.host, port, name=f"dev-ledger-{name}"))
        except BaseException:
            for server in servers:
                server.stop()
            raise
        self._servers = [server.start() for server in servers]
        self.ledger.start_block_producer()

    def stop(self) -> None:
        # The ledger first: it releases requests waiting for a round, so the servers stop promptly.
        self.ledger.stop()
        for server in self._servers:
            server.stop()
        self._servers = []

    def __enter__(self) -> LedgerServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
