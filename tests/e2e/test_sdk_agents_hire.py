"""The two agents built with the marketplace's real SDK (orca-agent-sdk, unmodified, in .venv-agents)
hired through the orchestrator, from a catalog of marketplace records: by `orch demo --catalog`, and
by `orch up --catalog` driven through its HTTP API and paid with a dev wallet.

The agents need the dev ledger's URLs before they start, so each test picks free ports, starts the
agents with them and hands the same ports to `orch`."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.demo import WorkflowDriver
from devstack.sdk_agents import SDK_AGENTS, SdkAgentProcess
from tests.ledger_watch import TransactionWatch
from tests.sdk_stack import (
    NEEDS_SDK_AGENTS,
    ORCH,
    TWO_STEP_MESSAGE,
    LedgerPorts,
    OrchUp,
    running_agents,
    running_orch_up,
    write_catalog,
)

pytestmark = [pytest.mark.e2e, NEEDS_SDK_AGENTS]

SUMMARIZER, WORD_STATS = SDK_AGENTS


@dataclass
class Setup:
    ledger: LedgerPorts
    catalog: Path
    agents: dict[str, SdkAgentProcess]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    ledger = LedgerPorts()
    agents = {spec.slug: ledger.agent(spec, tmp_path) for spec in SDK_AGENTS}
    with running_agents(agents.values()):
        yield Setup(ledger, write_catalog(tmp_path / "catalog.json", agents.values()), agents)


def watch_agents(ledger: LedgerPorts) -> TransactionWatch:
    """`orch demo`'s ledger lives and dies with its process: every transaction to the agents seen
    while it runs, by agent slug."""
    return TransactionWatch(
        lambda: {spec.slug: ledger.payments_to(spec) + ledger.calls_to(spec) for spec in SDK_AGENTS}
    )


def assert_paid_once_each(found: dict[str, list[dict[str, Any]]], payer: str) -> None:
    """`found`: the agent's transactions on the dev indexer, by slug: one payment of its price to its
    receiver and one call of its app, in one group, from the payer."""
    for spec in SDK_AGENTS:
        txns = found[spec.slug]
        payments = [t for t in txns if t["tx-type"] == "pay"]
        calls = [t for t in txns if t["tx-type"] == "appl"]
        assert len(payments) == 1, f"{spec.name}: {len(payments)} payments on the dev indexer"
        assert len(calls) == 1, f"{spec.name}: {len(calls)} app calls on the dev indexer"
        (payment,), (call,) = payments, calls
        assert payment["payment-transaction"]["receiver"] == spec.agent_address
        assert payment["payment-transaction"]["amount"] == spec.price_microalgo
        assert call["application-transaction"]["application-id"] == spec.app_id
        assert payment["sender"] == call["sender"] == payer
        assert payment["group"] == call["group"]


def assert_the_workflow_chained_the_agents(
    setup: Setup, steps: list[dict[str, Any]], final_output: Any
) -> None:
    assert [s["agent_id"] for s in steps] == [SUMMARIZER.id, WORD_STATS.id]
    assert all(s["status"] == "succeeded" for s in steps), steps
    first, second = (str(s["output"]) for s in steps)
    assert first.startswith("Summary: ") and second.startswith("Sentiment: ")
    assert final_output == steps[1]["output"]
    # What each SDK recorded: one job each (start_job never re-sent), one payment accepted each,
    # and the second agent's job input holds the first one's output.
    summarizer, word_stats = (setup.agents[spec.slug] for spec in SDK_AGENTS)
    (summarized,) = summarizer.jobs()
    (analysed,) = word_stats.jobs()
    assert summarized.status == analysed.status == "succeeded"
    assert first in analysed.job_input
    assert len(summarizer.access_tokens()) == len(word_stats.access_tokens()) == 1


def test_orch_demo_hires_the_sdk_agents_from_a_marketplace_catalog(setup: Setup) -> None:
    with watch_agents(setup.ledger) as watch:
        started = time.monotonic()
        run = subprocess.run(
            [
                str(ORCH),
                "demo",
                "--json",
                "--catalog",
                str(setup.catalog),
                "--message",
                TWO_STEP_MESSAGE,
                *setup.ledger.orch_options(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        elapsed = time.monotonic() - started
    assert run.stdout.strip(), run.stderr[-4000:]
    result = json.loads(run.stdout)
    print(f"\norch demo with SDK agents: {elapsed:.1f}s in all, workflow {result.get('elapsed_seconds')}s")
    assert run.returncode == 0 and result["status"] == "completed", json.dumps(result, indent=2)
    assert_the_workflow_chained_the_agents(setup, result["steps"], result["final_output"])
    for step in result["steps"]:
        assert len(step["txn_ids"]) == 2 and step["confirmed_round"] > 0
    assert result["total_cost_microalgo"] == SUMMARIZER.price_microalgo + WORD_STATS.price_microalgo
    assert_paid_once_each(
        {spec.slug: watch.found(spec.slug) for spec in SDK_AGENTS},
        setup.ledger.orch_wallet().address,
    )


@pytest.fixture
def orch_up(setup: Setup, tmp_path: Path) -> Iterator[OrchUp]:
    with running_orch_up(tmp_path, setup.catalog, setup.ledger) as orch:
        yield orch


def test_orch_up_api_hires_the_sdk_agents(setup: Setup, orch_up: OrchUp) -> None:
    wallet = setup.ledger.orch_wallet()
    driver = WorkflowDriver(orch_up.api_url, wallet, token=orch_up.token(), poll_seconds=0.1)
    try:
        result = driver.run(TWO_STEP_MESSAGE, timeout_seconds=60)
        print(f"\norch up + API with SDK agents: workflow {result.elapsed_seconds}s")
        assert result.status == "completed", result.model_dump_json(indent=2)
        workflow = driver.call("GET", f"/api/workflows/{result.workflow_id}")
    finally:
        driver.close()
    steps = workflow["steps"]
    assert_the_workflow_chained_the_agents(setup, steps, workflow["final_output"])
    assert str(steps[0]["output"]) in str(steps[1]["resolved_input"])
    # Each SDK agent pushed to orch up twice (payment verified, job completed), with its token: taken.
    pushes: list[str] = []
    deadline = time.monotonic() + 10
    while len(pushes) < 4 and time.monotonic() < deadline:
        pushes = re.findall(r'"POST /api/agent/access HTTP/1\.1" (\d+)', orch_up.log_tail(10**6))
        time.sleep(0.1)
    assert pushes == ["200"] * 4, orch_up.log_tail()
    setup.ledger.settle()  # the indexer caught up with algod, and a lag more: a second payment would show
    found = {s.slug: setup.ledger.payments_to(s) + setup.ledger.calls_to(s) for s in SDK_AGENTS}
    assert_paid_once_each(found, wallet.address)
