"""API Gateway's limits on the local stack: an integration that runs past its timeout gets the
gateway's 503 (and runs on, as a Lambda does), the create route answers its own 504 before that when
the planning model hangs, and a body over 10 MB is refused before any handler sees it.

Short limits keep it quick: a gateway with a 3 s integration timeout in front of the stack's own
handlers, and a 1.5 s planning deadline (deployed: 30 s and 24 s, checked from the configuration)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from orchestrator.config import Settings
from orchestrator.dependencies import get_dependencies
from orchestrator.models import AgentMetadata, WorkflowPlan, WorkflowStatus
from orchestrator.planner import planner_from_settings
from werkzeug.wrappers import Request, Response

from devstack.apigw import MAX_REQUEST_BYTES, HttpApiApp
from devstack.lambdas import FunctionRegistry
from devstack.serving import ThreadedServer
from devstack.template import load_template
from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, StackOverrides, running_harness, sample

pytestmark = pytest.mark.e2e

GATEWAY_TIMEOUT = 3.0
PLANNING_DEADLINE = 1.5
CREATE = "/api/workflows/create"


class SilentModel:
    """An OpenAI-compatible endpoint on loopback that takes every request and never answers (until
    the test is over)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.server = ThreadedServer(self, "127.0.0.1", 0, name="silent-model")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append({"path": request.path, "body": json.loads(request.get_data() or b"{}")})
        self.release.wait(60)
        return Response("{}", status=503, content_type="application/json")(environ, start_response)


class StalledPlanner:
    """A planner that takes as long as the test says (a create handler slower than the gateway)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.returned = threading.Event()

    def plan(
        self,
        user_message: str,
        catalog: list[AgentMetadata],
        feedback: list[str] | None = None,
        *,
        budget_microalgo: int | None = None,
    ) -> WorkflowPlan:
        self.release.wait(60)
        try:
            return FixedPlanner([(sample("symptom-checker").id, "headache")]).plan(user_message, catalog)
        finally:
            self.returned.set()


@pytest.fixture(scope="module")
def model() -> Iterator[SilentModel]:
    silent = SilentModel()
    silent.server.start()
    yield silent
    silent.release.set()
    silent.server.stop()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory, model: SilentModel) -> Iterator[Harness]:
    env = {
        "OPENAI_API_KEY": "sk-local-test",
        "OPENAI_BASE_URL": f"{model.server.url}/v1",
        "PLANNING_DEADLINE_SECONDS": str(PLANNING_DEADLINE),
    }
    with running_harness(tmp_path_factory.mktemp("stack"), extra_env=env) as harness:
        # Warm, as a Lambda after its first request: the create handler imported, the planner built.
        registry = harness.stack.registry
        registry.load(registry.spec("CreateFunction"))
        assert get_dependencies().planner is not None
        yield harness


@pytest.fixture(scope="module")
def short_gateway(harness: Harness) -> Iterator[httpx.Client]:
    """A gateway with a 3 s integration timeout in front of the running stack's handlers and issuer."""
    stack = harness.stack
    app = HttpApiApp(stack.registry, issuer=stack.issuer, integration_timeout_seconds=GATEWAY_TIMEOUT)
    server = ThreadedServer(app, "127.0.0.1", 0, name="short-gateway").start()
    client = httpx.Client(
        base_url=server.url, timeout=30.0, headers={"Authorization": f"Bearer {harness.token}"}
    )
    yield client
    client.close()
    server.stop()


def planned_workflows() -> set[str]:
    return set(get_dependencies().store.list_workflow_ids(status=WorkflowStatus.PLANNED))


def create_body(harness: Harness) -> dict[str, str]:
    return {"userMessage": "I have a headache", "walletAddress": harness.wallet.address}


