"""The payment path (services/payment.submit_payment) on fakes: a confirmed payment is verified on
chain, recorded once, claimed by exactly one submission, handed to the agent, and never lost: one
arriving late, for an earlier offer, or for a step that stopped waiting is still recorded. Every test
counts the payments the store recorded and the transactions the chain confirmed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from algosdk import logic
from orchestrator.errors import (
    AgentUnavailable,
    ChainUnavailable,
    InvalidState,
    NotFound,
    OrchestratorError,
    PaymentMismatch,
    PaymentNotConfirmed,
    PaymentRejectedByAgent,
    PaymentReplay,
)
from orchestrator.models import AgentMetadata, JobState, StepStatus, WorkflowStatus
from orchestrator.schemas.api import StepView
from orchestrator.services.start_job import start_job_again
from orchestrator.services.workflows import cancel_workflow

from tests.builders import OTHER_USER, PRICE, USER, WALLET, World, job_record
from tests.fakes import agent_rejected, agent_unavailable

WORKING = {"status": "working", "wait_seconds": 2}


def before_require_confirmed(
    w: World, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], object]
) -> None:
    """The first time a submission asks the chain, `meanwhile` runs (another request, in between)."""
    ask = w.chain.require_confirmed
    done: list[bool] = []

    def asked(txids: list[str]) -> int:
        if not done:
            done.append(True)
            meanwhile()
        return ask(txids)

    monkeypatch.setattr(w.chain, "require_confirmed", asked)


# --- the payment goes through ---------------------------------------------------------------------


def test_a_confirmed_payment_is_recorded_handed_to_the_agent_and_the_execution_goes_on(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    w.clock.advance(42)  # the person takes 42 s to sign
    paid_round = w.chain.confirm(offered.txn_ids)

    view = w.submit(workflow.workflow_id, 1, list(reversed(offered.txn_ids)))  # any order

    assert view.status == StepStatus.RUNNING and view.unsigned_group_txns == []
    assert view.receipt is not None and view.receipt.confirmed_round == paid_round
    assert (view.receipt.amount_microalgo, view.receipt.fee_microalgo) == (PRICE, 2000)
    assert view.receipt.receiver == paid_agent.agent_address
    payments = {p.txid: p for p in w.payments(workflow.workflow_id)}
    assert sorted(payments) == sorted(offered.txn_ids) == sorted(w.chain.confirmed)
    pay_txid, call_txid = offered.txn_ids
    assert paid_agent.app_id is not None
    assert (payments[pay_txid].amount_microalgo, payments[pay_txid].payee_addr) == (
        PRICE,
        paid_agent.agent_address,
    )
    assert (payments[call_txid].amount_microalgo, payments[call_txid].payee_addr) == (
        0,
        logic.get_application_address(paid_agent.app_id),
    )
    assert all(p.payer_addr == WALLET and p.job_id == offered.job_id for p in payments.values())
    assert all(p.confirmed_round == paid_round for p in payments.values())
    [handed] = w.agents.submissions
    assert (handed.job_id, handed.txids) == (offered.agent_job_id, tuple(offered.txn_ids))
    assert handed.retry_for_seconds == w.settings.submit_payment_retry_seconds
    assert w.store.get_access_token(workflow.workflow_id, 1, offered.agent_job_id or "") is not None
    step = w.step(workflow.workflow_id)
    assert (step.status, step.task_token) == (StepStatus.RUNNING, None)
    [job] = w.jobs(workflow.workflow_id)
    assert (job.state, job.txid) == (JobState.RUNNING, call_txid)
    assert w.engine.successes == [("start-1", WORKING)] and w.engine.failures == []
    assert w.metrics.payment_waits == [42.0]


def test_a_repeated_submission_answers_the_step_and_changes_nothing(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    first = w.pay(workflow.workflow_id)
    asked = len(w.chain.calls)

    again = w.submit(workflow.workflow_id, 1, offered.txn_ids)

    assert again == first
    assert len(w.chain.calls) == asked  # recorded already: the chain is not asked again
    assert len(w.agents.submissions) == 1 and len(w.engine.successes) == 1
    assert len(w.payments(workflow.workflow_id)) == 2 and len(w.chain.confirmed) == 2


def test_exactly_one_of_two_submissions_claims_the_step(
    w: World, paid_agent: AgentMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    w.chain.confirm(offered.txn_ids)
    seconds: list[StepView] = []
    # The second submission runs whole while the first waits for the chain's answer.
    before_require_confirmed(
        w, monkeypatch, lambda: seconds.append(w.submit(workflow.workflow_id, 1, offered.txn_ids))
    )

    with pytest.raises(InvalidState, match="changed while this request ran"):
        w.submit(workflow.workflow_id, 1, offered.txn_ids)

    assert [view.status for view in seconds] == [StepStatus.RUNNING]
    assert len(w.agents.submissions) == 1 and w.engine.successes == [("start-1", WORKING)]
    assert sorted(w.recorded_txids()) == sorted(offered.txn_ids) and len(w.chain.confirmed) == 2
    assert w.step(workflow.workflow_id).status == StepStatus.RUNNING


def test_a_submission_meeting_another_handing_the_payment_over_is_refused_not_answered_stale(
    w: World, paid_agent: AgentMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second submission reads the step (awaiting payment) just before the first records the
    payment, then finds it recorded while the first hands it to the agent: 409, never the stale
    `awaiting_payment` that would have the page ask for the payment again."""
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    w.chain.confirm(offered.txn_ids)
    hand_over = w.agents.submit_payment
    meanwhile: list[BaseException] = []

    def handed_over(*args: Any, **kwargs: Any) -> Any:
        try:
            w.submit(workflow.workflow_id, 1, offered.txn_ids)
        except OrchestratorError as exc:
            meanwhile.append(exc)
        return hand_over(*args, **kwargs)

    monkeypatch.setattr(w.agents, "submit_payment", handed_over)
    first = w.submit(workflow.workflow_id, 1, offered.txn_ids)

    [refused] = meanwhile
    assert isinstance(refused, InvalidState) and "being handed to the agent" in refused.message
    assert first.status == StepStatus.RUNNING
    assert len(w.agents.submissions) == 1 and w.engine.successes == [("start-1", WORKING)]
    assert w.money_moved() == (2, 2)


