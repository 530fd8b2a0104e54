"""Money rules on the local stack: a payment confirmed on chain is never lost and never asked for twice
without the person's consent. Each test counts the payments on the dev ledger itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devstack.agents import AgentBehaviour, SampleAgentServer
from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, StackOverrides, running_harness, sample

pytestmark = pytest.mark.integration

SYMPTOMS = sample("symptom-checker")


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_harness(tmp_path_factory.mktemp("stack"), payment_timeout_seconds=3) as harness:
        yield harness


@pytest.fixture(autouse=True)
def one_step_plan(overrides: StackOverrides) -> None:
    overrides.use(planner=FixedPlanner([(SYMPTOMS.id, "headache")]))


def paid_to(harness: Harness, receiver: str) -> list[int]:
    return [amount for _, amount in harness.payments_on_chain(receiver)]


def offer_and_pay_without_submitting(harness: Harness) -> tuple[str, list[str]]:
    """A workflow whose step 1 the wallet paid on chain; nobody told the orchestrator."""
    workflow_id = harness.create_and_start()
    step = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    sent = harness.wallet.pay(step["unsigned_group_txns"])
    assert sorted(sent.txn_ids) == sorted(step["txn_ids"])
    return workflow_id, sent.txn_ids


def submit(harness: Harness, workflow_id: str, txn_ids: list[str]) -> dict[str, Any]:
    response = harness.post(
        "/api/workflows/step/submit_payment", {"workflowId": workflow_id, "stepNumber": 1, "txnIds": txn_ids}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_payment_submitted_after_the_payment_timeout_is_kept_and_resuming_does_not_ask_again(
    harness: Harness,
) -> None:
    before = paid_to(harness, SYMPTOMS.agent_address)
    workflow_id, txn_ids = offer_and_pay_without_submitting(harness)
    timed_out = harness.wait_until_done(workflow_id, timeout=15)
    assert timed_out["steps"][0]["status"] == "payment_timeout"

    late = submit(harness, workflow_id, txn_ids)
    assert late["status"] == "payment_timeout"  # the step waits for the resume, its payment recorded
    assert late["receipt"]["txn_ids"] == txn_ids
    assert submit(harness, workflow_id, txn_ids)["receipt"] == late["receipt"]  # a repeat changes nothing

    assert harness.post("/api/workflows/start", {"workflowId": workflow_id}).status_code == 202
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "completed", done
    assert done["steps"][0]["receipt"] == late["receipt"]
    assert paid_to(harness, SYMPTOMS.agent_address) == [*before, SYMPTOMS.price_microalgo]


def test_a_payment_nobody_submitted_is_found_on_chain_when_resuming(harness: Harness) -> None:
    before = paid_to(harness, SYMPTOMS.agent_address)
    workflow_id, txn_ids = offer_and_pay_without_submitting(harness)
    assert harness.wait_until_done(workflow_id, timeout=15)["steps"][0]["status"] == "payment_timeout"

    assert harness.post("/api/workflows/start", {"workflowId": workflow_id}).status_code == 202
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "completed", done
    assert done["steps"][0]["receipt"]["txn_ids"] == txn_ids
    assert paid_to(harness, SYMPTOMS.agent_address) == [*before, SYMPTOMS.price_microalgo]


def test_resuming_offers_the_same_group_again_while_it_may_still_confirm(harness: Harness) -> None:
    before = paid_to(harness, SYMPTOMS.agent_address)
    workflow_id = harness.create_and_start()
    offered = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    assert harness.wait_until_done(workflow_id, timeout=15)["steps"][0]["status"] == "payment_timeout"

    assert harness.post("/api/workflows/start", {"workflowId": workflow_id}).status_code == 202
    again = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    assert again["txn_ids"] == offered["txn_ids"]  # not a second group the wallet could also pay
    assert harness.pay_step(workflow_id, 1).status_code == 200
    assert harness.wait_until_done(workflow_id)["status"] == "completed"
    assert paid_to(harness, SYMPTOMS.agent_address) == [*before, SYMPTOMS.price_microalgo]


def test_a_requote_while_the_group_is_paid_takes_the_payment_instead_of_a_new_group(
    harness: Harness,
) -> None:
    before = paid_to(harness, SYMPTOMS.agent_address)
    workflow_id, txn_ids = offer_and_pay_without_submitting(harness)
    requoted = harness.post("/api/workflows/step/start_job", {"workflowId": workflow_id, "stepNumber": 1})
    assert requoted.status_code == 200, requoted.text
    assert requoted.json()["txn_ids"] == txn_ids
    assert requoted.json()["receipt"]["txn_ids"] == txn_ids
    # The page's own submit arrives afterwards: already recorded, nothing happens twice.
    assert submit(harness, workflow_id, txn_ids)["receipt"] == requoted.json()["receipt"]
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "completed", done
    assert paid_to(harness, SYMPTOMS.agent_address) == [*before, SYMPTOMS.price_microalgo]


def test_a_paid_job_the_restarted_agent_forgot_fails_by_name_and_is_paid_again_only_with_consent(
    harness: Harness,
    overrides: StackOverrides,
) -> None:
    slow = harness.add_agent(
        "symptom-checker", "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d", AgentBehaviour(job_seconds=30)
    )
    overrides.use(planner=FixedPlanner([(slow, "headache")]))
    receiver = SYMPTOMS.agent_address
    before = paid_to(harness, receiver)
    workflow_id = harness.create_and_start()
    assert harness.pay_step(workflow_id, 1).status_code == 200
    harness.wait_for_step(workflow_id, 1, "running")

    # The agent restarts on the same port and forgets its jobs.
    old = next(s for s in harness.extra_agents if s.spec.id == slow)
    port = old.port
    old.stop()
    restarted = SampleAgentServer(
        old.spec,
        algod_url=harness.stack.algod_url,
        indexer_url=harness.stack.indexer_url,
        port=port,
        behaviour=AgentBehaviour(job_seconds=0.2),
    ).start()
    harness.extra_agents.append(restarted)

    failed = harness.wait_until_done(workflow_id, timeout=20)
    assert failed["status"] == "failed"
    step = failed["steps"][0]
    assert step["error"]["code"] == "AgentLostJob"
    assert "is confirmed and kept" in step["error"]["message"]
    receipt = step["receipt"]
    assert receipt is not None and paid_to(harness, receiver) == [*before, SYMPTOMS.price_microalgo]

    refused = harness.post("/api/workflows/start", {"workflowId": workflow_id})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "RepayConsentRequired"
    agreed = harness.post("/api/workflows/start", {"workflowId": workflow_id, "repaySteps": [1]})
    assert agreed.status_code == 202, agreed.text
    again = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    assert again["earlier_receipts"] == [receipt]
    assert harness.pay_step(workflow_id, 1).status_code == 200
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "completed", done
    # Paid twice, the second time with the person's consent; both receipts are kept.
    assert paid_to(harness, receiver) == [*before, SYMPTOMS.price_microalgo, SYMPTOMS.price_microalgo]
    assert done["steps"][0]["earlier_receipts"] == [receipt]
