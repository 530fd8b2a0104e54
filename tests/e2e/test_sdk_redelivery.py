"""A paid job that an SDK agent (orca-agent-sdk, unmodified) reports `failed` is handed the same
payment again, once, for the same job: the SDK runs the job again on a repeated submit. It is never
paid again without the person's consent.

Two agents of `devstack/sdk_agents/run_agent.py`, each alone in the catalog of an `orch up`
subprocess (one-step plans by the offline planner), paid with a dev wallet:

- `flaky` raises on the first run of an input and succeeds on the next: the re-delivery makes the
  workflow complete, with one payment on the dev ledger and two runs (two access tokens) of one
  job at the agent;
- `always-fail` raises every time: after the one re-delivery the step fails with `AgentJobFailed`
  and keeps its receipt; resuming without `repay_steps` is refused (409 `RepayConsentRequired`),
  and with `repay_steps: [1]` it offers a new job to pay. Still one payment until then.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.sdk_agents import SdkAgentProcess, SdkAgentSpec
from devstack.wallet import DevWallet, SentPayment
from tests.sdk_stack import (
    ECHO_MESSAGE,
    NEEDS_SDK_AGENTS,
    TERMINAL,
    LedgerPorts,
    OrchUpApi,
    assert_one_job_paid_twice,
    assert_paid_once,
    assert_receipt,
    create_and_start,
    echo_agent,
    offers_step_1,
    running_agents,
    running_orch_up,
    shown,
    submit_payment,
    write_catalog,
)

pytestmark = [pytest.mark.e2e, NEEDS_SDK_AGENTS]

ECHOED = "Echo (run 2): Hello there."  # the example output of both
FLAKY = echo_agent("sdk-flaky-echo", "flaky", app_id=1103, price_microalgo=120_000, example_output=ECHOED)
FAILING = echo_agent(
    "sdk-failing-echo", "always-fail", app_id=1104, price_microalgo=120_000, example_output=ECHOED
)


@dataclass
class Setup:
    agent: SdkAgentProcess
    api: OrchUpApi
    wallet: DevWallet
    ledger: LedgerPorts

    @property
    def spec(self) -> SdkAgentSpec:
        return self.agent.spec


@pytest.fixture
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    spec: SdkAgentSpec = request.param
    ledger = LedgerPorts()
    agent = ledger.agent(spec, tmp_path)
    with running_agents([agent]):
        catalog = write_catalog(tmp_path / "catalog.json", [agent])
        with running_orch_up(tmp_path, catalog, ledger) as orch:
            api = orch.api()
            try:
                yield Setup(agent, api, ledger.orch_wallet(), ledger)
            finally:
                api.close()


def start_and_pay_step_1(setup: Setup) -> tuple[str, dict[str, Any], SentPayment]:
    """Plan (one step: the only agent), approve, start, pay step 1 and submit it: (workflow id, the
    step as offered, what was paid)."""
    workflow_id = create_and_start(setup.api, ECHO_MESSAGE, setup.wallet.address, [setup.spec.id])
    offered = setup.api.wait_for(
        workflow_id,
        offers_step_1,
        "step 1 to await payment",
    )["steps"][0]
    sent = setup.wallet.pay(offered["unsigned_group_txns"])
    submitted = submit_payment(setup.api, workflow_id, 1, sent.txn_ids)
    assert submitted.status_code == 200, submitted.text
    return workflow_id, offered, sent


def assert_paid_once_on_the_ledger(setup: Setup, sent: SentPayment) -> None:
    """One payment from the wallet to the agent on the dev indexer, once it has caught up: `sent`."""
    setup.ledger.settle()
    assert_paid_once(setup.ledger.payments_to(setup.spec, setup.wallet.address), setup.spec, sent.txn_ids)


@pytest.mark.parametrize("setup", [FLAKY], indirect=True, ids=["flaky"])
def test_a_paid_job_that_fails_once_is_delivered_again_not_paid_again(setup: Setup) -> None:
    started = time.monotonic()
    workflow_id, _, sent = start_and_pay_step_1(setup)
    done = setup.api.wait_for(workflow_id, lambda w: w["status"] in TERMINAL, "the workflow to end")
    elapsed = time.monotonic() - started
    print(f"\nflaky SDK job re-delivered: workflow done {elapsed:.1f}s after create")
    assert done["status"] == "completed", json.dumps(shown(done), indent=2)
    (step,) = done["steps"]
    assert step["status"] == "succeeded" and step["error"] is None
    job_input = assert_one_job_paid_twice(setup.agent, sent, "succeeded").job_input
    assert step["output"] == f"Echo (run 2): {' '.join(job_input.split())}"
    assert done["final_output"] == step["output"]
    assert_receipt(step["receipt"], setup.spec, sent)
    assert step["earlier_receipts"] == []
    assert_paid_once_on_the_ledger(setup, sent)


def fail_for_good(setup: Setup) -> tuple[str, dict[str, Any], SentPayment]:
    """Run the always-failing agent's workflow until it fails: (workflow id, the failed workflow, the
    payment), after checking the step's error, receipt, the agent's runs and the one payment."""
    workflow_id, _, sent = start_and_pay_step_1(setup)
    failed = setup.api.wait_for(workflow_id, lambda w: w["status"] in TERMINAL, "the workflow to end")
    assert failed["status"] == "failed", json.dumps(shown(failed), indent=2)
    (step,) = failed["steps"]
    assert step["status"] == "failed", step
    assert step["error"]["code"] == "AgentJobFailed", step["error"]
    assert "repay_steps" in step["error"]["message"], step["error"]
    assert failed["error"]["code"] == "AgentJobFailed", failed["error"]
    assert_receipt(step["receipt"], setup.spec, sent)
    assert_one_job_paid_twice(setup.agent, sent, "failed")  # run, re-delivered once, never a third time
    assert_paid_once_on_the_ledger(setup, sent)
    return workflow_id, failed, sent


@pytest.mark.parametrize("setup", [FAILING], indirect=True, ids=["always-fail"])
def test_a_paid_job_that_always_fails_ends_the_step_and_resuming_needs_consent(setup: Setup) -> None:
    started = time.monotonic()
    workflow_id, _, sent = fail_for_good(setup)
    failed_at = time.monotonic()
    for body in ({"workflow_id": workflow_id}, {"workflow_id": workflow_id, "repay_steps": []}):
        refused = setup.api.post("/api/workflows/start", body)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "RepayConsentRequired", error
        assert error.get("details") == {"repay_steps": [1]}, error
    print(f"\nalways-failing SDK job: step failed {failed_at - started:.1f}s after create")
    # Refused means nothing was done: still failed, still one job, one payment, no new offer.
    after = setup.api.workflow(workflow_id)
    assert after["status"] == "failed" and after["attempt"] == 1, json.dumps(shown(after), indent=2)
    assert after["steps"][0]["status"] == "failed"
    assert_receipt(after["steps"][0]["receipt"], setup.spec, sent)
    assert len(setup.agent.jobs()) == 1
    assert_paid_once_on_the_ledger(setup, sent)


@pytest.mark.parametrize("setup", [FAILING], indirect=True, ids=["always-fail"])
def test_with_consent_the_resume_offers_a_new_job_and_keeps_the_earlier_receipt(setup: Setup) -> None:
    workflow_id, failed, sent = fail_for_good(setup)
    resumed = setup.api.post("/api/workflows/start", {"workflow_id": workflow_id, "repay_steps": [1]})
    assert resumed.status_code == 202, resumed.text
    offered = setup.api.wait_for(
        workflow_id,
        offers_step_1,
        "step 1 to offer a new job",
    )["steps"][0]
    assert not set(offered["txn_ids"]) & set(sent.txn_ids), "the new job's group reuses the paid one"
    assert offered["job_id"] != failed["steps"][0]["job_id"]
    assert offered["receipt"] is None
    (earlier,) = offered["earlier_receipts"]
    assert_receipt(earlier, setup.spec, sent)
    assert len(setup.agent.jobs()) == 2  # a new job at the agent, not paid (nobody signed it)
    assert_paid_once_on_the_ledger(setup, sent)
