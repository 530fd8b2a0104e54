"""Repairs for workflows whose execution ended outside our tasks.

Normally a workflow's failure is recorded by the state machine itself (the halt task) before its
execution ends. Three things can leave a workflow `running` with no execution behind it:

- an operator stops an execution in the console, or it times out or fails where no Catch records why
  (`reconcile_execution`, fed by the EventBridge rule on execution status changes);
- that event is lost (EventBridge delivers it best effort) or its delivery failed: the sweep
  (`sweep_stuck_workflows`, on a schedule) finds steps stuck past their deadlines, asks Step
  Functions whether the execution still runs, and repairs those whose execution does not;
- the local stack restarts (its executions live in memory: `fail_orphaned_workflows`).

A repair marks the workflow `failed` and its active step `failed`, with a code and a sentence. The
step keeps its job and any confirmed payment, so resuming (POST /api/workflows/start) continues
from the last successful step without paying twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from orchestrator.dependencies import Dependencies
from orchestrator.engine import ExecutionDescription, execution_ref
from orchestrator.errors import (
    BadRequest,
    EngineUnavailable,
    ExecutionFailed,
    ExecutionLost,
    ExecutionStopped,
    ExecutionTimedOut,
)
from orchestrator.models import (
    ACTIVE_STEP_STATUSES,
    ErrorInfo,
    OrchestratorModel,
    StepRecord,
    StepStatus,
    WorkflowRecord,
    WorkflowStatus,
)
from orchestrator.observability import logger
from orchestrator.services.stopping import stop_workflow

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
ENDED_STATUSES = frozenset({"ABORTED", "TIMED_OUT", "FAILED"})
_RESUME_HINT = (
    "Payments already made are kept: resume the workflow to continue from its last successful step."
)


# --- the error a repair records -------------------------------------------------------------------


def execution_error(status: str | None, error: str | None = None, cause: str | None = None) -> ErrorInfo:
    """The workflow's error for an execution that ended (or vanished) without recording why."""
    if status == "ABORTED":
        return ErrorInfo(
            code=ExecutionStopped.code,
            message="The workflow's execution was stopped from outside the orchestrator (for instance in "
            f"the Step Functions console). {_RESUME_HINT}",
        )
    if status == "TIMED_OUT":
        return ErrorInfo(
            code=ExecutionTimedOut.code, message=f"The workflow's execution ran out of time. {_RESUME_HINT}"
        )
    if status == "FAILED":
        detail = f" ({error}: {cause[:300]})" if error and cause else f" ({error})" if error else ""
        return ErrorInfo(
            code=ExecutionFailed.code,
            message=f"The workflow's execution failed before it could record why{detail}. {_RESUME_HINT}",
        )
    ended = f" (it ended {status})" if status else ""
    return ErrorInfo(
        code=ExecutionLost.code,
        message=f"The workflow's execution is no longer running{ended}. {_RESUME_HINT}",
    )


def fail_running_workflow(deps: Dependencies, workflow: WorkflowRecord, error: ErrorInfo) -> bool:
    """Mark `workflow` (as just read) failed if it is still running, and its active steps failed.

    The step keeps its job id, receipt and payments: a resume delivers or reuses them. True when
    this call made the change (a duplicate event or a concurrent repair finds nothing to do).
    """
    if workflow.status != WorkflowStatus.RUNNING:
        return False
    stopped = stop_workflow(
        deps,
        workflow.workflow_id,
        expected={WorkflowStatus.RUNNING},
        status=WorkflowStatus.FAILED,
        step_status=StepStatus.FAILED,
        error=error,
    )
    if stopped is None:
        return False
    logger.warning(
        "workflow %s failed by a repair: %s",
        workflow.workflow_id,
        error.code,
        extra={"workflow_id": workflow.workflow_id},
    )
    return True


def fail_orphaned_workflows(deps: Dependencies, reason: str) -> list[str]:
    """Mark every running workflow failed (resumable) with `reason`; the ids of those changed.

    The local stack calls this at start: its executions live in memory and do not survive a restart.
    """
    error = ErrorInfo(code=ExecutionLost.code, message=reason)
    failed = []
    for workflow_id in deps.store.list_workflow_ids(status=WorkflowStatus.RUNNING):
        workflow = deps.store.get_workflow(workflow_id)
        if workflow is not None and fail_running_workflow(deps, workflow, error):
            failed.append(workflow_id)
    return failed


# --- reconcile: an execution ended (EventBridge) ------------------------------------------------------


class ExecutionEnded(OrchestratorModel):
    """The part of a "Step Functions Execution Status Change" event that a repair needs."""

    execution_arn: str
    name: str
    status: str
    workflow_id: str | None = None
    attempt: int | None = None
    error: str | None = None
    cause: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ExecutionEnded:
        detail = event.get("detail") if isinstance(event, Mapping) else None
        if not isinstance(detail, Mapping) or event.get("detail-type") != EXECUTION_STATUS_CHANGE:
            raise BadRequest(f'Expected an EventBridge "{EXECUTION_STATUS_CHANGE}" event.')
        name = str(detail.get("name") or "")
        workflow_id, attempt = execution_ref(detail)
        return cls(
            execution_arn=str(detail.get("executionArn") or ""),
            name=name,
            status=str(detail.get("status") or ""),
            workflow_id=workflow_id,
            attempt=attempt,
            error=detail.get("error"),
            cause=detail.get("cause"),
        )