def test_a_submission_that_read_the_step_before_another_claimed_it_answers_the_step_as_it_is_now(
    w: World, paid_agent: AgentMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    w.chain.confirm(offered.txn_ids)
    look_up = w.store.payments_for_txids
    firsts: list[StepView] = []
    asked: list[bool] = []

    def looked_up(txids: list[str]) -> Any:
        if not asked:  # the other submission runs whole between this one's reads
            asked.append(True)
            firsts.append(w.submit(workflow.workflow_id, 1, offered.txn_ids))
        return look_up(txids)

    monkeypatch.setattr(w.store, "payments_for_txids", looked_up)
    late = w.submit(workflow.workflow_id, 1, offered.txn_ids)

    assert late.status == firsts[0].status == StepStatus.RUNNING  # not the awaiting_payment it read
    assert len(w.agents.submissions) == 1 and len(w.engine.successes) == 1
    assert w.money_moved() == (2, 2)


def test_of_concurrent_submissions_in_threads_exactly_one_claims_the_step(
    w: World, paid_agent: AgentMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    w.chain.confirm(offered.txn_ids)
    submissions = 4
    together = threading.Barrier(submissions)
    ask = w.chain.require_confirmed

    def asked_together(txids: list[str]) -> int:
        together.wait(timeout=10)  # every submission has read the store before any records
        return ask(txids)

    monkeypatch.setattr(w.chain, "require_confirmed", asked_together)
    outcomes: list[StepView | OrchestratorError] = []

    def submit() -> None:
        try:
            outcomes.append(w.submit(workflow.workflow_id, 1, offered.txn_ids))
        except OrchestratorError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(submissions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    claimed = [o for o in outcomes if isinstance(o, StepView)]
    assert len(outcomes) == submissions and len(claimed) == 1
    assert all(isinstance(o, InvalidState) for o in outcomes if not isinstance(o, StepView))
    assert len(w.agents.submissions) == 1 and len(w.engine.successes) == 1
    assert sorted(w.recorded_txids()) == sorted(offered.txn_ids) and len(w.chain.confirmed) == 2


# --- refused ----------------------------------------------------------------------------------------


def test_txids_the_step_never_offered_are_a_mismatch(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    w.chain.confirm(offered.txn_ids)
    with pytest.raises(PaymentMismatch) as mismatch:
        w.submit(workflow.workflow_id, 1, offered.txn_ids[:1])
    assert mismatch.value.details == {"expected": offered.txn_ids, "submitted": offered.txn_ids[:1]}
    assert w.recorded_txids() == [] and w.agents.submissions == []
    assert w.step(workflow.workflow_id).status == StepStatus.AWAITING_PAYMENT


def test_a_payment_not_confirmed_yet_is_refused_and_the_step_waits_on(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    w.chain.confirm(offered.txn_ids[:1])  # half the group: a group confirms whole or not at all here
    with pytest.raises(PaymentNotConfirmed, match=offered.txn_ids[1]):
        w.submit(workflow.workflow_id, 1, offered.txn_ids)
    w.chain.unavailable.add("require_confirmed")
    with pytest.raises(ChainUnavailable):
        w.submit(workflow.workflow_id, 1, offered.txn_ids)
    assert w.recorded_txids() == [] and w.agents.submissions == [] and w.engine.successes == []
    assert w.step(workflow.workflow_id).status == StepStatus.AWAITING_PAYMENT


def test_another_persons_workflow_or_a_missing_step_is_not_found(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    w.chain.confirm(offered.txn_ids)
    with pytest.raises(NotFound):
        w.submit(workflow.workflow_id, 1, offered.txn_ids, user_id=OTHER_USER)
    with pytest.raises(NotFound):
        w.submit(workflow.workflow_id, 2, offered.txn_ids)
    assert w.recorded_txids() == [] and w.agents.submissions == []


def same_group_offered_to_another_step(w: World, paid_agent: AgentMetadata, source_workflow_id: str) -> str:
    """A second workflow whose step offers exactly the group step 1 of `source_workflow_id` offered."""
    [job] = w.jobs(source_workflow_id)
    other = w.add_workflow([paid_agent])
    copied = job_record(
        other.workflow_id,
        1,
        job.agent_job_id,
        agent_id=paid_agent.id,
        unsigned_group_txns=job.unsigned_group_txns,
        txn_ids=job.txn_ids,
        last_valid_round=job.last_valid_round,
        amount_microalgo=job.amount_microalgo,
    )
    w.store.record_job(copied)
    w.put_step(
        other.workflow_id,
        1,
        StepStatus.AWAITING_PAYMENT,
        job_id=copied.job_id,
        agent_job_id=job.agent_job_id,
        txn_ids=job.txn_ids,
        task_token="other-start",
    )
    return other.workflow_id


def test_a_txid_that_already_paid_for_another_step_is_a_replay(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    w.pay(workflow.workflow_id)
    other = same_group_offered_to_another_step(w, paid_agent, workflow.workflow_id)

    with pytest.raises(PaymentReplay, match="already paid for another step"):
        w.submit(other, 1, offered.txn_ids)

    assert sorted(w.recorded_txids()) == sorted(offered.txn_ids)  # recorded once, for the first step
    assert w.payments(other) == [] and len(w.chain.confirmed) == 2
    assert w.step(other).status == StepStatus.AWAITING_PAYMENT and w.step(other).receipt is None
    assert len(w.agents.submissions) == 1


def test_a_txid_recorded_for_another_step_while_this_submission_ran_is_a_replay(
    w: World, paid_agent: AgentMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    other = same_group_offered_to_another_step(w, paid_agent, workflow.workflow_id)
    w.chain.confirm(offered.txn_ids)
    before_require_confirmed(w, monkeypatch, lambda: w.submit(workflow.workflow_id, 1, offered.txn_ids))

    with pytest.raises(PaymentReplay, match="already paid for another step"):
        w.submit(other, 1, offered.txn_ids)

    assert sorted(w.recorded_txids()) == sorted(offered.txn_ids) and len(w.chain.confirmed) == 2
    assert {p.workflow_id for p in w.store.payments_for_txids(offered.txn_ids)} == {workflow.workflow_id}
    assert w.step(other).status == StepStatus.AWAITING_PAYMENT and w.step(other).receipt is None
    assert w.step(workflow.workflow_id).status == StepStatus.RUNNING


@pytest.mark.parametrize(
    "refusal",
    [agent_rejected(402), agent_unavailable(may_have_reached_agent=True)],
    ids=["402", "unreachable"],
)
def test_an_agent_refusing_a_confirmed_payment_fails_the_step_and_keeps_the_payment(
    w: World, paid_agent: AgentMetadata, refusal: OrchestratorError
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    w.agents.payment_answers.append(refusal)

    with pytest.raises(PaymentRejectedByAgent) as rejected:
        w.pay(workflow.workflow_id)

    assert refusal.message in rejected.value.message and "without paying twice" in rejected.value.message
    step = w.step(workflow.workflow_id)
    assert step.status == StepStatus.FAILED and step.receipt is not None
    assert step.error is not None and step.error.code == "PaymentRejectedByAgent"
    assert w.engine.failures == [("start-1", "PaymentRejectedByAgent")] and w.engine.successes == []
    assert w.engine.failure_causes == [rejected.value.message]
    assert sorted(p.txid for p in w.payments(workflow.workflow_id)) == sorted(offered.txn_ids)
    assert len(w.chain.confirmed) == 2
    assert w.store.get_access_token(workflow.workflow_id, 1, offered.agent_job_id or "") is None
    [job] = w.jobs(workflow.workflow_id)
    assert job.state == JobState.ONCHAIN_CONFIRMED


def test_a_confirmed_payment_is_recorded_even_when_its_agent_left_the_catalog_meanwhile(
    w: World, paid_agent: AgentMetadata
) -> None:
    """The agent is looked up after the payment is recorded: its leaving the catalog fails the step
    with the payment kept, and once it is back a resume hands that payment over, asking for none."""
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    w.add_agents(paid_agent.model_copy(update={"status": "paused"}))
    with pytest.raises(AgentUnavailable) as unavailable:
        w.pay(workflow.workflow_id)

    assert "without paying twice" in unavailable.value.message
    assert sorted(p.txid for p in w.payments(workflow.workflow_id)) == sorted(offered.txn_ids)
    step = w.step(workflow.workflow_id)
    assert step.status == StepStatus.FAILED and step.receipt is not None
    assert step.error is not None and step.error.code == "AgentUnavailable"
    assert w.engine.failures == [("start-1", "AgentUnavailable")] and w.engine.successes == []
    assert w.money_moved() == (2, 2)

    w.halt(workflow.workflow_id, 1, "failed", "AgentUnavailable", unavailable.value.message)
    w.add_agents(paid_agent)  # active again
    w.resume(workflow.workflow_id)
    w.start_job(workflow.workflow_id, token="start-2")

    resumed = w.step(workflow.workflow_id)
    assert resumed.status == StepStatus.RUNNING and resumed.job_id == offered.job_id
    assert w.success_tokens() == ["start-2"]
    assert [call.kind for call in w.agents.calls] == ["start_job", "submit_payment"]
    assert w.money_moved() == (2, 2)  # nothing asked for or paid again


def test_no_payment_wait_is_reported_for_a_step_without_a_start_time(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    w.offer(workflow.workflow_id)
    w.put_step(workflow.workflow_id, 1, StepStatus.AWAITING_PAYMENT, started_at=None)
    assert w.pay(workflow.workflow_id).status == StepStatus.RUNNING
    assert w.metrics.payment_waits == [] and w.money_moved() == (2, 2)


# --- late and earlier payments: never lost ------------------------------------------------------------


def test_a_payment_arriving_after_the_payment_timeout_is_recorded_and_delivered_on_resume(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    w.halt(workflow.workflow_id, 1, "payment_timeout", error="States.Timeout")

    view = w.pay(workflow.workflow_id)

    assert view.status == StepStatus.PAYMENT_TIMEOUT and view.receipt is not None
    assert sorted(p.txid for p in w.payments(workflow.workflow_id)) == sorted(offered.txn_ids)
    assert len(w.chain.confirmed) == 2
    assert w.agents.submissions == [] and w.engine.successes == [] and w.engine.failures == []
    [job] = w.jobs(workflow.workflow_id)
    assert job.state == JobState.ONCHAIN_CONFIRMED
    # Resuming hands this payment to the agent; nobody is asked to pay again.
    w.resume(workflow.workflow_id)
    w.start_job(workflow.workflow_id, token="start-2")
    assert w.step(workflow.workflow_id).status == StepStatus.RUNNING
    assert len(w.agents.started) == 1 and [s.txids for s in w.agents.submissions] == [tuple(offered.txn_ids)]
    assert len(w.payments(workflow.workflow_id)) == 2 and len(w.chain.confirmed) == 2


def test_a_payment_arriving_after_a_cancel_is_recorded(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    cancel_workflow(w.deps, workflow.workflow_id, USER)
    assert w.engine.failures == [("start-1", "WorkflowCancelled")]

    view = w.pay(workflow.workflow_id)

    assert view.status == StepStatus.CANCELLED and view.receipt is not None
    assert sorted(p.txid for p in w.payments(workflow.workflow_id)) == sorted(offered.txn_ids)
    assert w.money_moved() == (2, 2)
    assert w.agents.submissions == [] and w.engine.successes == []


def test_a_payment_for_an_offer_replaced_by_a_re_quote_claims_the_job_it_paid_for(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    first = w.offer(workflow.workflow_id, token="start-1")
    w.chain.advance(100)
    start_job_again(w.deps, workflow.workflow_id, 1, USER)
    w.chain.confirm(first.txn_ids, at_round=first.last_valid_round)  # it made the last round after all

    view = w.submit(workflow.workflow_id, 1, first.txn_ids)

    assert view.status == StepStatus.RUNNING and view.txn_ids == first.txn_ids
    step = w.step(workflow.workflow_id)
    assert (step.job_id, step.agent_job_id) == (first.job_id, first.agent_job_id)
    paid_job, requoted = w.jobs(workflow.workflow_id)
    assert (paid_job.state, requoted.state) == (JobState.RUNNING, JobState.EXPIRED)
    assert [s.job_id for s in w.agents.submissions] == [first.agent_job_id]
    assert sorted(w.recorded_txids()) == sorted(first.txn_ids) and len(w.chain.confirmed) == 2


def test_a_second_group_paid_after_the_step_moved_on_is_recorded_and_changes_nothing(
    w: World, paid_agent: AgentMetadata
) -> None:
    """The person paid an expired group and its re-quote both: both are kept, only one is used."""
    workflow = w.add_workflow([paid_agent])
    first = w.offer(workflow.workflow_id, token="start-1")
    w.chain.advance(100)
    start_job_again(w.deps, workflow.workflow_id, 1, USER)
    second = w.pay(workflow.workflow_id)
    w.chain.confirm(first.txn_ids, at_round=first.last_valid_round)

    view = w.submit(workflow.workflow_id, 1, first.txn_ids)

    assert view == second  # the step as the second payment left it
    assert (
        sorted(w.recorded_txids()) == sorted([*first.txn_ids, *second.txn_ids])
        and len(w.chain.confirmed) == 4
    )
    assert len(w.agents.submissions) == 1 and w.engine.successes == [("start-1", WORKING)]
    assert w.step(workflow.workflow_id).txn_ids == second.txn_ids


def test_a_payment_for_a_step_that_already_succeeded_is_recorded_too(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    first = w.offer(workflow.workflow_id)
    w.chain.advance(100)
    start_job_again(w.deps, workflow.workflow_id, 1, USER)
    w.pay(workflow.workflow_id)
    assert w.finish(workflow.workflow_id).status == StepStatus.SUCCEEDED
    w.chain.confirm(first.txn_ids, at_round=first.last_valid_round)

    assert w.submit(workflow.workflow_id, 1, first.txn_ids).status == StepStatus.SUCCEEDED
    assert len(w.recorded_txids()) == 4 and len(w.chain.confirmed) == 4
    assert w.workflow(workflow.workflow_id).status == WorkflowStatus.RUNNING


def test_a_delivery_for_a_step_without_a_job_row_keeps_the_access_token(
    w: World, paid_agent: AgentMetadata
) -> None:
    from orchestrator.services.payment import deliver_payment

    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    w.chain.confirm(offered.txn_ids)
    deliver_payment(
        w.deps, workflow, offered.model_copy(update={"job_id": None}), paid_agent, offered.txn_ids
    )
    assert w.store.get_access_token(workflow.workflow_id, 1, offered.agent_job_id or "") is not None
    assert w.jobs(workflow.workflow_id)[0].state == JobState.PAYMENT_PENDING  # no row to mark running
    assert w.money_moved() == (0, 2)  # handing a payment over records none
