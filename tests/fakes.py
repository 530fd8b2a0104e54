"""In-memory fakes of every outside service the use cases (orchestrator.services) call, each typed to
its Protocol, so that a unit test runs a use case with no socket at all:

- `FakeAgents` (`orchestrator.agents.AgentClient`): start_job answers with a real unsigned payment
  group built with algosdk (the price to the agent's address and an ABI `pay(pay)void` call to its
  app, as devstack/agents builds it), submit_payment accepts or refuses as scripted, job_status
  answers what the test scripts per job; every call is recorded.
- `FakeChain` (`orchestrator.payments.verification.ChainVerifier`): a current round, the genesis
  hash of the configured network, the txids confirmed and their round, wallets' funds; raises
  `ChainUnavailable` when told.
- `RecordingEngine` (`orchestrator.engine.Engine`): task successes and failures by token, tokens that
  no longer wait, started executions and what describe_execution answers.
- `RecordingMetrics` (`orchestrator.observability.WorkflowMetrics`): every metric reported.
- `MovingClock` (`orchestrator.dependencies.Clock`, and `Dependencies.sleep`): time moves only when
  the test moves it or the code sleeps.
- `FixedPlanner` (`orchestrator.planner.Planner`): the plan the test asks for.

The store is no fake: tests use the real `SQLiteStore` on a file under pytest's tmp_path (see
tests/builders.py `world`). It opens no socket, and its updates are compare-and-set exactly as
production's are, so races and replays behave as they do in the deployed store.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from orchestrator.agents import JobStatusResponse, StartJobResponse, SubmitPaymentResponse
from orchestrator.engine import ExecutionDescription, ExecutionInput
from orchestrator.errors import (
    AgentRejected,
    AgentUnavailable,
    ChainUnavailable,
    EngineUnavailable,
    OrchestratorError,
    PaymentNotConfirmed,
)
from orchestrator.models import AgentMetadata, PlannedStep, WorkflowPlan
from orchestrator.payments.verification import AccountFunds

if TYPE_CHECKING:
    from orchestrator.agents import AgentClient
    from orchestrator.config import Settings
    from orchestrator.dependencies import Clock
    from orchestrator.engine import Engine
    from orchestrator.observability import WorkflowMetrics
    from orchestrator.payments.verification import ChainVerifier
    from orchestrator.planner import Planner

# Every LocalNet has a genesis of its own (the preset names none): the fake chain's, when the
# configured network does not name one either.
LOCALNET_GENESIS_HASH = base64.b64encode(hashlib.sha256(b"fake-localnet-v1").digest()).decode()
FIRST_ROUND = 1000
MIN_FEE_MICROALGO = 1000
# Algorand's minimum balance of an account holding nothing but ALGO.
BASE_MIN_BALANCE_MICROALGO = 100_000
T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


# --- the chain --------------------------------------------------------------------------------------


class FakeChain:
    """The chain as the orchestrator asks it. `confirm` is the person's wallet sending a group; a
    method named in `unavailable` (or every method, with `down`) raises `ChainUnavailable`."""

    def __init__(self, settings: Settings | None = None, *, round_: int = FIRST_ROUND) -> None:
        self.round = round_
        self.genesis = (settings.genesis_hash if settings else None) or LOCALNET_GENESIS_HASH
        self.min_fee = MIN_FEE_MICROALGO
        self.confirmed: dict[str, int] = {}  # txid -> the round that confirmed it
        self.funds: dict[str, AccountFunds] = {}
        self.down = False
        self.unavailable: set[str] = set()
        self.calls: list[str] = []  # the methods asked, in order

    # --- what a test does ---
    def confirm(self, txids: list[str], *, at_round: int | None = None) -> int:
        """The group is confirmed in the next round (or `at_round`); the round it is in."""
        if at_round is None:
            self.round += 1
            at_round = self.round
        for txid in txids:
            assert txid not in self.confirmed, f"{txid} is confirmed already: a chain confirms a txid once"
            self.confirmed[txid] = at_round
        return at_round

    def advance(self, rounds: int) -> int:
        self.round += rounds
        return self.round

    def fund(self, address: str, amount: int, *, min_balance: int = BASE_MIN_BALANCE_MICROALGO) -> None:
        self.funds[address] = AccountFunds(amount, min_balance, self.min_fee)

    # --- ChainVerifier ---
    def current_round(self) -> int:
        self._asked("current_round")
        return self.round

    def genesis_hash(self) -> str:
        self._asked("genesis_hash")
        return self.genesis

    def account_funds(self, address: str) -> AccountFunds:
        self._asked("account_funds")
        # An account nobody funded holds nothing and must still keep the minimum balance.
        return self.funds.get(address, AccountFunds(0, BASE_MIN_BALANCE_MICROALGO, self.min_fee))

    def confirmed_round(self, txid: str) -> int | None:
        self._asked("confirmed_round")
        return self.confirmed.get(txid)

    def require_confirmed(self, txids: list[str]) -> int:
        self._asked("require_confirmed")
        if not txids:
            raise PaymentNotConfirmed("No transaction ids were submitted.")
        rounds = []
        for txid in txids:
            if txid not in self.confirmed:
                raise PaymentNotConfirmed(f"Transaction {txid} is not confirmed on chain yet.")
            rounds.append(self.confirmed[txid])
        return max(rounds)

    def _asked(self, method: str) -> None:
        self.calls.append(method)
        if self.down or method in self.unavailable:
            raise ChainUnavailable(f"the fake chain is told to be unreachable ({method})")


# --- agents -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferTerms:
    """What the next start_job offers; every None is what a well-behaved agent sends (its price to its
    own address, a `pay(pay)void` call to its app, valid from the chain's round for 100 rounds). A
    free agent offers no group unless `amount` is given."""

    amount: int | None = None
    receiver: str | None = None
    app_id: int | None = None
    app_call: bool = True
    validity_rounds: int = 100
    first_round: int | None = None
    fee: int = MIN_FEE_MICROALGO
    genesis_hash: str | None = None
    job_id: str | None = None
    payment_required: int | None = None


@dataclass(frozen=True)
class AgentCall:
    """One request to an agent, as the fake received it."""

    kind: str  # "start_job" | "submit_payment" | "job_status"
    agent_id: str
    job_id: str | None = None
    sender_address: str | None = None
    job_input: str | None = None
    txids: tuple[str, ...] = ()
    access_token: str | None = None
    retry_for_seconds: float = 0.0


StartJobAnswer = OfferTerms | StartJobResponse | OrchestratorError
PaymentAnswer = SubmitPaymentResponse | OrchestratorError
StatusAnswer = JobStatusResponse | OrchestratorError


def agent_rejected(status_code: int = 402, message: str = "the payment is not visible yet") -> AgentRejected:
    """What HttpAgentClient raises for an agent's 4xx (402: its indexer does not see the payment)."""
    return AgentRejected(
        f"the agent refused (HTTP {status_code}): {message}", details={"status_code": status_code}
    )


def agent_unavailable(*, may_have_reached_agent: bool = False) -> AgentUnavailable:
    """What HttpAgentClient raises when the agent cannot be reached (or gave no answer)."""
    return AgentUnavailable(
        "the agent could not be reached (ConnectError).",
        details={"may_have_reached_agent": may_have_reached_agent},
    )


class FakeAgents:
    """Agents as `AgentClient` asks them. Answers are scripted; what is not scripted is what a
    well-behaved marketplace agent answers:

    - `start_answers` (consumed in order): `OfferTerms`, a raw `StartJobResponse` or an error to
      raise; otherwise a paid agent offers its price (`OfferTerms()`), a free one no group.
    - `payment_answers` (in order): a `SubmitPaymentResponse` or an error; otherwise success with a
      fresh access token.
    - `job_answers[job_id]`: the answers to each look at that job, the last one repeated; a job it
      started and nobody scripted is running; a job it never heard of is a 404 (`AgentRejected`).
    """

    def __init__(self, chain: FakeChain) -> None:
        self.chain = chain
        self.start_answers: list[StartJobAnswer] = []
        self.payment_answers: list[PaymentAnswer] = []
        self.job_answers: dict[str, list[StatusAnswer]] = {}
        self.calls: list[AgentCall] = []
        self.known_jobs: set[str] = set()
        self.offered: dict[str, list[str]] = {}  # agent job id -> the txids its group offered
        self._job_numbers = itertools.count(1)
        self._token_numbers = itertools.count(1)

    # --- scripting ---
    def set_job(self, job_id: str, status: str, output: Any = None) -> None:
        """From now on every look at `job_id` answers `status` (and `output`)."""
        self.job_answers[job_id] = [JobStatusResponse(job_id=job_id, status=status, output=output)]
        self.known_jobs.add(job_id)

    def script_job(self, job_id: str, *answers: StatusAnswer | str) -> None:
        """The next looks at `job_id` answer these in order (a word is that status), the last repeated."""
        self.job_answers[job_id] = [
            JobStatusResponse(job_id=job_id, status=a) if isinstance(a, str) else a for a in answers
        ]
        self.known_jobs.add(job_id)

    def forget_job(self, job_id: str) -> None:
        """The agent restarted and no longer knows the job: a look is answered 404 (until the
        payment is submitted again, which runs the job again)."""
        self.job_answers.pop(job_id, None)
        self.known_jobs.discard(job_id)

    # --- what it was asked ---
    def calls_of(self, kind: str) -> list[AgentCall]:
        return [call for call in self.calls if call.kind == kind]

    @property
    def started(self) -> list[AgentCall]:
        return self.calls_of("start_job")

    @property
    def submissions(self) -> list[AgentCall]:
        return self.calls_of("submit_payment")

    @property
    def looks(self) -> list[str | None]:
        """The access token of each look at a job, in order."""
        return [call.access_token for call in self.calls_of("job_status")]

    # --- AgentClient ---
    def start_job(self, agent: AgentMetadata, *, sender_address: str, job_input: str) -> StartJobResponse:
        self.calls.append(
            AgentCall("start_job", agent.id, sender_address=sender_address, job_input=job_input)
        )
        answer: StartJobAnswer = self.start_answers.pop(0) if self.start_answers else OfferTerms()
        if isinstance(answer, OrchestratorError):
            raise answer
        if isinstance(answer, StartJobResponse):
            response = answer
        elif agent.price == 0 and answer.amount is None:  # a free agent offers no group
            response = StartJobResponse(job_id=answer.job_id or self._new_job_id(), payment_required=0)
        else:
            response = self.offer(agent, sender_address, answer)
        self.known_jobs.add(response.job_id)
        self.offered[response.job_id] = list(response.txn_ids)
        return response

    def submit_payment(
        self, agent: AgentMetadata, *, job_id: str, txids: list[str], retry_for_seconds: float = 0.0
    ) -> SubmitPaymentResponse:
        self.calls.append(
            AgentCall(
                "submit_payment",
                agent.id,
                job_id=job_id,
                txids=tuple(txids),
                retry_for_seconds=retry_for_seconds,
            )
        )
        if self.payment_answers:
            answer = self.payment_answers.pop(0)
            if isinstance(answer, OrchestratorError):
                raise answer
            return answer
        # A real agent verifies the payment through its indexer: only the group it offered for the
        # job, confirmed. An SDK agent runs the job (again, if it had lost it) on every accepted submit.
        if job_id not in self.offered:
            raise agent_rejected(404, f"job {job_id} not found")
        if sorted(self.offered[job_id]) != sorted(txids) or any(t not in self.chain.confirmed for t in txids):
            raise agent_rejected(402, "the payment is not this job's, or not confirmed")
        self.known_jobs.add(job_id)
        return SubmitPaymentResponse(
            status="success", access_token=f"access-{job_id}-{next(self._token_numbers)}"
        )

    def job_status(self, agent: AgentMetadata, *, job_id: str, access_token: str | None) -> JobStatusResponse:
        self.calls.append(AgentCall("job_status", agent.id, job_id=job_id, access_token=access_token))
        if job_id not in self.known_jobs:
            raise agent_rejected(404, f"job {job_id} not found")
        script = self.job_answers.get(job_id)
        if not script:
            return JobStatusResponse(job_id=job_id, status="running")
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, OrchestratorError):
            raise answer
        return answer

    # --- building groups ---
    def offer(self, agent: AgentMetadata, sender: str, terms: OfferTerms) -> StartJobResponse:
        """A start_job answer with a real unsigned group, as a marketplace agent builds it."""
        from algosdk import abi, encoding, transaction

        job_id = terms.job_id or self._new_job_id()
        first = terms.first_round if terms.first_round is not None else self.chain.round
        params = transaction.SuggestedParams(
            fee=terms.fee,
            first=first,
            last=first + terms.validity_rounds,
            gh=terms.genesis_hash or self.chain.genesis,
            flat_fee=True,
        )
        amount = agent.price if terms.amount is None else terms.amount
        receiver = terms.receiver or agent.agent_address
        assert receiver, f"{agent.name} has no agent_address to be paid at"
        # The note names the job: two jobs offered in one round must not share their txids.
        note = f"job {job_id}".encode()
        payment = transaction.PaymentTxn(sender, params, receiver, amount, note=note)
        txns: list[transaction.Transaction] = [payment]
        app_id = terms.app_id if terms.app_id is not None else agent.app_id
        if terms.app_call and app_id:
            selector = abi.Method.from_signature("pay(pay)void").get_selector()
            call = transaction.ApplicationNoOpTxn(sender, params, app_id, [selector], note=note)
            txns = transaction.assign_group_id([payment, call])
        return StartJobResponse(
            job_id=job_id,
            unsigned_group_txns=[encoding.msgpack_encode(txn) for txn in txns],
            txn_ids=[txn.get_txid() for txn in txns],
            payment_required=amount if terms.payment_required is None else terms.payment_required,
        )

    def _new_job_id(self) -> str:
        return f"J{1762754481000 + next(self._job_numbers)}"


