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
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from devstack.ledger import dev_accounts
from devstack.ledger.persistence import load_snapshot
from devstack.sdk_agents import AGENTS_PYTHON, SDK_AGENTS, SdkAgentProcess, SdkAgentSpec
from devstack.wallet import DevWallet, SentPayment

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
BLOCK_TIME, INDEXER_LAG = 0.25, 0.5
TERMINAL = ("completed", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OrchUp:
    """`orch up` as a subprocess on fixed ports and one data dir: started, killed, started again."""

    tmp_path: Path
    catalog: Path
    algod_port: int
    indexer_port: int
    api_port: int = field(default_factory=free_port)
    lambda_port: int = field(default_factory=free_port)
    starts: int = 0
    process: subprocess.Popen[bytes] | None = None
    _log: IO[str] | None = None

    @property
    def data_dir(self) -> Path:
        return self.tmp_path / "orch-up"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def indexer_url(self) -> str:
        return f"http://127.0.0.1:{self.indexer_port}"

    def log_path(self, start: int | None = None) -> Path:
        return self.tmp_path / f"orch-up-{start or self.starts}.log"

    def log_tail(self, chars: int = 4000) -> str:
        return "\n".join(
            f"--- {self.log_path(n).name} ---\n{self.log_path(n).read_text()[-chars:]}"
            for n in range(1, self.starts + 1)
        )

    def start(self, timeout: float = 60.0) -> None:
        assert self.process is None, "already running"
        self.starts += 1
        self._log = self.log_path().open("w")
        self.process = subprocess.Popen(
            [
                str(ORCH),
                "up",
                *("--api-port", str(self.api_port), "--lambda-port", str(self.lambda_port)),
                *("--algod-port", str(self.algod_port), "--indexer-port", str(self.indexer_port)),
                *("--data-dir", str(self.data_dir), "--catalog", str(self.catalog)),
                *("--block-time", str(BLOCK_TIME), "--indexer-lag", str(INDEXER_LAG)),
                *("--sweep-interval", "0"),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"orch up exited:\n{self.log_tail()}"
            try:
                if httpx.get(f"{self.api_url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"orch up did not come up:\n{self.log_tail()}"
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: nothing of orch up runs after this (no shutdown, no last save)."""
        process, self.process = self.process, None
        assert process is not None
        process.kill()
        process.wait(timeout=10)
        self._close_log()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def token(self) -> str:
        return subprocess.run(
            [str(ORCH), "token", "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()


class Api:
    """The HTTP API as the person's client uses it (with their access token)."""

    def __init__(self, api_url: str, token: str) -> None:
        self.http = httpx.Client(base_url=api_url, timeout=60.0, headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self.http.close()

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body)

    def workflow(self, workflow_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/api/workflows/{workflow_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def wait_for(
        self, workflow_id: str, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 60.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            workflow = self.workflow(workflow_id)
            if predicate(workflow):
                return workflow
            assert time.monotonic() < deadline, (
                f"timed out waiting for {what}; the workflow is {workflow['status']}:\n"
                + json.dumps(_shown(workflow), indent=2)
            )
            time.sleep(0.1)


def _shown(workflow: dict[str, Any]) -> dict[str, Any]:
    """The workflow without the bulky unsigned groups (for assertion messages)."""
    return {
        **{k: v for k, v in workflow.items() if k != "steps"},
        "steps": [{k: v for k, v in s.items() if k != "unsigned_group_txns"} for s in workflow["steps"]],
    }


@dataclass
class Setup:
    orch: OrchUp
    agents: dict[str, SdkAgentProcess]
    wallet: DevWallet

    def jobs(self, spec: SdkAgentSpec) -> list[tuple[str, str, str]]:
        """(job_id, txn_ids, status) of every job the agent's SDK recorded."""
        with sqlite3.connect(self.agents[spec.slug].db_path) as db:
            return [
                (row[0], row[1] or "", row[2])
                for row in db.execute("SELECT job_id, txn_ids, status FROM jobs_local")
            ]

    def access_tokens(self, spec: SdkAgentSpec) -> int:
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
    orch: OrchUp | None = None
    try:
        for agent in agents.values():
            agent.launch()
        for agent in agents.values():
            agent.wait()
        catalog = tmp_path / "catalog.json"
        catalog.write_text(json.dumps([a.spec.catalog_record(a.base_url) for a in agents.values()]))
        orch = OrchUp(tmp_path, catalog, algod_port, indexer_port)
        orch.start()
        payer = dev_accounts(1)[0]  # what orch up funds
        wallet = DevWallet(payer.address, payer.private_key, f"http://127.0.0.1:{algod_port}")
        yield Setup(orch, agents, wallet)
    finally:
        if orch is not None:
            orch.stop()
        for agent in agents.values():
            agent.stop()


def transactions(indexer_url: str, **query: Any) -> list[dict[str, Any]]:
    answer = httpx.get(f"{indexer_url}/v2/transactions", params=query, timeout=5)
    answer.raise_for_status()
    return list(answer.json()["transactions"])


def payments_on_indexer(indexer_url: str, payer: str, spec: SdkAgentSpec) -> list[dict[str, Any]]:
    """Every payment from `payer` to the agent's receiver the dev indexer holds."""
    found = transactions(
        indexer_url, **{"address": spec.agent_address, "address-role": "receiver", "tx-type": "pay"}
    )
    return [t for t in found if t["sender"] == payer]


def settled_payments(setup: Setup) -> dict[str, list[dict[str, Any]]]:
    """Each agent's payments on the dev indexer, once the indexer has caught up with algod: read
    after the chain's last round is indexed, and again a lag later to see nothing more arrive."""
    algod_round = int(
        httpx.get(f"http://127.0.0.1:{setup.orch.algod_port}/v2/status", timeout=5).json()["last-round"]
    )
    deadline = time.monotonic() + 10
    while True:
        health = httpx.get(f"{setup.orch.indexer_url}/health", timeout=5).json()
        if int(health["round"]) >= algod_round or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    time.sleep(INDEXER_LAG + 2 * BLOCK_TIME)
    return {
        spec.slug: payments_on_indexer(setup.orch.indexer_url, setup.wallet.address, spec)
        for spec in SDK_AGENTS
    }


def offers_step_1(workflow: dict[str, Any]) -> bool:
    """Step 1 awaits payment and offers a group to sign."""
    step = workflow["steps"][0]
    return step["status"] == "awaiting_payment" and bool(step["unsigned_group_txns"])


def create_and_start(api: Api, wallet: DevWallet) -> str:
    created = api.post("/api/workflows/create", {"user_message": MESSAGE, "wallet_address": wallet.address})
    assert created.status_code == 201, created.text
    workflow_id = str(created.json()["workflow_id"])
    assert [s["agent_id"] for s in created.json()["steps"]] == [SUMMARIZER.id, WORD_STATS.id]
    approved = api.post("/api/workflows/approve", {"workflow_id": workflow_id})
    assert approved.status_code == 200, approved.text
    started = api.post("/api/workflows/start", {"workflow_id": workflow_id})
    assert started.status_code == 202, started.text
    return workflow_id


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
    api: Api, wallet: DevWallet, workflow_id: str, paid: dict[int, SentPayment]
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
                + json.dumps(_shown(workflow), indent=2)
            )
            sent = wallet.pay(step["unsigned_group_txns"])
            paid[number] = sent
            answer = api.post(
                "/api/workflows/step/submit_payment",
                {"workflow_id": workflow_id, "step_number": number, "txn_ids": sent.txn_ids},
            )
            assert answer.status_code == 200, answer.text
        assert time.monotonic() < deadline, (
            f"the workflow did not finish; it is {workflow['status']}:\n"
            + json.dumps(_shown(workflow), indent=2)
        )
        time.sleep(0.1)


@pytest.mark.parametrize("after_restart", ["late_submit", "resume_only"])
def test_a_payment_confirmed_before_a_kill_9_is_delivered_after_the_restart(
    setup: Setup, after_restart: str
) -> None:
    started = time.monotonic()
    orch, wallet = setup.orch, setup.wallet
    api = Api(orch.api_url, orch.token())
    try:
        workflow_id = create_and_start(api, wallet)
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
        assert restarted["status"] == "failed", json.dumps(_shown(restarted), indent=2)
        assert restarted["error"]["code"] == "ExecutionLost", restarted["error"]
        step1 = restarted["steps"][0]
        assert step1["status"] == "failed" and step1["error"]["code"] == "ExecutionLost", step1
        if step1["receipt"] is not None:  # nobody told it; if it looked the payment up, it is that one
            assert sorted(step1["receipt"]["txn_ids"]) == sorted(first.txn_ids), step1
        assert restarted["steps"][1]["status"] == "pending"
        paid = {1: first}

        if after_restart == "late_submit":
            late = api.post(
                "/api/workflows/step/submit_payment",
                {"workflow_id": workflow_id, "step_number": 1, "txn_ids": first.txn_ids},
            )
            assert late.status_code == 200, late.text
            receipt = late.json()["receipt"]
            assert receipt is not None, late.text
            assert sorted(receipt["txn_ids"]) == sorted(first.txn_ids)
            assert receipt["confirmed_round"] == first.confirmed_round
            assert receipt["amount_microalgo"] == SUMMARIZER.price_microalgo
            assert receipt["receiver"] == SUMMARIZER.agent_address
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
    assert done["status"] == "completed", json.dumps(_shown(done), indent=2) + "\n" + orch.log_tail()
    steps = done["steps"]
    assert [s["status"] for s in steps] == ["succeeded", "succeeded"]
    assert str(steps[0]["output"]).startswith("Summary: ")
    assert str(steps[1]["output"]).startswith("Sentiment: ")
    assert sorted(paid) == [1, 2]

    # The workflow's receipts: one per step, for the group paid, none kept for an earlier job.
    for step, spec in zip(steps, SDK_AGENTS, strict=True):
        sent = paid[step["step_number"]]
        receipt = step["receipt"]
        assert receipt is not None, step
        assert sorted(receipt["txn_ids"]) == sorted(sent.txn_ids)
        assert receipt["confirmed_round"] == sent.confirmed_round
        assert (receipt["amount_microalgo"], receipt["receiver"]) == (
            spec.price_microalgo,
            spec.agent_address,
        )
        assert step["earlier_receipts"] == []

    # The dev ledger: exactly one payment from the wallet to each agent, the one in its receipt.
    found = settled_payments(setup)
    for step, spec in zip(steps, SDK_AGENTS, strict=True):
        payments = found[spec.slug]
        assert len(payments) == 1, f"{spec.name}: {len(payments)} payments on the dev indexer: {payments}"
        (payment,) = payments
        assert payment["id"] in step["receipt"]["txn_ids"]
        assert payment["payment-transaction"]["amount"] == spec.price_microalgo

    # What the agents recorded: step 1's job is the one offered before the crash (no second job was
    # started), paid once and run once; step 2 one job.
    (summarized,) = setup.jobs(SUMMARIZER)
    assert sorted(summarized[1].split(",")) == sorted(first.txn_ids)
    assert summarized[2] == "succeeded"
    (analysed,) = setup.jobs(WORD_STATS)
    assert analysed[2] == "succeeded"
    assert setup.access_tokens(SUMMARIZER) == setup.access_tokens(WORD_STATS) == 1
