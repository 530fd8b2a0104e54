"""Stopping a workflow from outside its tasks (services/stopping.stop_workflow): one conditional change
of the workflow, then of each active step (and the current pending one when asked); payments and
jobs stay; a duplicate or a race changes nothing."""

from __future__ import annotations

from orchestrator.models import AgentMetadata, ErrorInfo, StepStatus, WorkflowStatus
from orchestrator.services.stopping import stop_workflow

from tests.builders import World

STOPPED = ErrorInfo(code="ExecutionLost", message="gone")


def test_the_active_steps_are_stopped_and_the_others_left_alone(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow(
        [paid_agent] * 4,
        step_status=[
            StepStatus.SUCCEEDED,
            StepStatus.RUNNING,
            StepStatus.PAYMENT_SUBMITTED,
            StepStatus.PENDING,
        ],
        step_fields={2: {"task_token": "look-2"}},
        current_step=2,
    )
    stopped = stop_workflow(
        w.deps,
        workflow.workflow_id,
        expected={WorkflowStatus.RUNNING},
        status=WorkflowStatus.FAILED,
        step_status=StepStatus.FAILED,
        error=STOPPED,
    )
    assert stopped is not None
    after, changed = stopped
    assert (after.status, after.error) == (WorkflowStatus.FAILED, STOPPED)
    # The steps as they were before: what a caller needs (the token that waited).
    assert [(s.step_number, s.status, s.task_token) for s in changed] == [
        (2, StepStatus.RUNNING, "look-2"),
        (3, StepStatus.PAYMENT_SUBMITTED, None),
    ]
    steps = w.store.list_steps(workflow.workflow_id)
    assert [s.status for s in steps] == [
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        StepStatus.FAILED,
        StepStatus.PENDING,
    ]
    assert steps[1].error == STOPPED and steps[1].task_token is None
    assert w.metrics.failed == ["ExecutionLost"]


def test_a_pending_current_step_is_stopped_only_when_asked(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([free_agent, free_agent], status=WorkflowStatus.APPROVED)
    stopped = stop_workflow(
        w.deps,
        workflow.workflow_id,
        expected={WorkflowStatus.APPROVED},
        status=WorkflowStatus.CANCELLED,
        step_status=StepStatus.CANCELLED,
        error=STOPPED,
        current_if_pending=True,
    )
    assert stopped is not None and [s.step_number for s in stopped[1]] == [1]
    assert [s.status for s in w.store.list_steps(workflow.workflow_id)] == [
        StepStatus.CANCELLED,
        StepStatus.PENDING,
    ]
    assert w.metrics.failed == []  # a cancel is no failure


def test_a_workflow_not_in_the_expected_status_is_left_as_it_is(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([free_agent], status=WorkflowStatus.COMPLETED, step_status=StepStatus.SUCCEEDED)
    assert (
        stop_workflow(
            w.deps,
            workflow.workflow_id,
            expected={WorkflowStatus.RUNNING},
            status=WorkflowStatus.FAILED,
            step_status=StepStatus.FAILED,
            error=STOPPED,
        )
        is None
    )
    assert w.workflow(workflow.workflow_id).status == WorkflowStatus.COMPLETED and w.metrics.failed == []
