"""After a step (services/outcome) on fakes: Advance goes to the next step or completes the workflow
(counted once); Halt records why an execution stopped on the step, its job and the workflow, once,
only for the execution that owns the workflow, and keeps every payment."""

from __future__ import annotations

import pytest
from orchestrator.errors import InvalidState, NotFound, PaymentRejectedByAgent, WorkflowSuperseded
from orchestrator.models import AgentMetadata, JobState, StepStatus, WorkflowStatus
from orchestrator.schemas.tasks import AdvanceOutcome, HaltOutcome, HaltTask, TaskRef
from orchestrator.services.outcome import advance, halt

from tests.builders import World
from tests.fakes import agent_rejected


def task(workflow_id: str, step_number: int = 1, attempt: int = 1) -> TaskRef:
    return TaskRef(workflow_id=workflow_id, step_number=step_number, attempt=attempt)


# --- advance ----------------------------------------------------------------------------------------


def test_advance_moves_the_workflow_to_its_next_step(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow(
        [free_agent, free_agent], step_status=[StepStatus.SUCCEEDED, StepStatus.PENDING]
    )
    assert advance(w.deps, task(workflow.workflow_id)) == AdvanceOutcome(done=False, next_step=2)
    moved = w.workflow(workflow.workflow_id)
    assert (moved.status, moved.current_step) == (WorkflowStatus.RUNNING, 2) and w.metrics.completed == 0


def test_advance_after_the_last_step_completes_the_workflow_with_its_output_once(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([free_agent, free_agent])
    for number in (1, 2):
        w.start_job(workflow.workflow_id, number, token=f"start-{number}")
        w.finish(workflow.workflow_id, number, output={"answer": number})
        outcome = advance(w.deps, task(workflow.workflow_id, number))
    assert outcome == AdvanceOutcome(done=True, next_step=2)
    done = w.workflow(workflow.workflow_id)
    assert (done.status, done.final_output, done.current_step) == (WorkflowStatus.COMPLETED, {"answer": 2}, 2)
    assert w.metrics.completed == 1
    # A retried Advance finds the workflow no longer running, and counts nothing again.
    with pytest.raises(InvalidState, match="is completed, not running"):
        advance(w.deps, task(workflow.workflow_id, 2))
    assert w.metrics.completed == 1


def test_a_workflow_cancelled_while_advance_ran_is_not_completed(
    w: World, free_agent: AgentMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = w.add_workflow([free_agent], step_status=StepStatus.SUCCEEDED)
    read_step = w.store.get_step

    def cancelled_meanwhile(workflow_id: str, step_number: int) -> object:
        found = read_step(workflow_id, step_number)
        w.put_workflow(workflow_id, WorkflowStatus.CANCELLED)
        return found

    monkeypatch.setattr(w.store, "get_step", cancelled_meanwhile)
    assert advance(w.deps, task(workflow.workflow_id)) == AdvanceOutcome(done=True, next_step=1)
    assert w.workflow(workflow.workflow_id).status == WorkflowStatus.CANCELLED and w.metrics.completed == 0


def test_advance_refuses_a_step_that_did_not_succeed_or_an_older_run(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([free_agent, free_agent], step_status=StepStatus.RUNNING)
    with pytest.raises(InvalidState, match="is running, not succeeded"):
        advance(w.deps, task(workflow.workflow_id))
    w.put_step(workflow.workflow_id, 1, StepStatus.SUCCEEDED)
    w.put_workflow(workflow.workflow_id, WorkflowStatus.RUNNING, attempt=2)
    with pytest.raises(WorkflowSuperseded):
        advance(w.deps, task(workflow.workflow_id, attempt=1))
    assert w.workflow(workflow.workflow_id).current_step == 1


# --- halt ---------------------------------------------------------------------------------------------


def test_a_payment_timeout_of_an_unpaid_step_expires_its_offer(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    w.offer(workflow.workflow_id)

    outcome = w.halt(workflow.workflow_id, 1, "payment_timeout", error="States.Timeout")

    assert outcome == HaltOutcome(
        workflow_status=WorkflowStatus.FAILED, step_status=StepStatus.PAYMENT_TIMEOUT
    )
    step = w.step(workflow.workflow_id)
    assert step.task_token is None and step.error is not None and step.error.code == "PaymentTimeout"
    assert "Resume it to get a fresh payment request." in step.error.message
    assert w.workflow(workflow.workflow_id).error == step.error
    assert w.jobs(workflow.workflow_id)[0].state == JobState.EXPIRED
    assert w.metrics.failed == ["PaymentTimeout"] and w.metrics.agent_errors == []
    assert w.money_moved() == (0, 0)


def test_a_payment_timeout_after_the_payment_arrived_fails_the_step_and_keeps_the_payment(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    w.offer(workflow.workflow_id)
    w.pay(workflow.workflow_id)
    w.put_step(workflow.workflow_id, 1, StepStatus.PAYMENT_SUBMITTED)  # the delivery was under way

    outcome = w.halt(workflow.workflow_id, 1, "payment_timeout", error="States.Timeout")

    assert outcome.step_status == StepStatus.FAILED
    assert w.step(workflow.workflow_id).receipt is not None and len(w.payments(workflow.workflow_id)) == 2
    assert w.money_moved() == (2, 2)
    assert w.jobs(workflow.workflow_id)[0].state == JobState.FAILED


def test_a_failure_keeps_the_steps_own_error_and_counts_the_agent(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    w.offer(workflow.workflow_id)
    w.agents.payment_answers.append(agent_rejected(402))
    with pytest.raises(PaymentRejectedByAgent, match="did not accept the payment"):
        w.pay(workflow.workflow_id)
    recorded = w.step(workflow.workflow_id).error
    assert recorded is not None and recorded.code == "PaymentRejectedByAgent"

    outcome = w.halt(
        workflow.workflow_id, 1, "failed", error="PaymentRejectedByAgent", cause="the Catch's words"
    )

    assert outcome == HaltOutcome(workflow_status=WorkflowStatus.FAILED, step_status=StepStatus.FAILED)
    assert w.step(workflow.workflow_id).error == recorded == w.workflow(workflow.workflow_id).error
    assert w.metrics.failed == ["PaymentRejectedByAgent"]
    assert w.metrics.agent_errors == [(paid_agent.id, "PaymentRejectedByAgent")]
    assert len(w.payments(workflow.workflow_id)) == 2 and w.money_moved() == (2, 2)
    # Halt is idempotent: a retried task changes and counts nothing more.
    assert w.halt(workflow.workflow_id, 1, "failed", error="PaymentRejectedByAgent") == outcome
    assert len(w.metrics.failed) == 1 and len(w.metrics.agent_errors) == 1


def test_a_failed_running_step_is_failed_with_the_catchs_error(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([free_agent])
    w.start_job(workflow.workflow_id)
    outcome = w.halt(
        workflow.workflow_id,
        1,
        "failed",
        error="AgentJobFailed",
        cause="Translator reported the job as failed.",
    )
    assert outcome.step_status == StepStatus.FAILED
    step = w.step(workflow.workflow_id)
    assert step.error is not None and (step.error.code, step.error.message) == (
        "AgentJobFailed",
        "Translator reported the job as failed.",
    )
    assert w.jobs(workflow.workflow_id)[0].state == JobState.FAILED
    assert w.metrics.agent_errors == [(free_agent.id, "AgentJobFailed")]


@pytest.mark.parametrize(
    "error, code, message",
    [
        (
            {"Error": "Lambda.Unknown", "Cause": '{"errorMessage": "out of memory", "errorType": "Runtime"}'},
            "LambdaUnknown",
            "The step could not run (Lambda.Unknown): out of memory",
        ),
        ({"Error": "States.Timeout"}, "Timeout", "The step could not run (States.Timeout)."),
        (
            {"Error": "States.TaskFailed", "Cause": "{not json"},
            "TaskFailed",
            "The step could not run (States.TaskFailed): {not json",
        ),
        ({}, "WorkflowFailed", "WorkflowFailed"),
    ],
)
def test_an_aws_error_is_recorded_in_words_without_its_dots(
    w: World, free_agent: AgentMetadata, error: dict[str, str], code: str, message: str
) -> None:
    workflow = w.add_workflow([free_agent], step_status=StepStatus.RUNNING)
    halt(
        w.deps,
        HaltTask(workflow_id=workflow.workflow_id, step_number=1, attempt=1, reason="failed", error=error),
    )
    recorded = w.workflow(workflow.workflow_id).error
    assert recorded is not None and (recorded.code, recorded.message) == (code, message)
    assert w.metrics.failed == [code] and w.metrics.agent_errors == []


def test_a_cancelled_run_cancels_its_waiting_step_and_job(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    w.offer(workflow.workflow_id)
    outcome = w.halt(
        workflow.workflow_id, 1, "cancelled", error="WorkflowCancelled", cause="The workflow was cancelled."
    )
    assert outcome == HaltOutcome(workflow_status=WorkflowStatus.CANCELLED, step_status=StepStatus.CANCELLED)
    assert w.jobs(workflow.workflow_id)[0].state == JobState.CANCELLED
    error = w.workflow(workflow.workflow_id).error
    assert error is not None and error.code == "WorkflowCancelled" and w.metrics.failed == []


def test_a_cancelled_run_leaves_a_pending_step_to_the_cancel_route(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([free_agent])
    outcome = w.halt(workflow.workflow_id, 1, "cancelled", error="WorkflowCancelled")
    assert outcome.step_status == StepStatus.PENDING and w.step(workflow.workflow_id).error is None


def test_the_halt_of_an_older_run_changes_nothing(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([free_agent], step_status=StepStatus.RUNNING, attempt=2)
    stale = HaltTask(workflow_id=workflow.workflow_id, step_number=1, attempt=1, reason="failed")
    assert halt(w.deps, stale) == HaltOutcome(
        workflow_status=WorkflowStatus.RUNNING, step_status=StepStatus.RUNNING
    )
    missing_step = stale.model_copy(update={"step_number": 9})
    assert halt(w.deps, missing_step) == HaltOutcome(workflow_status=WorkflowStatus.RUNNING, step_status=None)
    assert w.step(workflow.workflow_id).status == StepStatus.RUNNING and w.metrics.failed == []


def test_the_halt_of_a_step_or_workflow_that_does_not_exist_is_not_found(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([free_agent])
    with pytest.raises(NotFound, match="has no step 4"):
        w.halt(workflow.workflow_id, 4, "failed")
    with pytest.raises(NotFound):
        halt(
            w.deps,
            HaltTask(
                workflow_id="9e9e9e9e-0000-4000-8000-000000000000", step_number=1, attempt=1, reason="failed"
            ),
        )


def test_a_halt_after_the_workflow_stopped_keeps_what_was_recorded(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([free_agent], step_status=StepStatus.SUCCEEDED)
    w.put_workflow(workflow.workflow_id, WorkflowStatus.COMPLETED)
    outcome = w.halt(
        workflow.workflow_id, 1, "failed", error="InvalidState", cause="is completed, not running"
    )
    assert outcome == HaltOutcome(workflow_status=WorkflowStatus.COMPLETED, step_status=StepStatus.SUCCEEDED)
    assert w.workflow(workflow.workflow_id).error is None and w.metrics.failed == []
