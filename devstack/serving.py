"""What the local stack's HTTP endpoints share: a werkzeug server in a daemon thread, and JSON answers."""

from __future__ import annotations

import errno
import json
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Response


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


class _QuietRequestHandler(WSGIRequestHandler):
    """No access log: wallets, agents and the orchestrator poll these endpoints several times a second."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class PortUnavailable(Exception):
    """A server could not bind its address (the port is taken, or the host is not this machine's).
    Not an OSError: werkzeug would print its own text for one and exit the process."""

    def __init__(self, host: str, port: int, name: str, reason: str, *, in_use: bool) -> None:
        super().__init__(f"{name}: cannot listen on {host}:{port}: {reason}")
        self.host = host
        self.port = port
        self.name = name  # the ThreadedServer's name: which part of the stack
        self.reason = reason
        self.in_use = in_use


class _BindingServer(ThreadedWSGIServer):
    """werkzeug's threaded server, except that a failed bind raises PortUnavailable instead of
    printing "Port N is in use by another program" and calling sys.exit."""

    def server_bind(self) -> None:
        try:
            super().server_bind()
        except OSError as exc:
            raise PortUnavailable(
                self.host,
                self.port,
                "",
                exc.strerror or str(exc),
                in_use=exc.errno == errno.EADDRINUSE,
            ) from None


class ThreadedServer:
    """A threaded werkzeug server serving `app` in a daemon thread. The port is bound at construction
    (port 0 picks a free one); `stop` is idempotent and the port stays known afterwards."""

    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        access_log: bool = False,
        name: str = "local-server",
        poll_interval: float = 0.05,  # stop() waits for the serving loop to notice the shutdown
    ) -> None:
        handler = WSGIRequestHandler if access_log else _QuietRequestHandler
        # As werkzeug's make_server(threaded=True), with PortUnavailable for a port that is taken.
        try:
            self._server: BaseWSGIServer = _BindingServer(host, port, app, handler)
        except PortUnavailable as exc:
            raise PortUnavailable(host, port, name, exc.reason, in_use=exc.in_use) from None
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": poll_interval}, name=name, daemon=True
        )
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ThreadedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        started = self._thread.ident is not None
        if started:
            self._server.shutdown()  # waits for serve_forever to return: never started, it would wait forever
        self._server.server_close()
        if started:
            self._thread.join(timeout=5)
