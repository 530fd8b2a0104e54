"""A short PaymentTimeoutSeconds: the StartJob task times out into PaymentTimeout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, running_harness, sample

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    one_step = FixedPlanner([(sample("symptom-checker").id, "headache")])
    with (
        running_harness(tmp_path_factory.mktemp("stack"), payment_timeout_seconds=4) as harness,
        harness.stack.overrides(planner=one_step),
    ):
        yield harness


def test_unpaid_step_times_out_and_the_workflow_can_be_resumed(harness: Harness) -> None:
    workflow_id = harness.create_and_start()
    harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    done = harness.wait_until_done(workflow_id, timeout=15)
    assert done["status"] == "failed"
    assert done["steps"][0]["status"] == "payment_timeout"
    assert done["error"]["code"] == "PaymentTimeout"
    executions = harness.stack.sfn.client().list_executions(  # type: ignore[union-attr]
        stateMachineArn=harness.stack.sfn.state_machine_arn  # type: ignore[union-attr]
    )["executions"]
    mine = [e for e in executions if workflow_id in e["name"]]
    assert [e["status"] for e in mine] == ["FAILED"]

    # Resume offers the same group again (it may still confirm: a second one could be paid too);
    # paying it in time completes the workflow.
    assert harness.post("/api/workflows/start", {"workflowId": workflow_id}).status_code == 202
    step = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    assert step["txn_ids"] == done["steps"][0]["txn_ids"]
    assert harness.pay_step(workflow_id, 1).status_code == 200
    assert harness.wait_until_done(workflow_id)["status"] == "completed"
