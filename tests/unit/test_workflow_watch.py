"""The long poll of GET /api/workflows/{id} (orchestrator.services.workflows.watch_workflow) on a SQLite
store, with a fake clock (tests/fakes.py MovingClock) whose sleep moves time on and makes the changes a test schedules: 304 after
the wait, the new version as soon as it exists, no wait when If-None-Match names another version or
is absent. Then the handler: ETag and Cache-Control on 200 and 304, and `wait` out of range or not a
number refused with a 400 in the API's error format."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.errors import NotFound
from orchestrator.models import StepStatus, WorkflowStatus
from orchestrator.services.views import etag_matches, view_etag
from orchestrator.services.workflows import (
    MAX_WAIT_SECONDS,
    WATCH_INTERVAL_SECONDS,
    get_workflow,
    watch_workflow,
)

from devstack.lambdas import FunctionRegistry
from devstack.template import load_template
from tests.builders import World, planned_workflow, world
from tests.fakes import MovingClock

USER = "user-1"


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[World]:
    found = world(tmp_path)
    yield found
    found.close()


@pytest.fixture
def clock(fakes: World) -> MovingClock:
    """Time that moves only when the code under test sleeps; `at(t, change)` runs `change` once the
    clock reaches t seconds (as another request would change the store meanwhile)."""
    return fakes.clock


@pytest.fixture
def deps(fakes: World) -> Dependencies:
    return fakes.deps


def awaiting_payment(deps: Dependencies) -> str:
    """A running workflow of two steps, the first waiting for its payment."""
    workflow, steps = planned_workflow(
        ["agent-a", "agent-b"],
        user_id=USER,
        wallet="WALLET",
        user_message="headache and a movie",
        inputs=["headache", "{{step_1_output}}"],
        step_status=[StepStatus.AWAITING_PAYMENT, StepStatus.PENDING],
        status=WorkflowStatus.RUNNING,
        current_step=1,
    )
    deps.store.create_workflow(workflow, steps)
    return workflow.workflow_id


def paid(deps: Dependencies, workflow_id: str) -> Callable[[], None]:
    """The change another request makes: step 1's payment is submitted."""

    def change() -> None:
        assert deps.store.update_step(
            workflow_id,
            1,
            expected={StepStatus.AWAITING_PAYMENT},
            changes={"status": StepStatus.PAYMENT_SUBMITTED},
        )

    return change


def current_etag(deps: Dependencies, workflow_id: str) -> str:
    return view_etag(get_workflow(deps, workflow_id, USER))


def test_the_etag_is_a_strong_validator_of_the_view(deps: Dependencies) -> None:
    workflow_id = awaiting_payment(deps)
    etag = current_etag(deps, workflow_id)
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert current_etag(deps, workflow_id) == etag  # the same view, the same tag
    paid(deps, workflow_id)()
    assert current_etag(deps, workflow_id) != etag
    assert etag_matches(etag, etag) and etag_matches(f'W/{etag}, "other"', etag)
    assert etag_matches(etag.strip('"'), etag) and etag_matches("*", etag)
    assert not etag_matches('"other"', etag) and not etag_matches("", etag)


def test_not_modified_after_the_wait_when_nothing_changes(deps: Dependencies, clock: MovingClock) -> None:
    workflow_id = awaiting_payment(deps)
    etag = current_etag(deps, workflow_id)
    found = watch_workflow(deps, workflow_id, USER, if_none_match=etag, wait_seconds=5)
    assert (found.view, found.etag, found.modified) == (None, etag, False)
    assert clock.elapsed == pytest.approx(5)
    # Read again every half second: 10 re-reads, none past the wait.
    assert clock.sleeps == [WATCH_INTERVAL_SECONDS] * 10


def test_the_new_version_as_soon_as_it_exists(deps: Dependencies, clock: MovingClock) -> None:
    workflow_id = awaiting_payment(deps)
    etag = current_etag(deps, workflow_id)
    clock.at(3.2, paid(deps, workflow_id))
    found = watch_workflow(deps, workflow_id, USER, if_none_match=etag, wait_seconds=20)
    assert found.view is not None and found.view.steps[0].status == StepStatus.PAYMENT_SUBMITTED
    assert found.etag == current_etag(deps, workflow_id) != etag
    # Seen at the first read after the change: within one interval of it.
    assert 3.2 <= clock.elapsed <= 3.2 + WATCH_INTERVAL_SECONDS


def test_no_wait_when_if_none_match_names_another_version_or_is_absent(
    deps: Dependencies, clock: MovingClock
) -> None:
    workflow_id = awaiting_payment(deps)
    etag = current_etag(deps, workflow_id)
    for if_none_match in (None, '"an-older-version"', "", 'W/"another", "and-another"'):
        found = watch_workflow(deps, workflow_id, USER, if_none_match=if_none_match, wait_seconds=20)
        assert found.view == get_workflow(deps, workflow_id, USER) and found.etag == etag, if_none_match
    assert clock.sleeps == []


def test_a_matching_version_without_a_wait_or_with_a_star_is_not_modified_at_once(
    deps: Dependencies, clock: MovingClock
) -> None:
    workflow_id = awaiting_payment(deps)
    etag = current_etag(deps, workflow_id)
    assert watch_workflow(deps, workflow_id, USER, if_none_match=etag).view is None
    assert watch_workflow(deps, workflow_id, USER, if_none_match=etag, wait_seconds=0).view is None
    assert watch_workflow(deps, workflow_id, USER, if_none_match="*", wait_seconds=20).view is None
    assert clock.sleeps == []


