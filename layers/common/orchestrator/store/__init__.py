"""The `Store` protocol: persistence of agents, workflows, steps, jobs, payments and access tokens.

Every status change is a conditional update on the expected old status (`update_*` return False when
the row was not in that status), so that retries, duplicates and races are harmless. The shape maps
onto PostgREST filters (`.eq("status", expected)`) or RPC for the Supabase implementation.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol

from pydantic import BaseModel

from orchestrator.models import (
    AccessTokenRecord,
    AgentMetadata,
    JobRecord,
    PaymentRecord,
    StepRecord,
    StepStatus,
    WorkflowHeader,
    WorkflowPosition,
    WorkflowRecord,
    WorkflowStatus,
    utcnow,
)


def stamped_changes(model_type: type[BaseModel], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes a store applies to a row of `model_type`: only its fields, with `updated_at` now."""
    unknown = set(changes) - set(model_type.model_fields)
    if unknown:
        raise ValueError(f"unknown fields for {model_type.__name__}: {sorted(unknown)}")
    stamped = dict(changes)
    if "updated_at" in model_type.model_fields:
        stamped["updated_at"] = utcnow()
    return stamped


class Store(Protocol):
    # --- agents (the marketplace catalog) ---------------------------------------------------
    def list_agents(self, *, active_only: bool = True) -> list[AgentMetadata]: ...

    def get_agent(self, agent_id: str) -> AgentMetadata | None: ...

    def upsert_agents(self, agents: list[AgentMetadata]) -> None: ...

    def get_agent_token(self, agent_id: str) -> str | None:
        """The agent's secret (the X-Agent-Token of its pushes), never part of the catalog."""
        ...

    def set_agent_token(self, agent_id: str, agent_token: str) -> None:
        """Keep the agent's secret (the marketplace sets its agents'; the local stack its samples')."""
        ...

    # --- workflows ------------------------------------------------------------------------------
    def create_workflow(self, workflow: WorkflowRecord, steps: list[StepRecord]) -> None:
        """Insert the workflow and its step rows atomically."""
        ...

    def get_workflow(self, workflow_id: str) -> WorkflowRecord | None: ...

    def list_workflow_ids(self, *, status: WorkflowStatus) -> list[str]: ...

    def list_user_workflows(
        self, user_id: str, *, limit: int, after: WorkflowPosition | None = None
    ) -> list[WorkflowHeader]:
        """The user's workflows, newest first: by `created_at`, then `workflow_id`, both descending;
        at most `limit`, and with `after` only those that come after that position in this order
        (keyset pagination: pages stay right while workflows are added). Rows without a creation
        time (none the orchestrator writes) are not listed."""
        ...

    def update_workflow(
        self,
        workflow_id: str,
        *,
        expected: Collection[WorkflowStatus],
        changes: Mapping[str, Any],
        expected_attempt: int | None = None,
    ) -> WorkflowRecord | None:
        """Apply `changes` if the workflow's status is one of `expected` (and, when given, its attempt
        is `expected_attempt`); the updated row, else None."""
        ...

    # --- steps ----------------------------------------------------------------------------------
    def list_steps(self, workflow_id: str) -> list[StepRecord]: ...

    def get_step(self, workflow_id: str, step_number: int) -> StepRecord | None: ...

    def steps_for_agent_job(self, agent_job_id: str) -> list[StepRecord]:
        """The steps whose job at its agent has this id (an agent's ids are unique only to it)."""
        ...

    def update_step(
        self,
        workflow_id: str,
        step_number: int,
        *,
        expected: Collection[StepStatus],
        changes: Mapping[str, Any],
    ) -> StepRecord | None:
        """Apply `changes` if the step's status is one of `expected`; the updated row, else None."""
        ...

    # --- jobs, payments, access tokens ---------------------------------------------------------
    def record_job(self, job: JobRecord) -> None:
        """Insert or replace the job (keyed by `job_id`, derived from the agent's job: retries are safe)."""
        ...

    def list_jobs(self, workflow_id: str, step_number: int) -> list[JobRecord]:
        """The step's jobs (each with the group it offered), oldest first."""
        ...

    def update_job(self, job_id: str, changes: Mapping[str, Any]) -> None:
        """Apply `changes` to the job (its marketplace `state`, txid, group id); unknown jobs: nothing."""
        ...

    def record_payments(self, payments: list[PaymentRecord]) -> bool:
        """Insert all rows or none; False when any txid was already recorded (a replay)."""
        ...

    def payments_for_txids(self, txids: Collection[str]) -> list[PaymentRecord]: ...

    def payments_for_step(self, workflow_id: str, step_number: int) -> list[PaymentRecord]: ...

    def save_access_token(self, token: AccessTokenRecord) -> None:
        """Insert or replace the token of (workflow, step, agent job)."""
        ...

    def get_access_token(self, workflow_id: str, step_number: int, agent_job_id: str) -> str | None: ...
