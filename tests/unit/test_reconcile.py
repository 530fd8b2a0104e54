"""The repair use cases (orchestrator.services.reconcile) on a SQLite store: reconcile an execution that
ended outside our tasks (the EventBridge event), fail the orphans of a restart, and when a running
workflow is overdue. (The sweep asking moto's Step Functions: tests/integration/test_reconcile_engine.py;
on a fake engine: tests/unit/services/test_sweep.py.)"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from orchestrator.dependencies import Dependencies
from orchestrator.errors import BadRequest
from orchestrator.models import ErrorInfo, StepStatus, WorkflowStatus, utcnow
from orchestrator.observability import EmfMetrics
from orchestrator.services.reconcile import ExecutionEnded, fail_orphaned_workflows, reconcile_execution

from devstack.template import LOCAL_ACCOUNT, LOCAL_REGION
from tests.builders import REPAIR_SETTINGS, paid_txids, running_at_step_two, world


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Dependencies]:
    fakes = world(tmp_path, **REPAIR_SETTINGS)
    yield fakes.deps
    fakes.close()


def status_change_event(
    workflow_id: str, attempt: int, status: str, *, with_input: bool = True, **detail: Any
) -> dict[str, Any]:
    """A "Step Functions Execution Status Change" event as EventBridge delivers it (AWS docs shape)."""
    name = f"wf-{workflow_id}-{attempt}"
    machine = f"arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:WorkflowStateMachine"
    execution = f"arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:execution:WorkflowStateMachine:{name}"
    execution_input = {"workflow_id": workflow_id, "start_step": 1, "attempt": attempt}
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": LOCAL_ACCOUNT,
        "time": "2026-02-26T19:42:21Z",
        "region": LOCAL_REGION,
        "resources": [execution],
        "detail": {
            "executionArn": execution,
            "stateMachineArn": machine,
            "name": name,
            "status": status,
            "startDate": 1551225271984,
            "stopDate": 1551225287132,
            "input": json.dumps(execution_input) if with_input else None,
            "inputDetails": {"included": with_input},
            "output": None,
            "outputDetails": None,
            **detail,
        },
    }


def emf_lines(text: str) -> list[dict[str, Any]]:
    return [
        doc
        for doc in (json.loads(line) for line in text.splitlines() if line.startswith("{"))
        if "_aws" in doc
    ]


# --- reconcile ----------------------------------------------------------------------------------------


def test_stopped_execution_fails_the_workflow_and_its_running_step_keeping_the_payment(
    deps: Dependencies,
) -> None:
    workflow = running_at_step_two(deps.store, StepStatus.RUNNING)
    event = status_change_event(workflow.workflow_id, 1, "ABORTED")

    outcome = reconcile_execution(deps, ExecutionEnded.from_event(event))

    assert outcome.action == "failed"
    assert outcome.workflow_id == workflow.workflow_id
    failed = deps.store.get_workflow(workflow.workflow_id)
    assert failed is not None and failed.status == WorkflowStatus.FAILED
    assert failed.error is not None and failed.error.code == "ExecutionStopped"
    assert "resume the workflow" in failed.error.message
    steps = deps.store.list_steps(workflow.workflow_id)
    assert [s.status for s in steps] == [StepStatus.SUCCEEDED, StepStatus.FAILED]
    assert steps[1].error == failed.error
    # What a resume needs to go on without paying again is all still there.
    assert steps[1].agent_job_id == "job-2"
    assert steps[1].receipt is not None and steps[1].receipt.txn_ids == paid_txids(workflow.workflow_id)
    assert steps[1].task_token is None
    assert sorted(p.txid for p in deps.store.payments_for_step(workflow.workflow_id, 2)) == sorted(
        paid_txids(workflow.workflow_id)
    )
    assert steps[0].output == {"condition": "cold"}


@pytest.mark.parametrize(
    "status, detail, code, words",
    [
        ("TIMED_OUT", {}, "ExecutionTimedOut", "ran out of time"),
        (
            "FAILED",
            {"error": "Lambda.Unknown", "cause": "The halt task could not run"},
            "ExecutionFailed",
            "(Lambda.Unknown: The halt task could not run)",
        ),
    ],
)
def test_timed_out_and_failed_executions_are_named_in_the_error(
    deps: Dependencies, status: str, detail: dict[str, Any], code: str, words: str
) -> None:
    workflow = running_at_step_two(deps.store, StepStatus.AWAITING_PAYMENT)
    outcome = reconcile_execution(
        deps, ExecutionEnded.from_event(status_change_event(workflow.workflow_id, 1, status, **detail))
    )
    assert outcome.action == "failed"
    failed = deps.store.get_workflow(workflow.workflow_id)
    assert failed is not None and failed.error is not None
    assert failed.error.code == code
    assert words in failed.error.message
    assert deps.store.list_steps(workflow.workflow_id)[1].status == StepStatus.FAILED


def test_workflow_is_found_by_the_execution_name_when_the_input_is_left_out(deps: Dependencies) -> None:
    workflow = running_at_step_two(deps.store, StepStatus.RUNNING, attempt=3)
    ended = ExecutionEnded.from_event(
        status_change_event(workflow.workflow_id, 3, "ABORTED", with_input=False)
    )
    assert (ended.workflow_id, ended.attempt) == (workflow.workflow_id, 3)
    assert reconcile_execution(deps, ended).action == "failed"


def test_an_older_attempt_ending_leaves_the_resumed_workflow_alone(deps: Dependencies) -> None:
    workflow = running_at_step_two(deps.store, StepStatus.RUNNING, attempt=2)
    outcome = reconcile_execution(
        deps, ExecutionEnded.from_event(status_change_event(workflow.workflow_id, 1, "ABORTED"))
    )
    assert outcome.action == "unchanged"
    assert "attempt 2" in outcome.detail
    current = deps.store.get_workflow(workflow.workflow_id)
    assert current is not None and current.status == WorkflowStatus.RUNNING
    assert deps.store.list_steps(workflow.workflow_id)[1].status == StepStatus.RUNNING


def test_a_failure_the_halt_task_recorded_is_not_overwritten(deps: Dependencies) -> None:
    workflow = running_at_step_two(deps.store, StepStatus.RUNNING)
    recorded = ErrorInfo(code="AgentJobFailed", message="The agent reported the job as failed.")
    deps.store.update_workflow(
        workflow.workflow_id,
        expected={WorkflowStatus.RUNNING},
        changes={"status": WorkflowStatus.FAILED, "error": recorded},
    )
    outcome = reconcile_execution(
        deps,
        ExecutionEnded.from_event(
            status_change_event(workflow.workflow_id, 1, "FAILED", error="WorkflowFailed")
        ),
    )
    assert outcome.action == "unchanged"
    current = deps.store.get_workflow(workflow.workflow_id)
    assert current is not None and current.error == recorded


def test_a_duplicate_event_changes_nothing_and_counts_one_failure(
    deps: Dependencies, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    deps.metrics = EmfMetrics()  # the lines CloudWatch reads, not the fakes' record of them
    workflow = running_at_step_two(deps.store, StepStatus.RUNNING)
    event = status_change_event(workflow.workflow_id, 1, "ABORTED")
    capsys.readouterr()

    first = reconcile_execution(deps, ExecutionEnded.from_event(event))
    second = reconcile_execution(deps, ExecutionEnded.from_event(event))

    assert (first.action, second.action) == ("failed", "unchanged")
    failures = [doc for doc in emf_lines(capsys.readouterr().out) if "WorkflowsFailed" in doc]
    assert len(failures) == 1
    assert failures[0]["reason"] == "ExecutionStopped"
    assert failures[0]["WorkflowsFailed"] == [1.0]
    assert failures[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "AgentOrchestrator"
    assert ["service", "reason"] in failures[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


def test_succeeded_executions_and_unknown_workflows_are_ignored(deps: Dependencies) -> None:
    workflow = running_at_step_two(deps.store, StepStatus.RUNNING)
    succeeded = reconcile_execution(
        deps, ExecutionEnded.from_event(status_change_event(workflow.workflow_id, 1, "SUCCEEDED"))
    )
    assert succeeded.action == "unchanged"
    unknown = reconcile_execution(
        deps, ExecutionEnded.from_event(status_change_event(str(uuid.uuid4()), 1, "ABORTED"))
    )
    assert (unknown.action, unknown.detail) == ("unchanged", "There is no such workflow.")
    current = deps.store.get_workflow(workflow.workflow_id)
    assert current is not None and current.status == WorkflowStatus.RUNNING


def test_an_event_of_another_kind_is_refused() -> None:
    with pytest.raises(BadRequest, match="Step Functions Execution Status Change"):
        ExecutionEnded.from_event({"detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}})
    with pytest.raises(BadRequest):
        ExecutionEnded.from_event({"workflow_id": "x"})


def test_orphans_of_a_restart_are_failed_with_execution_lost(deps: Dependencies) -> None:
    running = running_at_step_two(deps.store, StepStatus.PAYMENT_SUBMITTED)
    done = running_at_step_two(deps.store, StepStatus.RUNNING)
    deps.store.update_workflow(
        done.workflow_id, expected={WorkflowStatus.RUNNING}, changes={"status": WorkflowStatus.CANCELLED}
    )
    assert fail_orphaned_workflows(deps, "The local stack restarted.") == [running.workflow_id]
    failed = deps.store.get_workflow(running.workflow_id)
    assert failed is not None and failed.error == ErrorInfo(
        code="ExecutionLost", message="The local stack restarted."
    )
    assert deps.store.list_steps(running.workflow_id)[1].status == StepStatus.FAILED
    assert (
        deps.store.list_steps(done.workflow_id)[1].status == StepStatus.RUNNING
    )  # a cancelled workflow is not touched


def test_overdue_deadlines_follow_the_step_status(deps: Dependencies) -> None:
    from orchestrator.services.reconcile import overdue_at

    poll_deadline = datetime(2030, 1, 1, 12, 0, tzinfo=utcnow().tzinfo)
    workflow = running_at_step_two(deps.store, StepStatus.RUNNING, poll_deadline=poll_deadline)
    step = deps.store.list_steps(workflow.workflow_id)[1]
    assert overdue_at(deps, workflow, step) == poll_deadline + timedelta(seconds=60)
    awaiting = step.model_copy(update={"status": StepStatus.AWAITING_PAYMENT})
    assert awaiting.started_at is not None
    assert overdue_at(deps, workflow, awaiting) == awaiting.started_at + timedelta(seconds=600 + 60)
    submitted = step.model_copy(update={"status": StepStatus.PAYMENT_SUBMITTED})
    assert overdue_at(deps, workflow, submitted) == submitted.updated_at + timedelta(seconds=12 + 60)
    assert overdue_at(deps, workflow, None) == workflow.updated_at + timedelta(seconds=60)