def test_the_wait_is_capped_and_bounded_in_reads(deps: Dependencies, clock: MovingClock) -> None:
    workflow_id = awaiting_payment(deps)
    etag = current_etag(deps, workflow_id)
    assert watch_workflow(deps, workflow_id, USER, if_none_match=etag, wait_seconds=600).view is None
    assert clock.elapsed == pytest.approx(MAX_WAIT_SECONDS)

    # A clock that stands still (or jumps back) cannot make it wait for ever: the reads are counted.
    frozen = MovingClock()
    deps.clock, deps.sleep = frozen, frozen.sleeps.append
    assert watch_workflow(deps, workflow_id, USER, if_none_match=etag, wait_seconds=3).view is None
    assert len(frozen.sleeps) == 3 / WATCH_INTERVAL_SECONDS


def test_someone_elses_or_a_missing_workflow_is_not_found_without_waiting(
    deps: Dependencies, clock: MovingClock
) -> None:
    workflow_id = awaiting_payment(deps)
    etag = current_etag(deps, workflow_id)
    for user, wanted in (("user-2", workflow_id), (USER, str(uuid.uuid4()))):
        with pytest.raises(NotFound):
            watch_workflow(deps, wanted, user, if_none_match=etag, wait_seconds=20)
    assert clock.sleeps == []


# --- the handler ---------------------------------------------------------------------------------


@pytest.fixture
def handler(deps: Dependencies, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    registry = FunctionRegistry(load_template())
    module = registry.load(registry.spec("GetWorkflowFunction"))
    monkeypatch.setitem(module.app.dependency_overrides, get_dependencies, lambda: deps)
    return module


def call(
    handler: ModuleType, workflow_id: str, query: dict[str, str] | None = None, **headers: str
) -> dict[str, Any]:
    path = f"/api/workflows/{workflow_id}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "GET /api/workflows/{id}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"host": "localhost", **{k.replace("_", "-").lower(): v for k, v in headers.items()}},
        "pathParameters": {"id": workflow_id},
        "requestContext": {
            "http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"},
            "authorizer": {"jwt": {"claims": {"sub": USER}, "scopes": None}},
            "routeKey": "GET /api/workflows/{id}",
            "stage": "$default",
            "requestId": "req-1",
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    answer: dict[str, Any] = handler.app.resolve(event, {})
    return answer


def test_the_handler_answers_200_with_the_etag_then_304_after_the_wait(
    handler: ModuleType, deps: Dependencies, clock: MovingClock
) -> None:
    workflow_id = awaiting_payment(deps)
    first = call(handler, workflow_id)
    assert first["statusCode"] == 200
    etag = first["headers"]["ETag"]
    assert etag == current_etag(deps, workflow_id)
    assert first["headers"]["Cache-Control"] == "no-store"
    assert json.loads(first["body"])["workflow_id"] == workflow_id

    unchanged = call(handler, workflow_id, {"wait": "2"}, if_none_match=etag)
    assert unchanged["statusCode"] == 304
    assert (unchanged["headers"]["ETag"], unchanged["headers"]["Cache-Control"]) == (etag, "no-store")
    assert not unchanged.get("body")
    assert clock.elapsed == pytest.approx(2)

    clock.at(clock.elapsed + 1, paid(deps, workflow_id))
    changed = call(handler, workflow_id, {"wait": "20"}, if_none_match=etag)
    assert changed["statusCode"] == 200 and changed["headers"]["ETag"] != etag
    assert json.loads(changed["body"])["steps"][0]["status"] == "payment_submitted"
    assert clock.elapsed == pytest.approx(3)


@pytest.mark.parametrize("wait", ["21", "-1", "abc", "1.5", "", "1,2", "99999999999999999999999"])
def test_a_wait_out_of_range_or_not_a_number_is_a_400(
    handler: ModuleType, deps: Dependencies, clock: MovingClock, wait: str
) -> None:
    workflow_id = awaiting_payment(deps)
    answer = call(handler, workflow_id, {"wait": wait}, if_none_match=current_etag(deps, workflow_id))
    assert answer["statusCode"] == 400, answer
    error = json.loads(answer["body"])["error"]
    assert error["code"] == "BadRequest" and "wait" in error["message"]
    assert clock.sleeps == []


def test_the_long_polls_headers_cross_origins_as_deployed_and_locally() -> None:
    """A page on another origin sends If-None-Match and reads ETag: template.yaml's CorsConfiguration
    allows and exposes them, and the local gateway answers with the same configuration."""
    from devstack.apigw import _cors_headers

    cors = load_template().resources["HttpApi"]["Properties"]["CorsConfiguration"]
    assert "If-None-Match" in cors["AllowHeaders"] and "ETag" in cors["ExposeHeaders"]
    local = _cors_headers()
    assert [h.strip() for h in local["Access-Control-Allow-Headers"].split(",")] == cors["AllowHeaders"]
    assert [h.strip() for h in local["Access-Control-Expose-Headers"].split(",")] == cors["ExposeHeaders"]
    assert [m.strip() for m in local["Access-Control-Allow-Methods"].split(",")] == cors["AllowMethods"]
    assert [local["Access-Control-Allow-Origin"]] == cors["AllowOrigins"]