# --- the engine -------------------------------------------------------------------------------------


class RecordingEngine:
    """What the use cases complete or fail, by task token; tokens in `expired` no longer wait.
    Started executions are RUNNING until the test says otherwise in `descriptions` (an
    `ExecutionDescription`, None for one that does not exist, or an error to raise)."""

    def __init__(self) -> None:
        self.successes: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[tuple[str, str]] = []  # (token, error name)
        self.failure_causes: list[str] = []
        self.expired: set[str] = set()
        self.started: list[ExecutionInput] = []
        self.start_names: list[str] = []
        self.start_error: OrchestratorError | None = None
        self.descriptions: dict[str, ExecutionDescription | EngineUnavailable | None] = {}
        self.described: list[str] = []

    def start_execution(self, name: str, execution_input: ExecutionInput) -> str:
        if self.start_error is not None:
            raise self.start_error
        self.started.append(execution_input)
        self.start_names.append(name)
        arn = f"arn:aws:states:us-east-1:000000000000:execution:workflow:{name}"
        self.descriptions[arn] = ExecutionDescription(
            execution_arn=arn, name=name, status="RUNNING", input=execution_input.model_dump_json()
        )
        return arn

    def send_task_success(self, task_token: str, output: dict[str, Any]) -> bool:
        if task_token in self.expired:
            return False
        self.successes.append((task_token, output))
        return True

    def send_task_failure(self, task_token: str, error: str, cause: str) -> bool:
        self.failures.append((task_token, error))
        self.failure_causes.append(cause)
        return task_token not in self.expired

    def describe_execution(self, execution_arn: str) -> ExecutionDescription | None:
        self.described.append(execution_arn)
        found = self.descriptions.get(execution_arn)
        if isinstance(found, EngineUnavailable):
            raise found
        return found

    def end(
        self, execution_arn: str, status: str, *, error: str | None = None, cause: str | None = None
    ) -> None:
        """The execution ended (an operator stopped it, it timed out or failed)."""
        found = self.descriptions.get(execution_arn)
        name = found.name if isinstance(found, ExecutionDescription) else execution_arn.rsplit(":", 1)[-1]
        self.descriptions[execution_arn] = ExecutionDescription(
            execution_arn=execution_arn, name=name, status=status, error=error, cause=cause
        )


