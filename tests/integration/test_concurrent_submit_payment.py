"""Two submit_payment requests for one step at the same moment, on the local stack: the step is
claimed by exactly one of them, so the agent is paid once (one set of payment rows), the task
token gets exactly one SendTaskSuccess, and the workflow completes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from orchestrator.dependencies import get_dependencies

from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, running_harness, sample

pytestmark = pytest.mark.integration

SYMPTOMS = sample("symptom-checker").id
REPLAYED = "Idempotent-Replayed"


class CountingEngine:
    """The stack's real engine, with a record of the task-token calls made through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.successes: list[str] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()

    def start_execution(self, name: str, execution_input: Any) -> str:
        return str(self.inner.start_execution(name, execution_input))

    def send_task_success(self, task_token: str, output: dict[str, Any]) -> bool:
        with self._lock:
            self.successes.append(task_token)
        return bool(self.inner.send_task_success(task_token, output))

    def send_task_failure(self, task_token: str, error: str, cause: str) -> bool:
        with self._lock:
            self.failures.append(task_token)
        return bool(self.inner.send_task_failure(task_token, error, cause))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    # A quicker ledger than FAST: three workflows fit the file's time budget.
    with (
        running_harness(
            tmp_path_factory.mktemp("stack"), block_time=0.1, indexer_lag_seconds=0.2, agent_job_seconds=0.05
        ) as harness,
        harness.stack.overrides(planner=FixedPlanner([(SYMPTOMS, "headache and a runny nose")])),
    ):
        yield harness


@pytest.fixture
def engine(harness: Harness) -> Iterator[CountingEngine]:
    counting = CountingEngine(harness.stack.registry.dependencies().engine)
    with harness.stack.overrides(engine=counting):
        yield counting


def submit_at_once(harness: Harness, body: dict[str, Any], keys: list[str | None]) -> list[httpx.Response]:
    """POST the same submission from one thread per key, released together."""
    barrier = threading.Barrier(len(keys))
    answers: list[httpx.Response | None] = [None] * len(keys)

    def submit(index: int, key: str | None) -> None:
        headers = {"Idempotency-Key": key} if key is not None else {}
        barrier.wait(5)
        answers[index] = harness.api.post("/api/workflows/step/submit_payment", json=body, headers=headers)

    threads = [threading.Thread(target=submit, args=(i, key)) for i, key in enumerate(keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(a is not None for a in answers), "a submission did not finish"
    return [a for a in answers if a is not None]


@pytest.mark.parametrize(
    "keys",
    [[None, None], ["key-a", "key-b"]],
    ids=["no-keys", "different-keys"],
)
def test_concurrent_submissions_pay_once_and_complete(
    harness: Harness, engine: CountingEngine, keys: list[str | None]
) -> None:
    workflow_id = harness.create_and_start()
    step = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    stored = get_dependencies().store.get_step(workflow_id, 1)
    assert stored is not None and stored.task_token
    token = stored.task_token
    sent = harness.wallet.pay(step["unsigned_group_txns"])
    body = {"workflowId": workflow_id, "stepNumber": 1, "txnIds": sent.txn_ids}
    # Keys are per test run: the same literal key in another parametrization has another body.
    run_keys = [f"{workflow_id}-{k}" if k is not None else None for k in keys]

    answers = submit_at_once(harness, body, run_keys)

    # One claims the step; the other is refused by the step's conditional claim (or, arriving
    # after it, by the step's status): 409 InvalidState, never a second payment.
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    [winner] = [a for a in answers if a.status_code == 200]
    [loser] = [a for a in answers if a.status_code == 409]
    assert winner.json()["status"] == "running"
    assert REPLAYED not in winner.headers
    assert loser.json()["error"]["code"] == "InvalidState"

    # Exactly one SendTaskSuccess for the step's token, and no failure.
    assert engine.successes.count(token) == 1
    assert token not in engine.failures
    # Exactly one set of payment rows.
    payments = get_dependencies().store.payments_for_step(workflow_id, 1)
    assert sorted(p.txid for p in payments) == sorted(sent.txn_ids)
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "completed", done
    assert done["steps"][0]["receipt"]["txn_ids"] == step["txn_ids"]
