"""What the state machine hands its Lambda tasks (`TaskRef` and its kinds) and what they answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from orchestrator.models import OrchestratorModel, StepStatus, WorkflowStatus


class TaskRef(OrchestratorModel):
    """Every task payload: which workflow, which step, which execution attempt."""

    model_config = ConfigDict(extra="ignore")

    workflow_id: str
    step_number: int = Field(ge=1)
    attempt: int = Field(ge=1)


class StartJobTask(TaskRef):
    task_token: str


class WatchJobTask(TaskRef):
    task_token: str
    wait_seconds: int = Field(default=0, ge=0)  # the WatchJob state's timeout: the next look's delay


class HaltTask(TaskRef):
    reason: str  # "failed" | "payment_timeout" | "cancelled"
    error: dict[str, Any] = Field(default_factory=dict)  # the Catch's {"Error", "Cause"}


class JobWatch(OrchestratorModel):
    """What StartJob and WatchJob complete with (the state's `$.poll`): whether the job ended well, and
    the WatchJob timeout until the next look at it."""

    status: Literal["succeeded", "working"]
    wait_seconds: int = Field(ge=1)


class AdvanceOutcome(OrchestratorModel):
    done: bool
    next_step: int


class HaltOutcome(OrchestratorModel):
    workflow_status: WorkflowStatus
    step_status: StepStatus | None
