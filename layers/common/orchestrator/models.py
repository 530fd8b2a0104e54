"""Domain models: the shapes that cross every boundary (API, store, state machine, agents)."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# In Lambda a model's validator and serializer are built when the model is first used, not at import:
# a cold start builds only what its requests use. Lambda runs one invocation at a time per process,
# so that first build cannot race; elsewhere (the local stack serves many requests at once in one
# process, and pydantic's deferred build is not thread-safe) every model is built at import.
DEFER_MODEL_BUILD = bool(os.environ.get("LAMBDA_TASK_ROOT"))


class OrchestratorModel(BaseModel):
    """The base of every pydantic model of the orchestrator (see `DEFER_MODEL_BUILD`)."""

    model_config = ConfigDict(defer_build=DEFER_MODEL_BUILD)


def utcnow() -> datetime:
    return datetime.now(UTC)


class WorkflowStatus(StrEnum):
    PLANNED = "planned"
    APPROVED = "approved"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# A failed or cancelled workflow can be resumed; a completed one cannot.
RESUMABLE_WORKFLOW_STATUSES = frozenset({WorkflowStatus.FAILED, WorkflowStatus.CANCELLED})
CANCELLABLE_WORKFLOW_STATUSES = frozenset(
    {WorkflowStatus.PLANNED, WorkflowStatus.APPROVED, WorkflowStatus.RUNNING}
)


class StepStatus(StrEnum):
    PENDING = "pending"
    AWAITING_PAYMENT = "awaiting_payment"
    PAYMENT_SUBMITTED = "payment_submitted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PAYMENT_TIMEOUT = "payment_timeout"
    CANCELLED = "cancelled"


ACTIVE_STEP_STATUSES = frozenset(
    {StepStatus.AWAITING_PAYMENT, StepStatus.PAYMENT_SUBMITTED, StepStatus.RUNNING}
)


class ErrorInfo(OrchestratorModel):
    """A failure as users see it: a stable code and a sentence."""

    code: str
    message: str


# The marketplace's words for an agent that may be hired (`agents.status`).
ACTIVE_AGENT_STATUS = "active"


def _words(value: Any) -> Any:
    """`tags` as the marketplace keeps them (a jsonb array), or liberally a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [word.strip() for word in value.split(",") if word.strip()]
    if isinstance(value, list):
        return [str(word).strip() for word in value if str(word).strip()]
    return value


class AgentMetadata(OrchestratorModel):
    """One agent of the marketplace catalog: a row of the marketplace's `agents` table, as it is.

    Only `base_url` is the orchestrator's own (a local override of the URL built from `subdomain`).
    The secret `agent_token` is never read into the catalog."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    description: str | None = None
    subdomain: str | None = None
    status: str = "pending"
    runtime_status: str | None = None
    agent_address: str | None = None  # where payments go
    app_id: int | None = Field(default=None, ge=0)
    price_microalgo: int | None = Field(default=None, ge=0)
    category: str | None = None
    tags: list[str] = Field(default_factory=list)
    data_input: str | None = None  # what input the agent expects, in words
    example_input: str | None = None
    example_output: str | None = None
    user_id: str | None = None
    repo_owner: str | None = None
    repo_name: str | None = None
    github_url: str | None = None
    base_url: str | None = None

    _tags_as_words = field_validator("tags", mode="before")(_words)

    @property
    def is_active(self) -> bool:
        return self.status.strip().lower() == ACTIVE_AGENT_STATUS

    @property
    def capabilities(self) -> list[str]:
        """What the agent can do, as words: its tags and its category."""
        words = list(self.tags)
        if self.category and self.category not in words:
            words.append(self.category)
        return words

    @property
    def price(self) -> int:
        return self.price_microalgo or 0


class PlannedStep(OrchestratorModel):
    """One planned step: which agent, and its input (may hold `{{step_N_output}}` references)."""

    step_number: int = Field(ge=1)
    agent_id: str
    agent_name: str = ""
    description: str = ""
    input_data: dict[str, Any] | str = Field(default_factory=dict)


class WorkflowPlan(OrchestratorModel):
    reasoning: str = ""
    steps: list[PlannedStep]


class PaymentReceipt(OrchestratorModel):
    """What was paid for a step, as confirmed on chain."""

    txn_ids: list[str]
    confirmed_round: int
    amount_microalgo: int
    receiver: str
    # The network fees of the group's transactions the person's wallet sent (0 on receipts kept
    # before fees were recorded).
    fee_microalgo: int = 0


class StepRecord(OrchestratorModel):
    """The state of one step (a row of the marketplace's `step_results` table). Secrets are kept
    apart: the agent's access token lives in `access_tokens`, and the task token is never shown."""

    id: str
    workflow_id: str
    step_number: int
    agent_id: str
    agent_name: str | None = None
    status: StepStatus = StepStatus.PENDING
    input: str | None = None
    job_id: str | None = None  # our `jobs` row for the current agent job
    agent_job_id: str | None = None  # the agent's own id of that job (e.g. J1762754481290)
    unsigned_group_txns: list[str] = Field(default_factory=list)
    txn_ids: list[str] = Field(default_factory=list)
    price_microalgo: int = 0  # the price approved in the plan: the most this step may pay
    payment_required_microalgo: int = 0
    last_valid_round: int | None = None
    receipt: PaymentReceipt | None = None
    # Receipts of earlier jobs of this step that the agent could not deliver, kept when the person
    # agreed to pay for a new one.
    earlier_receipts: list[PaymentReceipt] = Field(default_factory=list)
    output: Any = None
    error: ErrorInfo | None = None
    task_token: str | None = None
    payment_redeliveries: int = 0  # times the current job's payment was handed to the agent again
    poll_errors: int = 0
    poll_deadline: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WorkflowRecord(OrchestratorModel):
    """A workflow (a row of the marketplace's `workflows` table, keyed by `workflow_id`)."""

    workflow_id: str
    user_id: str
    wallet_address: str
    user_message: str
    plan: WorkflowPlan
    status: WorkflowStatus = WorkflowStatus.PLANNED
    current_step: int = 1
    total_cost_microalgo: int = 0
    budget_microalgo: int | None = None
    attempt: int = 0
    execution_arn: str | None = None
    final_output: Any = None
    error: ErrorInfo | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WorkflowHeader(OrchestratorModel):
    """A workflow as a list of them shows it: no plan details, outputs or errors."""

    workflow_id: str
    user_id: str
    status: WorkflowStatus
    user_message: str
    current_step: int
    total_cost_microalgo: int
    step_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, workflow: WorkflowRecord) -> WorkflowHeader:
        return cls(
            workflow_id=workflow.workflow_id,
            user_id=workflow.user_id,
            status=workflow.status,
            user_message=workflow.user_message,
            current_step=workflow.current_step,
            total_cost_microalgo=workflow.total_cost_microalgo,
            step_count=len(workflow.plan.steps),
            created_at=workflow.created_at,
            updated_at=workflow.updated_at,
        )


