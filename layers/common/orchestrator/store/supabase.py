"""Supabase implementation of the `Store` protocol (production), over PostgREST with the service key.

Tables and the RPC function are defined in supabase/migrations/. Every method is exactly one HTTP
request, and PostgREST runs each request as one transaction, so no method can leave a partial
write behind:
  * conditional updates are a single `PATCH … ?key=eq.…&status=in.(…)`: the database compares and
    sets in one statement (of two concurrent claims one matches the row, the other matches nothing);
  * `record_payments` is one INSERT of every row: a duplicate txid aborts the whole statement;
  * `create_workflow` is one call of `orchestrator_create_workflow`, which inserts the workflow and
    its steps in the function's (the request's) transaction.
A request that fails in transit may or may not have committed; it raises `StoreUnavailable` and
the caller's retry is harmless, because status changes are conditional on the expected old status,
payments are unique per txid and the other writes are upserts on their keys.

The store speaks to PostgREST only: its client (`postgrest`, what `supabase.create_client` makes for
`.table()` and `.rpc()`, with the same URL, headers, schema and timeout) is created, and imported,
when the first request is made. The rest of the `supabase` package (auth, storage, realtime,
functions) is never imported: a cold start's first store request saves well over 100 ms.
"""

from __future__ import annotations

import contextlib
import json
import platform
import threading
import warnings
from collections.abc import Collection, Mapping
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

from pydantic import BaseModel, TypeAdapter

from orchestrator.config import ConfigError
from orchestrator.errors import StoreUnavailable
from orchestrator.models import (
    ACTIVE_AGENT_STATUS,
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
)
from orchestrator.store import stamped_changes

if TYPE_CHECKING:
    from postgrest import SyncPostgrestClient, SyncRequestBuilder

ModelT = TypeVar("ModelT", bound=BaseModel)

CREATE_WORKFLOW_RPC = "orchestrator_create_workflow"
UNIQUE_VIOLATION = "23505"


def _columns(model_type: type[BaseModel]) -> str:
    return ",".join(model_type.model_fields)


AGENT_COLUMNS = _columns(AgentMetadata)
WORKFLOW_COLUMNS = _columns(WorkflowRecord)
# The marketplace keeps a step's output as text: text outputs as they are, others as JSON text
# marked by the orchestrator's `output_format` column.
STEP_COLUMNS = _columns(StepRecord) + ",output_format"
# A list of workflows reads the plan for its length only, and none of the outputs or errors.
WORKFLOW_HEADER_COLUMNS = (
    "workflow_id,user_id,status,user_message,current_step,total_cost_microalgo,plan,created_at,updated_at"
)
PAYMENT_COLUMNS = _columns(PaymentRecord)
JOB_COLUMNS = _columns(JobRecord)


def _row(model: BaseModel) -> dict[str, Any]:
    """A model as the JSON row PostgREST expects (datetimes as ISO 8601, enums as their values)."""
    return model.model_dump(mode="json")


def _step_output_columns(output: Any) -> dict[str, Any]:
    if output is None:
        return {"output": None, "output_format": None}
    if isinstance(output, str):
        return {"output": output, "output_format": "text"}
    return {"output": json.dumps(output, ensure_ascii=False), "output_format": "json"}


def _step_row(step: StepRecord) -> dict[str, Any]:
    return {**_row(step), **_step_output_columns(step.output)}


def _step_model(row: Mapping[str, Any]) -> StepRecord:
    values = dict(row)
    if values.get("output_format") == "json" and isinstance(values.get("output"), str):
        with contextlib.suppress(ValueError):  # written by someone else: keep the text
            values["output"] = json.loads(values["output"])
    return _model(StepRecord, values)


def _model(model_type: type[ModelT], row: Mapping[str, Any]) -> ModelT:
    # NULLs become the model's defaults; columns the model does not know (the marketplace's own) are
    # ignored.
    fields = model_type.model_fields
    return model_type.model_validate({k: v for k, v in row.items() if k in fields and v is not None})


def _header(row: Mapping[str, Any]) -> WorkflowHeader:
    plan = row.get("plan")
    steps = plan.get("steps") if isinstance(plan, dict) else None
    values = {k: v for k, v in row.items() if k != "plan"}
    return _model(WorkflowHeader, {**values, "step_count": len(steps) if isinstance(steps, list) else 0})


@cache
def _field_adapter(model_type: type[BaseModel], name: str) -> TypeAdapter[Any]:
    field = model_type.model_fields[name]
    if not field.metadata:
        return TypeAdapter(field.annotation)
    return TypeAdapter(Annotated[field.annotation, *field.metadata])  # constraints such as ge=0