# --- metrics, clock, planner ----------------------------------------------------------------------


@dataclass
class RecordingMetrics:
    """Every metric the use cases report."""

    created: int = 0
    completed: int = 0
    failed: list[str] = field(default_factory=list)  # reasons
    step_latencies: list[float] = field(default_factory=list)
    payment_waits: list[float] = field(default_factory=list)
    agent_errors: list[tuple[str, str]] = field(default_factory=list)  # (agent id, error code)

    def workflow_created(self) -> None:
        self.created += 1

    def workflow_completed(self) -> None:
        self.completed += 1

    def workflow_failed(self, reason: str) -> None:
        self.failed.append(reason)

    def step_latency(self, seconds: float) -> None:
        self.step_latencies.append(seconds)

    def payment_wait(self, seconds: float) -> None:
        self.payment_waits.append(seconds)

    def agent_error(self, agent_id: str, error_code: str) -> None:
        self.agent_errors.append((agent_id, error_code))


class MovingClock:
    """Time that moves only when the test moves it (`advance`, `now = …`) or the code sleeps
    (`sleep`, for `Dependencies.sleep`); `at(t, change)` runs `change` once the clock reaches t
    seconds after its start (as another request would change the store meanwhile)."""

    def __init__(self, start: datetime = T0) -> None:
        self.start = start
        self.now = start
        self.sleeps: list[float] = []
        self._scheduled: list[tuple[float, Callable[[], None]]] = []

    def __call__(self) -> datetime:
        return self.now

    @property
    def elapsed(self) -> float:
        return (self.now - self.start).total_seconds()

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        due = [entry for entry in self._scheduled if entry[0] <= self.elapsed]
        self._scheduled = [entry for entry in self._scheduled if entry[0] > self.elapsed]
        for _, change in due:
            change()

    def at(self, seconds: float, change: Callable[[], None]) -> None:
        self._scheduled.append((seconds, change))