# A place in a list of workflows, newest first: (created_at, workflow_id) of the last one seen.
WorkflowPosition = tuple[datetime, str]


class JobState(StrEnum):
    """`jobs.state` as the marketplace defines it."""

    PREPARED = "prepared"
    PAYMENT_PENDING = "payment_pending"
    ONCHAIN_CONFIRMED = "onchain_confirmed"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


def job_input_hash(job_input: str) -> str:
    """The hash the marketplace's SDK keeps of a job's input (sha256 hex of its UTF-8 text)."""
    return hashlib.sha256(job_input.encode()).hexdigest()


def job_row_id(workflow_id: str, step_number: int, agent_job_id: str) -> str:
    """Our `jobs` key for an agent's job: derived, so a retried task writes the same row again."""
    return str(uuid.uuid5(_JOB_NAMESPACE, f"{workflow_id}/{step_number}/{agent_job_id}"))


_JOB_NAMESPACE = uuid.UUID("5f0c9a34-6a43-4f57-9a8e-1c2f53b4e0d1")


class JobRecord(OrchestratorModel):
    """An agent job started for a step (a row of the marketplace's `jobs` table)."""

    job_id: str
    agent_id: str
    requester_addr: str
    callee_addr: str | None = None
    job_input: str
    job_input_hash: str
    amount_microalgo: int | None = None
    state: JobState = JobState.PREPARED
    txid: str | None = None
    group_id: str | None = None
    workflow_id: str
    step_number: int
    agent_job_id: str
    # The payment group offered for this job: remembered until its window has passed, so that a
    # confirmed payment is found on chain even when nobody submitted it.
    unsigned_group_txns: list[str] = Field(default_factory=list)
    txn_ids: list[str] = Field(default_factory=list)
    last_valid_round: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PaymentRecord(OrchestratorModel):
    """One confirmed transaction paid for a step (a row of the marketplace's `payments` table; a txid
    pays for one step only)."""

    payment_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    txid: str
    workflow_id: str
    step_number: int
    agent_id: str
    job_id: str | None = None
    payer_addr: str
    payee_addr: str
    amount_microalgo: int
    confirmed_round: int
    confirmed_at: datetime = Field(default_factory=utcnow)


class AccessTokenRecord(OrchestratorModel):
    """An agent's access token for a paid job (a row of the marketplace's `access_tokens`; secret).
    Its `id` is derived from (workflow, step, agent job), so saving a new token keeps the row's key."""

    id: str = ""
    user_id: str
    wallet_address: str
    job_id: str  # the agent's job id, as the marketplace keeps it
    agent_id: str
    access_token: str
    job_input_hash: str | None = None
    workflow_id: str
    step_number: int
    created_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _derived_id(self) -> AccessTokenRecord:
        if not self.id:
            key = f"access/{self.workflow_id}/{self.step_number}/{self.job_id}"
            self.id = str(uuid.uuid5(_JOB_NAMESPACE, key))
        return self
