"""SQLite implementation of the `Store` protocol (the local stack's database).

Each row keeps its model as JSON in `data` beside the columns that queries filter on. Conditional
updates are compare-and-set: `UPDATE … WHERE key = ? AND status = ?` inside one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

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
)
from orchestrator.observability import logger
from orchestrator.store import stamped_changes

# The marketplace's table names and keys (supabase/migrations/); the columns beside `data` are the
# ones queries filter on.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    data TEXT NOT NULL
);
-- The agents' secrets, apart from the catalog records (the marketplace's agents.agent_token).
CREATE TABLE IF NOT EXISTS agent_tokens (
    agent_id TEXT PRIMARY KEY,
    agent_token TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS workflows (
    workflow_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT  -- _stamp(created_at): ordered as text (the list of a user's workflows)
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL REFERENCES workflows(workflow_id),
    step_number INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS step_results (
    id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL REFERENCES workflows(workflow_id),
    step_number INTEGER NOT NULL,
    status TEXT NOT NULL,
    job_id TEXT REFERENCES jobs(job_id),
    data TEXT NOT NULL,
    UNIQUE (workflow_id, step_number)
);
CREATE TABLE IF NOT EXISTS payments (
    payment_id TEXT PRIMARY KEY,
    txid TEXT NOT NULL UNIQUE,
    workflow_id TEXT NOT NULL REFERENCES workflows(workflow_id),
    step_number INTEGER NOT NULL,
    job_id TEXT REFERENCES jobs(job_id),
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_step ON payments (workflow_id, step_number);
CREATE TABLE IF NOT EXISTS access_tokens (
    id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL REFERENCES workflows(workflow_id),
    step_number INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    access_token TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (workflow_id, step_number, job_id)
);
"""

# 2: the marketplace's names and keys. A database of an earlier version (a local dev database only)
# cannot be read any more: its tables are renamed aside, kept for inspection, and new ones created.
SCHEMA_VERSION = 2
_TABLES = ("access_tokens", "payments", "step_results", "jobs", "workflows", "agents")


