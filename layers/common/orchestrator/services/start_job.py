"""Starting a step's agent job and offering its payment group: the StartJob task
(waitForTaskToken), and POST /api/workflows/step/start_job, which starts the job again with a fresh
group when every group offered for the step expired unpaid (`start_job_again`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestrator.dependencies import Dependencies
from orchestrator.errors import (
    InvalidState,
)
from orchestrator.models import (
    AgentMetadata,
    JobRecord,
    JobState,
    StepRecord,
    StepStatus,
    WorkflowRecord,
    WorkflowStatus,
    job_input_hash,
    job_row_id,
)
from orchestrator.schemas.api import StepView
from orchestrator.schemas.tasks import (
    StartJobTask,
)
from orchestrator.services import recovery
from orchestrator.services.loading import load_owned_workflow, load_step
from orchestrator.services.views import step_view

if TYPE_CHECKING:
    from orchestrator.payments.safety import CheckedGroup


from orchestrator.services.payment import (
    claim_offer,
    resume_paid_step,
    submit_payment,
)
from orchestrator.services.step_state import (
    active_agent,
    job_watch,
    payments_for_current_job,
    running_workflow,
    set_step,
)


def start_job(deps: Dependencies, task: StartJobTask) -> None:
    """Start the agent's job and offer its payment group; the person's payment completes the token."""
    workflow = running_workflow(deps, task)
    step = load_step(deps.store, task.workflow_id, task.step_number)
    if step.status == StepStatus.SUCCEEDED:
        deps.engine.send_task_success(task.task_token, job_watch(deps, succeeded=True))
        return
    if step.status != StepStatus.PENDING:
        raise InvalidState(f"Step {step.step_number} is {step.status.value}, not pending.")
    paid = payments_for_current_job(deps, step)
    unpaid = [] if paid else recovery.unpaid_offers(deps, step)
    if not paid:
        # Money rules: an earlier offer confirmed on chain is delivered instead of a new one...
        found = recovery.find_confirmed_offer(deps, unpaid)
        if found is not None:
            step, paid = claim_offer(deps, workflow, step, *found, expected={StepStatus.PENDING})
    # The catalog is asked only now, so that an agent gone from it cannot keep a confirmed payment
    # from being recorded (the receipt shows; a resume once it is back delivers it).
    agent = active_agent(deps, step.agent_id)
    if paid:
        resume_paid_step(deps, workflow, step, agent, paid, task.task_token)
        return
    # ... and one that may still confirm is offered again, never replaced by a second group.
    still_open = recovery.find_open_offer(deps, unpaid)
    if still_open is not None:
        _await_payment(deps, step, still_open, task.task_token, started_at=deps.clock())
        return

    job_input = _resolve_step_input(deps, workflow, step)
    response = deps.agents.start_job(agent, sender_address=workflow.wallet_address, job_input=job_input)
    now = deps.clock()
    if not response.unsigned_group_txns and response.payment_required == 0:
        # A free agent: nothing to sign, the job runs at once.
        job = _record_job(deps, workflow, step, agent, job_input, response.job_id)
        set_step(
            deps,
            step,
            {StepStatus.PENDING},
            status=StepStatus.RUNNING,
            started_at=now,
            **recovery.offer_fields(job),
        )
        deps.engine.send_task_success(task.task_token, job_watch(deps))
        return

    checked = _check_group(deps, workflow, step, agent, response.unsigned_group_txns, response.txn_ids)
    job = _record_job(deps, workflow, step, agent, job_input, response.job_id, checked)
    _await_payment(deps, step, job, task.task_token, started_at=now)


def _await_payment(
    deps: Dependencies, step: StepRecord, job: JobRecord, task_token: str, *, started_at: datetime
) -> None:
    """The step offers `job`'s group and waits: the person's payment completes `task_token`."""
    set_step(
        deps,
        step,
        {StepStatus.PENDING},
        status=StepStatus.AWAITING_PAYMENT,
        task_token=task_token,
        started_at=started_at,
        **recovery.offer_fields(job),
    )


def _record_job(
    deps: Dependencies,
    workflow: WorkflowRecord,
    step: StepRecord,
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


def _resolve_step_input(deps: Dependencies, workflow: WorkflowRecord, step: StepRecord) -> str:
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
    step: StepRecord,
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


def start_job_again(deps: Dependencies, workflow_id: str, step_number: int, user_id: str) -> StepView:
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
    agent = active_agent(deps, step.agent_id)
    response = deps.agents.start_job(
        agent, sender_address=workflow.wallet_address, job_input=step.input or ""
    )
    checked = _check_group(deps, workflow, step, agent, response.unsigned_group_txns, response.txn_ids)
    job = _record_job(deps, workflow, step, agent, step.input or "", response.job_id, checked)
    if step.job_id is not None:
        deps.store.update_job(step.job_id, {"state": JobState.EXPIRED})
    step = set_step(deps, step, {StepStatus.AWAITING_PAYMENT}, **recovery.offer_fields(job))
    return step_view(workflow, step)
