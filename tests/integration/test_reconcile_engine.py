"""The sweep (orchestrator.services.reconcile.sweep_stuck_workflows) on a SQLite store, asking moto's
Step Functions (started as the local stack starts it) whether the execution of a workflow stuck past
its deadlines still runs. (Moved from tests/unit/test_reconcile.py: moto is a server of its own;
the same use case on a fake engine: tests/unit/services/test_sweep.py.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from orchestrator.dependencies import Dependencies
from orchestrator.engine import StepFunctionsEngine
from orchestrator.models import StepStatus, WorkflowStatus, utcnow
from orchestrator.services.reconcile import sweep_stuck_workflows

from devstack.sfn import LocalStepFunctions
from devstack.template import LOCAL_ACCOUNT, LOCAL_REGION, load_template
from tests.builders import REPAIR_SETTINGS, running_at_step_two, world

pytestmark = pytest.mark.integration


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Dependencies]:
    fakes = world(tmp_path, **REPAIR_SETTINGS)
    yield fakes.deps
    fakes.close()


def later(seconds: float) -> Any:
    """A clock `seconds` ahead of now (rows get real `updated_at` stamps when they change)."""
    return lambda: utcnow() + timedelta(seconds=seconds)


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
    workflow = running_at_step_two(deps.store, StepStatus.AWAITING_PAYMENT)
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
    workflow = running_at_step_two(deps.store, StepStatus.AWAITING_PAYMENT)
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
    workflow = running_at_step_two(deps.store, StepStatus.RUNNING, poll_deadline=utcnow())
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
    workflow = running_at_step_two(deps.store, StepStatus.RUNNING, poll_deadline=utcnow())
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
    submitted = running_at_step_two(deps.store, StepStatus.PAYMENT_SUBMITTED, execution_arn=gone)
    between_steps = running_at_step_two(deps.store, StepStatus.PENDING)  # no execution arn was ever recorded

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
    workflow = running_at_step_two(
        deps.store, StepStatus.RUNNING, poll_deadline=utcnow(), execution_arn="not-an-arn"
    )

    outcome = sweep_stuck_workflows(sweeping_deps(deps, sfn, 60 + 5))

    assert outcome.unreachable == [workflow.workflow_id]
    assert outcome.repaired == []
    current = deps.store.get_workflow(workflow.workflow_id)
    assert current is not None and current.status == WorkflowStatus.RUNNING
