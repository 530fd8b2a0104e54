"""StartJob (services/start_job.start_job) and the re-quote (start_job_again) on fakes: a free
agent's job runs at once; a paid agent's group is checked against the payment safety rules before
anyone is asked to sign it; an earlier offer is claimed when it was paid, offered again while it may
still confirm, and replaced only once it expired; a resumed paid step is delivered, never paid again."""

from __future__ import annotations

import json

import pytest
from algosdk import logic
from orchestrator.errors import (
    AgentUnavailable,
    InvalidState,
    NotFound,
    PaymentRejectedByAgent,
    UnsafePaymentGroup,
)
from orchestrator.models import AgentMetadata, JobState, StepStatus, WorkflowStatus, job_input_hash
from orchestrator.payments.decoding import decode_transaction, encode_transaction
from orchestrator.services.start_job import start_job_again

from tests.builders import OTHER_USER, PRICE, USER, WALLET, World, address_of, hireable_agent
from tests.fakes import OfferTerms, agent_rejected, agent_unavailable

WORKING = {"status": "working", "wait_seconds": 2}


def nothing_offered(w: World, workflow_id: str) -> None:
    step = w.step(workflow_id)
    assert (step.status, step.task_token, step.job_id, step.txn_ids) == (StepStatus.PENDING, None, None, [])
    assert w.jobs(workflow_id) == [] and w.payments(workflow_id) == []
    assert w.engine.successes == [] and w.engine.failures == []


# --- a new job ------------------------------------------------------------------------------------


