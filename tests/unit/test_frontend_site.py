"""devstack/frontend.py: the fallback that serves the built web pages and /config.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from devstack.frontend import FrontendSite, content_type, site_built

INDEX = "<!doctype html><title>orchestrator</title><div id=main></div>"
SCRIPT = "console.log('page')"
STYLE = "body{margin:0}"
CONFIG = {
    "apiBaseUrl": "",
    "network": "localnet",
    "algod": {"baseServer": "http://127.0.0.1:4001", "port": "", "token": ""},
}


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text(INDEX)
    (folder / "assets" / "index-AbC123.js").write_text(SCRIPT)
    (folder / "assets" / "index-AbC123.js.map").write_text('{"version":3}')
    (folder / "assets" / "index-XyZ789.css").write_text(STYLE)
    (folder / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("outside the site")
    return folder


class SiteApp:
    """The fallback as a WSGI app (what the gateway does with it), with the gateway's 404 behind it."""

    def __init__(self, site: FrontendSite) -> None:
        self.site = site
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        answer = self.site(Request(environ))
        if answer is None:
            answer = Response(json.dumps({"error": {"code": "RouteNotFound"}}), status=404)
        return answer(environ, start_response)


@pytest.fixture
def client(dist: Path) -> Client:
    return Client(SiteApp(FrontendSite(dist, lambda: CONFIG)))


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/orchestrator",
        "/orchestrator/",
        "/workflow/3f0c1a52-9e1b-4a57-b5b8-0d5f2f6c8a11",
        "/workflow/x/",
        "/agents",
        "/agents/",
        "/workflows",
        "/workflows/",
    ],
)
def test_page_urls_are_answered_with_the_index_so_a_reload_works(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.get_data(as_text=True) == INDEX
    assert response.headers["Cache-Control"] == "no-cache"


def test_hashed_assets_are_served_with_their_content_types_and_cached_for_good(client: Client) -> None:
    script = client.get("/assets/index-AbC123.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert script.get_data(as_text=True) == SCRIPT
    assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    style = client.get("/assets/index-XyZ789.css")
    assert (style.status_code, style.headers["Content-Type"]) == (200, "text/css; charset=utf-8")
    assert style.get_data(as_text=True) == STYLE
    source_map = client.get("/assets/index-AbC123.js.map")
    assert (source_map.status_code, source_map.headers["Content-Type"]) == (200, "application/json")


def test_other_files_of_the_site_are_served_but_revalidated(client: Client) -> None:
    icon = client.get("/favicon.svg")
    assert (icon.status_code, icon.headers["Content-Type"]) == (200, "image/svg+xml; charset=utf-8")
    assert icon.headers["Cache-Control"] == "no-cache"


def test_head_of_a_page_has_headers_and_no_body(client: Client) -> None:
    response = client.head("/orchestrator")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(INDEX))
    assert response.get_data() == b""


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/assets/missing.js",
        "/workflow",
        "/workflow/a/b",
        "/assets/",
        "/assets/..%2F..%2Fsecret.txt",
        "/agents/x",
        "/workflows/x",
    ],
)
def test_anything_else_is_a_json_404(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == "NotFound"
    assert "outside the site" not in response.get_data(as_text=True)


def test_config_json_is_the_providers_answer_and_never_cached(dist: Path) -> None:
    answers = iter([{**CONFIG, "devAccessToken": "first"}, {**CONFIG, "devAccessToken": "second"}])
    client = Client(SiteApp(FrontendSite(dist, lambda: next(answers))))
    first = client.get("/config.json")
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["Cache-Control"] == "no-store"
    assert first.get_json() == {**CONFIG, "devAccessToken": "first"}
    # Built per request: every page load gets a fresh token.
    assert client.get("/config.json").get_json()["devAccessToken"] == "second"


def test_api_paths_and_other_methods_are_left_to_the_gateway(dist: Path) -> None:
    site = FrontendSite(dist, lambda: CONFIG)
    builder_requests = [
        Request.from_values("/api/workflows/abc", method="GET"),
        Request.from_values("/api", method="GET"),
        Request.from_values("/orchestrator", method="POST"),
        Request.from_values("/config.json", method="DELETE"),
    ]
    assert [site(request) for request in builder_requests] == [None, None, None, None]


def test_site_built_looks_for_the_index(dist: Path, tmp_path: Path) -> None:
    assert site_built(dist) is True
    assert site_built(tmp_path / "not-built") is False


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.js", "text/javascript"),
        ("a.MJS", "text/javascript"),
        ("a.css", "text/css"),
        ("a.woff2", "font/woff2"),
        ("a.unknownext", "application/octet-stream"),
    ],
)
def test_content_types_do_not_depend_on_the_hosts_mime_database(name: str, expected: str) -> None:
    assert content_type(name) == expected
