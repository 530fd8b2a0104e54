"""The web pages on the local stack: `frontend/dist/` and its runtime config, from the API server.

`orch up` hands a `FrontendSite` to the HTTP API as its fallback (devstack/apigw.py): the routes of
template.yaml are matched first, and only what none of them takes comes here:

- `/`, `/orchestrator`, `/workflow/<id>`, `/agents` and `/workflows`: the site's `index.html` (the
  page routes itself, so a reload of any of them works);
- any other file under `frontend/dist/` (the hashed `assets/…`) with its content type;
- `/config.json`: the runtime config the page reads at start, built from the running stack: the API
  on the same origin, network `localnet`, the dev ledger's algod, and an access token for the dev
  user (the local stand-in for the Supabase session a deployed site would have);
- anything else under GET/HEAD: 404 `{"error": {"code": "NotFound", …}}`. Paths under `/api/` and
  other methods are left to the gateway (its own 404 `RouteNotFound`).
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator import errors
from werkzeug.exceptions import NotFound
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from devstack.auth import DEV_USER_EMAIL, DEV_USER_ID
from devstack.template import PROJECT_ROOT

if TYPE_CHECKING:
    from devstack.stack import LocalStack

FRONTEND_DIR = PROJECT_ROOT / "frontend"
FRONTEND_DIST = FRONTEND_DIR / "dist"
# How long the dev user's token in /config.json lives; each page load fetches a fresh one.
DEV_TOKEN_SECONDS = 12 * 3600

_PAGE_PATHS = re.compile(r"^/(?:orchestrator/?|workflow/[^/]+/?|agents/?|workflows/?)?$")
# Content types by suffix, not left to the host's mime database (which may lack .js or .map).
_CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".map": "application/json",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".txt": "text/plain",
    ".wasm": "application/wasm",
}


def site_built(dist_dir: Path = FRONTEND_DIST) -> bool:
    return (dist_dir / "index.html").is_file()


def content_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def runtime_config(stack: LocalStack) -> dict[str, Any]:
    """The page's `/config.json` for a running local stack (the page moves algod's port out of the
    URL itself: src/config.ts)."""
    config: dict[str, Any] = {
        "apiBaseUrl": "",
        "network": "localnet",
        "algod": {"baseServer": stack.algod_url, "port": "", "token": ""},
    }
    if stack.issuer is not None:
        config["devAccessToken"] = stack.issuer.mint_token(
            DEV_USER_ID, DEV_USER_EMAIL, expires_in=DEV_TOKEN_SECONDS
        )
    return config


def _not_found(path: str) -> Response:
    body = {"error": {"code": errors.NotFound.code, "message": f"There is nothing at {path}."}}
    return Response(json.dumps(body), status=404, content_type="application/json")


class FrontendSite:
    """The fallback app serving the built site (`dist_dir`) and `/config.json` (from `config`)."""

    def __init__(self, dist_dir: Path, config: Callable[[], dict[str, Any]]) -> None:
        self.dist_dir = Path(dist_dir)
        self.config = config

    def __call__(self, request: Request) -> Response | None:
        path = request.path
        if request.method not in ("GET", "HEAD") or path == "/api" or path.startswith("/api/"):
            return None
        if path == "/config.json":
            response = Response(json.dumps(self.config()), content_type="application/json")
            response.headers["Cache-Control"] = "no-store"
            return response
        if _PAGE_PATHS.match(path):
            return self._file(request, "index.html", cache="no-cache")
        relative = path.lstrip("/")
        if relative.endswith("/"):
            return _not_found(path)
        # Vite names assets by content hash: they never change under the same name.
        cache = "public, max-age=31536000, immutable" if relative.startswith("assets/") else "no-cache"
        return self._file(request, relative, cache=cache)

    def _file(self, request: Request, relative: str, *, cache: str) -> Response:
        try:
            response = send_from_directory(
                self.dist_dir, relative, request.environ, mimetype=content_type(relative)
            )
        except NotFound:
            return _not_found(request.path)
        response.headers["Cache-Control"] = cache
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def frontend_for(stack: LocalStack, dist_dir: Path = FRONTEND_DIST) -> FrontendSite:
    """The site for `stack`: give it to the stack as its fallback before the stack starts."""
    return FrontendSite(dist_dir, lambda: runtime_config(stack))
