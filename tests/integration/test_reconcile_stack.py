"""Executions that end outside our tasks, on the local stack: the stack's operations loop does what
EventBridge does in AWS (ended execution → the reconcile function). An operator stops an execution
with moto's StopExecution while the step polls. (The sweep: test_sweep_stack.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from orchestrator.dependencies import get_dependencies

from devstack.agents import AgentBehaviour
from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, StackOverrides, running_harness

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_harness(
        tmp_path_factory.mktemp("stack"),
        execution_watch_seconds=0.2,
        sweep_interval_seconds=None,
        poll_deadline_seconds=2,
        indexer_lag_seconds=0.1,
    ) as harness:
        yield harness


def execution_of(harness: Harness, workflow_id: str) -> dict[str, Any]:
    """The workflow's current execution as Step Functions describes it (start recorded its ARN)."""
    sfn = harness.stack.sfn
    workflow = get_dependencies().store.get_workflow(workflow_id)
    assert sfn is not None and workflow is not None and workflow.execution_arn
    return dict(sfn.client().describe_execution(executionArn=workflow.execution_arn))


def stop_while_polling(
    harness: Harness, overrides: StackOverrides, job_seconds: float
) -> tuple[str, dict[str, Any]]:
    """A paid step whose job runs; an operator stops the execution (moto's StopExecution)."""
    slow = harness.add_agent(
        "symptom-checker", f"slow-{job_seconds}", AgentBehaviour(job_seconds=job_seconds)
    )
    overrides.use(planner=FixedPlanner([(slow, "headache and fever")]))
    workflow_id = harness.create_and_start()
    assert harness.pay_step(workflow_id, 1).status_code == 200
    harness.wait_for_step(workflow_id, 1, "running")
    receipt = harness.workflow(workflow_id)["steps"][0]["receipt"]
    execution = execution_of(harness, workflow_id)
    assert harness.stack.sfn is not None
    harness.stack.sfn.client().stop_execution(
        executionArn=execution["executionArn"], error="Operator", cause="stopped in the console"
    )
    return workflow_id, receipt


def test_stopped_execution_is_reconciled_and_a_resume_completes_without_paying_twice(
    harness: Harness, overrides: StackOverrides
) -> None:
    workflow_id, receipt = stop_while_polling(harness, overrides, job_seconds=1.5)

    # The repair changes the workflow, then its steps: wait for both.
    failed = harness.wait_for(
        workflow_id, lambda w: w["status"] != "running" and w["steps"][0]["status"] != "running", timeout=10
    )
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "ExecutionStopped"
    step = failed["steps"][0]
    assert step["status"] == "failed"
    assert step["error"]["code"] == "ExecutionStopped"
    assert step["receipt"] == receipt
    operations = harness.stack.operations
    assert operations is not None
    arn = execution_of(harness, workflow_id)["executionArn"]
    assert operations.delivered[arn]["action"] == "failed"

    resumed = harness.post("/api/workflows/start", {"workflowId": workflow_id})
    assert resumed.status_code == 202, resumed.text
    assert resumed.json()["attempt"] == 2
    done = harness.wait_until_done(workflow_id, timeout=30)
    assert done["status"] == "completed", done
    # The resumed step went straight to polling the paid job: same receipt, no new payment.
    assert done["steps"][0]["receipt"] == receipt
    assert len(get_dependencies().store.payments_for_step(workflow_id, 1)) == len(receipt["txn_ids"])


def test_an_execution_the_halt_task_already_recorded_is_left_as_it_is(
    harness: Harness, overrides: StackOverrides
) -> None:
    failing = harness.add_agent(
        "movie-recommender",
        "failing-movies",
        AgentBehaviour(free=True, fail_jobs=True, job_seconds=0.1),
        price_microalgo=0,
    )
    overrides.use(planner=FixedPlanner([(failing, "something funny")]))
    workflow_id = harness.create_and_start()
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "failed"
    assert done["error"]["code"] == "AgentJobFailed"

    arn = execution_of(harness, workflow_id)["executionArn"]
    operations = harness.stack.operations
    assert operations is not None
    deadline = time.monotonic() + 10
    while arn not in operations.delivered:
        assert time.monotonic() < deadline, (
            "the FAILED execution was never delivered to the reconcile function"
        )
        time.sleep(0.1)
    assert operations.delivered[arn]["action"] == "unchanged"
    assert harness.workflow(workflow_id)["error"]["code"] == "AgentJobFailed"
