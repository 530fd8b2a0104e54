"""The sweep on the local stack, when the execution status event never arrives: no ended execution is
delivered to the reconcile function here (as if EventBridge lost the event), and the sweep function
runs by hand, through the stack's operations loop, as Scheduler would run it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from orchestrator.dependencies import get_dependencies

from devstack.agents import AgentBehaviour
from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, StackOverrides, running_harness

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_harness(
        tmp_path_factory.mktemp("stack"),
        execution_watch_seconds=None,  # no status events at all
        sweep_interval_seconds=None,  # the test runs the sweep
        poll_deadline_seconds=2,
        indexer_lag_seconds=0.1,
        extra_env={"SWEEP_MARGIN_SECONDS": "0"},
    ) as harness:
        yield harness


def test_the_sweep_repairs_a_stopped_execution_and_a_resume_completes_without_paying_twice(
    harness: Harness,
    overrides: StackOverrides,
) -> None:
    slow = harness.add_agent("symptom-checker", "slow-symptoms", AgentBehaviour(job_seconds=3.0))
    overrides.use(planner=FixedPlanner([(slow, "headache and fever")]))
    workflow_id = harness.create_and_start()
    assert harness.pay_step(workflow_id, 1).status_code == 200
    harness.wait_for_step(workflow_id, 1, "running")
    receipt = harness.workflow(workflow_id)["steps"][0]["receipt"]
    sfn = harness.stack.sfn
    workflow = get_dependencies().store.get_workflow(workflow_id)
    assert sfn is not None and workflow is not None and workflow.execution_arn
    execution_arn = workflow.execution_arn
    sfn.client().stop_execution(executionArn=execution_arn, error="Operator", cause="stopped in the console")

    operations = harness.stack.operations
    assert operations is not None
    first = operations.run_sweep()
    # Not overdue yet (POLL_DEADLINE_SECONDS=2 after the first poll, SWEEP_MARGIN_SECONDS=0).
    assert first["repaired"] == []
    assert harness.workflow(workflow_id)["status"] == "running"

    deadline = time.monotonic() + 10
    while True:
        answer = operations.run_sweep()
        repaired = [r for r in answer["repaired"] if r["workflow_id"] == workflow_id]
        if repaired:
            break
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)
    assert repaired[0]["execution_status"] == "ABORTED"
    assert repaired[0]["step_status"] == "running"
    failed = harness.workflow(workflow_id)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "ExecutionStopped"
    assert failed["steps"][0]["status"] == "failed"
    assert failed["steps"][0]["receipt"] == receipt

    # The repaired workflow resumes where it stopped: the paid job is polled again, nothing is paid twice.
    assert harness.post("/api/workflows/start", {"workflowId": workflow_id}).status_code == 202
    done = harness.wait_until_done(workflow_id, timeout=20)
    assert done["status"] == "completed", done
    assert done["steps"][0]["receipt"] == receipt
    assert len(get_dependencies().store.payments_for_step(workflow_id, 1)) == len(receipt["txn_ids"])
