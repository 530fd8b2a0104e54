"""Shared helpers for tests that run the local stack: start it, add agents, drive workflows."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from orchestrator.dependencies import get_dependencies
from orchestrator.models import AgentMetadata

from devstack.agents import SAMPLE_AGENTS, AgentBehaviour, SampleAgentServer, SampleAgentSpec
from devstack.auth import DEV_USER_EMAIL, DEV_USER_ID
from devstack.stack import LocalStack, StackConfig
from devstack.wallet import DevWallet

FAST = dict(
    block_time=0.25,
    indexer_lag_seconds=0.5,
    agent_job_seconds=0.3,
    poll_max_seconds=1,
    submit_payment_retry_seconds=6.0,
    persist_ledger=False,
)


@contextmanager
def running_stack(data_dir: Path, **overrides: Any) -> Iterator[LocalStack]:
    config = StackConfig.ephemeral(data_dir, **{**FAST, **overrides})
    with LocalStack(config) as stack:
        yield stack


@contextmanager
def running_harness(data_dir: Path, **overrides: Any) -> Iterator[Harness]:
    """A running stack and a harness on it, both closed at the end."""
    with running_stack(data_dir, **overrides) as stack:
        harness = Harness(stack)
        try:
            yield harness
        finally:
            harness.close()


def sample(slug: str) -> SampleAgentSpec:
    return next(spec for spec in SAMPLE_AGENTS if spec.slug == slug)


class StackOverrides:
    """Adapters a test swaps in on a running stack, each from `use(planner=...)` to the end of the
    test (the `overrides` fixture closes them, the last first): every function of the stack gets
    them, the bundle the process shares never changes (LocalStack.overrides)."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self._scope = ExitStack()

    def use(self, **adapters: Any) -> None:
        self._scope.enter_context(self.stack.overrides(**adapters))

    def __enter__(self) -> StackOverrides:
        return self

    def __exit__(self, *exc: object) -> None:
        self._scope.close()


class Harness:
    """A test's view of a running stack: the API (as the dev user, with a minted access token),
    a funded wallet, and extra agents."""

    def __init__(self, stack: LocalStack, user_id: str = DEV_USER_ID) -> None:
        self.stack = stack
        self.user_id = user_id
        self.token = self.mint_token(user_id, DEV_USER_EMAIL if user_id == DEV_USER_ID else None)
        self.api = httpx.Client(
            base_url=stack.api_url, timeout=30.0, headers={"Authorization": f"Bearer {self.token}"}
        )
        account = stack.dev_accounts[0]
        self.wallet = DevWallet(account.address, account.private_key, stack.algod_url)
        self.extra_agents: list[SampleAgentServer] = []

    def mint_token(self, user_id: str, email: str | None = None, expires_in: int = 3600) -> str:
        """An access token of the stack's local issuer (what `orch token` prints)."""
        assert self.stack.issuer is not None, "the stack is not running"
        return self.stack.issuer.mint_token(user_id, email, expires_in)

    def close(self) -> None:
        for server in self.extra_agents:
            server.stop()
        self.api.close()

    def add_agent(self, slug: str, agent_id: str, behaviour: AgentBehaviour, **spec_changes: Any) -> str:
        """Serve one more agent (a sample with other behaviour) and put it in the catalog."""
        spec = dataclasses.replace(sample(slug), id=agent_id, **spec_changes)
        server = SampleAgentServer(
            spec,
            algod_url=self.stack.algod_url,
            indexer_url=self.stack.indexer_url,
            behaviour=behaviour,
        )
        server.start()
        self.extra_agents.append(server)
        entry = server.catalog_entry()
        get_dependencies().store.upsert_agents([AgentMetadata.model_validate(entry)])
        return agent_id

    def payments_on_chain(self, receiver: str | None = None) -> list[tuple[str, int]]:
        """(receiver, amount) of every confirmed payment on the dev ledger from the workflows' wallet
        (to `receiver` only, when given): what the person really paid, whatever the orchestrator says."""
        ledger = self.stack.ledger
        with ledger._lock:  # the ledger's own chain, not its lagging indexer view
            history = list(ledger._history)
        return [
            (record.txn.receiver, record.txn.amount)
            for record in history
            if record.confirmed_round
            and record.txn.type == "pay"
            and record.txn.sender == self.wallet.address
            and (receiver is None or record.txn.receiver == receiver)
        ]

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.api.post(path, json=body)

    def workflow(self, workflow_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/workflows/{workflow_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def create(self, message: str = "test request") -> dict[str, Any]:
        response = self.post(
            "/api/workflows/create", {"userMessage": message, "walletAddress": self.wallet.address}
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def create_and_start(self, message: str = "test request") -> str:
        workflow_id = str(self.create(message)["workflow_id"])
        assert self.post("/api/workflows/approve", {"workflowId": workflow_id}).status_code == 200
        started = self.post("/api/workflows/start", {"workflowId": workflow_id})
        assert started.status_code == 202, started.text
        return workflow_id

    def wait_for(
        self, workflow_id: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            workflow = self.workflow(workflow_id)
            if predicate(workflow):
                return workflow
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; the workflow is {workflow['status']}: {workflow['steps']}")
            time.sleep(0.1)

    def wait_for_step(
        self, workflow_id: str, step_number: int, status: str, timeout: float = 30.0
    ) -> dict[str, Any]:
        workflow = self.wait_for(
            workflow_id, lambda w: w["steps"][step_number - 1]["status"] == status, timeout=timeout
        )
        return dict(workflow["steps"][step_number - 1])

    def wait_until_done(self, workflow_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait_for(
            workflow_id, lambda w: w["status"] in ("completed", "failed", "cancelled"), timeout
        )

    def pay_step(self, workflow_id: str, step_number: int) -> httpx.Response:
        step = self.wait_for_step(workflow_id, step_number, "awaiting_payment")
        sent = self.wallet.pay(step["unsigned_group_txns"])
        return self.post(
            "/api/workflows/step/submit_payment",
            {"workflowId": workflow_id, "stepNumber": step_number, "txnIds": sent.txn_ids},
        )

    def run_paying(self, workflow_id: str, timeout: float = 40.0) -> dict[str, Any]:
        """Pay every step that asks for it until the workflow ends."""
        deadline = time.monotonic() + timeout
        paid: set[int] = set()
        while True:
            workflow = self.workflow(workflow_id)
            if workflow["status"] in ("completed", "failed", "cancelled"):
                return workflow
            for step in workflow["steps"]:
                if step["status"] == "awaiting_payment" and step["step_number"] not in paid:
                    response = self.pay_step(workflow_id, step["step_number"])
                    assert response.status_code == 200, response.text
                    paid.add(step["step_number"])
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; the workflow is {workflow['status']}: {workflow['steps']}")
            time.sleep(0.1)
