"""Use cases on one step: the state machine's tasks (start job, watch job, advance, halt) and the API's
payment submission, re-quote and poll."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from orchestrator.adapters import Dependencies
from orchestrator.errors import (
    AGENT_ERROR_CODES,
    AgentJobFailed,
    AgentLostJob,
    AgentProtocolError,
    AgentRejected,
    AgentUnavailable,
    InvalidState,
    NotFound,
    OrchestratorError,
    PaymentMismatch,
    PaymentRejectedByAgent,
    PaymentReplay,
    PollTimeout,
    WorkflowCancelled,
    WorkflowSuperseded,
)
from orchestrator.models import (
    ACTIVE_STEP_STATUSES,
    AccessTokenRecord,
    AgentMetadata,
    ErrorInfo,
    JobRecord,
    JobState,
    PaymentRecord,
    StepResult,
    StepStatus,
    WorkflowRecord,
    WorkflowStatus,
    job_input_hash,
    job_row_id,
)
from orchestrator.schemas import (
    AdvanceOutcome,
    HaltOutcome,
    HaltTask,
    JobWatch,
    StartJobTask,
    StepView,
    TaskRef,
    WatchJobTask,
)
from orchestrator.services import recovery
from orchestrator.services.views import load_owned_workflow, load_step, load_workflow, step_view

if TYPE_CHECKING:
    from orchestrator.payments.safety import CheckedGroup

_NOT_YET_PAID = frozenset({StepStatus.PENDING, StepStatus.AWAITING_PAYMENT})


# --- shared checks -------------------------------------------------------------------------------


def _task_workflow(deps: Dependencies, task: TaskRef) -> WorkflowRecord:
    """The workflow a task works on; stops the task if it was cancelled or resumed meanwhile."""
    workflow = load_workflow(deps.store, task.workflow_id)
    if workflow.attempt != task.attempt:
        raise WorkflowSuperseded(
            f"Execution attempt {task.attempt} was superseded by attempt {workflow.attempt}."
        )
    if workflow.status == WorkflowStatus.CANCELLED:
        raise WorkflowCancelled("The workflow was cancelled.")
    if workflow.status != WorkflowStatus.RUNNING:
        raise InvalidState(f"The workflow is {workflow.status.value}, not running.")
    return workflow


def _agent(deps: Dependencies, agent_id: str) -> AgentMetadata:
    agent = deps.store.get_agent(agent_id)
    if agent is None:
        raise AgentUnavailable(f"Agent {agent_id} is no longer in the catalog.")
    if not agent.is_active:
        raise AgentUnavailable(f"{agent.name} is no longer active in the catalog.")
    return agent


def _set_step(deps: Dependencies, step: StepResult, expected: set[StepStatus], **changes: Any) -> StepResult:
    updated = deps.store.update_step(step.workflow_id, step.step_number, expected=expected, changes=changes)
    if updated is None:
        current = load_step(deps.store, step.workflow_id, step.step_number)
        raise InvalidState(
            f"Step {step.step_number} is {current.status.value}; it changed while this request ran."
        )
    return updated


def _watch(deps: Dependencies, *, succeeded: bool = False, wait_seconds: int | None = None) -> dict[str, Any]:
    """How StartJob and WatchJob complete: the job ended well, or look again in `wait_seconds` (by
    default the schedule's first interval)."""
    wait = wait_seconds if wait_seconds is not None else deps.settings.poll_schedule.wait_seconds(0)
    return JobWatch(status="succeeded" if succeeded else "working", wait_seconds=wait).model_dump()


# --- StartJob (task, waitForTaskToken) --------------------------------------------------------------


def start_job(deps: Dependencies, task: StartJobTask) -> None:
    """Start the agent's job and offer its payment group; the person's payment completes the token."""
    workflow = _task_workflow(deps, task)
    step = load_step(deps.store, task.workflow_id, task.step_number)
    if step.status == StepStatus.SUCCEEDED:
        deps.engine.send_task_success(task.task_token, _watch(deps, succeeded=True))
        return
    if step.status != StepStatus.PENDING:
        raise InvalidState(f"Step {step.step_number} is {step.status.value}, not pending.")
    agent = _agent(deps, step.agent_id)

    paid = _payments_for_current_job(deps, step)
    unpaid = [] if paid else recovery.unpaid_offers(deps, step)
    if not paid:
        # Money rules: an earlier offer confirmed on chain is delivered instead of a new one...
        found = recovery.find_confirmed_offer(deps, unpaid)
        if found is not None:
            step, paid = _claim_offer(deps, workflow, step, *found, expected={StepStatus.PENDING})
    if paid:
        _resume_paid_step(deps, workflow, step, agent, paid, task.task_token)
        return
    # ... and one that may still confirm is offered again, never replaced by a second group.
    still_open = recovery.find_open_offer(deps, unpaid)
    if still_open is not None:
        _set_step(
            deps,
            step,
            {StepStatus.PENDING},
            status=StepStatus.AWAITING_PAYMENT,
            task_token=task.task_token,
            started_at=deps.clock(),
            **recovery.offer_fields(still_open),
        )
        return

    job_input = _resolve_step_input(deps, workflow, step)
    response = deps.agents.start_job(agent, sender_address=workflow.wallet_address, job_input=job_input)
    now = deps.clock()
    if not response.unsigned_group_txns and response.payment_required == 0:
        # A free agent: nothing to sign, the job runs at once.
        job = _record_job(deps, workflow, step, agent, job_input, response.job_id)
        _set_step(
            deps,
            step,
            {StepStatus.PENDING},
            status=StepStatus.RUNNING,
            started_at=now,
            **recovery.offer_fields(job),
        )
        deps.engine.send_task_success(task.task_token, _watch(deps))
        return

    checked = _check_group(deps, workflow, step, agent, response.unsigned_group_txns, response.txn_ids)
    job = _record_job(deps, workflow, step, agent, job_input, response.job_id, checked)
    _set_step(
        deps,
        step,
        {StepStatus.PENDING},
        status=StepStatus.AWAITING_PAYMENT,
        task_token=task.task_token,
        started_at=now,
        **recovery.offer_fields(job),
    )


def _record_job(
    deps: Dependencies,
    workflow: WorkflowRecord,
    step: StepResult,
    agent: AgentMetadata,
    job_input: str,
    agent_job_id: str,
    checked: CheckedGroup | None = None,
) -> JobRecord:
    """The marketplace's `jobs` row for the agent's job, with the group it offered (remembered for
    payment recovery), written before the step points at it. Without a group the job is free and
    runs at once."""
    offered: dict[str, Any] = dict(amount_microalgo=0, state=JobState.RUNNING)
    if checked is not None:
        offered = dict(
            amount_microalgo=checked.total_paid_microalgo,
            state=JobState.PAYMENT_PENDING,
            unsigned_group_txns=checked.unsigned_group_txns,
            txn_ids=checked.txn_ids,
            last_valid_round=checked.last_valid,
            group_id=checked.group_id,
        )
    job = JobRecord(
        job_id=job_row_id(workflow.workflow_id, step.step_number, agent_job_id),
        agent_id=agent.id,
        requester_addr=workflow.wallet_address,
        callee_addr=agent.agent_address,
        job_input=job_input,
        job_input_hash=job_input_hash(job_input),
        workflow_id=workflow.workflow_id,
        step_number=step.step_number,
        agent_job_id=agent_job_id,
        **offered,
    )
    deps.store.record_job(job)
    return job


def _claim_offer(
    deps: Dependencies,
    workflow: WorkflowRecord,
    step: StepResult,
    job: JobRecord,
    round_: int,
    *,
    expected: set[StepStatus],
    **changes: Any,
) -> tuple[StepResult, list[PaymentRecord]]:
    """Record the confirmed payment of `job` for the step and point the step at that job."""
    records = _record_offer_payments(deps, workflow, step, job, round_)
    step = _set_step(
        deps,
        step,
        expected,
        receipt=recovery.receipt_of(job, records, workflow.wallet_address),
        **{**recovery.offer_fields(job), **changes},
    )
    deps.store.update_job(job.job_id, {"state": JobState.ONCHAIN_CONFIRMED})
    return step, records


def _record_offer_payments(
    deps: Dependencies, workflow: WorkflowRecord, step: StepResult, job: JobRecord, round_: int
) -> list[PaymentRecord]:
    """Record the confirmed payment of `job` for the step. Recorded meanwhile for this same job (a
    concurrent recovery or submission) it is ours; recorded for anything else it is a replay."""
    records = recovery.payment_records(workflow, step, job, round_)
    if not deps.store.record_payments(records):
        records = [p for p in deps.store.payments_for_txids(job.txn_ids) if p.job_id == job.job_id]
        if sorted(p.txid for p in records) != sorted(job.txn_ids):
            raise PaymentReplay("One of these transactions already paid for another step.")
    return records


def _resolve_step_input(deps: Dependencies, workflow: WorkflowRecord, step: StepResult) -> str:
    from orchestrator.templating import render_job_input, resolve_input

    outputs = {
        s.step_number: s.output
        for s in deps.store.list_steps(workflow.workflow_id)
        if s.status == StepStatus.SUCCEEDED and s.step_number < step.step_number
    }
    planned = workflow.plan.steps[step.step_number - 1]
    resolved = resolve_input(planned.input_data, outputs, workflow.user_message)
    return render_job_input(resolved)


def _check_group(
    deps: Dependencies,
    workflow: WorkflowRecord,
    step: StepResult,
    agent: AgentMetadata,
    blobs: list[str],
    txn_ids: list[str],
) -> CheckedGroup:
    from orchestrator.payments.safety import PaymentPolicy, check_payment_group

    policy = PaymentPolicy(
        sender=workflow.wallet_address,
        agent_address=agent.agent_address or "",
        app_id=agent.app_id,
        max_total_microalgo=step.price_microalgo,
        max_fee_microalgo=deps.settings.max_fee_microalgo,
        genesis_hash=deps.chain.genesis_hash(),  # checked against the configured network
        current_round=deps.chain.current_round(),
        max_validity_rounds=deps.settings.max_validity_rounds,
    )
    return check_payment_group(blobs, txn_ids, policy)


def _payments_for_current_job(deps: Dependencies, step: StepResult) -> list[PaymentRecord]:
    if step.job_id is None:
        return []
    return [
        p for p in deps.store.payments_for_step(step.workflow_id, step.step_number) if p.job_id == step.job_id
    ]


def _resume_paid_step(
    deps: Dependencies,
    workflow: WorkflowRecord,
    step: StepResult,
    agent: AgentMetadata,
    paid: list[PaymentRecord],
    task_token: str,
) -> None:
    """A resumed step whose job is already paid: deliver the payment if the agent never took it, then
    go straight to polling. Nothing is paid twice."""
    assert step.agent_job_id is not None
    token = deps.store.get_access_token(workflow.workflow_id, step.step_number, step.agent_job_id)
    if token is None:
        step = _set_step(deps, step, {StepStatus.PENDING}, status=StepStatus.PAYMENT_SUBMITTED)
        try:
            _deliver_payment(deps, workflow, step, agent, [p.txid for p in paid])
        except OrchestratorError:
            _set_step(deps, step, {StepStatus.PAYMENT_SUBMITTED}, status=StepStatus.PENDING)
            raise
        expected = {StepStatus.PAYMENT_SUBMITTED}
    else:
        expected = {StepStatus.PENDING}
    _set_step(deps, step, expected, status=StepStatus.RUNNING, started_at=deps.clock())
    deps.engine.send_task_success(task_token, _watch(deps))


def _deliver_payment(
    deps: Dependencies, workflow: WorkflowRecord, step: StepResult, agent: AgentMetadata, txids: list[str]
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


# --- submit_payment (API) -------------------------------------------------------------------------------


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
        if all(p.workflow_id == workflow_id and p.job_id == offer.job_id for p in recorded):
            return step_view(workflow, step)  # recorded already (a repeat, or found on chain first)
        raise PaymentReplay(f"Transaction {recorded[0].txid} already paid for another step.")
    confirmed_round = deps.chain.require_confirmed(txn_ids)
    if step.status != StepStatus.AWAITING_PAYMENT or workflow.status != WorkflowStatus.RUNNING:
        return _record_late_payment(deps, workflow, step, offer, confirmed_round)

    agent = _agent(deps, step.agent_id)
    # Claim the step: of two concurrent submissions exactly one gets past this line. A payment for an
    # earlier offer (the group was re-quoted meanwhile) points the step back at the job it paid for.
    superseded = step.job_id if step.job_id != offer.job_id else None
    step, _ = _claim_offer(
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
        _deliver_payment(deps, workflow, step, agent, step.txn_ids)
    except PaymentRejectedByAgent as exc:
        error = ErrorInfo(code=exc.code, message=exc.message)
        _set_step(deps, step, {StepStatus.PAYMENT_SUBMITTED}, status=StepStatus.FAILED, error=error)
        deps.engine.send_task_failure(token, exc.code, exc.message)
        raise
    step = _set_step(deps, step, {StepStatus.PAYMENT_SUBMITTED}, status=StepStatus.RUNNING, task_token=None)
    deps.engine.send_task_success(token, _watch(deps))
    return step_view(workflow, step)


def _record_late_payment(
    deps: Dependencies, workflow: WorkflowRecord, step: StepResult, offer: JobRecord, round_: int
) -> StepView:
    """The step no longer waits for this payment: record it against its job so that resuming
    delivers it instead of asking again."""
    if step.status in ACTIVE_STEP_STATUSES or step.status == StepStatus.SUCCEEDED:
        # Another payment moved the step on: keep this one's record (never lost), change nothing else.
        _record_offer_payments(deps, workflow, step, offer, round_)
        return step_view(workflow, load_step(deps.store, step.workflow_id, step.step_number))
    step, _ = _claim_offer(deps, workflow, step, offer, round_, expected={step.status})
    return step_view(workflow, step)


# --- re-quote (API: POST /api/workflows/step/start_job) -------------------------------------------


def requote(deps: Dependencies, workflow_id: str, step_number: int, user_id: str) -> StepView:
    """Ask the agent for a fresh group when every group offered for the step has expired unpaid.
    A group that may still confirm is never replaced, and one that did confirm is taken as paid."""
    workflow = load_owned_workflow(deps.store, workflow_id, user_id)
    step = load_step(deps.store, workflow_id, step_number)
    if step.status != StepStatus.AWAITING_PAYMENT or workflow.status != WorkflowStatus.RUNNING:
        raise InvalidState(
            f"Step {step_number} is {step.status.value}; only a step awaiting payment is re-quoted."
        )
    unpaid = recovery.unpaid_offers(deps, step)
    found = recovery.find_confirmed_offer(deps, unpaid)
    if found is not None:  # paid, but not submitted: take it as the submission
        return submit_payment(deps, workflow_id, step_number, found[0].txn_ids, user_id)
    if recovery.find_open_offer(deps, unpaid) is not None:
        return step_view(workflow, step)  # still valid: wait for its window or for the chain
    agent = _agent(deps, step.agent_id)
    response = deps.agents.start_job(
        agent, sender_address=workflow.wallet_address, job_input=step.input or ""
    )
    checked = _check_group(deps, workflow, step, agent, response.unsigned_group_txns, response.txn_ids)
    job = _record_job(deps, workflow, step, agent, step.input or "", response.job_id, checked)
    if step.job_id is not None:
        deps.store.update_job(step.job_id, {"state": JobState.EXPIRED})
    step = _set_step(deps, step, {StepStatus.AWAITING_PAYMENT}, **recovery.offer_fields(job))
    return step_view(workflow, step)


# --- WatchJob (task, waitForTaskToken) and poll (API) ------------------------------------------------


def watch_job(deps: Dependencies, task: WatchJobTask) -> None:
    """Look at the agent's job once. The task completes at once when the job ended well or the next
    look is due at another interval than the state's timeout (`task.wait_seconds`); otherwise its
    token stays on the step, where the agent's push completes it (services/agent_push.py), and the
    state's timeout brings the next look."""
    workflow = _task_workflow(deps, task)
    step = load_step(deps.store, task.workflow_id, task.step_number)
    settings = deps.settings
    now = deps.clock()
    changes: dict[str, Any] = {"task_token": task.task_token}
    if step.poll_deadline is None:
        changes["poll_deadline"] = now + timedelta(seconds=settings.poll_deadline_seconds)
    # The token is on the step before the look, so that a push arriving meanwhile finds it.
    registered = (
        deps.store.update_step(
            step.workflow_id, step.step_number, expected={StepStatus.RUNNING}, changes=changes
        )
        if step.status == StepStatus.RUNNING
        else None
    )
    if registered is None:
        current = load_step(deps.store, task.workflow_id, task.step_number)
        if current.status == StepStatus.SUCCEEDED:  # a push or the API's poll saw it end meanwhile
            deps.engine.send_task_success(task.task_token, _watch(deps, succeeded=True))
            return
        raise InvalidState(f"Step {current.step_number} is {current.status.value}, not running.")
    finished = _poll_agent_once(deps, workflow, registered)
    if finished is not None and finished.status == StepStatus.SUCCEEDED:
        deps.engine.send_task_success(task.task_token, _watch(deps, succeeded=True))
        return
    step = load_step(deps.store, step.workflow_id, step.step_number)
    assert step.poll_deadline is not None
    remaining = (step.poll_deadline - now).total_seconds()
    if remaining <= 0:
        _redeliver_once_at_deadline(deps, workflow, step)
        wait = settings.poll_schedule.wait_seconds(0)
    else:
        age = settings.poll_deadline_seconds - remaining
        wait = settings.poll_schedule.wait_seconds(age, remaining_seconds=remaining)
    if wait != task.wait_seconds:
        deps.engine.send_task_success(task.task_token, _watch(deps, wait_seconds=wait))


def _redeliver_once_at_deadline(deps: Dependencies, workflow: WorkflowRecord, step: StepResult) -> None:
    """A paid job that never ends (an agent restarted mid-job keeps it `running` for ever) is handed
    its payment once more, with a new deadline; then the step times out, its payment kept."""
    seconds = deps.settings.poll_deadline_seconds
    paid = _payments_for_current_job(deps, step)
    refused = _redeliver_once(
        deps, workflow, step, paid, poll_deadline=deps.clock() + timedelta(seconds=seconds)
    )
    if refused is not None:
        raise PollTimeout(f"The agent did not finish within {seconds} seconds{refused}.")


# How many times a paid job's payment is handed to the agent again before the step fails.
_MAX_REDELIVERIES = 1


def _redeliver_once(
    deps: Dependencies, workflow: WorkflowRecord, step: StepResult, paid: list[PaymentRecord], **changes: Any
) -> str | None:
    """Hand the same payment to the same job again, if it was paid and not re-delivered yet. None when
    the agent took it; otherwise what to add to the step's error (why it did not help)."""
    if not paid or step.payment_redeliveries >= _MAX_REDELIVERIES:
        return ""
    step = _set_step(
        deps, step, {StepStatus.RUNNING}, payment_redeliveries=step.payment_redeliveries + 1, **changes
    )
    try:
        _deliver_payment(deps, workflow, step, _agent(deps, step.agent_id), [p.txid for p in paid])
    except PaymentRejectedByAgent as exc:
        return f"; handing it the payment again did not help ({exc.message})"
    return None


def _poll_agent_once(
    deps: Dependencies, workflow: WorkflowRecord, step: StepResult, *, by_engine: bool = True
) -> StepResult | None:
    """The step as the look left it when the job finished well (succeeded); None while it works. The
    state machine's own look (`by_engine`) decides what a failure means: it counts errors, hands a
    lost or failed paid job its payment again, or raises. Other looks change nothing on failure."""
    agent = _agent(deps, step.agent_id)
    assert step.agent_job_id is not None
    token = deps.store.get_access_token(step.workflow_id, step.step_number, step.agent_job_id)
    try:
        status = deps.agents.job_status(agent, job_id=step.agent_job_id, access_token=token or None)
    except AgentRejected as exc:
        if not isinstance(exc.details, dict) or exc.details.get("status_code") != 404:
            raise
        if by_engine:
            _redeliver_or_fail(deps, workflow, step, agent, lost=True, detail=exc.message)
        return None
    except (AgentUnavailable, AgentProtocolError) as exc:
        if not by_engine:
            return None
        # A hiccup while the job runs is tolerated a few times in a row before the step fails.
        errors = step.poll_errors + 1
        updated = deps.store.update_step(
            step.workflow_id, step.step_number, expected={StepStatus.RUNNING}, changes={"poll_errors": errors}
        )
        if updated is None or errors >= deps.settings.poll_max_errors:
            raise  # the halt task counts the error that fails the step
        deps.metrics.agent_error(agent.id, exc.code)
        return None
    if status.status == "succeeded":
        completed_at = deps.clock()
        updated = deps.store.update_step(
            step.workflow_id,
            step.step_number,
            expected={StepStatus.RUNNING},
            changes={
                "status": StepStatus.SUCCEEDED,
                "output": status.output,
                "completed_at": completed_at,
                "task_token": None,
            },
        )
        if updated is not None:
            if step.job_id is not None:
                deps.store.update_job(step.job_id, {"state": JobState.SUCCEEDED})
            if step.started_at is not None:
                deps.metrics.step_latency((completed_at - step.started_at).total_seconds())
        return updated or load_step(deps.store, step.workflow_id, step.step_number)
    if status.status == "failed":
        if by_engine:
            detail = status.output if isinstance(status.output, str) else json.dumps(status.output)
            _redeliver_or_fail(deps, workflow, step, agent, lost=False, detail=detail[:500])
        return None
    if step.poll_errors:
        deps.store.update_step(
            step.workflow_id, step.step_number, expected={StepStatus.RUNNING}, changes={"poll_errors": 0}
        )
    return None


def _redeliver_or_fail(
    deps: Dependencies,
    workflow: WorkflowRecord,
    step: StepResult,
    agent: AgentMetadata,
    *,
    lost: bool,
    detail: str,
) -> None:
    """A paid job the agent lost or failed: hand it the same payment for the same job once more
    (agents built with the marketplace's SDK run the job again on a repeated submit); if that does
    not help, the step ends with a named error and keeps its receipt. Never a loop."""
    paid = _payments_for_current_job(deps, step)
    what = (
        f"no longer knows job {step.agent_job_id} ({detail})"
        if lost
        else f"reported the job as failed: {detail}"
    )
    error_type = AgentLostJob if lost else AgentJobFailed
    refused = _redeliver_once(deps, workflow, step, paid)
    if refused is None:
        return  # the agent took the payment again: keep polling the same job
    what += refused
    # The agent's own words may end a sentence already: one full stop, not two.
    said = f"{agent.name} {what}".rstrip(". ") + "."
    if not paid:
        raise error_type(said)
    raise error_type(
        f"{said} The payment for step {step.step_number} is confirmed and kept "
        f"(transactions {', '.join(p.txid for p in paid)}, round {max(p.confirmed_round for p in paid)}). "
        f"Resuming runs step {step.step_number} as a new job that is paid again, only if you agree "
        f"(repay_steps: [{step.step_number}]).",
        details={"receipt_txn_ids": [p.txid for p in paid]},
    )


def poll_step(deps: Dependencies, workflow_id: str, step_number: int, user_id: str) -> StepView:
    """The API's poll: the step as stored, after one look at the agent if its job is running."""
    workflow = load_owned_workflow(deps.store, workflow_id, user_id)
    step = load_step(deps.store, workflow_id, step_number)
    if step.status == StepStatus.RUNNING and step.agent_job_id:
        look_and_wake(deps, workflow, step)
        step = load_step(deps.store, workflow_id, step_number)
    return step_view(workflow, step)


def look_and_wake(deps: Dependencies, workflow: WorkflowRecord, step: StepResult) -> bool:
    """One look at a running job from outside the state machine (the API's poll, an agent's push).
    When the job ended well, the waiting WatchJob task is completed now instead of at its next look;
    True if this call woke it. Failures are left to the state machine's own look."""
    token = step.task_token
    finished: StepResult | None = None
    with contextlib.suppress(OrchestratorError):
        finished = _poll_agent_once(deps, workflow, step, by_engine=False)
    if finished is None or finished.status != StepStatus.SUCCEEDED or not token:
        return False
    return deps.engine.send_task_success(token, _watch(deps, succeeded=True))


# --- Advance (task) ---------------------------------------------------------------------------------


def advance(deps: Dependencies, task: TaskRef) -> AdvanceOutcome:
    workflow = _task_workflow(deps, task)
    step = load_step(deps.store, task.workflow_id, task.step_number)
    if step.status != StepStatus.SUCCEEDED:
        raise InvalidState(f"Step {step.step_number} is {step.status.value}, not succeeded.")
    last = len(workflow.plan.steps)
    if step.step_number >= last:
        if deps.store.update_workflow(
            workflow.workflow_id,
            expected={WorkflowStatus.RUNNING},
            changes={"status": WorkflowStatus.COMPLETED, "final_output": step.output, "current_step": last},
        ):
            deps.metrics.workflow_completed()
        return AdvanceOutcome(done=True, next_step=last)
    deps.store.update_workflow(
        workflow.workflow_id,
        expected={WorkflowStatus.RUNNING},
        changes={"current_step": step.step_number + 1},
    )
    return AdvanceOutcome(done=False, next_step=step.step_number + 1)


# --- halt (task: the Catch branches) ---------------------------------------------------------------


def halt(deps: Dependencies, task: HaltTask) -> HaltOutcome:
    """Record why an execution stopped, on the step and the workflow. Idempotent."""
    workflow = load_workflow(deps.store, task.workflow_id)
    step = deps.store.get_step(task.workflow_id, task.step_number)
    if workflow.attempt != task.attempt:  # an older execution: the newer one owns the state
        return HaltOutcome(workflow_status=workflow.status, step_status=step.status if step else None)
    if step is None:
        raise NotFound(f"Workflow {task.workflow_id} has no step {task.step_number}.")
    error = _error_from_catch(task)
    if task.reason == "cancelled":
        step_status, workflow_status, step_error = StepStatus.CANCELLED, WorkflowStatus.CANCELLED, error
    else:
        if task.reason == "payment_timeout":
            error = ErrorInfo(
                code="PaymentTimeout",
                message="No payment arrived before the payment timeout; the workflow stopped. "
                "Resume it to get a fresh payment request.",
            )
        # Unpaid and timed out: payment_timeout. Paid (or any other failure): failed, payment kept.
        timed_out_unpaid = task.reason == "payment_timeout" and step.status in _NOT_YET_PAID
        step_status = StepStatus.PAYMENT_TIMEOUT if timed_out_unpaid else StepStatus.FAILED
        workflow_status, step_error = WorkflowStatus.FAILED, step.error or error
    # Compare-and-set on the status read above, and the workflow only at this attempt: a resume can
    # land between this read and these writes (the cancel route has already made the workflow
    # resumable), and its reset step must not be stopped again. A cancelled run leaves a pending
    # step to the cancel route, which has already stopped it.
    haltable = (
        ACTIVE_STEP_STATUSES if task.reason == "cancelled" else ACTIVE_STEP_STATUSES | {StepStatus.PENDING}
    )
    step_after = (
        deps.store.update_step(
            workflow.workflow_id,
            step.step_number,
            expected={step.status},
            changes={"status": step_status, "error": step_error, "task_token": None},
        )
        if step.status in haltable
        else None
    ) or deps.store.get_step(workflow.workflow_id, step.step_number)
    if step_after is not None and step_after.job_id is not None and step_after.status == step_status:
        job_state = {
            StepStatus.CANCELLED: JobState.CANCELLED,
            StepStatus.PAYMENT_TIMEOUT: JobState.EXPIRED,
        }.get(step_status, JobState.FAILED)
        deps.store.update_job(step_after.job_id, {"state": job_state})
    # A failed workflow shows its step's error (e.g. the agent's), a cancelled one the cancellation.
    recorded = error
    if workflow_status == WorkflowStatus.FAILED and step_after is not None and step_after.error:
        recorded = step_after.error
    workflow_after = deps.store.update_workflow(
        workflow.workflow_id,
        expected={WorkflowStatus.RUNNING},
        changes={"status": workflow_status, "error": recorded},
        expected_attempt=task.attempt,
    )
    if workflow_after is not None and workflow_status == WorkflowStatus.FAILED:
        # Counted once, by the call that made the change (the task may be retried).
        deps.metrics.workflow_failed(recorded.code)
        if recorded.code in AGENT_ERROR_CODES:
            deps.metrics.agent_error(step.agent_id, recorded.code)
    final = workflow_after or load_workflow(deps.store, workflow.workflow_id)
    return HaltOutcome(workflow_status=final.status, step_status=step_after.status if step_after else None)


def _error_from_catch(task: HaltTask) -> ErrorInfo:
    """The Catch gives {"Error": name, "Cause": text}; a Lambda's cause is JSON with errorMessage."""
    name = str(task.error.get("Error") or "WorkflowFailed")
    cause = task.error.get("Cause") or ""
    message = str(cause)
    if isinstance(cause, str) and cause.startswith("{"):
        with contextlib.suppress(ValueError):
            message = str(json.loads(cause).get("errorMessage") or cause)
    if name.startswith("Lambda.") or name.startswith("States."):
        message = (
            f"The step could not run ({name}): {message}" if message else f"The step could not run ({name})."
        )
    return ErrorInfo(code=name.replace("States.", "").replace("Lambda.", "Lambda"), message=message or name)


__all__ = [
    "advance",
    "halt",
    "look_and_wake",
    "poll_step",
    "requote",
    "start_job",
    "submit_payment",
    "watch_job",
]