@dataclass(frozen=True)
class PlanningCall:
    user_message: str
    catalog_ids: list[str]
    feedback: list[str] | None
    budget_microalgo: int | None


class FixedPlanner:
    """Plans exactly what a test asks for: one step per (agent id, input), or raises `error`."""

    def __init__(
        self, steps: list[tuple[str, dict[str, Any] | str]] | None = None, *, error: Exception | None = None
    ) -> None:
        self.steps = steps or []
        self.error = error
        self.calls: list[PlanningCall] = []

    def plan(
        self,
        user_message: str,
        catalog: list[AgentMetadata],
        feedback: list[str] | None = None,
        *,
        budget_microalgo: int | None = None,
    ) -> WorkflowPlan:
        self.calls.append(PlanningCall(user_message, [a.id for a in catalog], feedback, budget_microalgo))
        if self.error is not None:
            raise self.error
        return WorkflowPlan(
            reasoning="fixed plan for a test",
            steps=[
                PlannedStep(step_number=n, agent_id=agent_id, description=f"step {n}", input_data=data)
                for n, (agent_id, data) in enumerate(self.steps, start=1)
            ],
        )


if TYPE_CHECKING:
    # Each fake is its Protocol (mypy checks these assignments).
    _agents: AgentClient = FakeAgents(FakeChain())
    _chain: ChainVerifier = FakeChain()
    _engine: Engine = RecordingEngine()
    _metrics: WorkflowMetrics = RecordingMetrics()
    _clock: Clock = MovingClock()
    _planner: Planner = FixedPlanner()
