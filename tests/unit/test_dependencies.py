"""The Dependencies seam: a bundle built with the adapters a test gives (or derived from another,
sharing the rest), and the handlers' way to it: `app.dependency_overrides[get_dependencies]`, read by
Powertools' Depends for HTTP routes and by `dependencies_of` for tasks, which the local stack's
registry shares among every function of the stack."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from algosdk import account
from orchestrator.config import ConfigError, Settings
from orchestrator.dependencies import (
    Dependencies,
    TaskApp,
    dependencies_of,
    get_dependencies,
    reset_dependencies,
)
from orchestrator.models import (
    AgentMetadata,
    PlannedStep,
    StepRecord,
    WorkflowPlan,
    WorkflowRecord,
    WorkflowStatus,
)
from orchestrator.planner.offline import OfflinePlanner
from orchestrator.store.sqlite import SQLiteStore

from devstack.lambdas import FunctionRegistry, LambdaContext
from devstack.template import load_template

USER = "5b1c0c8e-0000-4000-8000-000000000001"
WORKFLOW = "0f8e2c1a-3b4d-4e5f-8a6b-7c8d9e0f1a2b"
CONTEXT = LambdaContext(function_name="DependenciesTest", aws_request_id="r-1")
# A store backend that cannot be built (no URL, no key): a bundle that builds its store fails loudly.
UNBUILDABLE = Settings(store_backend="supabase")


def test_a_given_adapter_is_used_and_never_built(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "given.sqlite3"))
    deps = Dependencies(UNBUILDABLE, store=store)
    assert deps.store is store
    with pytest.raises(ConfigError):
        _ = Dependencies(UNBUILDABLE).store  # what building it would have done


def test_with_overrides_gives_a_new_bundle_sharing_the_rest_and_leaves_the_first_as_it_was(
    tmp_path: Path,
) -> None:
    base = Dependencies(Settings(sqlite_path=str(tmp_path / "db.sqlite3")))
    base_planner = base.planner
    planner = OfflinePlanner()
    derived = base.with_overrides(planner=planner)
    assert derived.planner is planner and base.planner is base_planner
    # Not built yet by either: built once, by whichever asks first, and shared.
    assert derived.store is base.store
    assert derived.engine is base.engine
    assert derived.settings is base.settings and derived.clock is base.clock
    changed = base.settings.model_copy(update={"submit_payment_retry_seconds": 0.0})
    again = derived.with_overrides(settings=changed)
    assert again.settings is changed and base.settings.submit_payment_retry_seconds != 0.0
    assert again.planner is planner and again.store is base.store


def test_an_app_gives_its_override_else_the_process_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORE_BACKEND", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "process.sqlite3"))
    reset_dependencies()
    try:
        app = TaskApp()
        assert app.dependencies() is get_dependencies()
        mine = get_dependencies().with_overrides(planner=OfflinePlanner())
        app.dependency_overrides[get_dependencies] = lambda: mine
        assert app.dependencies() is mine and dependencies_of(app) is mine
        assert get_dependencies() is not mine  # the process's bundle did not change
    finally:
        reset_dependencies()


# --- the handlers, through the local stack's registry ---------------------------------------------------


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The template's functions, loaded; the process's bundle on a store of its own (empty)."""
    monkeypatch.setenv("STORE_BACKEND", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "process.sqlite3"))
    reset_dependencies()
    loaded = FunctionRegistry(load_template())
    yield loaded
    reset_dependencies()


def _planned_workflow(store: SQLiteStore) -> None:
    plan = WorkflowPlan(steps=[PlannedStep(step_number=1, agent_id="a1", input_data="x")])
    workflow = WorkflowRecord(
        workflow_id=WORKFLOW,
        user_id=USER,
        wallet_address="WALLET",
        user_message="a test",
        plan=plan,
        status=WorkflowStatus.PLANNED,
        budget_microalgo=0,
    )
    store.create_workflow(workflow, [StepRecord(id="s1", workflow_id=WORKFLOW, step_number=1, agent_id="a1")])


def _get(route_key: str) -> dict[str, Any]:
    """A payload 2.0 GET as API Gateway sends it, for USER (claims and token agree)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'RS256'})}.{part({'sub': USER})}.c2ln"
    path = route_key.partition(" ")[2]
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"authorization": f"Bearer {token}"},
        "requestContext": {
            "http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"},
            "authorizer": {"jwt": {"claims": {"sub": USER}, "scopes": None}},
            "routeKey": route_key,
            "stage": "$default",
            "requestId": "r-1",
        },
        "isBase64Encoded": False,
    }


def test_every_function_reads_the_registrys_overrides(registry: FunctionRegistry) -> None:
    for name in registry.names():
        app = registry.load(registry.spec(name)).app
        assert app.dependency_overrides is registry.dependency_overrides, name


def test_an_override_reaches_a_route_and_a_task_and_goes_away_with_it(
    registry: FunctionRegistry, tmp_path: Path
) -> None:
    store = SQLiteStore(str(tmp_path / "override.sqlite3"))
    _planned_workflow(store)
    poet = AgentMetadata(
        id="a1",
        name="Poet",
        status="active",
        price_microalgo=1,
        agent_address=account.generate_account()[1],
        app_id=4242,
        base_url="http://127.0.0.1:9",
    )
    store.upsert_agents([poet])  # hireable: what paying and reaching it needs
    ended = {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {
            "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:Workflow:wf-{WORKFLOW}-1",
            "name": f"wf-{WORKFLOW}-1",
            "status": "ABORTED",
        },
    }

    def listed() -> list[str]:
        answer = registry.invoke("ListAgentsFunction", _get("GET /api/agents"))
        assert answer["statusCode"] == 200, answer
        return [agent["name"] for agent in json.loads(answer["body"])["agents"]]

    registry.dependency_overrides[get_dependencies] = lambda: get_dependencies().with_overrides(store=store)
    assert listed() == ["Poet"]  # a route (Depends)
    assert registry.invoke("ReconcileFunction", ended)["detail"] == (  # a task-only function (TaskApp)
        "The workflow is planned; its failure was already recorded."
    )
    del registry.dependency_overrides[get_dependencies]
    assert listed() == []  # the process's bundle: its own, empty store
    assert registry.invoke("ReconcileFunction", ended)["detail"] == "There is no such workflow."


def test_a_task_of_a_routed_function_gets_its_apps_override(tmp_path: Path) -> None:
    from orchestrator.http import handle, make_resolver

    app = make_resolver()
    mine = Dependencies(UNBUILDABLE, store=SQLiteStore(str(tmp_path / "task.sqlite3")))
    app.dependency_overrides[get_dependencies] = lambda: mine
    given: list[Dependencies] = []

    def task(payload: dict[str, Any], deps: Dependencies) -> None:
        given.append(deps)

    assert handle(app, {"workflow_id": WORKFLOW}, CONTEXT, task=task) == {"ok": True}
    assert given == [mine]
