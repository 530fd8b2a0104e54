"""Idempotency-Key through the HTTP API of a running local stack (moto's DynamoDB holds the keys):
create, start and submit_payment repeated with one key do their work once and answer the same."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from orchestrator.dependencies import get_dependencies
from orchestrator.models import AgentMetadata, WorkflowPlan

from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, running_harness, sample

pytestmark = pytest.mark.e2e

SYMPTOMS = sample("symptom-checker").id
REPLAYED = "Idempotent-Replayed"
OTHER_USER = "00000000-0000-4000-8000-0000000000b2"


class CountingPlanner(FixedPlanner):
    """A fixed one-step plan that counts how often it was asked; optionally waits at a gate."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__([(SYMPTOMS, "headache")])  # FixedPlanner records each call in `calls`
        self.gate = gate
        self.entered = threading.Event()

    def plan(
        self,
        user_message: str,
        catalog: list[AgentMetadata],
        feedback: list[str] | None = None,
        *,
        budget_microalgo: int | None = None,
    ) -> WorkflowPlan:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        return super().plan(user_message, catalog, feedback, budget_microalgo=budget_microalgo)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_harness(tmp_path_factory.mktemp("stack")) as harness:
        yield harness


@pytest.fixture
def planner(harness: Harness) -> Iterator[CountingPlanner]:
    counting = CountingPlanner()
    with harness.stack.overrides(planner=counting):
        yield counting


def post(
    harness: Harness, path: str, body: dict[str, Any], key: str | None, **headers: str
) -> httpx.Response:
    if key is not None:
        headers["Idempotency-Key"] = key
    return harness.api.post(path, json=body, headers=headers)


def create_body(harness: Harness, message: str = "I have a headache") -> dict[str, Any]:
    return {"userMessage": message, "walletAddress": harness.wallet.address}


def new_key() -> str:
    return str(uuid.uuid4())


def test_create_twice_with_one_key_plans_one_workflow_and_answers_the_same(
    harness: Harness, planner: CountingPlanner
) -> None:
    key = new_key()
    first = post(harness, "/api/workflows/create", create_body(harness), key)
    second = post(harness, "/api/workflows/create", create_body(harness), key)
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert second.content == first.content
    assert REPLAYED not in first.headers
    assert second.headers[REPLAYED] == "true"
    assert len(planner.calls) == 1
    assert harness.workflow(first.json()["workflow_id"])["status"] == "planned"


def test_create_with_a_used_key_and_another_body_is_409(harness: Harness, planner: CountingPlanner) -> None:
    key = new_key()
    assert post(harness, "/api/workflows/create", create_body(harness), key).status_code == 201
    other = post(harness, "/api/workflows/create", create_body(harness, "a runny nose"), key)
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "IdempotencyKeyReused"
    assert len(planner.calls) == 1


def test_another_user_with_the_same_key_gets_a_workflow_of_their_own(
    harness: Harness, planner: CountingPlanner
) -> None:
    key = new_key()
    mine = post(harness, "/api/workflows/create", create_body(harness), key)
    token = harness.mint_token(OTHER_USER)
    theirs = post(
        harness, "/api/workflows/create", create_body(harness), key, Authorization=f"Bearer {token}"
    )
    assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
    assert theirs.json()["workflow_id"] != mine.json()["workflow_id"]
    assert REPLAYED not in theirs.headers
    assert len(planner.calls) == 2


def test_create_while_the_first_is_still_planning_is_409_in_progress(harness: Harness) -> None:
    gate = threading.Event()
    slow = CountingPlanner(gate)
    key = new_key()
    answers: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: answers.append(post(harness, "/api/workflows/create", create_body(harness), key))
    )
    with harness.stack.overrides(planner=slow):
        first.start()
        try:
            assert slow.entered.wait(10)
            meanwhile = post(harness, "/api/workflows/create", create_body(harness), key)
            assert meanwhile.status_code == 409, meanwhile.text
            assert meanwhile.json()["error"]["code"] == "IdempotencyInProgress"
        finally:
            gate.set()
            first.join(15)
    assert [a.status_code for a in answers] == [201]
    later = post(harness, "/api/workflows/create", create_body(harness), key)
    assert later.status_code == 201 and later.content == answers[0].content
    assert len(slow.calls) == 1


