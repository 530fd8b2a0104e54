"""Bad input through the HTTP API of a running local stack: always a JSON error and a 4xx, never a 500,
nothing is done for it, and nothing is lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from orchestrator.dependencies import get_dependencies
from orchestrator.models import WorkflowStatus

from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, running_harness, sample

pytestmark = pytest.mark.e2e

UNKNOWN = "00000000-0000-0000-0000-000000000000"
TXID = "A" * 52
POST_ROUTES = [
    "/api/workflows/create",
    "/api/workflows/approve",
    "/api/workflows/start",
    "/api/workflows/cancel",
    "/api/workflows/step/start_job",
    "/api/workflows/step/submit_payment",
    "/api/workflows/step/poll",
]
# A body each route takes (for an unknown workflow), in the seed's camelCase.
BODIES: dict[str, dict[str, Any]] = {
    "/api/workflows/approve": {"workflowId": UNKNOWN},
    "/api/workflows/start": {"workflowId": UNKNOWN},
    "/api/workflows/cancel": {"workflowId": UNKNOWN},
    "/api/workflows/step/start_job": {"workflowId": UNKNOWN, "stepNumber": 1},
    "/api/workflows/step/submit_payment": {"workflowId": UNKNOWN, "stepNumber": 1, "txnIds": [TXID]},
    "/api/workflows/step/poll": {"workflowId": UNKNOWN, "stepNumber": 1},
}


def body_for(harness: Harness, route: str) -> dict[str, Any]:
    if route == "/api/workflows/create":
        return {"userMessage": "headache", "walletAddress": harness.wallet.address}
    return dict(BODIES[route])


def workflow_count() -> int:
    store = get_dependencies().store
    return sum(len(store.list_workflow_ids(status=status)) for status in WorkflowStatus)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    one_step = FixedPlanner([(sample("symptom-checker").id, "headache")])
    with (
        running_harness(tmp_path_factory.mktemp("stack")) as harness,
        harness.stack.overrides(planner=one_step),
    ):
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
    assert_error(harness.post(route, BODIES[route]), 404, "NotFound")


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
    # Nothing was offered for the step yet: no transaction id can be one of its offers.
    never_offered = harness.post("/api/workflows/step/submit_payment", {**step, "txnIds": ["A" * 52]})
    assert_error(never_offered, 422, "PaymentMismatch")
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
    from orchestrator.dependencies import get_dependencies
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
    crafted = {"txn_ids": paid_ids, "unsigned_group_txns": paid_step.unsigned_group_txns}
    offered = store.update_step(second, 1, expected={StepStatus.AWAITING_PAYMENT}, changes=crafted)
    assert offered is not None and offered.job_id is not None
    store.update_job(offered.job_id, crafted)  # the offer as remembered with its job
    replay = harness.post(
        "/api/workflows/step/submit_payment", {"workflowId": second, "stepNumber": 1, "txnIds": paid_ids}
    )
    assert_error(replay, 409, "PaymentReplay")
    assert harness.workflow(second)["steps"][0]["status"] == "awaiting_payment"
    harness.post("/api/workflows/cancel", {"workflowId": second})


# --- bodies no route reads: refused at the edge, for every route, before anything is done ---------------


def raw_post(harness: Harness, route: str, **request: Any) -> httpx.Response:
    return harness.api.post(route, **request)


@pytest.mark.parametrize("route", POST_ROUTES)
def test_bodies_not_sent_as_json_are_a_415(harness: Harness, route: str) -> None:
    before = workflow_count()
    text = json.dumps(body_for(harness, route))
    attempts = {
        "text/plain": raw_post(harness, route, content=text, headers={"content-type": "text/plain"}),
        "form": raw_post(harness, route, data={"workflowId": UNKNOWN, "stepNumber": "1"}),
        "multipart": raw_post(harness, route, files={"body": ("body.json", text, "application/json")}),
        "no content type": raw_post(harness, route, content=text.encode(), headers={"content-type": ""}),
        "latin-1": raw_post(
            harness, route, content=text, headers={"content-type": "application/json; charset=latin-1"}
        ),
        "xml": raw_post(harness, route, content="<a/>", headers={"content-type": "application/xml"}),
    }
    for name, response in attempts.items():
        error = assert_error(response, 415, "UnsupportedMediaType")
        assert "application/json" in error["message"], name
    assert workflow_count() == before


@pytest.mark.parametrize("route", POST_ROUTES)
def test_bodies_that_are_not_utf8_json_within_the_limits_are_a_400(harness: Harness, route: str) -> None:
    before = workflow_count()
    json_type = {"content-type": "application/json"}
    for content in [
        b'{"workflowId": "\xff\xfe"}',  # not UTF-8
        b"\xef\xbb\xbf{}",  # a byte-order mark before the JSON
        b"[" * 10_000 + b"]" * 10_000,  # deep enough to overflow a recursive parser
        b'{"a":' * 33 + b"1" + b"}" * 33,  # 33 levels: one past the limit
        b'{"budgetMicroalgo": ' + b"9" * 5000 + b"}",  # more digits than Python reads
        b'{"workflowId": NaN}',
        b'{"workflowId": "a", "workflowId": "b"}',
        b"[]",
        b'"text"',
    ]:
        response = raw_post(harness, route, content=content, headers=json_type)
        assert_error(response, 400, "BadRequest")
    assert workflow_count() == before


@pytest.mark.parametrize("route", POST_ROUTES)
def test_bodies_over_64_kb_are_a_413(harness: Harness, route: str) -> None:
    before = workflow_count()
    body = {**body_for(harness, route), "padding": "x" * 70_000}
    response = harness.post(route, body)
    assert response.status_code == 413, response.text
    assert workflow_count() == before


@pytest.mark.parametrize("route", POST_ROUTES)
def test_unknown_fields_are_a_422_naming_them(harness: Harness, route: str) -> None:
    before = workflow_count()
    body = {**body_for(harness, route), "stepResultID": "x", "amount": 5}
    error = assert_error(harness.post(route, body), 422, "UnknownFields")
    assert sorted(error["details"]["unknown_fields"]) == ["amount", "stepResultID"]
    assert "amount" in error["message"] and "stepResultID" in error["message"]
    assert workflow_count() == before


def test_invalid_create_fields_are_a_400_and_create_nothing(harness: Harness) -> None:
    address = harness.wallet.address
    # One character of the key changed (the last one may only carry padding bits).
    wrong_checksum = address[:10] + ("B" if address[10] != "B" else "C") + address[11:]
    before = workflow_count()
    for body in [
        {"userMessage": "hi", "walletAddress": wrong_checksum},
        {"userMessage": "hi", "walletAddress": address.lower()},
        {"userMessage": "nul \u0000 inside", "walletAddress": address},
        {"userMessage": "bell \u0007", "walletAddress": address},
        {"userMessage": "x" * 4001, "walletAddress": address},
        {"userMessage": "   ", "walletAddress": address},
        {"userMessage": "hi", "walletAddress": address, "budgetMicroalgo": -1},
        {"userMessage": "hi", "walletAddress": address, "budgetMicroalgo": 2**63},
        {"userMessage": "hi", "walletAddress": address, "budgetMicroalgo": "5"},
        {"userMessage": "hi", "walletAddress": address, "budgetMicroalgo": True},
        {"userMessage": "hi", "user_message": "hi", "walletAddress": address},
    ]:
        assert_error(harness.post("/api/workflows/create", body), 400, "BadRequest")
    assert workflow_count() == before
    fine = harness.post(
        "/api/workflows/create",
        {"userMessage": "line one\n\tand two", "walletAddress": address, "budgetMicroalgo": 2**63 - 1},
    )
    assert fine.status_code == 201, fine.text
    assert fine.json()["user_message"] == "line one\n\tand two"


def test_strict_step_numbers_and_txids_leave_the_step_as_it_was(harness: Harness) -> None:
    workflow_id = harness.create_and_start()
    step = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    ref = {"workflowId": workflow_id}
    for route, body in [
        ("/api/workflows/step/submit_payment", {**ref, "stepNumber": True, "txnIds": step["txn_ids"]}),
        ("/api/workflows/step/submit_payment", {**ref, "stepNumber": "1", "txnIds": step["txn_ids"]}),
        ("/api/workflows/step/submit_payment", {**ref, "stepNumber": 1.0, "txnIds": step["txn_ids"]}),
        ("/api/workflows/step/submit_payment", {**ref, "stepNumber": 1, "txnIds": ["a" * 52]}),
        ("/api/workflows/step/submit_payment", {**ref, "stepNumber": 1, "txnIds": [TXID, TXID]}),
        ("/api/workflows/step/start_job", {**ref, "stepNumber": "1"}),
        ("/api/workflows/start", {**ref, "repaySteps": [1, 1]}),
        ("/api/workflows/start", {**ref, "repaySteps": [0]}),
        ("/api/workflows/cancel", {"workflowId": workflow_id + "x"}),
    ]:
        assert_error(harness.post(route, body), 400, "BadRequest")
    after = harness.workflow(workflow_id)
    assert after["status"] == "running"
    assert after["steps"][0]["status"] == "awaiting_payment"
    assert after["steps"][0]["txn_ids"] == step["txn_ids"]
    assert harness.post("/api/workflows/cancel", ref).status_code == 200


def test_a_path_that_cannot_name_a_workflow_is_a_404(harness: Harness) -> None:
    for workflow_id in ["not-a-uuid", "x" * 300, f"{UNKNOWN}0", UNKNOWN.replace("0", "g")]:
        assert_error(harness.api.get(f"/api/workflows/{workflow_id}"), 404, "NotFound")
    for escaped in ["%FF%FE", "%00", "%0A"]:  # not even a path segment the route matches
        assert_error(harness.api.get(f"/api/workflows/{escaped}"), 404)