def timed_post(client: httpx.Client, path: str, **kwargs: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.post(path, **kwargs)
    return response, time.monotonic() - started


def test_a_hanging_model_gets_the_create_routes_own_504_before_the_gateway_cuts(
    harness: Harness, model: SilentModel, short_gateway: httpx.Client
) -> None:
    before = planned_workflows()
    seen = len(model.requests)
    response, elapsed = timed_post(short_gateway, CREATE, json=create_body(harness))
    assert response.status_code == 504, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "PlannerTimeout"
    assert error["message"].startswith("Planning took too long")
    assert PLANNING_DEADLINE - 0.1 <= elapsed < GATEWAY_TIMEOUT
    # The planner really asked the model (through OPENAI_BASE_URL), once: that call had the whole budget.
    asked = model.requests[seen:]
    assert [r["path"] for r in asked] == ["/v1/chat/completions"]
    assert asked[0]["body"]["messages"][1]["content"] == "I have a headache"
    # Nothing is stored for a request that timed out.
    assert planned_workflows() == before


def test_a_handler_past_the_integration_timeout_gets_the_gateways_503_and_runs_on(
    harness: Harness, short_gateway: httpx.Client, overrides: StackOverrides
) -> None:
    planner = StalledPlanner()
    overrides.use(planner=planner)
    before = planned_workflows()
    try:
        response, elapsed = timed_post(short_gateway, CREATE, json=create_body(harness))
    finally:
        planner.release.set()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'{"message":"Service Unavailable"}'  # HTTP API's own answer, not ours
    assert GATEWAY_TIMEOUT <= elapsed < GATEWAY_TIMEOUT + 1.0
    # As in AWS, the function was not stopped: it stores a plan the person never saw. (The planning
    # deadline is what keeps the create route inside the gateway's limit.)
    assert planner.returned.wait(5)
    deadline = time.monotonic() + 5
    while planned_workflows() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(planned_workflows() - before) == 1


@pytest.fixture
def invocations(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The functions the stack's gateway invokes during the test."""
    registry = harness.stack.registry
    invoked: list[str] = []
    real = registry.invoke

    def spy(name: str, event: Any) -> Any:
        invoked.append(name)
        return real(name, event)

    monkeypatch.setattr(registry, "invoke", spy)
    return invoked


def test_a_body_over_10_mb_is_413_without_reaching_the_handler(
    harness: Harness, invocations: list[str]
) -> None:
    json_type = {"content-type": "application/json"}
    over = harness.api.post(CREATE, content=b" " * (MAX_REQUEST_BYTES + 1), headers=json_type)
    assert over.status_code == 413
    assert over.text == "HTTP content length exceeded 10485760 bytes."  # API Gateway's words, plain text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while the body is read
        for _ in range(11):
            yield b" " * (1024 * 1024)

    chunked = harness.api.post(CREATE, content=chunks(), headers=json_type)
    assert chunked.status_code == 413
    assert invocations == []

    # Exactly the limit passes the gateway: the handler itself answers (with its own JSON error).
    at_limit = harness.api.post(CREATE, content=b" " * MAX_REQUEST_BYTES, headers=json_type)
    assert at_limit.headers["content-type"].startswith("application/json")
    assert at_limit.json()["error"]["code"]
    assert invocations == ["CreateFunction"]


def test_the_local_stack_defaults_to_the_deployed_limits() -> None:
    # Configuration only: the gateway's timeouts come from template.yaml, the planning deadline from
    # the settings' default, which the template sets for the create function too.
    template = load_template()
    gateway = HttpApiApp(FunctionRegistry(template))
    assert {route.route_key: gateway.integration_timeout(route) for route, _ in template.routes()} == {
        route.route_key: 30.0 for route, _ in template.routes()
    }
    assert gateway.max_request_bytes == 10 * 1024 * 1024
    planner = planner_from_settings(Settings(openai_api_key="sk-x"))
    assert getattr(planner, "deadline_seconds", None) == 24.0
    create_env = template.resources["CreateFunction"]["Properties"]["Environment"]["Variables"]
    assert float(create_env["PLANNING_DEADLINE_SECONDS"]) == 24.0