class ReconcileOutcome(OrchestratorModel):
    workflow_id: str | None
    action: Literal["failed", "unchanged"]
    detail: str


def reconcile_execution(deps: Dependencies, ended: ExecutionEnded) -> ReconcileOutcome:
    """Fail the workflow of an execution that ended ABORTED, TIMED_OUT or FAILED while it still runs.

    Harmless for every other case: the halt task already recorded a failure or cancellation (the
    workflow is no longer running), or a resume started a newer attempt.
    """
    if ended.status not in ENDED_STATUSES:
        return ReconcileOutcome(
            workflow_id=ended.workflow_id, action="unchanged", detail=f"The execution is {ended.status}."
        )
    if ended.workflow_id is None:
        return ReconcileOutcome(
            workflow_id=None,
            action="unchanged",
            detail=f"Execution {ended.name!r} does not name a workflow.",
        )
    workflow = deps.store.get_workflow(ended.workflow_id)
    if workflow is None:
        return ReconcileOutcome(
            workflow_id=ended.workflow_id, action="unchanged", detail="There is no such workflow."
        )
    if workflow.status != WorkflowStatus.RUNNING:
        return ReconcileOutcome(
            workflow_id=workflow.workflow_id,
            action="unchanged",
            detail=f"The workflow is {workflow.status.value}; its failure was already recorded.",
        )
    if ended.attempt is not None and workflow.attempt != ended.attempt:
        return ReconcileOutcome(
            workflow_id=workflow.workflow_id,
            action="unchanged",
            detail=f"Attempt {ended.attempt} ended; the workflow now runs attempt {workflow.attempt}.",
        )
    error = execution_error(ended.status, ended.error, ended.cause)
    if fail_running_workflow(deps, workflow, error):
        return ReconcileOutcome(workflow_id=workflow.workflow_id, action="failed", detail=error.message)
    return ReconcileOutcome(
        workflow_id=workflow.workflow_id,
        action="unchanged",
        detail="The workflow changed while it was repaired.",
    )


# --- sweep: steps stuck past their deadlines (schedule) ------------------------------------------------


class SweepRepair(OrchestratorModel):
    workflow_id: str
    step_number: int | None
    step_status: StepStatus | None
    execution_status: str | None  # None: the execution is gone (or was never recorded)
    error: ErrorInfo


class SweepOutcome(OrchestratorModel):
    checked: int = 0  # running workflows looked at
    repaired: list[SweepRepair] = Field(default_factory=list)
    still_running: list[str] = Field(default_factory=list)  # overdue, but their execution runs: left alone
    unreachable: list[str] = Field(default_factory=list)  # Step Functions did not answer: next time


def overdue_at(deps: Dependencies, workflow: WorkflowRecord, step: StepRecord | None) -> datetime:
    """When a running workflow (and its active step, if any) is overdue: its deadline plus a margin."""
    settings = deps.settings
    margin = timedelta(seconds=settings.sweep_margin_seconds)
    if step is None:  # between two steps: Advance → StartJob takes seconds
        return workflow.updated_at + margin
    if step.status == StepStatus.AWAITING_PAYMENT:
        waiting_since = step.started_at or step.updated_at
        return waiting_since + timedelta(seconds=settings.payment_timeout_seconds) + margin
    if step.status == StepStatus.RUNNING:
        if step.poll_deadline is not None:
            return step.poll_deadline + margin
        return step.updated_at + timedelta(seconds=settings.poll_deadline_seconds) + margin
    # payment_submitted: the API call that verifies and delivers the payment takes seconds.
    return step.updated_at + timedelta(seconds=settings.submit_payment_retry_seconds) + margin


def sweep_stuck_workflows(deps: Dependencies) -> SweepOutcome:
    """Repair running workflows that are overdue and whose execution no longer runs."""
    store = deps.store
    now = deps.clock()
    outcome = SweepOutcome()
    for workflow_id in store.list_workflow_ids(status=WorkflowStatus.RUNNING):
        workflow = store.get_workflow(workflow_id)
        if workflow is None or workflow.status != WorkflowStatus.RUNNING:
            continue
        outcome.checked += 1
        step = next((s for s in store.list_steps(workflow_id) if s.status in ACTIVE_STEP_STATUSES), None)
        if now < overdue_at(deps, workflow, step):
            continue
        execution: ExecutionDescription | None = None
        if workflow.execution_arn:
            try:
                execution = deps.engine.describe_execution(workflow.execution_arn)
            except EngineUnavailable as exc:
                logger.warning("sweep: cannot describe the execution of %s: %s", workflow_id, exc.message)
                outcome.unreachable.append(workflow_id)
                continue
        if execution is not None and execution.status == "RUNNING":
            outcome.still_running.append(workflow_id)
            continue
        error = execution_error(
            execution.status if execution else None,
            execution.error if execution else None,
            execution.cause if execution else None,
        )
        if fail_running_workflow(deps, workflow, error):
            outcome.repaired.append(
                SweepRepair(
                    workflow_id=workflow_id,
                    step_number=step.step_number if step else None,
                    step_status=step.status if step else None,
                    execution_status=execution.status if execution else None,
                    error=error,
                )
            )
    return outcome
