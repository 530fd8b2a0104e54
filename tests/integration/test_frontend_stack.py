"""The web pages on a running local stack (what `orch up` does when frontend/dist is built): the API
keeps its routes, the pages and /config.json come from the fallback, and the config's token and
algod are the running stack's."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import jwt
import pytest

from devstack.auth import AUDIENCE, DEV_USER_ID
from devstack.frontend import DEV_TOKEN_SECONDS, frontend_for
from devstack.stack import LocalStack, StackConfig
from tests.stack_helpers import FAST

INDEX = "<!doctype html><title>pages</title>"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("frontend-stack")
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-AbC123.js").write_text("export {}")
    local = LocalStack(StackConfig.ephemeral(root / "data", **FAST))
    local.fallback = frontend_for(local, dist)
    with local:
        yield local


@pytest.fixture(scope="module")
def http(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=10.0) as client:
        yield client


def test_both_page_urls_and_assets_are_served_by_the_api_server(http: httpx.Client) -> None:
    for path in ("/orchestrator", "/workflow/3f0c1a52-9e1b-4a57-b5b8-0d5f2f6c8a11", "/"):
        page = http.get(path)
        assert (page.status_code, page.text) == (200, INDEX), path
        assert page.headers["content-type"] == "text/html; charset=utf-8"
    script = http.get("/assets/index-AbC123.js")
    assert (script.status_code, script.headers["content-type"]) == (200, "text/javascript; charset=utf-8")


def test_api_routes_keep_priority_over_the_pages(http: httpx.Client) -> None:
    health = http.get("/api/health")
    assert health.status_code == 200
    assert health.headers["content-type"].startswith("application/json")
    missing = http.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "RouteNotFound"
    # The local issuer's documents are the gateway's, not the site's.
    assert "keys" in http.get("/.well-known/jwks.json").json()


def test_config_json_describes_the_running_stack(stack: LocalStack, http: httpx.Client) -> None:
    config = http.get("/config.json")
    assert config.status_code == 200
    assert config.headers["cache-control"] == "no-store"
    body = config.json()
    token = body.pop("devAccessToken")
    assert body == {
        "apiBaseUrl": "",
        "network": "localnet",
        "algod": {"baseServer": stack.algod_url, "port": "", "token": ""},
    }
    assert stack.issuer is not None
    claims = jwt.decode(
        token,
        stack.issuer.private_key.public_key(),
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=stack.issuer.issuer,
    )
    assert claims["sub"] == DEV_USER_ID
    # Lives for hours (a page left open keeps working), not forever.
    assert claims["exp"] - claims["iat"] == DEV_TOKEN_SECONDS


def test_the_config_token_is_accepted_by_the_stacks_authorizer(http: httpx.Client) -> None:
    token = http.get("/config.json").json()["devAccessToken"]
    unknown = "3f0c1a52-9e1b-4a57-b5b8-0d5f2f6c8a11"
    refused = http.get(f"/api/workflows/{unknown}")
    assert refused.status_code == 401
    answered = http.get(f"/api/workflows/{unknown}", headers={"Authorization": f"Bearer {token}"})
    # Past the authorizer: the handler's own answer for a workflow that does not exist.
    assert answered.status_code == 404
    assert answered.json()["error"]["code"] == "NotFound"


def test_the_config_algod_is_the_dev_ledger(http: httpx.Client) -> None:
    algod = http.get("/config.json").json()["algod"]
    assert algod["port"] == ""
    status = httpx.get(f"{algod['baseServer'].rstrip('/')}/v2/status", timeout=5.0)
    assert status.status_code == 200
    assert status.json()["last-round"] >= 0
