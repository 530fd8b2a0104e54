"""The payment path: the person's confirmed payment verified, recorded and claimed for its step
(POST /api/workflows/step/submit_payment), handed to the agent, and delivered again to a resumed or
stuck job that was already paid. A confirmed payment is never lost and never asked for twice."""

from __future__ import annotations

from typing import Any

from orchestrator.dependencies import Dependencies
from orchestrator.errors import (
    AgentRejected,
    AgentUnavailable,
    InvalidState,
    OrchestratorError,
    PaymentMismatch,
    PaymentRejectedByAgent,
    PaymentReplay,
)
from orchestrator.models import (
    ACTIVE_STEP_STATUSES,
    AccessTokenRecord,
    AgentMetadata,
    ErrorInfo,
    JobRecord,
    JobState,
    PaymentRecord,
    StepRecord,
    StepStatus,
    WorkflowRecord,
    WorkflowStatus,
    job_input_hash,
)
from orchestrator.schemas.api import StepView
from orchestrator.services import recovery
from orchestrator.services.loading import load_owned_workflow, load_step
from orchestrator.services.step_state import active_agent, job_watch, set_step
from orchestrator.services.views import step_view


def claim_offer(
    deps: Dependencies,
    workflow: WorkflowRecord,
    step: StepRecord,
    job: JobRecord,
    round_: int,
    *,
    expected: set[StepStatus],
    **changes: Any,
) -> tuple[StepRecord, list[PaymentRecord]]:
    """Record the confirmed payment of `job` for the step and point the step at that job."""
    records = _record_offer_payments(deps, workflow, step, job, round_)
    step = set_step(
        deps,
        step,
        expected,
        receipt=recovery.receipt_of(job, records, workflow.wallet_address),
        **{**recovery.offer_fields(job), **changes},
    )
    deps.store.update_job(job.job_id, {"state": JobState.ONCHAIN_CONFIRMED})
    return step, records


def _record_offer_payments(
    deps: Dependencies, workflow: WorkflowRecord, step: StepRecord, job: JobRecord, round_: int
) -> list[PaymentRecord]:
    """Record the confirmed payment of `job` for the step. Recorded meanwhile for this same job (a
    concurrent recovery or submission) it is ours; recorded for anything else it is a replay."""
    records = recovery.payment_records(workflow, step, job, round_)
    if not deps.store.record_payments(records):
        records = [p for p in deps.store.payments_for_txids(job.txn_ids) if p.job_id == job.job_id]
        if sorted(p.txid for p in records) != sorted(job.txn_ids):
            raise PaymentReplay("One of these transactions already paid for another step.")
    return records


def resume_paid_step(
    deps: Dependencies,
    workflow: WorkflowRecord,
    step: StepRecord,
    agent: AgentMetadata,
    paid: list[PaymentRecord],
    task_token: str,
) -> None:
    """A resumed step whose job is already paid: deliver the payment if the agent never took it, then
    go straight to polling. Nothing is paid twice."""
    assert step.agent_job_id is not None
    token = deps.store.get_access_token(workflow.workflow_id, step.step_number, step.agent_job_id)
    if token is None:
        step = set_step(deps, step, {StepStatus.PENDING}, status=StepStatus.PAYMENT_SUBMITTED)
        try:
            deliver_payment(deps, workflow, step, agent, [p.txid for p in paid])
        except OrchestratorError:
            set_step(deps, step, {StepStatus.PAYMENT_SUBMITTED}, status=StepStatus.PENDING)
            raise
        expected = {StepStatus.PAYMENT_SUBMITTED}
    else:
        expected = {StepStatus.PENDING}
    set_step(deps, step, expected, status=StepStatus.RUNNING, started_at=deps.clock())
    deps.engine.send_task_success(task_token, job_watch(deps))


def deliver_payment(
    deps: Dependencies, workflow: WorkflowRecord, step: StepRecord, agent: AgentMetadata, txids: list[str]
) -> None:
    """Hand the confirmed txids to the agent (retrying while its indexer catches up); keep the token."""
    assert step.agent_job_id is not None
    try:
        response = deps.agents.submit_payment(
            agent,
            job_id=step.agent_job_id,
            txids=txids,
            retry_for_seconds=deps.settings.submit_payment_retry_seconds,
        )
    except (AgentRejected, AgentUnavailable) as exc:
        raise PaymentRejectedByAgent(
            f"{agent.name} did not accept the payment ({exc.message}). The payment is confirmed on chain "
            "and recorded; resuming the workflow hands it to the agent again without paying twice."
        ) from exc
    deps.store.save_access_token(
        AccessTokenRecord(
            user_id=workflow.user_id,
            wallet_address=workflow.wallet_address,
            job_id=step.agent_job_id,
            agent_id=agent.id,
            access_token=response.access_token or "",
            job_input_hash=job_input_hash(step.input) if step.input is not None else None,
            workflow_id=step.workflow_id,
            step_number=step.step_number,
        )
    )
    if step.job_id is not None:
        deps.store.update_job(step.job_id, {"state": JobState.RUNNING, "txid": txids[-1] if txids else None})


# How many times a paid job's payment is handed to the agent again before the step fails.
_MAX_REDELIVERIES = 1


