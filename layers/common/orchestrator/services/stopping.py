"""Stopping a workflow from outside its tasks (cancel, repairs): one conditional change of the
workflow, then of each of its active steps. Payments and jobs stay, so a resume never pays twice."""

from __future__ import annotations

from collections.abc import Collection

from orchestrator.dependencies import Dependencies
from orchestrator.models import (
    ACTIVE_STEP_STATUSES,
    ErrorInfo,
    StepRecord,
    StepStatus,
    WorkflowRecord,
    WorkflowStatus,
)


def stop_workflow(
    deps: Dependencies,
    workflow_id: str,
    *,
    expected: Collection[WorkflowStatus],
    status: WorkflowStatus,
    step_status: StepStatus,
    error: ErrorInfo,
    current_if_pending: bool = False,
) -> tuple[WorkflowRecord, list[StepRecord]] | None:
    """Move the workflow from one of `expected` to `status` (with `error`) and its active steps to
    `step_status` (and its current step when it is still pending and `current_if_pending`); the
    stopped workflow and the steps as they were before, or None when the workflow was not in
    `expected` (a duplicate or a race: nothing to do)."""
    stopped = deps.store.update_workflow(
        workflow_id, expected=expected, changes={"status": status, "error": error}
    )
    if stopped is None:
        return None
    changed = [
        step
        for step in deps.store.list_steps(workflow_id)
        if (
            step.status in ACTIVE_STEP_STATUSES
            or (
                current_if_pending
                and step.status == StepStatus.PENDING
                and step.step_number == stopped.current_step
            )
        )
        and deps.store.update_step(
            workflow_id,
            step.step_number,
            expected={step.status},
            changes={"status": step_status, "error": error, "task_token": None},
        )
        is not None
    ]
    if status == WorkflowStatus.FAILED:
        deps.metrics.workflow_failed(error.code)
    return stopped, changed
