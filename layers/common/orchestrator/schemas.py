"""Request and response shapes of the HTTP API and of the state machine's tasks.

Bodies accept the seed's camelCase (`workflowId`, `stepNumber`, `walletAddress`, `txnIds`, …) as well
as snake_case. Responses are snake_case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from orchestrator.models import ErrorInfo, PaymentReceipt, StepStatus, WorkflowStatus


def _alias(*names: str) -> Any:
    return AliasChoices(*names)


class _Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", str_strip_whitespace=True)


# --- HTTP request bodies ------------------------------------------------------------------------


class CreateWorkflowRequest(_Body):
    user_message: str = Field(
        min_length=1,
        max_length=4000,
        validation_alias=_alias("user_message", "userMessage", "message", "request"),
    )
    wallet_address: str = Field(
        min_length=58, max_length=58, validation_alias=_alias("wallet_address", "walletAddress")
    )
    budget_microalgo: int | None = Field(
        default=None, ge=0, validation_alias=_alias("budget_microalgo", "budgetMicroalgo")
    )


class WorkflowRequest(_Body):
    workflow_id: str = Field(
        min_length=1, max_length=64, validation_alias=_alias("workflow_id", "workflowId")
    )


class ApproveRequest(WorkflowRequest):
    budget_microalgo: int | None = Field(
        default=None, ge=0, validation_alias=_alias("budget_microalgo", "budgetMicroalgo")
    )


class StepRequest(WorkflowRequest):
    step_number: int = Field(ge=1, le=50, validation_alias=_alias("step_number", "stepNumber"))


class SubmitPaymentRequest(StepRequest):
    txn_ids: list[str] = Field(
        min_length=1, max_length=16, validation_alias=_alias("txn_ids", "txnIds", "txid", "txIds", "txids")
    )

    @field_validator("txn_ids", mode="before")
    @classmethod
    def _one_txid_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


# --- state machine task payloads ------------------------------------------------------------------


class TaskRef(BaseModel):
    """Every task payload: which workflow, which step, which execution attempt."""

    model_config = ConfigDict(extra="ignore")

    workflow_id: str
    step_number: int = Field(ge=1)
    attempt: int = Field(ge=1)


class StartJobTask(TaskRef):
    task_token: str


class PollTask(TaskRef):
    poll_count: int = Field(default=0, ge=0)


class HaltTask(TaskRef):
    reason: str  # "failed" | "payment_timeout" | "cancelled"
    error: dict[str, Any] = Field(default_factory=dict)  # the Catch's {"Error", "Cause"}


class PollOutcome(BaseModel):
    status: str  # "succeeded" | "working"
    wait_seconds: int = 0
    poll_count: int = 0


class AdvanceOutcome(BaseModel):
    done: bool
    next_step: int


class HaltOutcome(BaseModel):
    workflow_status: WorkflowStatus
    step_status: StepStatus | None


# --- views (responses) ------------------------------------------------------------------------------


class StepView(BaseModel):
    step_number: int
    agent_id: str
    agent_name: str
    description: str
    input_data: dict[str, Any] | str
    status: StepStatus
    price_microalgo: int
    resolved_input: str | None = None
    job_id: str | None = None
    unsigned_group_txns: list[str] = Field(default_factory=list)
    txn_ids: list[str] = Field(default_factory=list)
    payment_required_microalgo: int = 0
    last_valid_round: int | None = None
    receipt: PaymentReceipt | None = None
    output: Any = None
    error: ErrorInfo | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class WorkflowView(BaseModel):
    workflow_id: str
    status: WorkflowStatus
    user_message: str
    wallet_address: str
    reasoning: str
    current_step: int
    total_cost_microalgo: int
    budget_microalgo: int | None
    attempt: int
    steps: list[StepView]
    final_output: Any = None
    error: ErrorInfo | None = None
    created_at: datetime
    updated_at: datetime
