"""A Supabase outage through the real create and get handlers: a clear 503, and no partial writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import respx
from werkzeug.test import Client

from tests.postgrest_fake import FakePostgrest
from tests.supabase_gateway import supabase_gateway

pytestmark = pytest.mark.integration

URL = "https://outage.supabase.test"
WALLET = "NAGNF44UGMQXLHSIYCLUEQY4UY4JNBEX5CVNJWA2EJ46F4RRYDJVEPDOUI"


@pytest.fixture
def api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Client, FakePostgrest, respx.Route, str]]:
    routes: dict[str, respx.Route] = {}

    def outage(router: respx.MockRouter) -> None:
        # Writes through the create RPC fail as PostgREST does when Postgres is down.
        routes["create"] = router.post(f"{URL}/rest/v1/rpc/orchestrator_create_workflow").respond(
            503, json={"code": "PGRST002", "message": "Could not query the database for the schema cache."}
        )

    with supabase_gateway(monkeypatch, tmp_path, URL, routes_first=outage) as gateway:
        yield gateway.client, gateway.fake, routes["create"], gateway.token


def test_create_during_an_outage_is_a_clear_503_and_writes_nothing(
    api: tuple[Client, FakePostgrest, respx.Route, str],
) -> None:
    client, fake, outage, token = api
    response = client.post(
        "/api/workflows/create",
        json={"userMessage": "I have a headache and want a movie recommendation", "walletAddress": WALLET},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 503, response.get_data(as_text=True)
    error = json.loads(response.get_data())["error"]
    assert error["code"] == "StoreUnavailable"
    assert "database" in error["message"].lower() or "store" in error["message"].lower()
    assert outage.call_count == 1  # a write is never re-sent blindly
    assert fake.table_rows("workflows") == [] and fake.table_rows("step_results") == []


def test_reading_an_unknown_workflow_still_answers_404_while_writes_fail(
    api: tuple[Client, FakePostgrest, respx.Route, str],
) -> None:
    client, _, _, token = api
    response = client.get(
        "/api/workflows/00000000-0000-4000-8000-000000000000", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404
    assert json.loads(response.get_data())["error"]["code"] == "NotFound"
