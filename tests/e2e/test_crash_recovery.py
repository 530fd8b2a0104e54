"""`kill -9` of `orch up` between a payment and its submission: the payment confirmed on chain is
never lost, and never asked for twice.

`orch up` runs as a subprocess on fixed ports with its own data dir (where the dev ledger, the
SQLite store and the auth key persist); the two SDK agents (orca-agent-sdk, unmodified, in
`.venv-agents`) run in their own processes and keep their jobs across the crash, as a marketplace
agent would. Step 1's group is signed and confirmed, `orch up` is killed before anyone submits it,
and started again on the same data dir and ports. It fails the orphaned workflow at start
(reconcile); then either

- (a) the late submit arrives: it is answered 200 with the step's receipt, and the resume delivers
  that payment to step 1's job; or
- (b) nobody submits: the resume finds step 1's payment on chain and delivers it.

Either way the workflow completes and every step is paid exactly once on the dev ledger (the dev
indexer's payments from the wallet to each agent) and in the workflow's receipts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.ledger.persistence import load_snapshot
from devstack.sdk_agents import SDK_AGENTS, SdkAgentProcess
from devstack.wallet import DevWallet, SentPayment
from tests.sdk_stack import (
    NEEDS_SDK_AGENTS,
    TERMINAL,
    TWO_STEP_MESSAGE,
    LedgerPorts,
    OrchUp,
    OrchUpApi,
    assert_paid_once,
    assert_receipt,
    create_and_start,
    offers_step_1,
    running_agents,
    running_orch_up,
    shown,
    submit_payment,
    write_catalog,
)

pytestmark = [pytest.mark.e2e, NEEDS_SDK_AGENTS]

SUMMARIZER, WORD_STATS = SDK_AGENTS


@dataclass
class Setup:
    orch: OrchUp
    agents: dict[str, SdkAgentProcess]
    wallet: DevWallet


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    ledger = LedgerPorts()
    agents = {spec.slug: ledger.agent(spec, tmp_path) for spec in SDK_AGENTS}
    with running_agents(agents.values()):
        catalog = write_catalog(tmp_path / "catalog.json", agents.values())
        with running_orch_up(tmp_path, catalog, ledger) as orch:
            yield Setup(orch, agents, ledger.orch_wallet())


def settled_payments(setup: Setup) -> dict[str, list[dict[str, Any]]]:
    """Each agent's payments from the wallet on the dev indexer, once the indexer has caught up with
    algod, and again a lag later to see nothing more arrive."""
    ledger = setup.orch.ledger
    ledger.settle(timeout=20)
    return {spec.slug: ledger.payments_to(spec, setup.wallet.address) for spec in SDK_AGENTS}


def wait_until_saved(setup: Setup, sent: SentPayment) -> None:
    """The dev ledger saves a block's snapshot just after confirming it: wait until the round that
    confirmed the group is on disk, so that the kill cannot outrun the save."""
    path = setup.orch.data_dir / "ledger.json"
    deadline = time.monotonic() + 10
    while True:
        snapshot = load_snapshot(path)
        if snapshot is not None and snapshot.round >= sent.confirmed_round:
            return
        assert time.monotonic() < deadline, f"round {sent.confirmed_round} was not saved to {path}"
        time.sleep(0.05)


def pay_until_done(
    api: OrchUpApi, wallet: DevWallet, workflow_id: str, paid: dict[int, SentPayment]
) -> dict[str, Any]:
    """Pay each step that asks for it, once (a step paid already must never ask again)."""
    deadline = time.monotonic() + 90
    while True:
        workflow = api.workflow(workflow_id)
        if workflow["status"] in TERMINAL:
            return workflow
        for step in workflow["steps"]:
            number = step["step_number"]
            if step["status"] != "awaiting_payment" or not step["unsigned_group_txns"]:
                continue
            assert number not in paid, (
                f"step {number} asks to be paid again after {paid[number].txn_ids} confirmed:\n"
                + json.dumps(shown(workflow), indent=2)
            )
            sent = wallet.pay(step["unsigned_group_txns"])
            paid[number] = sent
            answer = submit_payment(api, workflow_id, number, sent.txn_ids)
            assert answer.status_code == 200, answer.text
        assert time.monotonic() < deadline, (
            f"the workflow did not finish; it is {workflow['status']}:\n"
            + json.dumps(shown(workflow), indent=2)
        )
        time.sleep(0.1)


@pytest.mark.parametrize("after_restart", ["late_submit", "resume_only"])
def test_a_payment_confirmed_before_a_kill_9_is_delivered_after_the_restart(
    setup: Setup, after_restart: str
) -> None:
    started = time.monotonic()
    orch, wallet = setup.orch, setup.wallet
    api = orch.api()
    try:
        workflow_id = create_and_start(api, TWO_STEP_MESSAGE, wallet.address, [SUMMARIZER.id, WORD_STATS.id])
        waiting = api.wait_for(
            workflow_id,
            offers_step_1,
            "step 1 to await payment",
        )
        offered = waiting["steps"][0]
        first = wallet.pay(offered["unsigned_group_txns"])
        assert sorted(first.txn_ids) == sorted(offered["txn_ids"])
        wait_until_saved(setup, first)
        orch.kill()  # before anyone tells the orchestrator about the payment
        crashed_at = time.monotonic()

        orch.start()
        restarted = api.workflow(workflow_id)
        # The restart fails the workflow whose execution died with the process (resumable).
        assert restarted["status"] == "failed", json.dumps(shown(restarted), indent=2)
        assert restarted["error"]["code"] == "ExecutionLost", restarted["error"]
        step1 = restarted["steps"][0]
        assert step1["status"] == "failed" and step1["error"]["code"] == "ExecutionLost", step1
        assert step1["receipt"] is None, step1  # nobody told it yet: the resume finds it (or the submit)
        assert restarted["steps"][1]["status"] == "pending"
        paid = {1: first}

        if after_restart == "late_submit":
            late = submit_payment(api, workflow_id, 1, first.txn_ids)
            assert late.status_code == 200, late.text
            assert_receipt(late.json()["receipt"], SUMMARIZER, first, late.text)
            assert api.workflow(workflow_id)["status"] == "failed"  # recorded; the resume delivers it

        resumed = api.post("/api/workflows/start", {"workflow_id": workflow_id})
        assert resumed.status_code == 202, resumed.text
        done = pay_until_done(api, wallet, workflow_id, paid)
        finished_at = time.monotonic()
    finally:
        api.close()
    print(
        f"\ncrash recovery ({after_restart}): {finished_at - started:.1f}s in all, "
        f"{finished_at - crashed_at:.1f}s from the kill to the completed workflow"
    )
    assert done["status"] == "completed", json.dumps(shown(done), indent=2) + "\n" + orch.log_tail()
    steps = done["steps"]
    assert [s["status"] for s in steps] == ["succeeded", "succeeded"]
    assert str(steps[0]["output"]).startswith("Summary: ")
    assert str(steps[1]["output"]).startswith("Sentiment: ")
    assert sorted(paid) == [1, 2]

    # The workflow's receipts: one per step, for the group paid, none kept for an earlier job.
    for step, spec in zip(steps, SDK_AGENTS, strict=True):
        assert_receipt(step["receipt"], spec, paid[step["step_number"]], step)
        assert step["earlier_receipts"] == []

    # The dev ledger: exactly one payment from the wallet to each agent, the one in its receipt.
    found = settled_payments(setup)
    for step, spec in zip(steps, SDK_AGENTS, strict=True):
        assert_paid_once(found[spec.slug], spec, step["receipt"]["txn_ids"])

    # What the agents recorded: step 1's job is the one offered before the crash (no second job was
    # started), paid once and run once; step 2 one job.
    summarizer, word_stats = (setup.agents[spec.slug] for spec in SDK_AGENTS)
    (summarized,) = summarizer.jobs()
    assert sorted(summarized.txn_ids.split(",")) == sorted(first.txn_ids)
    assert summarized.status == "succeeded"
    (analysed,) = word_stats.jobs()
    assert analysed.status == "succeeded"
    assert len(summarizer.access_tokens()) == len(word_stats.access_tokens()) == 1