def redeliver_once(
    deps: Dependencies, workflow: WorkflowRecord, step: StepRecord, paid: list[PaymentRecord], **changes: Any
) -> str | None:
    """Hand the same payment to the same job again, if it was paid and not re-delivered yet. None when
    the agent took it; otherwise what to add to the step's error (why it did not help)."""
    if not paid or step.payment_redeliveries >= _MAX_REDELIVERIES:
        return ""
    step = set_step(
        deps, step, {StepStatus.RUNNING}, payment_redeliveries=step.payment_redeliveries + 1, **changes
    )
    try:
        deliver_payment(deps, workflow, step, active_agent(deps, step.agent_id), [p.txid for p in paid])
    except PaymentRejectedByAgent as exc:
        return f"; handing it the payment again did not help ({exc.message})"
    return None


def submit_payment(
    deps: Dependencies, workflow_id: str, step_number: int, txn_ids: list[str], user_id: str
) -> StepView:
    """Verify the confirmed payment on chain, record it, hand it to the agent and let the execution go
    on. A payment for an earlier offer of the step, or one arriving after the step stopped waiting
    (payment timeout, a restart, a cancel), is still recorded: it is never lost or asked for twice."""
    workflow = load_owned_workflow(deps.store, workflow_id, user_id)
    step = load_step(deps.store, workflow_id, step_number)
    offer = recovery.offer_for_txids(deps, step, txn_ids)
    if offer is None:
        raise PaymentMismatch(
            "The submitted transaction ids are not the ones this step offered for signing.",
            details={"expected": step.txn_ids, "submitted": txn_ids},
        )
    recorded = deps.store.payments_for_txids(txn_ids)
    if recorded:
        if not all(p.workflow_id == workflow_id and p.job_id == offer.job_id for p in recorded):
            raise PaymentReplay(f"Transaction {recorded[0].txid} already paid for another step.")
        # Recorded already: a repeat, a recovery that found it on chain first, or a concurrent
        # submission claiming it right now. The step is read again, as it is after that record.
        step = load_step(deps.store, workflow_id, step_number)
        if step.status == StepStatus.PAYMENT_SUBMITTED:
            raise InvalidState(
                f"Step {step_number} is {step.status.value}: another submission of this payment is being "
                "handed to the agent."
            )
        if step.status != StepStatus.AWAITING_PAYMENT or step.job_id != offer.job_id:
            return step_view(workflow, step)
        # Recorded but not yet claimed (the claim records first): claim it below, where exactly one
        # submission wins.
    confirmed_round = deps.chain.require_confirmed(txn_ids)
    if step.status != StepStatus.AWAITING_PAYMENT or workflow.status != WorkflowStatus.RUNNING:
        return _record_late_payment(deps, workflow, step, offer, confirmed_round)

    # Claim the step: of two concurrent submissions exactly one gets past this line. A payment for an
    # earlier offer (the group was re-quoted meanwhile) points the step back at the job it paid for.
    superseded = step.job_id if step.job_id != offer.job_id else None
    step, _ = claim_offer(
        deps,
        workflow,
        step,
        offer,
        confirmed_round,
        expected={StepStatus.AWAITING_PAYMENT},
        status=StepStatus.PAYMENT_SUBMITTED,
    )
    if superseded is not None:
        deps.store.update_job(superseded, {"state": JobState.EXPIRED})
    if step.started_at is not None:
        deps.metrics.payment_wait((deps.clock() - step.started_at).total_seconds())

    token = step.task_token or ""
    try:
        # The agent is looked up only now: one that left the catalog meanwhile must not keep a
        # payment confirmed on chain from being recorded (resuming delivers it, never asks again).
        agent = active_agent(deps, step.agent_id)
        deliver_payment(deps, workflow, step, agent, step.txn_ids)
    except AgentUnavailable as exc:  # from the catalog: deliver_payment names its own failures
        kept = AgentUnavailable(
            f"{exc.message} The payment is confirmed on chain and recorded; resuming the workflow hands "
            "it to the agent without paying twice."
        )
        _fail_paid_step(deps, step, token, kept)
        raise kept from exc
    except PaymentRejectedByAgent as exc:
        _fail_paid_step(deps, step, token, exc)
        raise
    step = set_step(deps, step, {StepStatus.PAYMENT_SUBMITTED}, status=StepStatus.RUNNING, task_token=None)
    deps.engine.send_task_success(token, job_watch(deps))
    return step_view(workflow, step)


def _fail_paid_step(deps: Dependencies, step: StepRecord, token: str, exc: OrchestratorError) -> None:
    """The payment is recorded but could not be handed over: the step fails (its receipt kept) and
    so does the execution waiting for the payment."""
    error = ErrorInfo(code=exc.code, message=exc.message)
    set_step(deps, step, {StepStatus.PAYMENT_SUBMITTED}, status=StepStatus.FAILED, error=error)
    deps.engine.send_task_failure(token, exc.code, exc.message)


def _record_late_payment(
    deps: Dependencies, workflow: WorkflowRecord, step: StepRecord, offer: JobRecord, round_: int
) -> StepView:
    """The step no longer waits for this payment: record it against its job so that resuming
    delivers it instead of asking again."""
    if step.status in ACTIVE_STEP_STATUSES or step.status == StepStatus.SUCCEEDED:
        # Another payment moved the step on: keep this one's record (never lost), change nothing else.
        _record_offer_payments(deps, workflow, step, offer, round_)
        return step_view(workflow, load_step(deps.store, step.workflow_id, step.step_number))
    step, _ = claim_offer(deps, workflow, step, offer, round_, expected={step.status})
    return step_view(workflow, step)
