"""Shared parts of the end-to-end tests of agents built with the marketplace's SDK (orca-agent-sdk,
unmodified: devstack/sdk_agents, run_agent.py in `.venv-agents`).

The agents need the dev ledger's URLs before they start, so a test picks the ledger's ports first
(`LedgerPorts`), starts the agents with them (`running_agents`), writes their marketplace records to
a catalog file (`write_catalog`) and hands the same ports to whatever runs the ledger: `orch up` as
a subprocess (`OrchUp`, driven through its HTTP API with `OrchUpApi`), `orch demo`, or an in-process
`LocalStack` (driven with `tests/stack_helpers.py`'s Harness). Then it reads what the dev indexer
holds (`LedgerPorts.settle`, `payments_to`) and what each agent's SDK recorded (`SdkAgentProcess`'s
`jobs`, `access_tokens`, `runs`).
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import httpx
import pytest

from devstack.ledger import dev_accounts
from devstack.sdk_agents import AGENTS_PYTHON, SdkAgentProcess, SdkAgentSpec
from devstack.sdk_agents.launch import SdkJob, terminate
from devstack.wallet import DevWallet, SentPayment

NEEDS_SDK_AGENTS = pytest.mark.skipif(
    not AGENTS_PYTHON.exists(),
    reason=f"!!! {AGENTS_PYTHON} is missing: `make sdk-agents` builds it (`make test` does) !!!",
)
ORCH = Path(sys.executable).parent / "orch"
BLOCK_TIME, INDEXER_LAG = 0.25, 0.5  # the dev ledger's, for `orch up` and `orch demo`
TERMINAL = ("completed", "failed", "cancelled")
# The offline planner cuts this into "Summarize …" (the summarizer) and "rate its mood" + "word
# stats" (the word-stats agent, fed the summary): a two-step plan of SDK_AGENTS, in that order.
TWO_STEP_MESSAGE = "Summarize my morning walk in the park, then rate its mood and word stats"
# A one-step plan when an `echo_agent` is alone in the catalog.
ECHO_MESSAGE = "Echo my note about the garden party back to me"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def echo_agent(
    slug: str, handler: str, *, app_id: int, price_microalgo: int, example_output: str
) -> SdkAgentSpec:
    """An agent that echoes its input, served by one of run_agent.py's counting handlers (`flaky`,
    `always-fail`, `slow`)."""
    return SdkAgentSpec(
        slug=slug,
        handler=handler,
        name="Echo",
        description="Echoes a text back, word for word.",
        category="Text",
        tags=["echo", "repeat", "parrot"],
        price_microalgo=price_microalgo,
        app_id=app_id,
        data_input="Plain text to echo",
        example_input="Hello there.",
        example_output=example_output,
    )


@dataclass(frozen=True)
class LedgerPorts:
    """The dev ledger's ports, chosen before the SDK agents start (they are given its URLs), and what
    its algod and indexer answer there once something runs it."""

    algod_port: int = field(default_factory=free_port)
    indexer_port: int = field(default_factory=free_port)
    # `orch up`'s API port, chosen before the agents start too: they push there (POST /api/agent/access).
    api_port: int = field(default_factory=free_port)

    @property
    def algod_url(self) -> str:
        return f"http://127.0.0.1:{self.algod_port}"

    @property
    def indexer_url(self) -> str:
        return f"http://127.0.0.1:{self.indexer_port}"

    def orch_options(self) -> tuple[str, ...]:
        """The ledger's options of `orch up` and `orch demo`: these ports, BLOCK_TIME, INDEXER_LAG."""
        return (
            *("--algod-port", str(self.algod_port), "--indexer-port", str(self.indexer_port)),
            *("--block-time", str(BLOCK_TIME), "--indexer-lag", str(INDEXER_LAG)),
        )

    @property
    def push_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/agent/access"

    def agent(self, spec: SdkAgentSpec, data_dir: Path) -> SdkAgentProcess:
        """The agent on this ledger, its SDK's db `<slug>.sqlite3` in `data_dir` (not started), pushing
        to `orch up`'s API on `api_port` as the marketplace's agents push to theirs."""
        return SdkAgentProcess(
            spec,
            self.algod_url,
            self.indexer_url,
            db_path=data_dir / f"{spec.slug}.sqlite3",
            push_url=self.push_url,
        )

    def orch_wallet(self) -> DevWallet:
        """The wallet `orch up` and `orch demo` fund (the first dev account), on this ledger."""
        payer = dev_accounts(1)[0]
        return DevWallet(payer.address, payer.private_key, self.algod_url)

    def transactions(self, **query: Any) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.indexer_url}/v2/transactions", params=query, timeout=5)
        answer.raise_for_status()
        return list(answer.json()["transactions"])

    def payments_to(self, spec: SdkAgentSpec, sender: str | None = None) -> list[dict[str, Any]]:
        """Every payment to the agent's receiver the dev indexer holds (from `sender` only, when given)."""
        found = self.transactions(
            **{"address": spec.agent_address, "address-role": "receiver", "tx-type": "pay"}
        )
        return [t for t in found if sender is None or t["sender"] == sender]

    def calls_to(self, spec: SdkAgentSpec) -> list[dict[str, Any]]:
        """Every call of the agent's app the dev indexer holds."""
        return self.transactions(**{"application-id": spec.app_id})

    def settle(self, *, require_caught_up: bool = True, timeout: float = 10.0) -> None:
        """Wait until the dev indexer has caught up with algod (its last round indexed), and a lag
        more to see nothing more arrive. Not caught up within `timeout`: an AssertionError, or, with
        `require_caught_up=False`, the lag waited all the same (the caller reads what is there)."""
        algod_round = int(httpx.get(f"{self.algod_url}/v2/status", timeout=5).json()["last-round"])
        deadline = time.monotonic() + timeout
        while int(httpx.get(f"{self.indexer_url}/health", timeout=5).json()["round"]) < algod_round:
            if time.monotonic() > deadline:
                assert not require_caught_up, "the dev indexer did not catch up"
                break
            time.sleep(0.1)
        time.sleep(INDEXER_LAG + 2 * BLOCK_TIME)


