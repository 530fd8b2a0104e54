"""What every step use case shares (services/step_state, services/loading): a task works only on the
running workflow of its own attempt, hires only an active agent from the catalog, changes a step only
from the status it read, and a missing (or another person's) workflow or step is not found."""

from __future__ import annotations

import pytest
from orchestrator.errors import (
    AgentUnavailable,
    InvalidState,
    NotFound,
    WorkflowCancelled,
    WorkflowSuperseded,
)
from orchestrator.models import AgentMetadata, StepStatus, WorkflowStatus
from orchestrator.schemas.tasks import TaskRef
from orchestrator.services.loading import load_owned_workflow, load_step, load_workflow
from orchestrator.services.step_state import active_agent, job_watch, running_workflow, set_step

from tests.builders import OTHER_USER, USER, World

MISSING = "9e9e9e9e-0000-4000-8000-000000000000"


def test_a_task_works_only_on_the_running_workflow_of_its_attempt(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([free_agent], attempt=2)
    assert (
        running_workflow(w.deps, TaskRef(workflow_id=workflow.workflow_id, step_number=1, attempt=2))
        == workflow
    )
    with pytest.raises(WorkflowSuperseded, match="attempt 1 was superseded by attempt 2"):
        running_workflow(w.deps, TaskRef(workflow_id=workflow.workflow_id, step_number=1, attempt=1))
    w.put_workflow(workflow.workflow_id, WorkflowStatus.CANCELLED)
    with pytest.raises(WorkflowCancelled):
        running_workflow(w.deps, TaskRef(workflow_id=workflow.workflow_id, step_number=1, attempt=2))
    w.put_workflow(workflow.workflow_id, WorkflowStatus.FAILED)
    with pytest.raises(InvalidState, match="is failed, not running"):
        running_workflow(w.deps, TaskRef(workflow_id=workflow.workflow_id, step_number=1, attempt=2))
    with pytest.raises(NotFound):
        running_workflow(w.deps, TaskRef(workflow_id=MISSING, step_number=1, attempt=2))


def test_only_an_active_agent_of_the_catalog_is_hired(w: World, paid_agent: AgentMetadata) -> None:
    assert active_agent(w.deps, paid_agent.id) == paid_agent
    with pytest.raises(AgentUnavailable, match=f"Agent {MISSING} is no longer in the catalog"):
        active_agent(w.deps, MISSING)
    w.add_agents(paid_agent.model_copy(update={"status": " Active "}))  # the marketplace's words, liberally
    assert active_agent(w.deps, paid_agent.id).is_active
    w.add_agents(paid_agent.model_copy(update={"status": "suspended"}))
    with pytest.raises(AgentUnavailable, match="Summarizer is no longer active"):
        active_agent(w.deps, paid_agent.id)


def test_a_step_changes_only_from_the_status_it_was_read_in(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([free_agent])
    read = w.step(workflow.workflow_id)
    changed = set_step(w.deps, read, {StepStatus.PENDING}, status=StepStatus.RUNNING, input="x")
    assert (changed.status, changed.input) == (StepStatus.RUNNING, "x")
    with pytest.raises(InvalidState, match="Step 1 is running; it changed while this request ran"):
        set_step(w.deps, read, {StepStatus.PENDING}, status=StepStatus.CANCELLED)
    assert w.step(workflow.workflow_id).status == StepStatus.RUNNING


def test_start_and_watch_complete_with_the_schedules_interval(w: World) -> None:
    assert job_watch(w.deps) == {"status": "working", "wait_seconds": w.settings.poll_fast_seconds}
    assert job_watch(w.deps, succeeded=True, wait_seconds=8) == {"status": "succeeded", "wait_seconds": 8}


def test_a_missing_or_another_persons_workflow_or_step_is_not_found(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([free_agent])
    assert load_workflow(w.store, workflow.workflow_id) == workflow
    assert load_owned_workflow(w.store, workflow.workflow_id, USER) == workflow
    for user in (OTHER_USER, ""):
        with pytest.raises(NotFound, match=f"There is no workflow with id {workflow.workflow_id}."):
            load_owned_workflow(w.store, workflow.workflow_id, user)
    with pytest.raises(NotFound):
        load_owned_workflow(w.store, MISSING, USER)
    with pytest.raises(NotFound):
        load_workflow(w.store, MISSING)
    assert load_step(w.store, workflow.workflow_id, 1).step_number == 1
    with pytest.raises(NotFound, match="has no step 2"):
        load_step(w.store, workflow.workflow_id, 2)
