"""The real handlers behind the local gateway on the Supabase store, with PostgREST emulated by
tests/postgrest_fake.py (the hosted part we cannot run here): the sample agents in the catalog and a
signed-in caller, as behind the deployed JWT authorizer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import respx
from orchestrator.config import Settings
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.models import AgentMetadata
from orchestrator.store.supabase import SupabaseStore
from werkzeug.test import Client

from devstack.agents import SAMPLE_AGENTS
from devstack.apigw import HttpApiApp
from devstack.auth import DEV_USER_EMAIL, DEV_USER_ID, LocalIssuer
from devstack.lambdas import FunctionRegistry
from devstack.template import load_template
from tests.postgrest_fake import FakePostgrest

SERVICE_ROLE_KEY = "service-role-key-for-tests"


@dataclass
class SupabaseGateway:
    client: Client
    fake: FakePostgrest
    store: SupabaseStore
    token: str  # the dev user's bearer token


@contextmanager
def supabase_gateway(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    url: str,
    *,
    routes_first: Callable[[respx.MockRouter], None] | None = None,
) -> Iterator[SupabaseGateway]:
    """`routes_first` adds routes that win over the fake's (an outage of one RPC, say). The handlers
    get a bundle of their own on that store (their apps' dependency_overrides); the process's is
    left as it is."""
    settings = Settings(
        store_backend="supabase", supabase_url=url, supabase_service_role_key=SERVICE_ROLE_KEY
    )
    deps = Dependencies(settings)  # no OpenAI key: the offline planner
    registry = FunctionRegistry(load_template())
    provider: Callable[..., Any] = get_dependencies
    monkeypatch.setitem(registry.dependency_overrides, provider, lambda: deps)
    fake = FakePostgrest(url, SERVICE_ROLE_KEY)
    with respx.mock(assert_all_called=False) as router:
        if routes_first is not None:
            routes_first(router)
        fake.install(router)
        store = deps.store
        assert isinstance(store, SupabaseStore)
        store.upsert_agents(
            [
                AgentMetadata.model_validate({**spec.catalog_record(), "base_url": "http://127.0.0.1:9"})
                for spec in SAMPLE_AGENTS
            ]
        )
        issuer = LocalIssuer.load_or_create(tmp_path / "auth", issuer="http://127.0.0.1:3999/auth/v1")
        token = issuer.mint_token(DEV_USER_ID, DEV_USER_EMAIL)
        client = Client(HttpApiApp(registry, issuer=issuer))
        yield SupabaseGateway(client, fake, store, token)
