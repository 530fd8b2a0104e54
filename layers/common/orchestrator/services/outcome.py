"""After a step: Advance to the next step or finish the workflow, or Halt it (the state machine's
Catch branches) with the error that stopped it."""

from __future__ import annotations

import contextlib
import json

from orchestrator.dependencies import Dependencies
from orchestrator.errors import (
    AGENT_CAUSED_ERROR_CODES,
    LAMBDA_PREFIX,
    STATES_PREFIX,
    InvalidState,
    NotFound,
    PaymentTimeout,
    WorkflowFailed,
    is_aws_error,
)
from orchestrator.models import (
    ACTIVE_STEP_STATUSES,
    ErrorInfo,
    JobState,
    StepStatus,
    WorkflowStatus,
)
from orchestrator.schemas.tasks import (
    AdvanceOutcome,
    HaltOutcome,
    HaltTask,
    TaskRef,
)
from orchestrator.services.loading import load_step, load_workflow
from orchestrator.services.step_state import running_workflow

_NOT_YET_PAID = frozenset({StepStatus.PENDING, StepStatus.AWAITING_PAYMENT})


def advance(deps: Dependencies, task: TaskRef) -> AdvanceOutcome:
    workflow = running_workflow(deps, task)
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
                code=PaymentTimeout.code,
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
        if recorded.code in AGENT_CAUSED_ERROR_CODES:
            deps.metrics.agent_error(step.agent_id, recorded.code)
    final = workflow_after or load_workflow(deps.store, workflow.workflow_id)
    return HaltOutcome(workflow_status=final.status, step_status=step_after.status if step_after else None)


def _error_from_catch(task: HaltTask) -> ErrorInfo:
    """The Catch gives {"Error": name, "Cause": text}; a Lambda's cause is JSON with errorMessage."""
    name = str(task.error.get("Error") or WorkflowFailed.code)
    cause = task.error.get("Cause") or ""
    message = str(cause)
    if isinstance(cause, str) and cause.startswith("{"):
        with contextlib.suppress(ValueError):
            message = str(json.loads(cause).get("errorMessage") or cause)
    if is_aws_error(name):
        message = (
            f"The step could not run ({name}): {message}" if message else f"The step could not run ({name})."
        )
    # An AWS error is recorded without its dots: States.TaskFailed as TaskFailed, Lambda.Unknown as
    # LambdaUnknown.
    code = name.replace(STATES_PREFIX, "").replace(LAMBDA_PREFIX, "Lambda")
    return ErrorInfo(code=code, message=message or name)
