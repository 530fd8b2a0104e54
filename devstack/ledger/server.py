"""The dev ledger on loopback: algod and indexer endpoints in background threads, plus the block producer."""

from __future__ import annotations

import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from devstack.ledger.algod_api import AlgodApi
from devstack.ledger.chain import Ledger
from devstack.ledger.indexer_api import IndexerApi


class _QuietRequestHandler(WSGIRequestHandler):
    """No access log: wallets and agents poll these endpoints several times a second."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LedgerServer:
    """Serves `ledger` as algod (algod_url) and indexer (indexer_url); port 0 picks a free port."""

    def __init__(
        self, ledger: Ledger, *, host: str = "127.0.0.1", algod_port: int = 4001, indexer_port: int = 8980
    ) -> None:
        self.ledger = ledger
        self.host = host
        self._algod_port = algod_port
        self._indexer_port = indexer_port
        self._servers: list[BaseWSGIServer] = []
        self._threads: list[threading.Thread] = []

    @property
    def algod_url(self) -> str:
        port = self._servers[0].server_port if self._servers else self._algod_port
        return f"http://{self.host}:{port}"

    @property
    def indexer_url(self) -> str:
        port = self._servers[1].server_port if self._servers else self._indexer_port
        return f"http://{self.host}:{port}"

    def start(self) -> None:
        if self._servers:
            return
        servers: list[BaseWSGIServer] = []
        try:
            for app, port in (
                (AlgodApi(self.ledger), self._algod_port),
                (IndexerApi(self.ledger), self._indexer_port),
            ):
                servers.append(
                    make_server(self.host, port, app, threaded=True, request_handler=_QuietRequestHandler)
                )
        except BaseException:
            for server in servers:
                server.server_close()
            raise
        self._servers = servers
        self._threads = [
            # A short poll interval: stop() waits for the serving loop to notice the shutdown.
            threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"dev-ledger-{name}",
                daemon=True,
            )
            for server, name in zip(servers, ("algod", "indexer"), strict=True)
        ]
        for thread in self._threads:
            thread.start()
        self.ledger.start_block_producer()

    def stop(self) -> None:
        # The ledger first: it releases requests waiting for a round, so the servers stop promptly.
        self.ledger.stop()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

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
