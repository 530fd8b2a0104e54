"""A Supabase outage through the real create and get handlers: a clear 503, and no partial writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import respx
from orchestrator.adapters import get_dependencies, reset_dependencies
from orchestrator.models import AgentMetadata
from orchestrator.store.supabase import SupabaseStore
from werkzeug.test import Client

from devstack.agents import SAMPLE_AGENTS
from devstack.apigw import HttpApiApp
from devstack.auth import DEV_USER_EMAIL, DEV_USER_ID, LocalIssuer
from devstack.lambdas import FunctionRegistry
from devstack.template import load_template
from tests.postgrest_fake import FakePostgrest

pytestmark = pytest.mark.integration

URL = "https://outage.supabase.test"
KEY = "service-role-key-for-tests"
WALLET = "NAGNF44UGMQXLHSIYCLUEQY4UY4JNBEX5CVNJWA2EJ46F4RRYDJVEPDOUI"


@pytest.fixture
def api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Client, FakePostgrest, respx.MockRouter, str]]:
    monkeypatch.setenv("STORE_BACKEND", "supabase")
    monkeypatch.setenv("SUPABASE_URL", URL)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    reset_dependencies()
    fake = FakePostgrest(URL, KEY)
    with respx.mock(assert_all_called=False) as router:
        # The outage: writes through the create RPC fail as PostgREST does when Postgres is down.
        outage = router.post(f"{URL}/rest/v1/rpc/orchestrator_create_workflow").respond(
            503, json={"code": "PGRST002", "message": "Could not query the database for the schema cache."}
        )
        fake.install(router)
        store = get_dependencies().store
        assert isinstance(store, SupabaseStore)
        store.upsert_agents(
            [
                AgentMetadata.model_validate({**spec.catalog_record(), "base_url": "http://127.0.0.1:9"})
                for spec in SAMPLE_AGENTS
            ]
        )
        # The callers are signed in, as behind the deployed JWT authorizer.
        issuer = LocalIssuer.load_or_create(tmp_path / "auth", issuer="http://127.0.0.1:3999/auth/v1")
        token = issuer.mint_token(DEV_USER_ID, DEV_USER_EMAIL)
        yield Client(HttpApiApp(FunctionRegistry(load_template()), issuer=issuer)), fake, outage, token
    reset_dependencies()


def test_create_during_an_outage_is_a_clear_503_and_writes_nothing(
    api: tuple[Client, FakePostgrest, respx.MockRouter, str],
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
    api: tuple[Client, FakePostgrest, respx.MockRouter, str],
) -> None:
    client, _, _, token = api
    response = client.get(
        "/api/workflows/00000000-0000-4000-8000-000000000000", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404
    assert json.loads(response.get_data())["error"]["code"] == "NotFound"
