"""Reading a workflow or step that must exist: a missing one (or another person's) is `NotFound`."""

from __future__ import annotations

from orchestrator.errors import NotFound
from orchestrator.models import StepRecord, WorkflowRecord
from orchestrator.store import Store


def load_workflow(store: Store, workflow_id: str) -> WorkflowRecord:
    """The workflow, for the state machine's tasks and repairs (no caller to check)."""
    workflow = store.get_workflow(workflow_id)
    if workflow is None:
        raise NotFound(f"There is no workflow with id {workflow_id}.")
    return workflow


def load_owned_workflow(store: Store, workflow_id: str, user_id: str) -> WorkflowRecord:
    """The workflow, if it exists and belongs to `user_id`; another's is 'not found'."""
    workflow = store.get_workflow(workflow_id) if user_id else None
    if workflow is None or workflow.user_id != user_id:
        raise NotFound(f"There is no workflow with id {workflow_id}.")
    return workflow


def load_step(store: Store, workflow_id: str, step_number: int) -> StepRecord:
    step = store.get_step(workflow_id, step_number)
    if step is None:
        raise NotFound(f"Workflow {workflow_id} has no step {step_number}.")
    return step
