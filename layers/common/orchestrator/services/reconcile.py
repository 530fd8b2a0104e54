"""Repairs for workflows whose execution ended outside our tasks."""

from __future__ import annotations

from orchestrator.adapters import Dependencies
from orchestrator.models import ACTIVE_STEP_STATUSES, ErrorInfo, StepStatus, WorkflowStatus


def fail_orphaned_workflows(deps: Dependencies, reason: str) -> list[str]:
    """Mark every running workflow failed (resumable) with `reason`; the ids of those changed.

    The local stack calls this at start: its executions live in memory and do not survive a restart.
    """
    store = deps.store
    error = ErrorInfo(code="ExecutionLost", message=reason)
    changed = []
    for workflow_id in store.list_workflow_ids(status=WorkflowStatus.RUNNING):
        for step in store.list_steps(workflow_id):
            if step.status in ACTIVE_STEP_STATUSES:
                store.update_step(
                    workflow_id,
                    step.step_number,
                    expected={step.status},
                    changes={"status": StepStatus.FAILED, "error": error, "task_token": None},
                )
        if store.update_workflow(
            workflow_id,
            expected={WorkflowStatus.RUNNING},
            changes={"status": WorkflowStatus.FAILED, "error": error},
        ):
            changed.append(workflow_id)
    return changed
