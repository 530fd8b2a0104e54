"""The sweep (services/reconcile.sweep_stuck_workflows) and the repairs it shares with reconcile, on a
fake engine: a workflow overdue past its step's deadline and a margin is repaired only when its
execution no longer runs (ended, or gone), and keeps its payments; one Step Functions cannot describe
is left for the next sweep. (The same against moto: tests/integration/test_reconcile_engine.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from orchestrator.engine import ExecutionDescription
from orchestrator.errors import EngineUnavailable
from orchestrator.models import ErrorInfo, StepStatus, WorkflowRecord, WorkflowStatus, utcnow
from orchestrator.services.reconcile import (
    ExecutionEnded,
    SweepOutcome,
    execution_error,
    fail_orphaned_workflows,
    fail_running_workflow,
    reconcile_execution,
    sweep_stuck_workflows,
)

from tests.builders import REPAIR_SETTINGS, World, paid_txids, running_at_step_two, world

ARN = "arn:aws:states:us-east-1:000000000000:execution:workflow:wf-{}-1"


@pytest.fixture
def repairs(tmp_path: Path) -> Iterator[World]:
    # Rows are stamped with the real time when they change: the sweep's clock starts there.
    fakes = world(tmp_path, clock_start=utcnow(), **REPAIR_SETTINGS)
    yield fakes
    fakes.close()


def stuck(w: World, status: StepStatus, **fields: Any) -> str:
    """A running workflow at step 2 in `status`, whose execution the engine knows (running)."""
    workflow = running_at_step_two(w.store, status, **fields)
    arn = ARN.format(workflow.workflow_id)
    w.put_workflow(workflow.workflow_id, WorkflowStatus.RUNNING, execution_arn=arn)
    w.engine.end(arn, "RUNNING")
    return workflow.workflow_id


def arn_of(w: World, workflow_id: str) -> str:
    arn = w.workflow(workflow_id).execution_arn
    assert arn is not None
    return arn


def test_an_unpaid_step_past_the_payment_timeout_whose_execution_was_stopped_is_repaired(
    repairs: World,
) -> None:
    workflow_id = stuck(repairs, StepStatus.AWAITING_PAYMENT)
    repairs.engine.end(arn_of(repairs, workflow_id), "ABORTED")
    repairs.clock.advance(600 + 30)  # past the timeout, within the margin

    assert sweep_stuck_workflows(repairs.deps).repaired == []
    assert repairs.engine.described == []  # not overdue yet: Step Functions is not even asked

    repairs.clock.advance(30 + 5)
    outcome = sweep_stuck_workflows(repairs.deps)

    assert outcome.checked == 1
    assert [(r.workflow_id, r.step_number, r.step_status, r.execution_status) for r in outcome.repaired] == [
        (workflow_id, 2, StepStatus.AWAITING_PAYMENT, "ABORTED")
    ]
    repaired = repairs.workflow(workflow_id)
    assert repaired.status == WorkflowStatus.FAILED and repaired.error is not None
    assert repaired.error.code == "ExecutionStopped"
    assert [s.status for s in repairs.store.list_steps(workflow_id)] == [
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
    ]
    assert repairs.metrics.failed == ["ExecutionStopped"]


def test_an_overdue_step_whose_execution_still_runs_is_left_alone(repairs: World) -> None:
    workflow_id = stuck(repairs, StepStatus.RUNNING, poll_deadline=repairs.clock.now)
    repairs.clock.advance(60 + 5)
    outcome = sweep_stuck_workflows(repairs.deps)
    assert (outcome.still_running, outcome.repaired) == ([workflow_id], [])
    assert repairs.step(workflow_id, 2).status == StepStatus.RUNNING and repairs.metrics.failed == []


def test_a_step_polled_past_its_deadline_whose_execution_failed_is_repaired_with_its_cause(
    repairs: World,
) -> None:
    workflow_id = stuck(repairs, StepStatus.RUNNING, poll_deadline=repairs.clock.now)
    repairs.engine.end(arn_of(repairs, workflow_id), "FAILED", error="HaltTaskFailed", cause="broken")
    repairs.clock.advance(60 + 5)
    [repair] = sweep_stuck_workflows(repairs.deps).repaired
    assert repair.execution_status == "FAILED" and repair.error.code == "ExecutionFailed"
    assert "(HaltTaskFailed: broken)" in repair.error.message
    step = repairs.step(workflow_id, 2)
    assert (step.status, step.agent_job_id, step.error) == (StepStatus.FAILED, "job-2", repair.error)
    assert sorted(p.txid for p in repairs.payments(workflow_id, 2)) == sorted(paid_txids(workflow_id))


def test_a_running_step_without_a_deadline_is_overdue_a_poll_deadline_after_its_last_change(
    repairs: World,
) -> None:
    workflow_id = stuck(repairs, StepStatus.RUNNING)
    repairs.engine.end(arn_of(repairs, workflow_id), "TIMED_OUT")
    repairs.clock.advance(300 + 60 - 5)
    assert sweep_stuck_workflows(repairs.deps).repaired == []
    repairs.clock.advance(10)
    [repair] = sweep_stuck_workflows(repairs.deps).repaired
    assert repair.error.code == "ExecutionTimedOut"


def test_workflows_whose_execution_is_gone_or_never_recorded_are_repaired(repairs: World) -> None:
    submitted = stuck(repairs, StepStatus.PAYMENT_SUBMITTED)
    repairs.engine.descriptions[arn_of(repairs, submitted)] = None  # Step Functions forgot it
    between_steps = running_at_step_two(repairs.store, StepStatus.PENDING).workflow_id  # no execution arn
    repairs.clock.advance(60 + 12 + 5)

    outcome = sweep_stuck_workflows(repairs.deps)

    repaired = {r.workflow_id: r for r in outcome.repaired}
    assert set(repaired) == {submitted, between_steps}
    assert repaired[submitted].step_status == StepStatus.PAYMENT_SUBMITTED
    assert repaired[submitted].execution_status is None
    assert repaired[between_steps].step_number is None
    assert {r.error.code for r in outcome.repaired} == {"ExecutionLost"}
    assert len(repairs.payments(submitted, 2)) == 2
    assert repairs.engine.described == [arn_of(repairs, submitted)]


def test_a_workflow_step_functions_cannot_describe_is_left_for_the_next_sweep(repairs: World) -> None:
    workflow_id = stuck(repairs, StepStatus.RUNNING, poll_deadline=repairs.clock.now)
    repairs.engine.descriptions[arn_of(repairs, workflow_id)] = EngineUnavailable("throttled")
    repairs.clock.advance(60 + 5)
    outcome = sweep_stuck_workflows(repairs.deps)
    assert (outcome.unreachable, outcome.repaired) == ([workflow_id], [])
    assert repairs.workflow(workflow_id).status == WorkflowStatus.RUNNING


def test_only_running_workflows_are_swept(repairs: World) -> None:
    done = stuck(repairs, StepStatus.RUNNING, poll_deadline=repairs.clock.now)
    repairs.put_workflow(done, WorkflowStatus.COMPLETED)
    repairs.clock.advance(3600)
    assert sweep_stuck_workflows(repairs.deps).checked == 0
    assert repairs.engine.described == []


def test_a_repair_of_a_workflow_that_stopped_meanwhile_changes_nothing(repairs: World) -> None:
    workflow_id = stuck(repairs, StepStatus.RUNNING)
    read = repairs.workflow(workflow_id)
    repairs.put_workflow(workflow_id, WorkflowStatus.CANCELLED)  # after the repair read it
    error = ErrorInfo(code="ExecutionLost", message="gone")
    assert fail_running_workflow(repairs.deps, read, error) is False
    assert fail_running_workflow(repairs.deps, repairs.workflow(workflow_id), error) is False
    assert repairs.workflow(workflow_id).status == WorkflowStatus.CANCELLED
    assert repairs.step(workflow_id, 2).status == StepStatus.RUNNING and repairs.metrics.failed == []


@pytest.mark.parametrize(
    "status, error, cause, code, words",
    [
        ("FAILED", "Lambda.Unknown", None, "ExecutionFailed", "before it could record why (Lambda.Unknown)."),
        ("FAILED", None, None, "ExecutionFailed", "before it could record why. Payments"),
        ("SUCCEEDED", None, None, "ExecutionLost", "is no longer running (it ended SUCCEEDED)."),
        (None, None, None, "ExecutionLost", "is no longer running. Payments"),
    ],
)
def test_the_repairs_error_names_how_the_execution_ended(
    status: str | None, error: str | None, cause: str | None, code: str, words: str
) -> None:
    found = execution_error(status, error, cause)
    assert found.code == code and words in found.message
    assert found.message.endswith("resume the workflow to continue from its last successful step.")


# --- the races and leftovers of a repair ----------------------------------------------------------------


def test_an_event_that_names_no_workflow_changes_nothing(repairs: World) -> None:
    ended = ExecutionEnded(execution_arn="arn:x", name="someone-elses-execution", status="ABORTED")
    outcome = reconcile_execution(repairs.deps, ended)
    assert (outcome.workflow_id, outcome.action) == (None, "unchanged")
    assert outcome.detail == "Execution 'someone-elses-execution' does not name a workflow."


def test_a_workflow_that_stops_while_reconcile_repairs_it_is_left_as_it_is(
    repairs: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow_id = stuck(repairs, StepStatus.RUNNING)
    read = repairs.store.get_workflow

    def cancelled_after_the_read(wanted: str) -> WorkflowRecord | None:
        found = read(wanted)
        repairs.put_workflow(wanted, WorkflowStatus.CANCELLED)
        return found

    monkeypatch.setattr(repairs.store, "get_workflow", cancelled_after_the_read)
    outcome = reconcile_execution(
        repairs.deps,
        ExecutionEnded(
            execution_arn="a",
            name=f"wf-{workflow_id}-1",
            status="ABORTED",
            workflow_id=workflow_id,
            attempt=1,
        ),
    )
    assert (outcome.action, outcome.detail) == ("unchanged", "The workflow changed while it was repaired.")
    assert repairs.metrics.failed == []


def test_a_workflow_that_stops_between_the_sweeps_list_and_its_read_is_skipped(
    repairs: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow_id = stuck(repairs, StepStatus.RUNNING, poll_deadline=repairs.clock.now)
    listed = repairs.store.list_workflow_ids(status=WorkflowStatus.RUNNING)
    repairs.put_workflow(workflow_id, WorkflowStatus.COMPLETED)
    monkeypatch.setattr(
        repairs.store,
        "list_workflow_ids",
        lambda *, status: [*listed, "9e9e9e9e-0000-4000-8000-000000000000"],
    )
    repairs.clock.advance(3600)
    assert sweep_stuck_workflows(repairs.deps) == SweepOutcome()


def test_a_workflow_that_stops_while_the_sweep_asks_step_functions_is_not_repaired(
    repairs: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow_id = stuck(repairs, StepStatus.RUNNING, poll_deadline=repairs.clock.now)
    repairs.engine.end(arn_of(repairs, workflow_id), "ABORTED")
    describe = repairs.engine.describe_execution

    def cancelled_meanwhile(arn: str) -> ExecutionDescription | None:
        repairs.put_workflow(workflow_id, WorkflowStatus.CANCELLED)
        return describe(arn)

    monkeypatch.setattr(repairs.engine, "describe_execution", cancelled_meanwhile)
    repairs.clock.advance(60 + 5)
    outcome = sweep_stuck_workflows(repairs.deps)
    assert (outcome.checked, outcome.repaired) == (1, [])
    assert repairs.workflow(workflow_id).status == WorkflowStatus.CANCELLED


def test_orphans_that_stopped_meanwhile_are_not_counted(
    repairs: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    orphan = stuck(repairs, StepStatus.RUNNING)
    gone = stuck(repairs, StepStatus.RUNNING)
    read = repairs.store.get_workflow

    def gone_meanwhile(wanted: str) -> WorkflowRecord | None:
        if wanted == gone:
            repairs.put_workflow(gone, WorkflowStatus.CANCELLED)
            return None
        return read(wanted)

    monkeypatch.setattr(repairs.store, "get_workflow", gone_meanwhile)
    assert fail_orphaned_workflows(repairs.deps, "The local stack restarted.") == [orphan]