def test_start_twice_with_one_key_starts_one_execution(harness: Harness, planner: CountingPlanner) -> None:
    workflow_id = harness.create()["workflow_id"]
    assert harness.post("/api/workflows/approve", {"workflowId": workflow_id}).status_code == 200
    key = new_key()
    first = post(harness, "/api/workflows/start", {"workflowId": workflow_id}, key)
    second = post(harness, "/api/workflows/start", {"workflowId": workflow_id}, key)
    assert (first.status_code, second.status_code) == (202, 202), second.text
    assert second.content == first.content
    assert second.headers[REPLAYED] == "true"
    assert first.json()["attempt"] == 1
    assert harness.workflow(workflow_id)["attempt"] == 1
    assert harness.post("/api/workflows/cancel", {"workflowId": workflow_id}).status_code == 200


def test_start_without_a_key_works_as_before(harness: Harness, planner: CountingPlanner) -> None:
    workflow_id = harness.create()["workflow_id"]
    assert harness.post("/api/workflows/approve", {"workflowId": workflow_id}).status_code == 200
    first = post(harness, "/api/workflows/start", {"workflowId": workflow_id}, None)
    second = post(harness, "/api/workflows/start", {"workflowId": workflow_id}, None)
    assert first.status_code == 202, first.text
    assert second.status_code == 409, second.text
    assert second.json()["error"]["code"] == "InvalidState"
    assert REPLAYED not in second.headers
    assert harness.post("/api/workflows/cancel", {"workflowId": workflow_id}).status_code == 200


def test_an_error_answer_is_not_remembered_so_the_fixed_request_runs_with_the_same_key(
    harness: Harness, planner: CountingPlanner
) -> None:
    workflow_id = harness.create()["workflow_id"]
    key = new_key()
    too_early = post(harness, "/api/workflows/start", {"workflowId": workflow_id}, key)
    assert too_early.status_code == 409, too_early.text
    assert too_early.json()["error"]["code"] == "InvalidState"
    # The person approves; the client retries the start with the same key: it runs now.
    assert harness.post("/api/workflows/approve", {"workflowId": workflow_id}).status_code == 200
    started = post(harness, "/api/workflows/start", {"workflowId": workflow_id}, key)
    assert started.status_code == 202, started.text
    assert REPLAYED not in started.headers
    assert started.json()["status"] == "running"
    # From now on the key replays that success.
    again = post(harness, "/api/workflows/start", {"workflowId": workflow_id}, key)
    assert again.status_code == 202 and again.content == started.content
    assert harness.post("/api/workflows/cancel", {"workflowId": workflow_id}).status_code == 200


def test_submit_payment_replayed_with_one_key_pays_once(harness: Harness, planner: CountingPlanner) -> None:
    workflow_id = harness.create_and_start()
    step = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    sent = harness.wallet.pay(step["unsigned_group_txns"])
    body = {"workflowId": workflow_id, "stepNumber": 1, "txnIds": sent.txn_ids}
    key = new_key()
    # A double click: two submissions with one key at the same moment.
    barrier = threading.Barrier(2)
    pair: list[httpx.Response] = []

    def submit() -> None:
        barrier.wait(5)
        pair.append(post(harness, "/api/workflows/step/submit_payment", body, key))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    fresh = [r for r in pair if r.status_code == 200 and REPLAYED not in r.headers]
    assert len(fresh) == 1, [(r.status_code, r.text) for r in pair]
    [first] = fresh
    [twin] = [r for r in pair if r is not first]
    # The twin waits for nothing: it is told the first is in progress, or (if it came late) replayed.
    if twin.status_code == 409:
        assert twin.json()["error"]["code"] == "IdempotencyInProgress"
    else:
        assert twin.status_code == 200 and twin.headers[REPLAYED] == "true" and twin.content == first.content
    assert first.json()["status"] == "running"
    # A retry after the answer: the same answer, replayed.
    second = post(harness, "/api/workflows/step/submit_payment", body, key)
    assert second.status_code == 200, second.text
    assert second.content == first.content
    assert second.headers[REPLAYED] == "true"
    payments = get_dependencies().store.payments_for_step(workflow_id, 1)
    assert sorted(p.txid for p in payments) == sorted(sent.txn_ids)
    # Without the key, a third submission finds the payment recorded already: it answers the step as it
    # is (paid, its receipt) and does nothing again.
    third = post(harness, "/api/workflows/step/submit_payment", body, None)
    assert third.status_code == 200, third.text
    assert third.headers.get(REPLAYED) is None
    assert third.json()["receipt"] == first.json()["receipt"]
    assert third.json()["status"] in ("running", "succeeded")
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "completed", done
    assert len(get_dependencies().store.payments_for_step(workflow_id, 1)) == len(sent.txn_ids)


def test_an_invalid_key_is_a_400(harness: Harness, planner: CountingPlanner) -> None:
    response = post(harness, "/api/workflows/create", create_body(harness), "k" * 256)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BadRequest"
    assert len(planner.calls) == 0
