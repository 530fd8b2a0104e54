"""SQLite implementation of the `Store` protocol (the local stack's database).

Each row keeps its model as JSON in `data` beside the columns that queries filter on. Conditional
updates are compare-and-set: `UPDATE … WHERE key = ? AND status = ?` inside one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from orchestrator.models import (
    AgentMetadata,
    JobRecord,
    PaymentRecord,
    StepResult,
    StepStatus,
    WorkflowRecord,
    WorkflowStatus,
)
from orchestrator.store import stamped_changes

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY,
    is_active INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS workflows (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS step_results (
    id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL REFERENCES workflows(id),
    step_number INTEGER NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (workflow_id, step_number)
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL REFERENCES workflows(id),
    step_number INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (workflow_id, step_number, job_id)
);
CREATE TABLE IF NOT EXISTS payments (
    txid TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL REFERENCES workflows(id),
    step_number INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_step ON payments (workflow_id, step_number);
CREATE TABLE IF NOT EXISTS access_tokens (
    workflow_id TEXT NOT NULL REFERENCES workflows(id),
    step_number INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    token TEXT NOT NULL,
    PRIMARY KEY (workflow_id, step_number, job_id)
);
"""

ModelT = TypeVar("ModelT", bound=BaseModel)


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
        self._conn.executescript(_SCHEMA)

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
        sql = "SELECT data FROM agents" + (" WHERE is_active = 1" if active_only else "") + " ORDER BY id"
        return [_load(AgentMetadata, row[0]) for row in self._query(sql)]

    def get_agent(self, agent_id: str) -> AgentMetadata | None:
        rows = self._query("SELECT data FROM agents WHERE id = ?", (agent_id,))
        return _load(AgentMetadata, rows[0][0]) if rows else None

    def upsert_agents(self, agents: list[AgentMetadata]) -> None:
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO agents (id, is_active, data) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET is_active = excluded.is_active, data = excluded.data",
                [(a.id, int(a.is_active), _dump(a)) for a in agents],
            )

    # --- workflows ------------------------------------------------------------------------------
    def create_workflow(self, workflow: WorkflowRecord, steps: list[StepResult]) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO workflows (id, user_id, status, data) VALUES (?, ?, ?, ?)",
                (workflow.id, workflow.user_id, workflow.status.value, _dump(workflow)),
            )
            conn.executemany(
                "INSERT INTO step_results (id, workflow_id, step_number, status, data) VALUES (?, ?, ?, ?, ?)",
                [(s.id, s.workflow_id, s.step_number, s.status.value, _dump(s)) for s in steps],
            )

    def get_workflow(self, workflow_id: str) -> WorkflowRecord | None:
        rows = self._query("SELECT data FROM workflows WHERE id = ?", (workflow_id,))
        return _load(WorkflowRecord, rows[0][0]) if rows else None

    def list_workflow_ids(self, *, status: WorkflowStatus) -> list[str]:
        return [row[0] for row in self._query("SELECT id FROM workflows WHERE status = ?", (status.value,))]

    def update_workflow(
        self,
        workflow_id: str,
        *,
        expected: Collection[WorkflowStatus],
        changes: Mapping[str, Any],
    ) -> WorkflowRecord | None:
        with self._transaction() as conn:
            row = conn.execute("SELECT data FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
            if row is None:
                return None
            current = _load(WorkflowRecord, row[0])
            if current.status not in expected:
                return None
            updated = _apply(current, changes)
            conn.execute(
                "UPDATE workflows SET status = ?, data = ? WHERE id = ? AND status = ?",
                (updated.status.value, _dump(updated), workflow_id, current.status.value),
            )
            return updated

    # --- steps ----------------------------------------------------------------------------------
    def list_steps(self, workflow_id: str) -> list[StepResult]:
        rows = self._query(
            "SELECT data FROM step_results WHERE workflow_id = ? ORDER BY step_number", (workflow_id,)
        )
        return [_load(StepResult, row[0]) for row in rows]

    def get_step(self, workflow_id: str, step_number: int) -> StepResult | None:
        rows = self._query(
            "SELECT data FROM step_results WHERE workflow_id = ? AND step_number = ?",
            (workflow_id, step_number),
        )
        return _load(StepResult, rows[0][0]) if rows else None

    def update_step(
        self,
        workflow_id: str,
        step_number: int,
        *,
        expected: Collection[StepStatus],
        changes: Mapping[str, Any],
    ) -> StepResult | None:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT data FROM step_results WHERE workflow_id = ? AND step_number = ?",
                (workflow_id, step_number),
            ).fetchone()
            if row is None:
                return None
            current = _load(StepResult, row[0])
            if current.status not in expected:
                return None
            updated = _apply(current, changes)
            conn.execute(
                "UPDATE step_results SET status = ?, data = ? WHERE id = ? AND status = ?",
                (updated.status.value, _dump(updated), current.id, current.status.value),
            )
            return updated

    # --- jobs, payments, access tokens ---------------------------------------------------------
    def record_job(self, job: JobRecord) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO jobs (job_id, workflow_id, step_number, data) VALUES (?, ?, ?, ?)",
                (job.job_id, job.workflow_id, job.step_number, _dump(job)),
            )

    def record_payments(self, payments: list[PaymentRecord]) -> bool:
        try:
            with self._transaction() as conn:
                conn.executemany(
                    "INSERT INTO payments (txid, workflow_id, step_number, data) VALUES (?, ?, ?, ?)",
                    [(p.txid, p.workflow_id, p.step_number, _dump(p)) for p in payments],
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def payments_for_txids(self, txids: Collection[str]) -> list[PaymentRecord]:
        ids = list(txids)
        if not ids:
            return []
        marks = ",".join("?" for _ in ids)
        rows = self._query(f"SELECT data FROM payments WHERE txid IN ({marks})", tuple(ids))
        return [_load(PaymentRecord, row[0]) for row in rows]

    def payments_for_step(self, workflow_id: str, step_number: int) -> list[PaymentRecord]:
        rows = self._query(
            "SELECT data FROM payments WHERE workflow_id = ? AND step_number = ? ORDER BY rowid",
            (workflow_id, step_number),
        )
        return [_load(PaymentRecord, row[0]) for row in rows]

    def save_access_token(self, workflow_id: str, step_number: int, job_id: str, token: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO access_tokens (workflow_id, step_number, job_id, token) "
                "VALUES (?, ?, ?, ?)",
                (workflow_id, step_number, job_id, token),
            )

    def get_access_token(self, workflow_id: str, step_number: int, job_id: str) -> str | None:
        rows = self._query(
            "SELECT token FROM access_tokens WHERE workflow_id = ? AND step_number = ? AND job_id = ?",
            (workflow_id, step_number, job_id),
        )
        return rows[0][0] if rows else None