def test_a_free_agents_job_runs_at_once(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([free_agent], inputs=[{"text": "{{user_message}}"}], user_message="bonjour")
    w.start_job(workflow.workflow_id, token="start-1")

    [asked] = w.agents.started
    assert (asked.sender_address, asked.job_input) == (WALLET, '{"text": "bonjour"}')
    assert asked.job_input is not None
    step = w.step(workflow.workflow_id)
    assert (step.status, step.agent_job_id, step.input) == (
        StepStatus.RUNNING,
        "J1762754481001",
        asked.job_input,
    )
    assert step.started_at == w.clock.now and step.task_token is None and step.txn_ids == []
    [job] = w.jobs(workflow.workflow_id)
    assert (job.job_id, job.state, job.amount_microalgo) == (step.job_id, JobState.RUNNING, 0)
    assert job.job_input_hash == job_input_hash(asked.job_input)
    assert w.engine.successes == [("start-1", WORKING)]
    assert w.payments(workflow.workflow_id) == [] and w.chain.confirmed == {}
    assert "genesis_hash" not in w.chain.calls  # no group, nothing to check against the network


def test_a_paid_agents_group_is_checked_and_offered_for_signing(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    step = w.offer(workflow.workflow_id, token="start-1")

    [job] = w.jobs(workflow.workflow_id)
    offered = w.agents.offered[job.agent_job_id]
    assert step.txn_ids == job.txn_ids == offered and len(offered) == 2
    assert (step.job_id, step.agent_job_id, step.task_token) == (job.job_id, job.agent_job_id, "start-1")
    assert step.payment_required_microalgo == job.amount_microalgo == PRICE
    assert step.last_valid_round == job.last_valid_round == w.chain.round + 100
    assert step.unsigned_group_txns == job.unsigned_group_txns and job.group_id is not None
    assert (job.state, job.requester_addr, job.callee_addr) == (
        JobState.PAYMENT_PENDING,
        WALLET,
        paid_agent.agent_address,
    )
    assert step.started_at == w.clock.now
    # The task waits for the person's payment: nothing completes it yet, nothing is paid.
    assert w.engine.successes == [] and w.payments(workflow.workflow_id) == [] and w.chain.confirmed == {}


def test_a_lone_payment_without_an_app_call_is_offered_too(w: World) -> None:
    agent = w.add_agents(hireable_agent(name="Single", app_id=None))[0]
    # An agent without an app: the catalog would leave it out, but a step planned earlier may hire it.
    workflow = w.add_workflow([agent])
    step = w.offer(workflow.workflow_id)
    assert len(step.txn_ids) == 1 and w.jobs(workflow.workflow_id)[0].group_id is None


@pytest.mark.parametrize(
    "terms, rule",
    [
        (OfferTerms(amount=PRICE + 1), "overprice"),
        (OfferTerms(receiver=address_of("a stranger")), "wrong_receiver"),
        (OfferTerms(app_id=999_999), "wrong_app_id"),
        (OfferTerms(genesis_hash="d3Jvbmc="), "wrong_genesis"),
        (OfferTerms(first_round=500, validity_rounds=100), "window_expired"),
        (OfferTerms(validity_rounds=5000), "window_too_long"),
        (OfferTerms(fee=6000), "fee_too_high"),
    ],
)
def test_an_unsafe_group_is_refused_and_nothing_is_recorded(
    w: World, paid_agent: AgentMetadata, terms: OfferTerms, rule: str
) -> None:
    workflow = w.add_workflow([paid_agent])
    w.agents.start_answers.append(terms)
    with pytest.raises(UnsafePaymentGroup) as refused:
        w.start_job(workflow.workflow_id)
    assert refused.value.rule == rule and refused.value.details == {"rule": rule}
    nothing_offered(w, workflow.workflow_id)


def test_a_group_paying_the_apps_address_is_allowed(w: World, paid_agent: AgentMetadata) -> None:
    assert paid_agent.app_id is not None
    workflow = w.add_workflow([paid_agent])
    w.agents.start_answers.append(OfferTerms(receiver=logic.get_application_address(paid_agent.app_id)))
    assert w.offer(workflow.workflow_id).payment_required_microalgo == PRICE


def test_a_later_step_gets_the_outputs_of_the_earlier_ones(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow(
        [free_agent, free_agent],
        inputs=["first", {"summary": "{{step_1_output}}", "lang": "fr"}],
        step_status=[StepStatus.SUCCEEDED, StepStatus.PENDING],
        step_fields={1: {"output": {"text": "a summary"}}},
    )
    w.start_job(workflow.workflow_id, 2)
    [asked] = w.agents.started
    assert asked.job_input is not None
    assert json.loads(asked.job_input) == {"summary": {"text": "a summary"}, "lang": "fr"}


def test_a_retried_start_of_a_step_that_succeeded_completes_at_once(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([free_agent], step_status=StepStatus.SUCCEEDED)
    w.start_job(workflow.workflow_id, token="retry")
    assert w.engine.successes == [("retry", {"status": "succeeded", "wait_seconds": 2})]
    assert w.agents.calls == []


@pytest.mark.parametrize("status", [StepStatus.RUNNING, StepStatus.AWAITING_PAYMENT, StepStatus.FAILED])
def test_a_step_that_is_not_pending_is_not_started(
    w: World, paid_agent: AgentMetadata, status: StepStatus
) -> None:
    workflow = w.add_workflow([paid_agent], step_status=status)
    with pytest.raises(InvalidState, match=f"is {status.value}, not pending"):
        w.start_job(workflow.workflow_id)
    assert w.agents.calls == [] and w.jobs(workflow.workflow_id) == []


def test_an_agent_gone_from_the_catalog_or_inactive_is_unavailable(
    w: World, paid_agent: AgentMetadata
) -> None:
    gone = w.add_workflow(["9e9e9e9e-0000-4000-8000-000000000000"])
    with pytest.raises(AgentUnavailable, match="no longer in the catalog"):
        w.start_job(gone.workflow_id)
    w.add_agents(paid_agent.model_copy(update={"status": "paused"}))
    paused = w.add_workflow([paid_agent])
    with pytest.raises(AgentUnavailable, match="no longer active"):
        w.start_job(paused.workflow_id)
    assert w.agents.calls == []
    nothing_offered(w, paused.workflow_id)


def test_an_agent_that_cannot_be_reached_leaves_the_step_pending(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    w.agents.start_answers.append(agent_unavailable(may_have_reached_agent=True))
    with pytest.raises(AgentUnavailable):
        w.start_job(workflow.workflow_id)
    nothing_offered(w, workflow.workflow_id)


# --- earlier offers (a resumed step) ----------------------------------------------------------------


def timed_out_and_resumed(w: World, workflow_id: str) -> None:
    """Nobody paid within the payment timeout; the person resumes the workflow."""
    w.halt(workflow_id, 1, "payment_timeout", error="States.Timeout")
    assert w.step(workflow_id).status == StepStatus.PAYMENT_TIMEOUT
    w.resume(workflow_id)
    assert w.step(workflow_id).status == StepStatus.PENDING


def test_an_earlier_offer_paid_but_never_submitted_is_claimed_instead_of_a_new_job(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    timed_out_and_resumed(w, workflow.workflow_id)
    paid_round = w.chain.confirm(offered.txn_ids)  # the wallet sent it; the page never said so

    w.start_job(workflow.workflow_id, token="start-2")

    assert len(w.agents.started) == 1  # no second job, no second group
    step = w.step(workflow.workflow_id)
    assert (step.status, step.job_id, step.txn_ids) == (StepStatus.RUNNING, offered.job_id, offered.txn_ids)
    assert step.receipt is not None and step.receipt.confirmed_round == paid_round
    assert (step.receipt.amount_microalgo, step.receipt.fee_microalgo) == (PRICE, 2000)
    payments = w.payments(workflow.workflow_id)
    assert sorted(p.txid for p in payments) == sorted(offered.txn_ids) and len(w.chain.confirmed) == 2
    assert sorted(p.amount_microalgo for p in payments) == [0, PRICE]
    assert [s.txids for s in w.agents.submissions] == [tuple(offered.txn_ids)]
    assert w.engine.successes == [("start-2", WORKING)]
    [job] = w.jobs(workflow.workflow_id)
    assert (job.state, job.txid) == (JobState.RUNNING, offered.txn_ids[-1])


def test_an_earlier_offer_paid_while_its_agent_left_the_catalog_is_recorded_and_delivered_once_back(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    timed_out_and_resumed(w, workflow.workflow_id)
    w.chain.confirm(offered.txn_ids)
    w.add_agents(paid_agent.model_copy(update={"status": "paused"}))

    with pytest.raises(AgentUnavailable, match="no longer active"):
        w.start_job(workflow.workflow_id, token="start-2")

    step = w.step(workflow.workflow_id)
    assert step.receipt is not None and step.job_id == offered.job_id  # recorded, shown, not lost
    assert sorted(p.txid for p in w.payments(workflow.workflow_id)) == sorted(offered.txn_ids)
    assert w.agents.submissions == [] and w.money_moved() == (2, 2)

    w.halt(workflow.workflow_id, 1, "failed", "AgentUnavailable", "gone")
    w.add_agents(paid_agent)
    w.resume(workflow.workflow_id)
    w.start_job(workflow.workflow_id, token="start-3")

    assert len(w.agents.started) == 1  # the one job, paid once
    assert [s.txids for s in w.agents.submissions] == [tuple(offered.txn_ids)]
    assert w.step(workflow.workflow_id).status == StepStatus.RUNNING
    assert w.engine.successes == [("start-3", WORKING)] and w.money_moved() == (2, 2)


def test_an_earlier_offer_that_may_still_confirm_is_offered_again(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    timed_out_and_resumed(w, workflow.workflow_id)
    w.chain.advance(50)  # its window (100 rounds) is still open

    again = w.offer(workflow.workflow_id, token="start-2")

    assert len(w.agents.started) == 1 and len(w.jobs(workflow.workflow_id)) == 1
    assert (again.txn_ids, again.job_id, again.task_token) == (offered.txn_ids, offered.job_id, "start-2")
    assert again.unsigned_group_txns == offered.unsigned_group_txns
    assert w.payments(workflow.workflow_id) == [] and w.engine.successes == []


def test_an_earlier_offer_that_expired_unpaid_is_replaced_by_a_new_job(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    timed_out_and_resumed(w, workflow.workflow_id)
    w.chain.advance(100)  # the chain reached its last valid round: it can no longer confirm

    fresh = w.offer(workflow.workflow_id, token="start-2")

    assert len(w.agents.started) == 2 and len(w.jobs(workflow.workflow_id)) == 2
    assert fresh.job_id != offered.job_id and not set(fresh.txn_ids) & set(offered.txn_ids)
    assert fresh.task_token == "start-2" and w.payments(workflow.workflow_id) == []


def refused_once_then_resumed(w: World, workflow_id: str) -> list[str]:
    """The step's payment is confirmed and recorded, but the agent refused it: the step failed and
    the person resumes. The paid txids."""
    step = w.offer(workflow_id)
    w.agents.payment_answers.append(agent_rejected(402))
    with pytest.raises(PaymentRejectedByAgent):
        w.pay(workflow_id)
    w.halt(workflow_id, 1, "failed", error="PaymentRejectedByAgent", cause="refused")
    w.resume(workflow_id)
    assert w.step(workflow_id).status == StepStatus.PENDING
    return step.txn_ids


def test_a_resumed_paid_step_is_delivered_not_paid_again(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    paid = refused_once_then_resumed(w, workflow.workflow_id)

    w.start_job(workflow.workflow_id, token="start-2")

    step = w.step(workflow.workflow_id)
    assert step.status == StepStatus.RUNNING and step.txn_ids == paid
    assert [s.txids for s in w.agents.submissions] == [tuple(paid), tuple(paid)]  # the same payment, twice
    assert len(w.agents.started) == 1 and len(w.payments(workflow.workflow_id)) == 2
    assert len(w.chain.confirmed) == 2
    assert w.engine.successes == [("start-2", WORKING)]
    assert w.store.get_access_token(workflow.workflow_id, 1, step.agent_job_id or "") is not None


def test_a_failed_delivery_during_a_resume_puts_the_step_back_to_pending_and_keeps_the_payment(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    paid = refused_once_then_resumed(w, workflow.workflow_id)
    w.agents.payment_answers.append(agent_unavailable())

    with pytest.raises(PaymentRejectedByAgent, match="without paying twice"):
        w.start_job(workflow.workflow_id, token="start-2")

    step = w.step(workflow.workflow_id)
    assert step.status == StepStatus.PENDING and step.receipt is not None and step.txn_ids == paid
    assert sorted(p.txid for p in w.payments(workflow.workflow_id)) == sorted(paid)
    assert w.engine.successes == []
    # The state machine's retry of StartJob delivers it, still without a second payment.
    w.start_job(workflow.workflow_id, token="start-3")
    assert w.step(workflow.workflow_id).status == StepStatus.RUNNING
    assert len(w.agents.submissions) == 3 and len(w.agents.started) == 1
    assert len(w.payments(workflow.workflow_id)) == 2 and len(w.chain.confirmed) == 2
    assert w.engine.successes == [("start-3", WORKING)]


def test_a_resumed_step_whose_agent_already_took_the_payment_goes_straight_to_polling(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    w.offer(workflow.workflow_id)
    w.pay(workflow.workflow_id)
    from orchestrator.services.workflows import cancel_workflow

    cancel_workflow(w.deps, workflow.workflow_id, USER)
    w.resume(workflow.workflow_id)

    w.start_job(workflow.workflow_id, token="start-2")

    assert w.step(workflow.workflow_id).status == StepStatus.RUNNING
    assert len(w.agents.submissions) == 1 and len(w.agents.started) == 1  # neither paid nor handed again
    assert len(w.payments(workflow.workflow_id)) == 2 and len(w.chain.confirmed) == 2
    assert w.engine.successes[-1] == ("start-2", WORKING)


# --- the re-quote (POST /api/workflows/step/start_job) ------------------------------------------------


def test_the_re_quote_is_refused_unless_the_step_awaits_its_payment(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    with pytest.raises(InvalidState, match="only a step awaiting payment is re-quoted"):
        start_job_again(w.deps, workflow.workflow_id, 1, USER)
    w.offer(workflow.workflow_id)
    w.put_workflow(workflow.workflow_id, WorkflowStatus.FAILED)
    with pytest.raises(InvalidState):
        start_job_again(w.deps, workflow.workflow_id, 1, USER)
    with pytest.raises(NotFound):
        start_job_again(w.deps, workflow.workflow_id, 1, OTHER_USER)
    with pytest.raises(NotFound):
        start_job_again(w.deps, workflow.workflow_id, 2, USER)
    assert len(w.agents.started) == 1


def test_the_re_quote_of_a_group_that_may_still_confirm_changes_nothing(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    w.chain.advance(99)
    view = start_job_again(w.deps, workflow.workflow_id, 1, USER)
    assert view.txn_ids == offered.txn_ids and view.unsigned_group_txns == offered.unsigned_group_txns
    assert view.last_valid_round == offered.last_valid_round
    assert len(w.agents.started) == 1 and w.step(workflow.workflow_id) == offered


def test_the_re_quote_of_a_group_found_paid_takes_it_as_the_submission(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    w.chain.confirm(offered.txn_ids)
    w.chain.advance(200)  # expired by now: it was paid in time, though

    view = start_job_again(w.deps, workflow.workflow_id, 1, USER)

    assert view.status == StepStatus.RUNNING and view.txn_ids == offered.txn_ids
    assert len(w.agents.started) == 1 and len(w.agents.submissions) == 1
    assert len(w.payments(workflow.workflow_id)) == 2 and len(w.chain.confirmed) == 2
    assert w.engine.successes == [("start-1", WORKING)]


def test_the_re_quote_of_an_expired_group_offers_a_new_one_and_expires_the_old_job(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id, token="start-1")
    w.chain.advance(100)

    view = start_job_again(w.deps, workflow.workflow_id, 1, USER)

    [asked_first, asked_again] = w.agents.started
    assert asked_again.job_input == asked_first.job_input == offered.input
    step = w.step(workflow.workflow_id)
    assert step.status == StepStatus.AWAITING_PAYMENT and step.task_token == "start-1"
    assert view.txn_ids == step.txn_ids != offered.txn_ids and step.job_id != offered.job_id
    assert view.unsigned_group_txns == step.unsigned_group_txns
    assert step.last_valid_round == w.chain.round + 100
    old, new = w.jobs(workflow.workflow_id)
    assert (old.job_id, old.state) == (offered.job_id, JobState.EXPIRED)
    assert (new.job_id, new.state) == (step.job_id, JobState.PAYMENT_PENDING)
    # The new group pays as the first would have.
    paid = w.pay(workflow.workflow_id)
    assert paid.status == StepStatus.RUNNING and w.engine.successes == [("start-1", WORKING)]
    assert sorted(p.txid for p in w.payments(workflow.workflow_id)) == sorted(step.txn_ids)
    assert w.money_moved() == (2, 2)  # the expired group was never paid


def test_an_unsafe_re_quote_changes_nothing(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    w.chain.advance(100)
    w.agents.start_answers.append(OfferTerms(amount=2 * PRICE))
    with pytest.raises(UnsafePaymentGroup, match="approved price"):
        start_job_again(w.deps, workflow.workflow_id, 1, USER)
    assert w.step(workflow.workflow_id) == offered
    [job] = w.jobs(workflow.workflow_id)
    assert job.state == JobState.PAYMENT_PENDING


def test_the_canonical_group_is_offered_whatever_encoding_the_agent_used(
    w: World, paid_agent: AgentMetadata
) -> None:
    """Some agents send each transaction as base64 of the base64 text: the step offers it once."""
    import base64

    workflow = w.add_workflow([paid_agent])
    plain = w.agents.offer(paid_agent, WALLET, OfferTerms(job_id="J-twice"))
    twice = [base64.b64encode(blob.encode()).decode() for blob in plain.unsigned_group_txns]
    w.agents.start_answers.append(plain.model_copy(update={"unsigned_group_txns": twice}))
    step = w.offer(workflow.workflow_id)
    assert step.unsigned_group_txns == [encode_transaction(decode_transaction(b)) for b in twice]
    assert step.unsigned_group_txns == plain.unsigned_group_txns != twice
    assert (step.agent_job_id, step.txn_ids) == ("J-twice", plain.txn_ids)


def test_a_step_offered_before_its_jobs_were_recorded_is_re_quoted_too(
    w: World, paid_agent: AgentMetadata
) -> None:
    """A row from before the `jobs` table remembered offers: nothing to expire, a new offer all the same."""
    workflow = w.add_workflow([paid_agent])
    w.put_step(
        workflow.workflow_id,
        1,
        StepStatus.AWAITING_PAYMENT,
        agent_job_id="J-old",
        txn_ids=["X" * 52],
        input="hi",
    )
    view = start_job_again(w.deps, workflow.workflow_id, 1, USER)
    [job] = w.jobs(workflow.workflow_id)
    assert view.txn_ids == job.txn_ids != ["X" * 52] and job.state == JobState.PAYMENT_PENDING
    assert w.agents.started[0].job_input == "hi"