@contextmanager
def running_agents(agents: Iterable[SdkAgentProcess]) -> Iterator[None]:
    """The agents started side by side, each until it listens (its `base_url` from then on), and all
    stopped at the end."""
    agents = list(agents)
    try:
        for agent in agents:
            agent.launch()
        for agent in agents:
            agent.wait()
        yield
    finally:
        for agent in agents:
            agent.stop()


def write_catalog(path: Path, agents: Iterable[SdkAgentProcess]) -> Path:
    """A `--catalog` file of the running agents' marketplace records."""
    path.write_text(json.dumps([a.spec.catalog_record(a.base_url) for a in agents], indent=2))
    return path


@dataclass
class OrchUp:
    """`orch up` as a subprocess on fixed ports and one data dir (where the dev ledger, the SQLite
    store and the auth key persist): started, killed, started again. Start n logs to
    `orch-up-<n>.log`."""

    tmp_path: Path
    catalog: Path
    ledger: LedgerPorts
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

    def log_path(self, start: int | None = None) -> Path:
        return self.tmp_path / f"orch-up-{start or self.starts}.log"

    def log_tail(self, chars: int = 4000) -> str:
        return "\n".join(
            f"--- {self.log_path(n).name} ---\n{self.log_path(n).read_text()[-chars:]}"
            for n in range(1, self.starts + 1)
        )

    def start(self, timeout: float = 60.0) -> None:
        """Start it and wait until its API answers /api/health."""
        assert self.process is None, "already running"
        self.starts += 1
        self._log = self.log_path().open("w")
        self.process = subprocess.Popen(
            [
                str(ORCH),
                "up",
                *("--api-port", str(self.api_port), "--lambda-port", str(self.lambda_port)),
                *self.ledger.orch_options(),
                *("--data-dir", str(self.data_dir), "--catalog", str(self.catalog)),
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
            terminate(process, grace=20)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def token(self) -> str:
        """An access token for the dev user (`orch token` on the data dir)."""
        return subprocess.run(
            [str(ORCH), "token", "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def api(self) -> OrchUpApi:
        """Its HTTP API as the dev user (a new token); what it waits for shows this log on timeout."""
        return OrchUpApi(self.api_url, self.token(), self.log_tail)


@contextmanager
def running_orch_up(tmp_path: Path, catalog: Path, ledger: LedgerPorts) -> Iterator[OrchUp]:
    """`orch up` started (until its API answers) on the catalog and ledger ports, stopped at the end."""
    orch = OrchUp(tmp_path, catalog, ledger, api_port=ledger.api_port)
    try:
        orch.start()
        yield orch
    finally:
        orch.stop()


def shown(workflow: dict[str, Any]) -> dict[str, Any]:
    """The workflow without the bulky unsigned groups (for assertion messages)."""
    return {
        **{k: v for k, v in workflow.items() if k != "steps"},
        "steps": [{k: v for k, v in s.items() if k != "unsigned_group_txns"} for s in workflow["steps"]],
    }


class OrchUpApi:
    """The HTTP API as the person's client uses it (with their access token)."""

    def __init__(self, api_url: str, token: str, log_tail: Callable[[], str] = lambda: "") -> None:
        self.http = httpx.Client(base_url=api_url, timeout=60.0, headers={"Authorization": f"Bearer {token}"})
        self.log_tail = log_tail

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
                + json.dumps(shown(workflow), indent=2)
                + "\n"
                + self.log_tail()
            )
            time.sleep(0.1)


class ApiClient(Protocol):
    """What posts to the API as the person: an OrchUpApi, or tests/stack_helpers.py's Harness."""

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response: ...


def create_and_start(client: ApiClient, message: str, wallet_address: str, agent_ids: list[str]) -> str:
    """Plan `message` (checking that it hires `agent_ids`, in order), approve and start: the
    workflow's id."""
    created = client.post(
        "/api/workflows/create", {"user_message": message, "wallet_address": wallet_address}
    )
    assert created.status_code == 201, created.text
    workflow_id = str(created.json()["workflow_id"])
    assert [s["agent_id"] for s in created.json()["steps"]] == agent_ids, created.text
    approved = client.post("/api/workflows/approve", {"workflow_id": workflow_id})
    assert approved.status_code == 200, approved.text
    started = client.post("/api/workflows/start", {"workflow_id": workflow_id})
    assert started.status_code == 202, started.text
    return workflow_id


def submit_payment(
    client: ApiClient, workflow_id: str, step_number: int, txn_ids: list[str]
) -> httpx.Response:
    return client.post(
        "/api/workflows/step/submit_payment",
        {"workflow_id": workflow_id, "step_number": step_number, "txn_ids": txn_ids},
    )


def offers_step_1(workflow: dict[str, Any]) -> bool:
    """Step 1 awaits payment and offers a group to sign."""
    step = workflow["steps"][0]
    return step["status"] == "awaiting_payment" and bool(step["unsigned_group_txns"])


def assert_receipt(
    receipt: dict[str, Any] | None, spec: SdkAgentSpec, sent: SentPayment, context: object = "no receipt"
) -> None:
    """The receipt is for the group `sent`: its txids and round, the agent's price to its receiver.
    `context`: what to show when there is no receipt."""
    assert receipt is not None, context
    assert sorted(receipt["txn_ids"]) == sorted(sent.txn_ids), (receipt, sent)
    assert receipt["confirmed_round"] == sent.confirmed_round, (receipt, sent)
    assert (receipt["amount_microalgo"], receipt["receiver"]) == (spec.price_microalgo, spec.agent_address)


def assert_paid_once(payments: list[dict[str, Any]], spec: SdkAgentSpec, txn_ids: Collection[str]) -> None:
    """`payments` (to the agent, on the dev indexer) is one payment of its price, one of `txn_ids`."""
    assert len(payments) == 1, f"{len(payments)} payments to {spec.slug} on the dev indexer: {payments}"
    (payment,) = payments
    assert payment["id"] in txn_ids
    assert payment["payment-transaction"]["amount"] == spec.price_microalgo


def assert_one_job_paid_twice(agent: SdkAgentProcess, sent: SentPayment, status: str) -> SdkJob:
    """The agent holds one job, paid by `sent`, with `status`; it accepted the payment twice (two
    access tokens for that job) and ran the handler twice for its input. The job."""
    (job,) = agent.jobs()
    assert sorted(job.txn_ids.split(",")) == sorted(sent.txn_ids), job
    assert job.status == status, job
    assert agent.access_tokens() == [job.job_id, job.job_id]
    assert agent.runs() == {hashlib.sha256(job.job_input.encode()).hexdigest(): 2}
    return job