def _adopt_schema(conn: sqlite3.Connection, path: str) -> str:
    """SQL that sets earlier tables aside (empty when the database is new or current)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    existing = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version >= SCHEMA_VERSION or not existing & set(_TABLES):
        return ""
    suffix = f"v{version}"
    logger.warning(
        "the local database %s has the schema of an earlier version: its tables are kept as *_%s "
        "and new ones are created (earlier local workflows are not shown any more)",
        path,
        suffix,
    )
    return "".join(
        f"DROP TABLE IF EXISTS {table}_{suffix}; ALTER TABLE {table} RENAME TO {table}_{suffix};"
        for table in _TABLES
        if table in existing
    )


ModelT = TypeVar("ModelT", bound=BaseModel)

_USER_WORKFLOWS_INDEX = (
    "CREATE INDEX IF NOT EXISTS workflows_user_created "
    "ON workflows (user_id, created_at DESC, workflow_id DESC)"
)


def _stamp(moment: datetime) -> str:
    """A time as text that sorts as the time does: UTC, always with microseconds."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _add_created_at(conn: sqlite3.Connection) -> None:
    """Databases made before workflows had a created_at column get it, filled from each row."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(workflows)")}
    if "created_at" in columns:
        return
    conn.execute("ALTER TABLE workflows ADD COLUMN created_at TEXT")
    rows = conn.execute("SELECT workflow_id, data FROM workflows").fetchall()
    conn.executemany(
        "UPDATE workflows SET created_at = ? WHERE workflow_id = ?",
        [(_stamp(_load(WorkflowRecord, data).created_at), workflow_id) for workflow_id, data in rows],
    )


def _dump(model: BaseModel) -> str:
    return model.model_dump_json()


def _load(model_type: type[ModelT], data: str) -> ModelT:
    return model_type.model_validate_json(data)


def _apply(model: ModelT, changes: Mapping[str, Any]) -> ModelT:
    # Re-validate so that plain values given in `changes` become the proper types.
    merged = {**model.model_dump(), **stamped_changes(type(model), changes)}
    return type(model).model_validate(merged)


class SQLiteStore:
    """Thread-safe (one connection, one lock): the local stack serves requests from many threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.executescript(_adopt_schema(self._conn, self.path) + _SCHEMA)
        with self._transaction() as conn:
            _add_created_at(conn)
            conn.execute(_USER_WORKFLOWS_INDEX)
        self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # --- agents ---------------------------------------------------------------------------------
    def list_agents(self, *, active_only: bool = True) -> list[AgentMetadata]:
        agents = [_load(AgentMetadata, row[0]) for row in self._query("SELECT data FROM agents ORDER BY id")]
        return [a for a in agents if a.is_active] if active_only else agents

    def get_agent(self, agent_id: str) -> AgentMetadata | None:
        rows = self._query("SELECT data FROM agents WHERE id = ?", (agent_id,))
        return _load(AgentMetadata, rows[0][0]) if rows else None

    def upsert_agents(self, agents: list[AgentMetadata]) -> None:
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO agents (id, status, data) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data",
                [(a.id, a.status, _dump(a)) for a in agents],
            )

    def get_agent_token(self, agent_id: str) -> str | None:
        rows = self._query("SELECT agent_token FROM agent_tokens WHERE agent_id = ?", (agent_id,))
        return str(rows[0][0]) if rows else None

    def set_agent_token(self, agent_id: str, agent_token: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO agent_tokens (agent_id, agent_token) VALUES (?, ?) "
                "ON CONFLICT (agent_id) DO UPDATE SET agent_token = excluded.agent_token",
                (agent_id, agent_token),
            )

    # --- workflows ------------------------------------------------------------------------------
    def create_workflow(self, workflow: WorkflowRecord, steps: list[StepRecord]) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO workflows (workflow_id, user_id, status, data, created_at) VALUES (?, ?, ?, ?, ?)",
                (
                    workflow.workflow_id,
                    workflow.user_id,
                    workflow.status.value,
                    _dump(workflow),
                    _stamp(workflow.created_at),
                ),
            )
            conn.executemany(
                "INSERT INTO step_results (id, workflow_id, step_number, status, job_id, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(s.id, s.workflow_id, s.step_number, s.status.value, s.job_id, _dump(s)) for s in steps],
            )

    def get_workflow(self, workflow_id: str) -> WorkflowRecord | None:
        rows = self._query("SELECT data FROM workflows WHERE workflow_id = ?", (workflow_id,))
        return _load(WorkflowRecord, rows[0][0]) if rows else None

    def list_workflow_ids(self, *, status: WorkflowStatus) -> list[str]:
        rows = self._query("SELECT workflow_id FROM workflows WHERE status = ?", (status.value,))
        return [row[0] for row in rows]

    def list_user_workflows(
        self, user_id: str, *, limit: int, after: WorkflowPosition | None = None
    ) -> list[WorkflowHeader]:
        sql = "SELECT data FROM workflows WHERE user_id = ? AND created_at IS NOT NULL"
        params: tuple[Any, ...] = (user_id,)
        if after is not None:
            created, workflow_id = _stamp(after[0]), after[1]
            sql += " AND (created_at < ? OR (created_at = ? AND workflow_id < ?))"
            params += (created, created, workflow_id)
        sql += " ORDER BY created_at DESC, workflow_id DESC LIMIT ?"
        rows = self._query(sql, (*params, limit))
        return [WorkflowHeader.of(_load(WorkflowRecord, row[0])) for row in rows]

    def update_workflow(
        self,
        workflow_id: str,
        *,
        expected: Collection[WorkflowStatus],
        changes: Mapping[str, Any],
        expected_attempt: int | None = None,
    ) -> WorkflowRecord | None:
        with self._transaction() as conn:
            row = conn.execute("SELECT data FROM workflows WHERE workflow_id = ?", (workflow_id,)).fetchone()
            if row is None:
                return None
            current = _load(WorkflowRecord, row[0])
            if current.status not in expected:
                return None
            if expected_attempt is not None and current.attempt != expected_attempt:
                return None
            updated = _apply(current, changes)
            conn.execute(
                "UPDATE workflows SET status = ?, data = ? WHERE workflow_id = ? AND status = ?",
                (updated.status.value, _dump(updated), workflow_id, current.status.value),
            )
            return updated

    # --- steps ----------------------------------------------------------------------------------
    def list_steps(self, workflow_id: str) -> list[StepRecord]:
        rows = self._query(
            "SELECT data FROM step_results WHERE workflow_id = ? ORDER BY step_number", (workflow_id,)
        )
        return [_load(StepRecord, row[0]) for row in rows]

    def get_step(self, workflow_id: str, step_number: int) -> StepRecord | None:
        rows = self._query(
            "SELECT data FROM step_results WHERE workflow_id = ? AND step_number = ?",
            (workflow_id, step_number),
        )
        return _load(StepRecord, rows[0][0]) if rows else None

    def steps_for_agent_job(self, agent_job_id: str) -> list[StepRecord]:
        rows = self._query(
            "SELECT data FROM step_results WHERE json_extract(data, '$.agent_job_id') = ? "
            "ORDER BY workflow_id, step_number",
            (agent_job_id,),
        )
        return [_load(StepRecord, row[0]) for row in rows]

    def update_step(
        self,
        workflow_id: str,
        step_number: int,
        *,
        expected: Collection[StepStatus],
        changes: Mapping[str, Any],
    ) -> StepRecord | None:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT data FROM step_results WHERE workflow_id = ? AND step_number = ?",
                (workflow_id, step_number),
            ).fetchone()
            if row is None:
                return None
            current = _load(StepRecord, row[0])
            if current.status not in expected:
                return None
            updated = _apply(current, changes)
            conn.execute(
                "UPDATE step_results SET status = ?, job_id = ?, data = ? WHERE id = ? AND status = ?",
                (updated.status.value, updated.job_id, _dump(updated), current.id, current.status.value),
            )
            return updated

    # --- jobs, payments, access tokens ---------------------------------------------------------
    def record_job(self, job: JobRecord) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO jobs (job_id, workflow_id, step_number, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (job_id) DO UPDATE SET data = excluded.data",
                (job.job_id, job.workflow_id, job.step_number, _dump(job)),
            )

    def list_jobs(self, workflow_id: str, step_number: int) -> list[JobRecord]:
        rows = self._query(
            "SELECT data FROM jobs WHERE workflow_id = ? AND step_number = ? ORDER BY rowid",
            (workflow_id, step_number),
        )
        return [_load(JobRecord, row[0]) for row in rows]

    def update_job(self, job_id: str, changes: Mapping[str, Any]) -> None:
        with self._transaction() as conn:
            row = conn.execute("SELECT data FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                return
            updated = _apply(_load(JobRecord, row[0]), changes)
            conn.execute("UPDATE jobs SET data = ? WHERE job_id = ?", (_dump(updated), job_id))

    def record_payments(self, payments: list[PaymentRecord]) -> bool:
        try:
            with self._transaction() as conn:
                conn.executemany(
                    "INSERT INTO payments (payment_id, txid, workflow_id, step_number, job_id, data) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (p.payment_id, p.txid, p.workflow_id, p.step_number, p.job_id, _dump(p))
                        for p in payments
                    ],
                )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            return False
        return True

    def payments_for_txids(self, txids: Collection[str]) -> list[PaymentRecord]:
        ids = list(txids)
        if not ids:
            return []
        marks = ",".join("?" for _ in ids)
        rows = self._query(f"SELECT data FROM payments WHERE txid IN ({marks}) ORDER BY rowid", tuple(ids))
        return [_load(PaymentRecord, row[0]) for row in rows]

    def payments_for_step(self, workflow_id: str, step_number: int) -> list[PaymentRecord]:
        rows = self._query(
            "SELECT data FROM payments WHERE workflow_id = ? AND step_number = ? ORDER BY rowid",
            (workflow_id, step_number),
        )
        return [_load(PaymentRecord, row[0]) for row in rows]

    def save_access_token(self, token: AccessTokenRecord) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO access_tokens (id, workflow_id, step_number, job_id, access_token, data) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workflow_id, step_number, job_id) "
                "DO UPDATE SET access_token = excluded.access_token, data = excluded.data",
                (
                    token.id,
                    token.workflow_id,
                    token.step_number,
                    token.job_id,
                    token.access_token,
                    _dump(token),
                ),
            )

    def get_access_token(self, workflow_id: str, step_number: int, agent_job_id: str) -> str | None:
        rows = self._query(
            "SELECT access_token FROM access_tokens WHERE workflow_id = ? AND step_number = ? AND job_id = ?",
            (workflow_id, step_number, agent_job_id),
        )
        return rows[0][0] if rows else None
