"""GET /api/agents and GET /api/workflows through the local gateway and the real handlers, on the
Supabase store (PostgREST emulated by tests/postgrest_fake.py): the agents' secret column is kept in
the table and never selected or shown; pages of a person's workflows are exactly the keyset requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from orchestrator.store.supabase import AGENT_COLUMNS
from werkzeug.test import Client

from devstack.agents import SAMPLE_AGENTS
from devstack.auth import DEV_USER_ID
from tests.postgrest_fake import FakePostgrest
from tests.supabase_gateway import supabase_gateway

pytestmark = pytest.mark.integration

URL = "https://lists.supabase.test"
WALLET = "NAGNF44UGMQXLHSIYCLUEQY4UY4JNBEX5CVNJWA2EJ46F4RRYDJVEPDOUI"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Client, FakePostgrest, str]]:
    with supabase_gateway(monkeypatch, tmp_path, URL) as gateway:
        for spec in SAMPLE_AGENTS:
            gateway.store.set_agent_token(spec.id, f"secret-token-of-{spec.slug}")
        yield gateway.client, gateway.fake, gateway.token


def get(client: Client, path: str, token: str) -> tuple[int, Any, str]:
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    text = response.get_data(as_text=True)
    return response.status_code, json.loads(text), text


def test_the_agents_come_without_their_secret(api: tuple[Client, FakePostgrest, str]) -> None:
    client, fake, token = api
    assert all(row["agent_token"] for row in fake.table_rows("agents"))  # the secret is in the table
    before = len(fake.requests)
    status, body, text = get(client, "/api/agents", token)
    assert status == 200, text
    assert [card["name"] for card in body["agents"]] == sorted(spec.name for spec in SAMPLE_AGENTS)
    assert "secret-token-of" not in text and "agent_token" not in text
    (request,) = fake.requests[before:]  # one request, naming its columns (never agent_token)
    assert list(request.url.params.multi_items()) == [
        ("select", AGENT_COLUMNS),
        ("status", "eq.active"),
        ("order", "id.asc"),
    ]


def test_a_persons_workflows_page_by_page(api: tuple[Client, FakePostgrest, str]) -> None:
    client, fake, token = api
    created = []
    for n in range(3):
        response = client.post(
            "/api/workflows/create",
            json={"userMessage": f"I have a headache ({n})", "walletAddress": WALLET},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        created.append(response.get_json()["workflow_id"])
    status, first, text = get(client, "/api/workflows?limit=2", token)
    assert status == 200, text
    assert [w["workflow_id"] for w in first["workflows"]] == created[:0:-1]
    before = len(fake.requests)
    status, second, text = get(client, f"/api/workflows?limit=2&cursor={first['next_cursor']}", token)
    assert status == 200, text
    assert [w["workflow_id"] for w in second["workflows"]] == created[:1]
    assert second["next_cursor"] is None
    (request,) = fake.requests[before:]
    params = dict(request.url.params.multi_items())
    last = next(row for row in fake.table_rows("workflows") if row["workflow_id"] == created[1])
    stamp = last["created_at"]  # as PostgREST answered it, and as the cursor carries it
    assert params["or"] == (
        f'(created_at.lt."{stamp}",and(created_at.eq."{stamp}",workflow_id.lt.{created[1]}))'
    )
    assert (params["user_id"], params["limit"]) == (f"eq.{DEV_USER_ID}", "3")  # one more than a page
