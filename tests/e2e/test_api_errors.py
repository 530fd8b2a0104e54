"""Bad input through the HTTP API of a running local stack: always a JSON error and a 4xx, never a 500,
and nothing is lost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.stack_helpers import FixedPlanner, Harness, running_harness, sample, use_planner

pytestmark = pytest.mark.e2e

UNKNOWN = "00000000-0000-0000-0000-000000000000"
POST_ROUTES = [
    "/api/workflows/create",
    "/api/workflows/approve",
    "/api/workflows/start",
    "/api/workflows/cancel",
    "/api/workflows/step/start_job",
    "/api/workflows/step/submit_payment",
    "/api/workflows/step/poll",
]


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_harness(tmp_path_factory.mktemp("stack")) as harness:
        use_planner(FixedPlanner([(sample("symptom-checker").id, "headache")]))
        yield harness


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


@pytest.mark.parametrize("route", POST_ROUTES)
def test_malformed_json_is_a_400(harness: Harness, route: str) -> None:
    response = harness.api.post(route, content=b"{not json", headers={"content-type": "application/json"})
    error = assert_error(response, 400, "BadRequest")
    assert "JSON" in error["message"]


@pytest.mark.parametrize("route", POST_ROUTES)
def test_missing_fields_are_a_400_naming_them(harness: Harness, route: str) -> None:
    error = assert_error(harness.post(route, {}), 400, "BadRequest")
    assert error["details"]


@pytest.mark.parametrize(
    "route, body",
    [
        ("/api/workflows/create", {"userMessage": 42, "walletAddress": ["x"]}),
        ("/api/workflows/create", {"userMessage": "hi", "walletAddress": "too-short"}),
        ("/api/workflows/approve", {"workflowId": {"a": 1}}),
        ("/api/workflows/step/poll", {"workflowId": UNKNOWN, "stepNumber": "first"}),
        ("/api/workflows/step/submit_payment", {"workflowId": UNKNOWN, "stepNumber": 1, "txnIds": 5}),
        ("/api/workflows/step/submit_payment", {"workflowId": UNKNOWN, "stepNumber": 0, "txnIds": ["A"]}),
    ],
)
def test_ill_typed_fields_are_a_400(harness: Harness, route: str, body: dict[str, Any]) -> None:
    assert_error(harness.post(route, body), 400, "BadRequest")


@pytest.mark.parametrize("route", POST_ROUTES[1:])
def test_unknown_workflow_is_a_404(harness: Harness, route: str) -> None:
    body = {"workflowId": UNKNOWN, "stepNumber": 1, "txnIds": ["A" * 52]}
    assert_error(harness.post(route, body), 404, "NotFound")


def test_unknown_workflow_read_is_a_404(harness: Harness) -> None:
    assert_error(harness.api.get(f"/api/workflows/{UNKNOWN}"), 404, "NotFound")


def test_unknown_step_is_a_404(harness: Harness) -> None:
    workflow_id = harness.create()["workflow_id"]
    body = {"workflowId": workflow_id, "stepNumber": 7}
    assert_error(harness.post("/api/workflows/step/poll", body), 404, "NotFound")


def test_wrong_states_are_409s_and_change_nothing(harness: Harness) -> None:
    workflow_id = harness.create()["workflow_id"]
    ref = {"workflowId": workflow_id}
    assert_error(harness.post("/api/workflows/start", ref), 409, "InvalidState")
    step = {**ref, "stepNumber": 1}
    assert_error(harness.post("/api/workflows/step/submit_payment", {**step, "txnIds": ["A" * 52]}), 409)
    assert_error(harness.post("/api/workflows/step/start_job", step), 409, "InvalidState")
    assert harness.workflow(workflow_id)["status"] == "planned"

    assert harness.post("/api/workflows/approve", ref).status_code == 200
    assert_error(harness.post("/api/workflows/approve", ref), 409, "InvalidState")
    assert harness.workflow(workflow_id)["status"] == "approved"

    assert harness.post("/api/workflows/start", ref).status_code == 202
    assert_error(harness.post("/api/workflows/start", ref), 409, "InvalidState")
    harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    # Transaction ids other than the ones offered are refused; the step keeps waiting.
    wrong = harness.post("/api/workflows/step/submit_payment", {**step, "txnIds": ["B" * 52]})
    assert_error(wrong, 422, "PaymentMismatch")
    assert harness.workflow(workflow_id)["steps"][0]["status"] == "awaiting_payment"
    # The offered ids, but not paid: not confirmed on chain.
    offered = harness.workflow(workflow_id)["steps"][0]["txn_ids"]
    unpaid = harness.post("/api/workflows/step/submit_payment", {**step, "txnIds": offered})
    assert_error(unpaid, 409, "PaymentNotConfirmed")
    assert harness.workflow(workflow_id)["steps"][0]["status"] == "awaiting_payment"
    # A still-valid group is not re-quoted.
    same = harness.post("/api/workflows/step/start_job", step)
    assert same.status_code == 200 and same.json()["txn_ids"] == offered

    assert harness.post("/api/workflows/cancel", ref).status_code == 200
    assert_error(harness.post("/api/workflows/cancel", ref), 409, "InvalidState")


def test_budget_below_the_cost_is_refused(harness: Harness) -> None:
    created = harness.create()
    body = {"workflowId": created["workflow_id"], "budgetMicroalgo": created["total_cost_microalgo"] - 1}
    assert_error(harness.post("/api/workflows/approve", body), 422, "PlanInvalid")
    assert harness.workflow(created["workflow_id"])["status"] == "planned"


def test_payment_replayed_for_another_step_is_refused(harness: Harness) -> None:
    from orchestrator.adapters import get_dependencies
    from orchestrator.models import StepStatus

    first = harness.create_and_start()
    assert harness.pay_step(first, 1).status_code == 200
    paid_ids = harness.workflow(first)["steps"][0]["txn_ids"]
    second = harness.create_and_start()
    harness.wait_for_step(second, 1, "awaiting_payment")
    # An agent that offers an already-paid group again (crafted in the store: agents we run do not).
    store = get_dependencies().store
    paid_step = store.get_step(first, 1)
    assert paid_step is not None
    store.update_step(
        second,
        1,
        expected={StepStatus.AWAITING_PAYMENT},
        changes={"txn_ids": paid_ids, "unsigned_group_txns": paid_step.unsigned_group_txns},
    )
    replay = harness.post(
        "/api/workflows/step/submit_payment", {"workflowId": second, "stepNumber": 1, "txnIds": paid_ids}
    )
    assert_error(replay, 409, "PaymentReplay")
    assert harness.workflow(second)["steps"][0]["status"] == "awaiting_payment"
    harness.post("/api/workflows/cancel", {"workflowId": second})
