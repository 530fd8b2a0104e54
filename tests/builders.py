"""Builders shared by the unit tests: catalog agents, planned workflows and their step rows, jobs,
payments, receipts and access tokens, and `world`: a `Dependencies` bundle wired with the fakes of
tests/fakes.py and the real SQLiteStore on a file under the test's tmp_path (no socket anywhere).

`World`'s drivers (`offer`, `pay`, `watch`, `finish`, …) run the real use cases to bring a step
where a test needs it, so that a test's starting state is one production reaches.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from algosdk import encoding
from orchestrator.config import Settings
from orchestrator.dependencies import Dependencies
from orchestrator.models import (
    AccessTokenRecord,
    AgentMetadata,
    JobRecord,
    JobState,
    PaymentReceipt,
    PaymentRecord,
    PlannedStep,
    StepRecord,
    StepStatus,
    WorkflowPlan,
    WorkflowRecord,
    WorkflowStatus,
    job_row_id,
    utcnow,
)
from orchestrator.schemas.api import StepView
from orchestrator.schemas.tasks import HaltOutcome, HaltTask, StartJobTask, WatchJobTask
from orchestrator.store import Store
from orchestrator.store.sqlite import SQLiteStore

from tests.fakes import FakeAgents, FakeChain, FixedPlanner, MovingClock, RecordingEngine, RecordingMetrics


def address_of(seed: str) -> str:
    """A valid Algorand address of its own for each seed (deterministic: no key is needed here)."""
    return str(encoding.encode_address(hashlib.sha256(seed.encode()).digest()))


def app_id_of(seed: str) -> int:
    return 1000 + int(hashlib.sha256(f"app/{seed}".encode()).hexdigest()[:6], 16)


USER = "5b1c0c8e-0000-4000-8000-000000000001"
OTHER_USER = "5b1c0c8e-0000-4000-8000-000000000002"
WALLET = address_of("the person's wallet")
SUMMARIZER = "8d7c3b1a-0f5e-4c2d-9b8a-7e6f5d4c3b2a"
TRANSLATOR = "3f2e1d0c-9b8a-4776-8554-433221100fed"
PRICE = 250_000


# --- the catalog ------------------------------------------------------------------------------------


def agent_metadata(agent_id: str | None = None, name: str = "Agent", **values: Any) -> AgentMetadata:
    """A catalog row as the marketplace keeps it: active, with its NOT NULL columns (subdomain, repo,
    GitHub URL) filled; `values` change or add columns."""
    agent_id = agent_id or str(uuid.uuid4())
    slug = f"agent-{agent_id[-4:]}"
    defaults: dict[str, Any] = dict(
        price_microalgo=1,
        status="active",
        runtime_status="active",
        subdomain=slug,
        repo_owner="0rca-network",
        repo_name=slug,
        github_url=f"https://github.com/0rca-network/{slug}",
    )
    return AgentMetadata(id=agent_id, name=name, **{**defaults, **values})


def hireable_agent(
    agent_id: str | None = None, name: str = "Summarizer", *, price: int = PRICE, **values: Any
) -> AgentMetadata:
    """An agent a plan can hire and pay: reachable (its base URL), and when it charges, an address
    to pay and the app its group calls, both its own."""
    agent_id = agent_id or str(uuid.uuid4())
    paying: dict[str, Any] = (
        {"agent_address": address_of(f"agent/{agent_id}"), "app_id": app_id_of(agent_id)} if price else {}
    )
    return agent_metadata(
        agent_id,
        name,
        price_microalgo=price,
        base_url=f"https://agent-{agent_id[-4:]}.agents.test",
        description=f"{name}, for tests",
        **{**paying, **values},
    )


# --- workflows and steps -------------------------------------------------------------------------


def step_record(
    workflow_id: str,
    step_number: int,
    agent_id: str,
    *,
    status: StepStatus = StepStatus.PENDING,
    **fields: Any,
) -> StepRecord:
    return StepRecord(
        id=str(uuid.uuid4()),
        workflow_id=workflow_id,
        step_number=step_number,
        agent_id=agent_id,
        status=status,
        **fields,
    )


def planned_workflow(
    agents: Sequence[AgentMetadata | str],
    *,
    workflow_id: str | None = None,
    user_id: str = USER,
    wallet: str = WALLET,
    user_message: str = "hi",
    reasoning: str = "test",
    inputs: Sequence[dict[str, Any] | str] | None = None,
    step_names: Sequence[str | None] | None = None,
    step_status: StepStatus | Sequence[StepStatus] = StepStatus.PENDING,
    step_fields: Mapping[int, Mapping[str, Any]] | None = None,
    **workflow_fields: Any,
) -> tuple[WorkflowRecord, list[StepRecord]]:
    """A workflow with one step per agent (a catalog record, or only its id), and its step rows.

    Steps of catalog records are named and priced after them (the plan's total is their sum);
    `inputs` are the planned inputs (none: `{}`), `step_status` every step's status or each one's,
    `step_fields[n]` more fields of step n's row; `workflow_fields` fields of the workflow."""
    workflow_id = workflow_id or str(uuid.uuid4())
    records = [a if isinstance(a, AgentMetadata) else None for a in agents]
    ids = [a.id if isinstance(a, AgentMetadata) else a for a in agents]
    statuses = [step_status] * len(ids) if isinstance(step_status, StepStatus) else list(step_status)
    planned = [
        PlannedStep(
            step_number=n,
            agent_id=agent_id,
            agent_name=record.name if record else "",
            description=f"step {n}" if record else "",
            **({"input_data": inputs[n - 1]} if inputs is not None else {}),
        )
        for n, (agent_id, record) in enumerate(zip(ids, records, strict=True), start=1)
    ]
    prices = [record.price if record else 0 for record in records]
    workflow = WorkflowRecord(
        workflow_id=workflow_id,
        user_id=user_id,
        wallet_address=wallet,
        user_message=user_message,
        plan=WorkflowPlan(reasoning=reasoning, steps=planned),
        **{"total_cost_microalgo": sum(prices), **workflow_fields},
    )
    steps = [
        step_record(
            workflow_id,
            n,
            agent_id,
            **{
                "status": statuses[n - 1],
                "agent_name": step_names[n - 1] if step_names else (record.name if record else None),
                "price_microalgo": prices[n - 1],
                **(step_fields or {}).get(n, {}),
            },
        )
        for n, (agent_id, record) in enumerate(zip(ids, records, strict=True), start=1)
    ]
    return workflow, steps


# --- jobs, payments, receipts, tokens ------------------------------------------------------------


def job_record(
    workflow_id: str, step_number: int, agent_job_id: str, *, agent_id: str, **values: Any
) -> JobRecord:
    """A `jobs` row (keyed as the use cases key it) waiting for its payment."""
    defaults: dict[str, Any] = dict(
        job_id=job_row_id(workflow_id, step_number, agent_job_id),
        agent_id=agent_id,
        requester_addr=WALLET,
        callee_addr="R",
        job_input="hello",
        job_input_hash="h",
        amount_microalgo=5,
        state=JobState.PAYMENT_PENDING,
        workflow_id=workflow_id,
        step_number=step_number,
        agent_job_id=agent_job_id,
    )
    return JobRecord(**{**defaults, **values})


def payment_record(
    workflow_id: str,
    txid: str,
    step_number: int,
    *,
    agent_id: str,
    job_id: str | None = None,
    payer: str = WALLET,
    payee: str = "R",
    amount: int = 5,
    confirmed_round: int = 3,
) -> PaymentRecord:
    """A confirmed transaction paid for a step; its id is derived (building it twice gives one row)."""
    return PaymentRecord(
        payment_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{workflow_id}/{txid}")),
        txid=txid,
        workflow_id=workflow_id,
        step_number=step_number,
        agent_id=agent_id,
        job_id=job_id,
        payer_addr=payer,
        payee_addr=payee,
        amount_microalgo=amount,
        confirmed_round=confirmed_round,
    )


def receipt(
    amount: int,
    fee: int = 0,
    *,
    txn_ids: list[str] | None = None,
    confirmed_round: int = 3,
    receiver: str = "R",
) -> PaymentReceipt:
    return PaymentReceipt(
        txn_ids=txn_ids or ["T" * 52],
        confirmed_round=confirmed_round,
        amount_microalgo=amount,
        receiver=receiver,
        fee_microalgo=fee,
    )


def access_token_record(
    workflow_id: str,
    step_number: int,
    agent_job_id: str,
    token: str,
    *,
    agent_id: str,
    user_id: str = USER,
    wallet: str = WALLET,
    job_input_hash: str | None = "h",
) -> AccessTokenRecord:
    return AccessTokenRecord(
        user_id=user_id,
        wallet_address=wallet,
        job_id=agent_job_id,
        agent_id=agent_id,
        access_token=token,
        job_input_hash=job_input_hash,
        workflow_id=workflow_id,
        step_number=step_number,
    )


# --- a workflow a repair finds (services/reconcile) -------------------------------------------------

# Timings the repair tests reason with: a payment timeout, a poll deadline, a grace margin.
REPAIR_SETTINGS: dict[str, Any] = dict(
    payment_timeout_seconds=600,
    poll_deadline_seconds=300,
    sweep_margin_seconds=60,
    submit_payment_retry_seconds=12,
)
MOVIES = "agent-movies"


def paid_txids(workflow_id: str) -> list[str]:
    """The app call and the payment that paid step 2 (txids are unique across workflows)."""
    return [f"APPCALL-{workflow_id}", f"PAYMENT-{workflow_id}"]


def running_at_step_two(
    store: Store,
    second_step: StepStatus,
    *,
    attempt: int = 1,
    execution_arn: str | None = None,
    **second_step_fields: Any,
) -> WorkflowRecord:
    """A running workflow of two steps: the first succeeded (paid), the second in `second_step` with
    its job, and that job's payment confirmed and recorded unless it still awaits it."""
    awaiting = second_step == StepStatus.AWAITING_PAYMENT
    workflow_id = str(uuid.uuid4())
    paid = receipt(500_000, txn_ids=paid_txids(workflow_id), confirmed_round=42, receiver="AGENT")
    workflow, steps = planned_workflow(
        [MOVIES, MOVIES],
        workflow_id=workflow_id,
        user_message="headache and a movie",
        inputs=["headache", "{{step_1_output}}"],
        step_status=[StepStatus.SUCCEEDED, second_step],
        step_fields={
            1: {"output": {"condition": "cold"}, "agent_job_id": "job-1"},
            2: {
                "agent_job_id": "job-2",
                "txn_ids": paid_txids(workflow_id),
                "receipt": None if awaiting else paid,
                "task_token": "token-of-step-2",
                "started_at": utcnow(),
                **second_step_fields,
            },
        },
        status=WorkflowStatus.RUNNING,
        attempt=attempt,
        current_step=2,
        execution_arn=execution_arn,
    )
    store.create_workflow(workflow, steps)
    if not awaiting:
        assert store.record_payments(
            [
                payment_record(
                    workflow_id, txid, 2, agent_id=MOVIES, payee="AGENT", amount=amount, confirmed_round=42
                )
                for txid, amount in zip(paid_txids(workflow_id), (0, 500_000), strict=True)
            ]
        )
    return workflow


# --- a world of fakes ---------------------------------------------------------------------------


@dataclass
class World:
    """A `Dependencies` bundle of fakes and a SQLite store, with what tests read and drive."""

    deps: Dependencies
    store: SQLiteStore
    agents: FakeAgents
    chain: FakeChain
    engine: RecordingEngine
    clock: MovingClock
    metrics: RecordingMetrics
    planner: FixedPlanner

    @property
    def settings(self) -> Settings:
        return self.deps.settings

    def close(self) -> None:
        self.store.close()

    # --- building ---
    def add_agents(self, *agents: AgentMetadata) -> list[AgentMetadata]:
        self.store.upsert_agents(list(agents))
        return list(agents)

    def add_workflow(
        self,
        agents: Sequence[AgentMetadata | str],
        *,
        status: WorkflowStatus = WorkflowStatus.RUNNING,
        attempt: int = 1,
        **fields: Any,
    ) -> WorkflowRecord:
        """Store a workflow of these agents (see `planned_workflow`), running its first attempt
        unless told otherwise."""
        workflow, steps = planned_workflow(agents, status=status, attempt=attempt, **fields)
        self.store.create_workflow(workflow, steps)
        return workflow

    def put_step(self, workflow_id: str, step_number: int, status: StepStatus, **fields: Any) -> StepRecord:
        """Force a step row into `status` (whatever it is now), as a state a test starts from."""
        changed = self.store.update_step(
            workflow_id, step_number, expected=set(StepStatus), changes={"status": status, **fields}
        )
        assert changed is not None, f"workflow {workflow_id} has no step {step_number}"
        return changed

    def put_workflow(self, workflow_id: str, status: WorkflowStatus, **fields: Any) -> WorkflowRecord:
        changed = self.store.update_workflow(
            workflow_id, expected=set(WorkflowStatus), changes={"status": status, **fields}
        )
        assert changed is not None, f"there is no workflow {workflow_id}"
        return changed

    # --- reading ---
    def workflow(self, workflow_id: str) -> WorkflowRecord:
        found = self.store.get_workflow(workflow_id)
        assert found is not None
        return found

    def step(self, workflow_id: str, step_number: int = 1) -> StepRecord:
        found = self.store.get_step(workflow_id, step_number)
        assert found is not None
        return found

    def payments(self, workflow_id: str, step_number: int = 1) -> list[PaymentRecord]:
        return self.store.payments_for_step(workflow_id, step_number)

    def jobs(self, workflow_id: str, step_number: int = 1) -> list[JobRecord]:
        return self.store.list_jobs(workflow_id, step_number)

    def recorded_txids(self) -> list[str]:
        """Every txid the store recorded as paid, for any step of any workflow."""
        return [
            payment.txid
            for status in WorkflowStatus
            for workflow_id in self.store.list_workflow_ids(status=status)
            for step in self.store.list_steps(workflow_id)
            for payment in self.store.payments_for_step(workflow_id, step.step_number)
        ]

    def money_moved(self) -> tuple[int, int]:
        """(payments the store recorded, transactions the chain confirmed): what a test that moves
        money counts."""
        return len(self.recorded_txids()), len(self.chain.confirmed)

    def success_tokens(self) -> list[str]:
        return [token for token, _ in self.engine.successes]

    # --- driving (the real use cases) ---
    def start_job(self, workflow_id: str, step_number: int = 1, *, token: str = "start-1") -> None:
        from orchestrator.services.start_job import start_job

        attempt = self.workflow(workflow_id).attempt
        start_job(
            self.deps,
            StartJobTask(workflow_id=workflow_id, step_number=step_number, attempt=attempt, task_token=token),
        )

    def offer(self, workflow_id: str, step_number: int = 1, *, token: str = "start-1") -> StepRecord:
        """StartJob of the step: the agent's group is offered and the step awaits its payment."""
        self.start_job(workflow_id, step_number, token=token)
        step = self.step(workflow_id, step_number)
        assert step.status == StepStatus.AWAITING_PAYMENT, step.status
        return step

    def submit(self, workflow_id: str, step_number: int, txn_ids: list[str], user_id: str = USER) -> StepView:
        from orchestrator.services.payment import submit_payment

        return submit_payment(self.deps, workflow_id, step_number, txn_ids, user_id)

    def pay(self, workflow_id: str, step_number: int = 1) -> StepView:
        """The person signs the offered group, the chain confirms it, and the page submits it."""
        step = self.step(workflow_id, step_number)
        self.chain.confirm(step.txn_ids)
        return self.submit(workflow_id, step_number, step.txn_ids)

    def watch(
        self, workflow_id: str, step_number: int = 1, *, token: str = "watch-1", wait_seconds: int = 2
    ) -> None:
        from orchestrator.services.job_watch import watch_job

        attempt = self.workflow(workflow_id).attempt
        watch_job(
            self.deps,
            WatchJobTask(
                workflow_id=workflow_id,
                step_number=step_number,
                attempt=attempt,
                task_token=token,
                wait_seconds=wait_seconds,
            ),
        )

    def finish(self, workflow_id: str, step_number: int = 1, output: Any = "done") -> StepRecord:
        """The agent ends the step's job well and the next look sees it."""
        step = self.step(workflow_id, step_number)
        assert step.agent_job_id is not None
        self.agents.set_job(step.agent_job_id, "succeeded", output)
        self.watch(workflow_id, step_number, token=f"finish-{step_number}")
        return self.step(workflow_id, step_number)

    def resume(self, workflow_id: str, *, repay_steps: Sequence[int] = (), user_id: str = USER) -> None:
        """POST /api/workflows/start: a new attempt from the first unfinished step."""
        from orchestrator.services.workflows import start_workflow

        start_workflow(self.deps, workflow_id, user_id, repay_steps=repay_steps)

    def halt(
        self, workflow_id: str, step_number: int, reason: str, error: str = "", cause: str = ""
    ) -> HaltOutcome:
        from orchestrator.services.outcome import halt

        attempt = self.workflow(workflow_id).attempt
        caught = {"Error": error, "Cause": cause} if error else {}
        return halt(
            self.deps,
            HaltTask(
                workflow_id=workflow_id, step_number=step_number, attempt=attempt, reason=reason, error=caught
            ),
        )


def world(
    tmp_path: Path,
    *,
    clock_start: datetime | None = None,
    planner: FixedPlanner | None = None,
    **settings: Any,
) -> World:
    """Fakes for every outside service and a SQLite store on a file in `tmp_path`; `settings` are
    `Settings` fields (e.g. poll_deadline_seconds=60)."""
    config = Settings(**{"sqlite_path": str(tmp_path / "orchestrator.sqlite3"), **settings})
    clock = MovingClock(clock_start) if clock_start else MovingClock()
    chain = FakeChain(config)
    store = SQLiteStore(config.sqlite_path)
    agents = FakeAgents(chain)
    engine, metrics, planner = RecordingEngine(), RecordingMetrics(), planner or FixedPlanner()
    # Every adapter is given: Dependencies builds none of its own (no AWS, no algod, no HTTP).
    deps = Dependencies(
        config,
        clock=clock,
        sleep=clock.sleep,
        store=store,
        agents=agents,
        chain=chain,
        engine=engine,
        metrics=metrics,
        planner=planner,
    )
    return World(deps, store, agents, chain, engine, clock, metrics, planner)