def _changes_row(model_type: type[BaseModel], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate `changes` against the model's field types and encode them for PostgREST."""
    row: dict[str, Any] = {}
    for name, value in stamped_changes(model_type, changes).items():
        adapter = _field_adapter(model_type, name)
        row[name] = adapter.dump_python(adapter.validate_python(value), mode="json")
    if model_type is StepRecord and "output" in row:
        row.update(_step_output_columns(row["output"]))
    return row


@cache
def _client_info() -> str:
    """The X-Client-Info supabase-py sends (its version, without importing the package)."""
    from importlib.metadata import version

    return (
        f"supabase-py/{version('supabase')}; platform={platform.system()}; "
        f"platform-version={platform.release()}; runtime=python; runtime-version={platform.python_version()}"
    )


def _supabase_headers(service_role_key: str) -> dict[str, str]:
    """The headers supabase's client gives its PostgREST client: the key as apiKey and bearer token."""
    return {
        "X-Client-Info": _client_info(),
        "apiKey": service_role_key,
        "Authorization": f"Bearer {service_role_key}",
    }


class SupabaseStore:
    """Thread-safe: one PostgREST client (one HTTP connection pool) per store, created on first use."""

    def __init__(self, url: str, service_role_key: str, timeout_seconds: float = 10.0) -> None:
        missing = [
            name
            for name, value in (("SUPABASE_URL", url), ("SUPABASE_SERVICE_ROLE_KEY", service_role_key))
            if not value
        ]
        if missing:
            raise ConfigError(f"STORE_BACKEND=supabase needs {' and '.join(missing)}.")
        if not url.startswith(("https://", "http://")):
            raise ConfigError(f"SUPABASE_URL must be an http(s) URL, not {url!r}.")
        self.url = url
        self._key = service_role_key
        self.timeout_seconds = timeout_seconds
        self._client: SyncPostgrestClient | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:  # never the key
        return f"SupabaseStore({self.url!r})"

    def client(self) -> SyncPostgrestClient:
        with self._client_lock:
            if self._client is None:
                import httpx
                from postgrest import SyncPostgrestClient
                from yarl import URL

                base = URL(self.url if self.url.endswith("/") else self.url + "/")
                with warnings.catch_warnings():
                    # postgrest has deprecated taking its timeout and TLS settings this way, which is
                    # how supabase hands them over (kept: the same client as supabase's).
                    warnings.filterwarnings(
                        "ignore", message=r"The '\w+' parameter is deprecated", category=DeprecationWarning
                    )
                    self._client = SyncPostgrestClient(
                        str(base.joinpath("rest", "v1")),
                        headers=_supabase_headers(self._key),
                        schema="public",
                        # An httpx.Timeout: postgrest truncates a plain number to whole seconds.
                        timeout=httpx.Timeout(self.timeout_seconds),
                        verify=True,
                    )
            return self._client

    def _table(self, name: str) -> SyncRequestBuilder:
        return self.client().table(name)

    @staticmethod
    def _execute(
        query: Any, action: str, *, unique_violation_ok: bool = False
    ) -> list[dict[str, Any]] | None:
        """Run one request; a PostgREST or network failure becomes StoreUnavailable.

        With `unique_violation_ok`, a unique violation (PostgREST 409, SQLSTATE 23505) returns None.
        """
        import httpx
        from postgrest.exceptions import APIError

        try:
            response = query.execute()
        except APIError as exc:
            if unique_violation_ok and exc.code == UNIQUE_VIOLATION:
                return None
            raise StoreUnavailable(
                f"The database refused to {action}: {exc.message or 'no message'} (code {exc.code})."
            ) from exc
        except httpx.HTTPError as exc:
            raise StoreUnavailable(
                f"The database could not be reached to {action} ({type(exc).__name__}: {exc})."
            ) from exc
        data = response.data
        return data if isinstance(data, list) else [data]

    def _rows(self, query: Any, action: str) -> list[dict[str, Any]]:
        rows = self._execute(query, action)
        assert rows is not None
        return rows

    # --- agents ---------------------------------------------------------------------------------
    def list_agents(self, *, active_only: bool = True) -> list[AgentMetadata]:
        query = self._table("agents").select(AGENT_COLUMNS)
        if active_only:
            query = query.eq("status", ACTIVE_AGENT_STATUS)
        rows = self._rows(query.order("id"), "list the agents")
        return [_model(AgentMetadata, row) for row in rows]

    def get_agent(self, agent_id: str) -> AgentMetadata | None:
        query = self._table("agents").select(AGENT_COLUMNS).eq("id", agent_id).limit(1)
        rows = self._rows(query, f"read agent {agent_id}")
        return _model(AgentMetadata, rows[0]) if rows else None

    def upsert_agents(self, agents: list[AgentMetadata]) -> None:
        if not agents:
            return
        query = self._table("agents").upsert(
            [agent.model_dump(mode="json", exclude_none=True) for agent in agents],
            on_conflict="id",
            returning=_minimal(),
        )
        self._execute(query, "save the agents")

    def get_agent_token(self, agent_id: str) -> str | None:
        query = self._table("agents").select("agent_token").eq("id", agent_id).limit(1)
        rows = self._rows(query, f"read the token of agent {agent_id}")
        token = rows[0].get("agent_token") if rows else None
        return str(token) if token else None

    def set_agent_token(self, agent_id: str, agent_token: str) -> None:
        query = (
            self._table("agents")
            .update({"agent_token": agent_token}, returning=_minimal())
            .eq("id", agent_id)
        )
        self._execute(query, f"set the token of agent {agent_id}")

    # --- workflows ------------------------------------------------------------------------------
    def create_workflow(self, workflow: WorkflowRecord, steps: list[StepRecord]) -> None:
        params: dict[str, Any] = {"workflow": _row(workflow), "steps": [_step_row(step) for step in steps]}
        # postgrest annotates the parameters as strings; it sends any JSON (supabase's rpc passes it on).
        query = self.client().rpc(CREATE_WORKFLOW_RPC, cast("dict[str, str]", params))
        self._execute(query, f"create workflow {workflow.workflow_id}")

    def get_workflow(self, workflow_id: str) -> WorkflowRecord | None:
        query = self._table("workflows").select(WORKFLOW_COLUMNS).eq("workflow_id", workflow_id).limit(1)
        rows = self._rows(query, f"read workflow {workflow_id}")
        return _model(WorkflowRecord, rows[0]) if rows else None

    def list_workflow_ids(self, *, status: WorkflowStatus) -> list[str]:
        query = self._table("workflows").select("workflow_id").eq("status", status.value).order("created_at")
        rows = self._rows(query, f"list the {status.value} workflows")
        return [str(row["workflow_id"]) for row in rows]

    def list_user_workflows(
        self, user_id: str, *, limit: int, after: WorkflowPosition | None = None
    ) -> list[WorkflowHeader]:
        query = (
            self._table("workflows")
            .select(WORKFLOW_HEADER_COLUMNS)
            .eq("user_id", user_id)
            .not_.is_("created_at", "null")
        )
        if after is not None:
            # Values in double quotes: a timestamp has PostgREST's reserved characters (. and :).
            created, workflow_id = after[0].isoformat(), after[1]
            query = query.or_(
                f'created_at.lt."{created}",and(created_at.eq."{created}",workflow_id.lt.{workflow_id})'
            )
        query = query.order("created_at", desc=True).order("workflow_id", desc=True).limit(limit)
        rows = self._rows(query, "list the user's workflows")
        return [_header(row) for row in rows]

    def update_workflow(
        self,
        workflow_id: str,
        *,
        expected: Collection[WorkflowStatus],
        changes: Mapping[str, Any],
        expected_attempt: int | None = None,
    ) -> WorkflowRecord | None:
        query = (
            self._table("workflows")
            .update(_changes_row(WorkflowRecord, changes))
            .eq("workflow_id", workflow_id)
            .in_("status", sorted(WorkflowStatus(s).value for s in expected))
        )
        if expected_attempt is not None:
            query = query.eq("attempt", expected_attempt)
        query = query.select(WORKFLOW_COLUMNS)
        rows = self._rows(query, f"update workflow {workflow_id}")
        return _model(WorkflowRecord, rows[0]) if rows else None

    # --- steps ----------------------------------------------------------------------------------
    def list_steps(self, workflow_id: str) -> list[StepRecord]:
        query = (
            self._table("step_results")
            .select(STEP_COLUMNS)
            .eq("workflow_id", workflow_id)
            .order("step_number")
        )
        rows = self._rows(query, f"list the steps of workflow {workflow_id}")
        return [_step_model(row) for row in rows]

    def get_step(self, workflow_id: str, step_number: int) -> StepRecord | None:
        query = (
            self._table("step_results")
            .select(STEP_COLUMNS)
            .eq("workflow_id", workflow_id)
            .eq("step_number", step_number)
            .limit(1)
        )
        rows = self._rows(query, f"read step {step_number} of workflow {workflow_id}")
        return _step_model(rows[0]) if rows else None

    def steps_for_agent_job(self, agent_job_id: str) -> list[StepRecord]:
        # Only the orchestrator's rows: the marketplace's own step rows have no workflow of ours.
        query = (
            self._table("step_results")
            .select(STEP_COLUMNS)
            .eq("agent_job_id", agent_job_id)
            .not_.is_("workflow_id", "null")
            .order("workflow_id")
            .order("step_number")
        )
        rows = self._rows(query, f"find the steps of agent job {agent_job_id[:64]}")
        return [_step_model(row) for row in rows]

    def update_step(
        self,
        workflow_id: str,
        step_number: int,
        *,
        expected: Collection[StepStatus],
        changes: Mapping[str, Any],
    ) -> StepRecord | None:
        query = (
            self._table("step_results")
            .update(_changes_row(StepRecord, changes))
            .eq("workflow_id", workflow_id)
            .eq("step_number", step_number)
            .in_("status", sorted(StepStatus(s).value for s in expected))
            .select(STEP_COLUMNS)
        )
        rows = self._rows(query, f"update step {step_number} of workflow {workflow_id}")
        return _step_model(rows[0]) if rows else None

    # --- jobs, payments, access tokens ---------------------------------------------------------
    def record_job(self, job: JobRecord) -> None:
        query = self._table("jobs").upsert(_row(job), on_conflict="job_id", returning=_minimal())
        self._execute(query, f"record job {job.agent_job_id}")

    def list_jobs(self, workflow_id: str, step_number: int) -> list[JobRecord]:
        query = (
            self._table("jobs")
            .select(JOB_COLUMNS)
            .eq("workflow_id", workflow_id)
            .eq("step_number", step_number)
            .order("created_at")
        )
        rows = self._rows(query, f"list the jobs of step {step_number} of workflow {workflow_id}")
        return [_model(JobRecord, row) for row in rows]

    def update_job(self, job_id: str, changes: Mapping[str, Any]) -> None:
        query = (
            self._table("jobs")
            .update(_changes_row(JobRecord, changes), returning=_minimal())
            .eq("job_id", job_id)
        )
        self._execute(query, f"update job {job_id}")

    def record_payments(self, payments: list[PaymentRecord]) -> bool:
        if not payments:
            return True
        query = self._table("payments").insert([_row(p) for p in payments], returning=_minimal())
        # A txid already recorded for a step aborts the whole INSERT (one statement): nothing is written.
        return self._execute(query, "record the payments", unique_violation_ok=True) is not None

    def payments_for_txids(self, txids: Collection[str]) -> list[PaymentRecord]:
        ids = list(txids)
        if not ids:
            return []
        # Only the orchestrator's rows: the marketplace's own direct hires have no workflow.
        query = (
            self._table("payments")
            .select(PAYMENT_COLUMNS)
            .in_("txid", ids)
            .not_.is_("workflow_id", "null")
            .order("seq")
        )
        rows = self._rows(query, "look up payments by transaction id")
        return [_model(PaymentRecord, row) for row in rows]

    def payments_for_step(self, workflow_id: str, step_number: int) -> list[PaymentRecord]:
        query = (
            self._table("payments")
            .select(PAYMENT_COLUMNS)
            .eq("workflow_id", workflow_id)
            .eq("step_number", step_number)
            .order("seq")
        )
        rows = self._rows(query, f"list the payments of step {step_number} of workflow {workflow_id}")
        return [_model(PaymentRecord, row) for row in rows]

    def save_access_token(self, token: AccessTokenRecord) -> None:
        query = self._table("access_tokens").upsert(
            _row(token), on_conflict="workflow_id,step_number,job_id", returning=_minimal()
        )
        self._execute(query, f"save the access token of job {token.job_id}")

    def get_access_token(self, workflow_id: str, step_number: int, agent_job_id: str) -> str | None:
        query = (
            self._table("access_tokens")
            .select("access_token")
            .eq("workflow_id", workflow_id)
            .eq("step_number", step_number)
            .eq("job_id", agent_job_id)
            .limit(1)
        )
        rows = self._rows(query, f"read the access token of job {agent_job_id}")
        return str(rows[0]["access_token"]) if rows else None


def _minimal() -> Any:
    from postgrest.types import ReturnMethod

    return ReturnMethod.minimal
