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

import hashlib
import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.ledger import dev_accounts
from devstack.sdk_agents import AGENTS_PYTHON, SdkAgentProcess, SdkAgentSpec
from devstack.wallet import DevWallet, SentPayment

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not AGENTS_PYTHON.exists(),
        reason=f"!!! {AGENTS_PYTHON} is missing: `make sdk-agents` builds it (`make test` does) !!!",
    ),
]

ORCH = Path(sys.executable).parent / "orch"
BLOCK_TIME, INDEXER_LAG = 0.25, 0.5
TERMINAL = ("completed", "failed", "cancelled")


def echo_agent(slug: str, handler: str, app_id: int) -> SdkAgentSpec:
    return SdkAgentSpec(
        slug=slug,
        handler=handler,
        name="Echo",
        description="Echoes a text back, word for word.",
        category="Text",
        tags=["echo", "repeat", "parrot"],
        price_microalgo=120_000,
        app_id=app_id,
        data_input="Plain text to echo",
        example_input="Hello there.",
        example_output="Echo (run 2): Hello there.",
    )


FLAKY = echo_agent("sdk-flaky-echo", "flaky", 1103)
FAILING = echo_agent("sdk-failing-echo", "always-fail", 1104)
MESSAGE = "Echo my note about the garden party back to me"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Setup:
    agent: SdkAgentProcess
    api: httpx.Client
    wallet: DevWallet
    indexer_url: str
    algod_url: str
    log_path: Path

    @property
    def spec(self) -> SdkAgentSpec:
        return self.agent.spec

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.api.post(path, json=body)

    def workflow(self, workflow_id: str) -> dict[str, Any]:
        answer = self.api.get(f"/api/workflows/{workflow_id}")
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
                + json.dumps(shown(workflow), indent=2)
                + "\n"
                + self.log_path.read_text()[-4000:]
            )
            time.sleep(0.1)

    def jobs(self) -> list[tuple[str, str, str]]:
        """(job_input, txn_ids, status) of every job the agent's SDK recorded."""
        with sqlite3.connect(self.agent.db_path) as db:
            return [
                (row[0], row[1] or "", row[2])
                for row in db.execute("SELECT job_input, txn_ids, status FROM jobs_local")
            ]

    def access_tokens(self) -> list[str]:
        """The job id of each access token the SDK issued (one per payment it accepted)."""
        with sqlite3.connect(self.agent.db_path) as db:
            return [row[0] for row in db.execute("SELECT job_id FROM access_tokens ORDER BY id")]

    def runs(self) -> dict[str, int]:
        """The handler's runs per input (sha256), as run_agent.py counts them."""
        path = self.agent.runs_path
        return {k: int(v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}

    def payments_on_indexer(self) -> list[dict[str, Any]]:
        """Every payment from the wallet to the agent's receiver the dev indexer holds, once the
        indexer has caught up with algod (and a lag more, to see nothing more arrive)."""
        algod_round = int(httpx.get(f"{self.algod_url}/v2/status", timeout=5).json()["last-round"])
        deadline = time.monotonic() + 10
        while int(httpx.get(f"{self.indexer_url}/health", timeout=5).json()["round"]) < algod_round:
            assert time.monotonic() < deadline, "the dev indexer did not catch up"
            time.sleep(0.1)
        time.sleep(INDEXER_LAG + 2 * BLOCK_TIME)
        query = {"address": self.spec.agent_address, "address-role": "receiver", "tx-type": "pay"}
        answer = httpx.get(f"{self.indexer_url}/v2/transactions", params=query, timeout=5)
        answer.raise_for_status()
        return [t for t in answer.json()["transactions"] if t["sender"] == self.wallet.address]


def shown(workflow: dict[str, Any]) -> dict[str, Any]:
    """The workflow without the bulky unsigned groups (for assertion messages)."""
    return {
        **{k: v for k, v in workflow.items() if k != "steps"},
        "steps": [{k: v for k, v in s.items() if k != "unsigned_group_txns"} for s in workflow["steps"]],
    }


@pytest.fixture
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    spec: SdkAgentSpec = request.param
    algod_port, indexer_port, api_port = free_port(), free_port(), free_port()
    algod_url, indexer_url = f"http://127.0.0.1:{algod_port}", f"http://127.0.0.1:{indexer_port}"
    agent = SdkAgentProcess(spec, algod_url, indexer_url, db_path=tmp_path / f"{spec.slug}.sqlite3")
    data_dir, log_path = tmp_path / "orch-up", tmp_path / "orch-up.log"
    process: subprocess.Popen[bytes] | None = None
    api: httpx.Client | None = None
    with log_path.open("w") as log:
        try:
            agent.start()
            catalog = tmp_path / "catalog.json"
            catalog.write_text(json.dumps([spec.catalog_record(agent.base_url)]))
            process = subprocess.Popen(
                [
                    str(ORCH),
                    "up",
                    *("--api-port", str(api_port), "--lambda-port", str(free_port())),
                    *("--algod-port", str(algod_port), "--indexer-port", str(indexer_port)),
                    *("--data-dir", str(data_dir), "--catalog", str(catalog), "--sweep-interval", "0"),
                    *("--block-time", str(BLOCK_TIME), "--indexer-lag", str(INDEXER_LAG)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            api_url = f"http://127.0.0.1:{api_port}"
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text()[-4000:]
                try:
                    if httpx.get(f"{api_url}/api/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "orch up did not come up"
                time.sleep(0.2)
            token = subprocess.run(
                [str(ORCH), "token", "--data-dir", str(data_dir)], capture_output=True, text=True, check=True
            ).stdout.strip()
            api = httpx.Client(base_url=api_url, timeout=60.0, headers={"Authorization": f"Bearer {token}"})
            payer = dev_accounts(1)[0]  # what orch up funds
            wallet = DevWallet(payer.address, payer.private_key, algod_url)
            yield Setup(agent, api, wallet, indexer_url, algod_url, log_path)
        finally:
            if api is not None:
                api.close()
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            agent.stop()


def offers_step_1(workflow: dict[str, Any]) -> bool:
    """Step 1 awaits payment and offers a group to sign."""
    step = workflow["steps"][0]
    return step["status"] == "awaiting_payment" and bool(step["unsigned_group_txns"])


def start_and_pay_step_1(setup: Setup) -> tuple[str, dict[str, Any], SentPayment]:
    """Plan (one step: the only agent), approve, start, pay step 1 and submit it: (workflow id, the
    step as offered, what was paid)."""
    created = setup.post(
        "/api/workflows/create", {"user_message": MESSAGE, "wallet_address": setup.wallet.address}
    )
    assert created.status_code == 201, created.text
    assert [s["agent_id"] for s in created.json()["steps"]] == [setup.spec.id]
    workflow_id = str(created.json()["workflow_id"])
    assert setup.post("/api/workflows/approve", {"workflow_id": workflow_id}).status_code == 200
    started = setup.post("/api/workflows/start", {"workflow_id": workflow_id})
    assert started.status_code == 202, started.text
    offered = setup.wait_for(
        workflow_id,
        offers_step_1,
        "step 1 to await payment",
    )["steps"][0]
    sent = setup.wallet.pay(offered["unsigned_group_txns"])
    submitted = setup.post(
        "/api/workflows/step/submit_payment",
        {"workflow_id": workflow_id, "step_number": 1, "txn_ids": sent.txn_ids},
    )
    assert submitted.status_code == 200, submitted.text
    return workflow_id, offered, sent


def assert_receipt(receipt: dict[str, Any] | None, spec: SdkAgentSpec, sent: SentPayment) -> None:
    assert receipt is not None
    assert sorted(receipt["txn_ids"]) == sorted(sent.txn_ids)
    assert receipt["confirmed_round"] == sent.confirmed_round
    assert (receipt["amount_microalgo"], receipt["receiver"]) == (spec.price_microalgo, spec.agent_address)


def assert_paid_once(setup: Setup, sent: SentPayment) -> None:
    payments = setup.payments_on_indexer()
    assert len(payments) == 1, f"{len(payments)} payments to {setup.spec.slug} on the dev indexer: {payments}"
    assert payments[0]["id"] in sent.txn_ids
    assert payments[0]["payment-transaction"]["amount"] == setup.spec.price_microalgo


def assert_one_job_run_twice(setup: Setup, sent: SentPayment, status: str) -> str:
    """The agent holds one job, paid by `sent`, with `status`; it accepted the payment twice (two
    access tokens for that job) and ran the handler twice for its input. The job's input."""
    (job,) = setup.jobs()
    job_input, txn_ids, job_status = job
    assert sorted(txn_ids.split(",")) == sorted(sent.txn_ids)
    assert job_status == status
    tokens = setup.access_tokens()
    assert len(tokens) == 2 and len(set(tokens)) == 1, tokens
    assert setup.runs() == {hashlib.sha256(job_input.encode()).hexdigest(): 2}
    return job_input


@pytest.mark.parametrize("setup", [FLAKY], indirect=True, ids=["flaky"])
def test_a_paid_job_that_fails_once_is_delivered_again_not_paid_again(setup: Setup) -> None:
    started = time.monotonic()
    workflow_id, _, sent = start_and_pay_step_1(setup)
    done = setup.wait_for(workflow_id, lambda w: w["status"] in TERMINAL, "the workflow to end")
    elapsed = time.monotonic() - started
    print(f"\nflaky SDK job re-delivered: workflow done {elapsed:.1f}s after create")
    assert done["status"] == "completed", json.dumps(shown(done), indent=2)
    (step,) = done["steps"]
    assert step["status"] == "succeeded" and step["error"] is None
    job_input = assert_one_job_run_twice(setup, sent, "succeeded")
    assert step["output"] == f"Echo (run 2): {' '.join(job_input.split())}"
    assert done["final_output"] == step["output"]
    assert_receipt(step["receipt"], setup.spec, sent)
    assert step["earlier_receipts"] == []
    assert_paid_once(setup, sent)


def fail_for_good(setup: Setup) -> tuple[str, dict[str, Any], SentPayment]:
    """Run the always-failing agent's workflow until it fails: (workflow id, the failed workflow, the
    payment), after checking the step's error, receipt, the agent's runs and the one payment."""
    workflow_id, _, sent = start_and_pay_step_1(setup)
    failed = setup.wait_for(workflow_id, lambda w: w["status"] in TERMINAL, "the workflow to end")
    assert failed["status"] == "failed", json.dumps(shown(failed), indent=2)
    (step,) = failed["steps"]
    assert step["status"] == "failed", step
    assert step["error"]["code"] == "AgentJobFailed", step["error"]
    assert "repay_steps" in step["error"]["message"], step["error"]
    assert failed["error"]["code"] == "AgentJobFailed", failed["error"]
    assert_receipt(step["receipt"], setup.spec, sent)
    assert_one_job_run_twice(setup, sent, "failed")  # run, re-delivered once, never a third time
    assert_paid_once(setup, sent)
    return workflow_id, failed, sent


@pytest.mark.parametrize("setup", [FAILING], indirect=True, ids=["always-fail"])
def test_a_paid_job_that_always_fails_ends_the_step_and_resuming_needs_consent(setup: Setup) -> None:
    started = time.monotonic()
    workflow_id, _, sent = fail_for_good(setup)
    failed_at = time.monotonic()
    for body in ({"workflow_id": workflow_id}, {"workflow_id": workflow_id, "repay_steps": []}):
        refused = setup.post("/api/workflows/start", body)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "RepayConsentRequired", error
        assert error.get("details") == {"repay_steps": [1]}, error
    print(f"\nalways-failing SDK job: step failed {failed_at - started:.1f}s after create")
    # Refused means nothing was done: still failed, still one job, one payment, no new offer.
    after = setup.workflow(workflow_id)
    assert after["status"] == "failed" and after["attempt"] == 1, json.dumps(shown(after), indent=2)
    assert after["steps"][0]["status"] == "failed"
    assert_receipt(after["steps"][0]["receipt"], setup.spec, sent)
    assert len(setup.jobs()) == 1
    assert_paid_once(setup, sent)


@pytest.mark.parametrize("setup", [FAILING], indirect=True, ids=["always-fail"])
def test_with_consent_the_resume_offers_a_new_job_and_keeps_the_earlier_receipt(setup: Setup) -> None:
    workflow_id, failed, sent = fail_for_good(setup)
    resumed = setup.post("/api/workflows/start", {"workflow_id": workflow_id, "repay_steps": [1]})
    assert resumed.status_code == 202, resumed.text
    offered = setup.wait_for(
        workflow_id,
        offers_step_1,
        "step 1 to offer a new job",
    )["steps"][0]
    assert not set(offered["txn_ids"]) & set(sent.txn_ids), "the new job's group reuses the paid one"
    assert offered["job_id"] != failed["steps"][0]["job_id"]
    assert offered["receipt"] is None
    (earlier,) = offered["earlier_receipts"]
    assert_receipt(earlier, setup.spec, sent)
    assert len(setup.jobs()) == 2  # a new job at the agent, not paid (nobody signed it)
    assert_paid_once(setup, sent)
