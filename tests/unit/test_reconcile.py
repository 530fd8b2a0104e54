"""The repair use cases (orchestrator.services.reconcile) on a SQLite store: reconcile an execution that
ended outside our tasks (the EventBridge event), and sweep workflows stuck past their deadlines whose
execution no longer runs (asking moto's Step Functions, started as the local stack starts it)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from orchestrator.config import Settings
from orchestrator.dependencies import Dependencies
from orchestrator.engine import StepFunctionsEngine
from orchestrator.errors import BadRequest
from orchestrator.models import (
    ErrorInfo,
    PaymentReceipt,
    PaymentRecord,
    PlannedStep,
    StepRecord,
    StepStatus,
    WorkflowPlan,
    WorkflowRecord,
    WorkflowStatus,
    utcnow,
)
from orchestrator.services.reconcile import (
    ExecutionEnded,
    fail_orphaned_workflows,
    reconcile_execution,
    sweep_stuck_workflows,
)
from orchestrator.store.sqlite import SQLiteStore

from devstack.sfn import LocalStepFunctions
from devstack.template import LOCAL_ACCOUNT, LOCAL_REGION, load_template

AGENT = "agent-movies"


def paid_txids(workflow_id: str) -> list[str]:
    """The app call and the payment that paid step 2 (txids are unique across workflows)."""
    return [f"APPCALL-{workflow_id}", f"PAYMENT-{workflow_id}"]


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Dependencies]:
    settings = Settings(
        store_backend="sqlite",
        sqlite_path=str(tmp_path / "orchestrator.sqlite3"),
        payment_timeout_seconds=600,
        poll_deadline_seconds=300,
        sweep_margin_seconds=60,
        submit_payment_retry_seconds=12,
    )
    deps = Dependencies(settings)
    deps.store = SQLiteStore(settings.sqlite_path)
    yield deps
    deps.store.close()  # type: ignore[attr-defined]


def later(seconds: float) -> Any:
    """A clock `seconds` ahead of now (rows get real `updated_at` stamps when they change)."""
    return lambda: utcnow() + timedelta(seconds=seconds)


def running_workflow(
    deps: Dependencies,
    second_step: StepStatus,
    *,
    attempt: int = 1,
    execution_arn: str | None = None,
    **second_step_fields: Any,
) -> WorkflowRecord:
    """Two steps: the first succeeded (paid), the second in `second_step` with a paid job."""
    workflow_id = str(uuid.uuid4())
    workflow = WorkflowRecord(
        workflow_id=workflow_id,
        user_id="user-1",
        wallet_address="WALLET",
        user_message="headache and a movie",
        plan=WorkflowPlan(
            steps=[
                PlannedStep(step_number=1, agent_id=AGENT, input_data="headache"),
                PlannedStep(step_number=2, agent_id=AGENT, input_data="{{step_1_output}}"),
            ]
        ),
        status=WorkflowStatus.RUNNING,
        attempt=attempt,
        current_step=2,
        execution_arn=execution_arn,
    )
    receipt = PaymentReceipt(
        txn_ids=paid_txids(workflow_id), confirmed_round=42, amount_microalgo=500_000, receiver="AGENT"
    )
    steps = [
        StepRecord(
            id=str(uuid.uuid4()),
            workflow_id=workflow_id,
            step_number=1,
            agent_id=AGENT,
            status=StepStatus.SUCCEEDED,
            output={"condition": "cold"},
            agent_job_id="job-1",
        ),
        StepRecord(
            id=str(uuid.uuid4()),
            workflow_id=workflow_id,
            step_number=2,
            agent_id=AGENT,
            status=second_step,
            agent_job_id="job-2",
            txn_ids=paid_txids(workflow_id),
            receipt=receipt if second_step != StepStatus.AWAITING_PAYMENT else None,
            task_token="token-of-step-2",
            started_at=utcnow(),
            **second_step_fields,
        ),
    ]
    deps.store.create_workflow(workflow, steps)
    if second_step != StepStatus.AWAITING_PAYMENT:
        assert deps.store.record_payments(
            [
                PaymentRecord(
                    txid=txid,
                    workflow_id=workflow_id,
                    step_number=2,
                    agent_id=AGENT,
                    payer_addr="WALLET",
                    payee_addr="AGENT",
                    amount_microalgo=amount,
                    confirmed_round=42,
                )
                for txid, amount in zip(paid_txids(workflow_id), (0, 500_000), strict=True)
            ]
        )
    return workflow


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
    workflow = running_workflow(deps, StepStatus.RUNNING)
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
    deps: Dependencies, status: str, detail: dict[str, str], code: str, words: str
) -> None:
    workflow = running_workflow(deps, StepStatus.AWAITING_PAYMENT)
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
    workflow = running_workflow(deps, StepStatus.RUNNING, attempt=3)
    ended = ExecutionEnded.from_event(
        status_change_event(workflow.workflow_id, 3, "ABORTED", with_input=False)
    )
    assert (ended.workflow_id, ended.attempt) == (workflow.workflow_id, 3)
    assert reconcile_execution(deps, ended).action == "failed"


def test_an_older_attempt_ending_leaves_the_resumed_workflow_alone(deps: Dependencies) -> None:
    workflow = running_workflow(deps, StepStatus.RUNNING, attempt=2)
    outcome = reconcile_execution(
        deps, ExecutionEnded.from_event(status_change_event(workflow.workflow_id, 1, "ABORTED"))
    )
    assert outcome.action == "unchanged"
    assert "attempt 2" in outcome.detail
    current = deps.store.get_workflow(workflow.workflow_id)
    assert current is not None and current.status == WorkflowStatus.RUNNING
    assert deps.store.list_steps(workflow.workflow_id)[1].status == StepStatus.RUNNING


def test_a_failure_the_halt_task_recorded_is_not_overwritten(deps: Dependencies) -> None:
    workflow = running_workflow(deps, StepStatus.RUNNING)
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
    workflow = running_workflow(deps, StepStatus.RUNNING)
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
    workflow = running_workflow(deps, StepStatus.RUNNING)
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
    running = running_workflow(deps, StepStatus.PAYMENT_SUBMITTED)
    done = running_workflow(deps, StepStatus.RUNNING)
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


# --- sweep (moto's Step Functions) ----------------------------------------------------------------------


@pytest.fixture
def sfn() -> Iterator[LocalStepFunctions]:
    """moto's Step Functions as the local stack starts it; the executions the sweep asks about run
    small state machines of their own (the workflow definition would call Lambda)."""
    local = LocalStepFunctions(load_template())
    local.start()
    yield local
    local.stop()


def start_execution(sfn: LocalStepFunctions, machine: str, states: dict[str, Any], name: str) -> str:
    client = sfn.client()
    definition = json.dumps({"StartAt": "Only", "States": {"Only": states}})
    try:
        arn = client.create_state_machine(
            name=machine, definition=definition, roleArn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/test"
        )["stateMachineArn"]
    except client.exceptions.StateMachineAlreadyExists:
        arn = f"arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:{machine}"
    return str(client.start_execution(stateMachineArn=arn, name=name, input="{}")["executionArn"])


def wait_for_status(sfn: LocalStepFunctions, arn: str, status: str) -> None:
    deadline = time.monotonic() + 5
    while sfn.client().describe_execution(executionArn=arn)["status"] != status:
        assert time.monotonic() < deadline, f"the execution never became {status}"
        time.sleep(0.05)


def running_execution(sfn: LocalStepFunctions, name: str) -> str:
    return start_execution(sfn, "Hold", {"Type": "Wait", "Seconds": 5, "End": True}, name)


def stopped_execution(sfn: LocalStepFunctions, name: str) -> str:
    arn = running_execution(sfn, name)
    sfn.client().stop_execution(executionArn=arn, error="Operator", cause="stopped in the console")
    wait_for_status(sfn, arn, "ABORTED")
    return arn


def failed_execution(sfn: LocalStepFunctions, name: str) -> str:
    arn = start_execution(sfn, "Crash", {"Type": "Fail", "Error": "HaltTaskFailed", "Cause": "broken"}, name)
    wait_for_status(sfn, arn, "FAILED")
    return arn


def sweeping_deps(deps: Dependencies, sfn: LocalStepFunctions, ahead_seconds: float) -> Dependencies:
    deps.engine = StepFunctionsEngine(sfn.state_machine_arn, LOCAL_REGION)
    deps.clock = later(ahead_seconds)
    return deps


def test_sweep_repairs_an_unpaid_step_past_the_payment_timeout_whose_execution_was_stopped(
    deps: Dependencies, sfn: LocalStepFunctions
) -> None:
    workflow = running_workflow(deps, StepStatus.AWAITING_PAYMENT)
    arn = stopped_execution(sfn, f"wf-{workflow.workflow_id}-1")
    deps.store.update_workflow(
        workflow.workflow_id, expected={WorkflowStatus.RUNNING}, changes={"execution_arn": arn}
    )

    outcome = sweep_stuck_workflows(sweeping_deps(deps, sfn, 600 + 60 + 5))

    assert outcome.checked == 1
    assert [(r.workflow_id, r.step_number, r.step_status, r.execution_status) for r in outcome.repaired] == [
        (workflow.workflow_id, 2, StepStatus.AWAITING_PAYMENT, "ABORTED")
    ]
    repaired = deps.store.get_workflow(workflow.workflow_id)
    assert repaired is not None and repaired.status == WorkflowStatus.FAILED
    assert repaired.error is not None and repaired.error.code == "ExecutionStopped"
    assert deps.store.list_steps(workflow.workflow_id)[1].status == StepStatus.FAILED


def test_sweep_waits_for_the_margin_past_the_deadline(deps: Dependencies, sfn: LocalStepFunctions) -> None:
    workflow = running_workflow(deps, StepStatus.AWAITING_PAYMENT)
    arn = stopped_execution(sfn, f"wf-{workflow.workflow_id}-1")
    deps.store.update_workflow(
        workflow.workflow_id, expected={WorkflowStatus.RUNNING}, changes={"execution_arn": arn}
    )

    outcome = sweep_stuck_workflows(sweeping_deps(deps, sfn, 600 + 30))  # past the timeout, within the margin

    assert (outcome.checked, outcome.repaired, outcome.still_running) == (1, [], [])
    current = deps.store.get_workflow(workflow.workflow_id)
    assert current is not None and current.status == WorkflowStatus.RUNNING


def test_sweep_leaves_an_overdue_step_alone_while_its_execution_still_runs(
    deps: Dependencies, sfn: LocalStepFunctions
) -> None:
    workflow = running_workflow(deps, StepStatus.RUNNING, poll_deadline=utcnow())
    arn = running_execution(sfn, f"wf-{workflow.workflow_id}-1")
    deps.store.update_workflow(
        workflow.workflow_id, expected={WorkflowStatus.RUNNING}, changes={"execution_arn": arn}
    )

    outcome = sweep_stuck_workflows(sweeping_deps(deps, sfn, 60 + 5))

    assert outcome.still_running == [workflow.workflow_id]
    assert outcome.repaired == []
    assert deps.store.list_steps(workflow.workflow_id)[1].status == StepStatus.RUNNING


def test_sweep_repairs_a_step_polled_past_its_deadline_whose_execution_failed(
    deps: Dependencies, sfn: LocalStepFunctions
) -> None:
    workflow = running_workflow(deps, StepStatus.RUNNING, poll_deadline=utcnow())
    arn = failed_execution(sfn, f"wf-{workflow.workflow_id}-1")
    deps.store.update_workflow(
        workflow.workflow_id, expected={WorkflowStatus.RUNNING}, changes={"execution_arn": arn}
    )

    outcome = sweep_stuck_workflows(sweeping_deps(deps, sfn, 60 + 5))

    assert [r.execution_status for r in outcome.repaired] == ["FAILED"]
    repaired = deps.store.get_workflow(workflow.workflow_id)
    assert repaired is not None and repaired.error is not None
    assert repaired.error.code == "ExecutionFailed"
    assert "(HaltTaskFailed: broken)" in repaired.error.message
    step = deps.store.list_steps(workflow.workflow_id)[1]
    assert (step.status, step.agent_job_id) == (StepStatus.FAILED, "job-2")


def test_sweep_repairs_a_workflow_whose_execution_is_gone(
    deps: Dependencies, sfn: LocalStepFunctions
) -> None:
    gone = f"arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:execution:WorkflowStateMachine:wf-gone-1"
    submitted = running_workflow(deps, StepStatus.PAYMENT_SUBMITTED, execution_arn=gone)
    between_steps = running_workflow(deps, StepStatus.PENDING)  # no execution arn was ever recorded

    outcome = sweep_stuck_workflows(sweeping_deps(deps, sfn, 60 + 12 + 5))

    repaired = {r.workflow_id: r for r in outcome.repaired}
    assert set(repaired) == {submitted.workflow_id, between_steps.workflow_id}
    assert repaired[submitted.workflow_id].step_status == StepStatus.PAYMENT_SUBMITTED
    assert repaired[between_steps.workflow_id].step_number is None
    for workflow_id in repaired:
        current = deps.store.get_workflow(workflow_id)
        assert current is not None and current.error is not None
        assert current.error.code == "ExecutionLost"
    # The paid step keeps its payments for the resume.
    assert len(deps.store.payments_for_step(submitted.workflow_id, 2)) == 2


def test_sweep_skips_a_workflow_step_functions_cannot_describe(
    deps: Dependencies, sfn: LocalStepFunctions
) -> None:
    workflow = running_workflow(deps, StepStatus.RUNNING, poll_deadline=utcnow(), execution_arn="not-an-arn")

    outcome = sweep_stuck_workflows(sweeping_deps(deps, sfn, 60 + 5))

    assert outcome.unreachable == [workflow.workflow_id]
    assert outcome.repaired == []
    current = deps.store.get_workflow(workflow.workflow_id)
    assert current is not None and current.status == WorkflowStatus.RUNNING


def test_overdue_deadlines_follow_the_step_status(deps: Dependencies) -> None:
    from orchestrator.services.reconcile import overdue_at

    poll_deadline = datetime(2030, 1, 1, 12, 0, tzinfo=utcnow().tzinfo)
    workflow = running_workflow(deps, StepStatus.RUNNING, poll_deadline=poll_deadline)
    step = deps.store.list_steps(workflow.workflow_id)[1]
    assert overdue_at(deps, workflow, step) == poll_deadline + timedelta(seconds=60)
    awaiting = step.model_copy(update={"status": StepStatus.AWAITING_PAYMENT})
    assert awaiting.started_at is not None
    assert overdue_at(deps, workflow, awaiting) == awaiting.started_at + timedelta(seconds=600 + 60)
    submitted = step.model_copy(update={"status": StepStatus.PAYMENT_SUBMITTED})
    assert overdue_at(deps, workflow, submitted) == submitted.updated_at + timedelta(seconds=12 + 60)
    assert overdue_at(deps, workflow, None) == workflow.updated_at + timedelta(seconds=60)
