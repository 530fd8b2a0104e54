"""Domain models: the shapes that cross every boundary (API, store, state machine, agents)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


class ErrorInfo(BaseModel):
    """A failure as users see it: a stable code and a sentence."""

    code: str
    message: str


class AgentMetadata(BaseModel):
    """One agent of the marketplace catalog (the `agents` table)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    description: str = ""
    capabilities: list[str] = Field(default_factory=list)
    price_microalgo: int = Field(ge=0)
    address: str = ""
    app_id: int | None = Field(default=None, ge=0)
    base_url: str | None = None
    subdomain: str | None = None
    is_active: bool = True


class WorkflowStep(BaseModel):
    """One planned step: which agent, and its input (may hold `{{step_N_output}}` references)."""

    step_number: int = Field(ge=1)
    agent_id: str
    agent_name: str = ""
    description: str = ""
    input_data: dict[str, Any] | str = Field(default_factory=dict)


class WorkflowPlan(BaseModel):
    reasoning: str = ""
    steps: list[WorkflowStep]


class PaymentReceipt(BaseModel):
    """What was paid for a step, as confirmed on chain."""

    txn_ids: list[str]
    confirmed_round: int
    amount_microalgo: int
    receiver: str


class StepResult(BaseModel):
    """The state of one step (the `step_results` table). Secrets live elsewhere."""

    id: str
    workflow_id: str
    step_number: int
    agent_id: str
    status: StepStatus = StepStatus.PENDING
    input: str | None = None
    job_id: str | None = None
    unsigned_group_txns: list[str] = Field(default_factory=list)
    txn_ids: list[str] = Field(default_factory=list)
    price_microalgo: int = 0  # the price approved in the plan: the most this step may pay
    payment_required_microalgo: int = 0
    last_valid_round: int | None = None
    receipt: PaymentReceipt | None = None
    output: Any = None
    error: ErrorInfo | None = None
    task_token: str | None = None
    poll_errors: int = 0
    poll_deadline: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class WorkflowRecord(BaseModel):
    """A workflow (the `workflows` table)."""

    id: str
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


class JobRecord(BaseModel):
    """An agent job started for a step (the `jobs` table)."""

    job_id: str
    workflow_id: str
    step_number: int
    agent_id: str
    status: str = "started"
    created_at: datetime = Field(default_factory=utcnow)


class PaymentRecord(BaseModel):
    """One confirmed transaction paid for a step (the `payments` table; txid is unique)."""

    txid: str
    workflow_id: str
    step_number: int
    agent_id: str
    job_id: str | None = None
    amount_microalgo: int
    receiver: str
    confirmed_round: int
    created_at: datetime = Field(default_factory=utcnow)
