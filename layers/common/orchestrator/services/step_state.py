"""What every use case on a step shares: the running workflow a task may work on, the agent it
hires, a compare-and-set change of the step, and how StartJob and WatchJob complete."""

from __future__ import annotations

from typing import Any

from orchestrator.dependencies import Dependencies
from orchestrator.errors import (
    AgentUnavailable,
    InvalidState,
    WorkflowCancelled,
    WorkflowSuperseded,
)
from orchestrator.models import (
    AgentMetadata,
    PaymentRecord,
    StepRecord,
    StepStatus,
    WorkflowRecord,
    WorkflowStatus,
)
from orchestrator.schemas.tasks import (
    JobWatch,
    TaskRef,
)
from orchestrator.services.loading import load_step, load_workflow


def running_workflow(deps: Dependencies, task: TaskRef) -> WorkflowRecord:
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


def active_agent(deps: Dependencies, agent_id: str) -> AgentMetadata:
    agent = deps.store.get_agent(agent_id)
    if agent is None:
        raise AgentUnavailable(f"Agent {agent_id} is no longer in the catalog.")
    if not agent.is_active:
        raise AgentUnavailable(f"{agent.name} is no longer active in the catalog.")
    return agent


def set_step(deps: Dependencies, step: StepRecord, expected: set[StepStatus], **changes: Any) -> StepRecord:
    updated = deps.store.update_step(step.workflow_id, step.step_number, expected=expected, changes=changes)
    if updated is None:
        current = load_step(deps.store, step.workflow_id, step.step_number)
        raise InvalidState(
            f"Step {step.step_number} is {current.status.value}; it changed while this request ran."
        )
    return updated


def job_watch(
    deps: Dependencies, *, succeeded: bool = False, wait_seconds: int | None = None
) -> dict[str, Any]:
    """How StartJob and WatchJob complete: the job ended well, or look again in `wait_seconds` (by
    default the schedule's first interval)."""
    wait = wait_seconds if wait_seconds is not None else deps.settings.poll_schedule.wait_seconds(0)
    return JobWatch(status="succeeded" if succeeded else "working", wait_seconds=wait).model_dump()


def payments_for_current_job(deps: Dependencies, step: StepRecord) -> list[PaymentRecord]:
    if step.job_id is None:
        return []
    return [
        p for p in deps.store.payments_for_step(step.workflow_id, step.step_number) if p.job_id == step.job_id
    ]
