"""What the algod and indexer apps share: routing by werkzeug Map, JSON bodies, algod-style errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from devstack.ledger.errors import LedgerError
from devstack.serving import json_response

Handler = Callable[..., Response]
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, X-Algo-API-Token, X-Indexer-API-Token",
}


def error_response(status: int, message: str) -> Response:
    return json_response({"message": message}, status)


class JsonApi:
    """A WSGI app whose routes name `on_<endpoint>` methods; every error is {"message": ...}."""

    url_map: Map

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        # Any origin, as algod and the indexer allow: the browser wallet page talks to them directly.
        response = Response(status=204) if request.method == "OPTIONS" else self.dispatch(request)
        response.headers.update(CORS_HEADERS)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
            handler: Handler = getattr(self, f"on_{endpoint}")
            return handler(request, **arguments)
        except LedgerError as exc:
            return error_response(exc.status, exc.message)
        except NotFound:
            return error_response(404, f"no such endpoint: {request.method} {request.path}")
        except MethodNotAllowed:
            return error_response(405, f"method {request.method} not allowed on {request.path}")
        except HTTPException as exc:
            return error_response(exc.code or 500, exc.description or exc.name)


def query_format(request: Request) -> str:
    """algod's `format` parameter: json (the default) or msgpack (also `msgp`; any case)."""
    value = request.args.get("format", "json")
    normal = {"json": "json", "msgpack": "msgpack", "msgp": "msgpack"}.get(value.lower())
    if normal is None:
        raise LedgerError(400, f"unsupported format {value!r}: use json or msgpack")
    return normal
