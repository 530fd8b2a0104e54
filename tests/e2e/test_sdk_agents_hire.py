"""The two agents built with the marketplace's real SDK (orca-agent-sdk, unmodified, in .venv-agents)
hired through the orchestrator, from a catalog of marketplace records: by `orch demo --catalog`, and
by `orch up --catalog` driven through its HTTP API and paid with a dev wallet.

The agents need the dev ledger's URLs before they start, so each test picks free ports, starts the
agents with them and hands the same ports to `orch`."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.demo import WorkflowDriver
from devstack.ledger import dev_accounts
from devstack.sdk_agents import AGENTS_PYTHON, SDK_AGENTS, SdkAgentProcess, SdkAgentSpec
from devstack.wallet import DevWallet

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not AGENTS_PYTHON.exists(),
        reason=f"!!! {AGENTS_PYTHON} is missing: `make sdk-agents` builds it (`make test` does) !!!",
    ),
]

ORCH = Path(sys.executable).parent / "orch"
SUMMARIZER, WORD_STATS = SDK_AGENTS
# The offline planner cuts this into "Summarize …" (the summarizer) and "rate its mood" + "word
# stats" (the word-stats agent, fed the summary).
MESSAGE = "Summarize my morning walk in the park, then rate its mood and word stats"
FAST = ("--block-time", "0.25", "--indexer-lag", "0.5")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Setup:
    algod_port: int
    indexer_port: int
    catalog: Path
    agents: dict[str, SdkAgentProcess]

    @property
    def indexer_url(self) -> str:
        return f"http://127.0.0.1:{self.indexer_port}"

    def ledger_options(self) -> tuple[str, ...]:
        return ("--algod-port", str(self.algod_port), "--indexer-port", str(self.indexer_port), *FAST)

    def jobs(self, spec: SdkAgentSpec) -> list[tuple[str, str]]:
        """(job_input, status) of every job the agent's SDK recorded."""
        with sqlite3.connect(self.agents[spec.slug].db_path) as db:
            return [(row[0], row[1]) for row in db.execute("SELECT job_input, status FROM jobs_local")]

    def access_tokens(self, spec: SdkAgentSpec) -> int:
        """How many payments the agent's SDK accepted (each gets an access token)."""
        with sqlite3.connect(self.agents[spec.slug].db_path) as db:
            return int(db.execute("SELECT count(*) FROM access_tokens").fetchone()[0])


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    algod_port, indexer_port = free_port(), free_port()
    agents = {
        spec.slug: SdkAgentProcess(
            spec,
            f"http://127.0.0.1:{algod_port}",
            f"http://127.0.0.1:{indexer_port}",
            db_path=tmp_path / f"{spec.slug}.sqlite3",
        )
        for spec in SDK_AGENTS
    }
    try:
        for agent in agents.values():
            agent.launch()
        for agent in agents.values():
            agent.wait()
        catalog = tmp_path / "catalog.json"
        catalog.write_text(json.dumps([a.spec.catalog_record(a.base_url) for a in agents.values()], indent=2))
        yield Setup(algod_port, indexer_port, catalog, agents)
    finally:
        for agent in agents.values():
            agent.stop()


def transactions(indexer_url: str, **query: Any) -> list[dict[str, Any]]:
    answer = httpx.get(f"{indexer_url}/v2/transactions", params=query, timeout=5)
    answer.raise_for_status()
    return list(answer.json()["transactions"])


def payments_to(indexer_url: str, spec: SdkAgentSpec) -> list[dict[str, Any]]:
    return transactions(
        indexer_url, **{"address": spec.agent_address, "address-role": "receiver", "tx-type": "pay"}
    )


def calls_to(indexer_url: str, spec: SdkAgentSpec) -> list[dict[str, Any]]:
    return transactions(indexer_url, **{"application-id": spec.app_id})


class IndexerWatch:
    """`orch demo`'s ledger lives and dies with its process: watch its indexer while it runs and keep
    every transaction seen to the agents (by id)."""

    def __init__(self, indexer_url: str) -> None:
        self.indexer_url = indexer_url
        self.seen: dict[str, dict[str, dict[str, Any]]] = {spec.slug: {} for spec in SDK_AGENTS}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> IndexerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            for spec in SDK_AGENTS:
                try:
                    found = payments_to(self.indexer_url, spec) + calls_to(self.indexer_url, spec)
                except httpx.HTTPError:
                    continue  # not up yet, or gone
                self.seen[spec.slug].update({txn["id"]: txn for txn in found})


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
    (summarized,) = setup.jobs(SUMMARIZER)
    (analysed,) = setup.jobs(WORD_STATS)
    assert summarized[1] == analysed[1] == "succeeded"
    assert first in analysed[0]
    assert setup.access_tokens(SUMMARIZER) == setup.access_tokens(WORD_STATS) == 1


def test_orch_demo_hires_the_sdk_agents_from_a_marketplace_catalog(setup: Setup) -> None:
    with IndexerWatch(setup.indexer_url) as watch:
        started = time.monotonic()
        run = subprocess.run(
            [
                str(ORCH),
                "demo",
                "--json",
                "--catalog",
                str(setup.catalog),
                "--message",
                MESSAGE,
                *setup.ledger_options(),
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
        {slug: list(txns.values()) for slug, txns in watch.seen.items()}, dev_accounts(1)[0].address
    )


@pytest.fixture
def orch_up(setup: Setup, tmp_path: Path) -> Iterator[str]:
    api_port = free_port()
    data_dir = tmp_path / "orch-up"
    log = (tmp_path / "orch-up.log").open("w")
    process = subprocess.Popen(
        [
            str(ORCH),
            "up",
            *("--api-port", str(api_port), "--lambda-port", str(free_port())),
            *("--data-dir", str(data_dir), "--catalog", str(setup.catalog), "--sweep-interval", "0"),
            *setup.ledger_options(),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    api_url = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "orch-up.log").read_text()[-4000:]
            try:
                if httpx.get(f"{api_url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "orch up did not come up"
            time.sleep(0.2)
        yield api_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def test_orch_up_api_hires_the_sdk_agents(setup: Setup, orch_up: str, tmp_path: Path) -> None:
    token = subprocess.run(
        [str(ORCH), "token", "--data-dir", str(tmp_path / "orch-up")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    payer = dev_accounts(1)[0]  # what orch up funds
    wallet = DevWallet(payer.address, payer.private_key, f"http://127.0.0.1:{setup.algod_port}")
    driver = WorkflowDriver(orch_up, wallet, token=token, poll_seconds=0.1)
    try:
        result = driver.run(MESSAGE, timeout_seconds=60)
        print(f"\norch up + API with SDK agents: workflow {result.elapsed_seconds}s")
        assert result.status == "completed", result.model_dump_json(indent=2)
        workflow = driver.call("GET", f"/api/workflows/{result.workflow_id}")
    finally:
        driver.close()
    steps = workflow["steps"]
    assert_the_workflow_chained_the_agents(setup, steps, workflow["final_output"])
    assert str(steps[0]["output"]) in str(steps[1]["resolved_input"])
    deadline = time.monotonic() + 5  # the indexer lags: until it has both groups
    while True:
        found = {
            s.slug: payments_to(setup.indexer_url, s) + calls_to(setup.indexer_url, s) for s in SDK_AGENTS
        }
        if sum(map(len, found.values())) >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert_paid_once_each(found, payer.address)
