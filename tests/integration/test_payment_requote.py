"""A payment group whose validity window closed is quoted again under the same task token, and paying
the new one pays once. On a stack of its own: the wait for the first group to expire and the paying
of the second both count against the payment timeout, so that timeout is long here (the module of
the other money rules, test_payment_recovery.py, runs with a 3 s one that would race this test when
the machine is busy)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.agents import AgentBehaviour
from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, StackOverrides, running_harness, sample

pytestmark = pytest.mark.integration

SYMPTOMS = sample("symptom-checker")


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_harness(tmp_path_factory.mktemp("stack"), payment_timeout_seconds=60) as harness:
        yield harness


def paid_to(harness: Harness, receiver: str) -> list[int]:
    return [amount for _, amount in harness.payments_on_chain(receiver)]


def test_an_expired_group_is_requoted_and_paying_the_new_one_pays_once(
    harness: Harness, overrides: StackOverrides
) -> None:
    short = harness.add_agent(
        "symptom-checker", "0f3b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", AgentBehaviour(validity_rounds=6)
    )
    overrides.use(planner=FixedPlanner([(short, "headache")]))
    receiver = SYMPTOMS.agent_address
    before = paid_to(harness, receiver)
    workflow_id = harness.create_and_start()
    first = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    still_valid = harness.post("/api/workflows/step/start_job", {"workflowId": workflow_id, "stepNumber": 1})
    assert still_valid.status_code == 200, still_valid.text
    assert still_valid.json()["txn_ids"] == first["txn_ids"]  # its window is open: not replaced
    ledger = harness.stack.ledger
    ledger.wait_for_round_after(first["last_valid_round"], timeout=10)

    fresh = harness.post("/api/workflows/step/start_job", {"workflowId": workflow_id, "stepNumber": 1})
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["txn_ids"] != first["txn_ids"]
    assert harness.pay_step(workflow_id, 1).status_code == 200
    assert harness.wait_until_done(workflow_id)["status"] == "completed"
    assert paid_to(harness, receiver) == [*before, SYMPTOMS.price_microalgo]
