"""supabase/migrations/ on a real PostgreSQL 15 (a throwaway cluster, tests/pg.py) prepared with what
Supabase provides (tests/supabase_bootstrap.sql), both ways production can meet them:

* an empty database: the migrations create the marketplace's six tables exactly as the design's
  data model lists them, then add the orchestrator's nullable columns;
* the marketplace's database as it is (tests/marketplace_schema.sql, written from the marketplace's
  sources, with rows inserted the way the marketplace inserts them): the migrations add only the
  orchestrator's columns, constraints, indexes, RLS and functions; the old rows stay as they were,
  the marketplace's inserts keep working and the orchestrator's rows work alongside.

Files are applied with psql, statement by statement, as `supabase db push` or a person would: each
file's own `begin; … commit;` makes it atomic (tested by failing files midway). Then: applying
twice changes nothing; RLS and the grants let users read only their own rows and never write or
see secrets; the constraints hold; the RPC is atomic and reserved to service_role; and
tests/postgrest_fake.py mirrors the migrated schema. Users are simulated as PostgREST does it:
`set local role` plus the JWT claims in `request.jwt.claims`."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from orchestrator.models import StepStatus, WorkflowStatus
from psycopg import errors
from psycopg.types.json import Jsonb

from tests.pg import PgCluster, postgres_cluster, psql_file, schema_dump
from tests.postgrest_fake import RPC_COLUMNS, orchestrator_tables

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted((ROOT / "supabase" / "migrations").glob("*.sql"))
BOOTSTRAP = ROOT / "tests" / "supabase_bootstrap.sql"
MARKETPLACE = ROOT / "tests" / "marketplace_schema.sql"
TABLES = ("agents", "workflows", "step_results", "jobs", "payments", "access_tokens")

USER_A = "0a0a0a0a-0000-4000-8000-00000000000a"
USER_B = "0b0b0b0b-0000-4000-8000-00000000000b"
AGENT_OWNER = "0c0c0c0c-0000-4000-8000-00000000000c"
WALLET = "W" * 58

# --- the marketplace's data model (the design's table), as PostgreSQL reports it ----------------------------
# column: (type, NOT NULL, default)

UUID_KEY = ("uuid", True, "gen_random_uuid()")
STAMP_NOW = ("timestamp with time zone", False, "now()")
STAMP = ("timestamp with time zone", False, None)
TEXT = ("text", False, None)
VARCHAR = ("character varying", False, None)
BIGINT = ("bigint", False, None)
INTEGER = ("integer", False, None)
JSONB = ("jsonb", False, None)
UUID = ("uuid", False, None)

MARKETPLACE_COLUMNS: dict[str, dict[str, tuple[str, bool, str | None]]] = {
    "agents": {
        "id": UUID_KEY,
        "user_id": UUID,
        "name": ("character varying", True, None),
        "description": TEXT,
        "subdomain": ("character varying", True, None),
        "repo_owner": ("character varying", True, None),
        "repo_name": ("character varying", True, None),
        "github_url": ("text", True, None),
        "status": ("character varying", False, "'pending'::character varying"),
        "created_at": STAMP_NOW,
        "updated_at": STAMP_NOW,
        "agent_address": TEXT,
        "app_id": BIGINT,
        "price_microalgo": ("bigint", False, "0"),
        "runtime_status": ("text", False, "'inactive'::text"),
        "category": ("character varying", False, "'General'::character varying"),
        "tags": ("jsonb", False, "'[]'::jsonb"),
        "data_input": TEXT,
        "example_input": TEXT,
        "example_output": TEXT,
        "agent_token": VARCHAR,
    },
    "workflows": {
        "workflow_id": UUID_KEY,
        "user_id": UUID,
        "user_message": ("text", True, None),
        "wallet_address": ("text", True, None),
        "plan": ("jsonb", True, None),
        "current_step": ("integer", False, "0"),
        "status": ("text", False, "'planned'::text"),
        "created_at": STAMP_NOW,
        "updated_at": STAMP_NOW,
    },
    "step_results": {
        "id": UUID_KEY,
        "workflow_id": UUID,
        "step_number": ("integer", True, None),
        "agent_id": UUID,
        "job_id": UUID,
        "status": ("text", False, "'pending'::text"),
        "access_token": TEXT,
        "output": TEXT,
        "created_at": STAMP_NOW,
        "completed_at": STAMP,
        "agent_job_id": TEXT,
        "agent_name": TEXT,
        "unsigned_group_txns": JSONB,
        "txn_ids": JSONB,
    },
    "jobs": {
        "job_id": UUID_KEY,
        "agent_id": UUID,
        "requester_addr": ("text", True, None),
        "callee_addr": TEXT,
        "job_input": ("jsonb", True, None),
        "job_input_hash": ("text", True, None),
        "amount_microalgo": BIGINT,
        "state": ("text", True, None),
        "txid": TEXT,
        "group_id": TEXT,
        "token_id": UUID,
        "created_at": STAMP_NOW,
        "updated_at": STAMP_NOW,
    },
    "payments": {
        "payment_id": UUID_KEY,
        "job_id": UUID,
        "agent_id": UUID,
        "payer_addr": ("text", True, None),
        "payee_addr": ("text", True, None),
        "amount_microalgo": ("bigint", True, None),
        "txid": ("text", True, None),
        "confirmed_at": STAMP_NOW,
    },
    "access_tokens": {
        "id": UUID_KEY,
        "user_id": ("uuid", True, None),
        "wallet_address": ("character varying", True, None),
        "job_id": ("character varying", True, None),
        "agent_id": UUID,
        "access_token": ("character varying", True, None),
        "job_input_hash": VARCHAR,
        "job_output": TEXT,
        "created_at": STAMP_NOW,
    },
}

# The marketplace's keys: (kind, columns, referenced table and columns).
MARKETPLACE_KEYS: dict[str, set[tuple[str, tuple[str, ...], str | None]]] = {
    "agents": {
        ("p", ("id",), None),
        ("u", ("subdomain",), None),
        ("u", ("agent_token",), None),
        ("f", ("user_id",), "auth.users(id)"),
    },
    "workflows": {("p", ("workflow_id",), None), ("f", ("user_id",), "auth.users(id)")},
    "step_results": {
        ("p", ("id",), None),
        ("f", ("workflow_id",), "workflows(workflow_id)"),
        ("f", ("agent_id",), "agents(id)"),
        ("f", ("job_id",), "jobs(job_id)"),
    },
    "jobs": {("p", ("job_id",), None), ("f", ("agent_id",), "agents(id)")},
    "payments": {
        ("p", ("payment_id",), None),
        ("f", ("job_id",), "jobs(job_id)"),
        ("f", ("agent_id",), "agents(id)"),
    },
    "access_tokens": {("p", ("id",), None), ("f", ("agent_id",), "agents(id)")},
}

# What the orchestrator adds: nullable columns without defaults (payments.seq is an identity column).
ORCHESTRATOR_COLUMNS: dict[str, dict[str, str]] = {
    "agents": {"base_url": "text"},
    "workflows": {
        "total_cost_microalgo": "bigint",
        "budget_microalgo": "bigint",
        "attempt": "integer",
        "execution_arn": "text",
        "final_output": "jsonb",
        "error": "jsonb",
    },
    "step_results": {
        "input": "text",
        "output_format": "text",
        "price_microalgo": "bigint",
        "payment_required_microalgo": "bigint",
        "last_valid_round": "bigint",
        "receipt": "jsonb",
        "earlier_receipts": "jsonb",
        "error": "jsonb",
        "task_token": "text",
        "payment_redeliveries": "integer",
        "poll_errors": "integer",
        "poll_deadline": "timestamp with time zone",
        "started_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone",
    },
    "jobs": {
        "workflow_id": "uuid",
        "step_number": "integer",
        "agent_job_id": "text",
        "unsigned_group_txns": "jsonb",
        "txn_ids": "jsonb",
        "last_valid_round": "bigint",
    },
    "payments": {
        "workflow_id": "uuid",
        "step_number": "integer",
        "confirmed_round": "bigint",
        "seq": "bigint",
    },
    "access_tokens": {"workflow_id": "uuid", "step_number": "integer"},
}
ORCHESTRATOR_KEYS: dict[str, set[tuple[str, tuple[str, ...], str | None]]] = {
    "agents": set(),
    "workflows": set(),
    "step_results": {("u", ("workflow_id", "step_number"), None)},
    "jobs": {("f", ("workflow_id",), "workflows(workflow_id)")},
    "payments": {("f", ("workflow_id",), "workflows(workflow_id)")},
    "access_tokens": {
        ("f", ("workflow_id",), "workflows(workflow_id)"),
        ("u", ("workflow_id", "step_number", "job_id"), None),
    },
}

# The RPC's input (the store sends these keys).
RPC_WORKFLOW_KEYS = [
    *("workflow_id", "user_id", "user_message", "wallet_address", "plan", "status", "current_step"),
    *("total_cost_microalgo", "budget_microalgo", "attempt", "execution_arn", "final_output", "error"),
    *("created_at", "updated_at"),
]
RPC_STEP_KEYS = [
    *("id", "workflow_id", "step_number", "agent_id", "agent_name", "status", "input", "job_id"),
    *("agent_job_id", "unsigned_group_txns", "txn_ids", "price_microalgo", "payment_required_microalgo"),
    *("last_valid_round", "receipt", "earlier_receipts", "output", "output_format", "error", "task_token"),
    *("payment_redeliveries", "poll_errors", "poll_deadline", "started_at", "completed_at", "created_at"),
    "updated_at",
]

# The store's upserts: ON CONFLICT targets that must be unique constraints.
UPSERT_TARGETS = {
    "agents": ("id",),
    "jobs": ("job_id",),
    "access_tokens": ("workflow_id", "step_number", "job_id"),
}


# --- applying files, databases, roles --------------------------------------------------------------------------


def apply(cluster: PgCluster, dbname: str, *files: Path) -> str:
    """Each file with psql, stopping at the first error; returns psql's messages (NOTICEs)."""
    messages = []
    for path in files:
        result = psql_file(cluster, dbname, path)
        assert result.returncode == 0, f"{path.name} failed:\n{result.stderr}"
        messages.append(result.stderr)
    return "".join(messages)


def create_database(cluster: PgCluster, name: str, *files: Path) -> str:
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f"create database {name}")
    apply(cluster, name, BOOTSTRAP, *files)
    return cluster.conninfo(name)


@contextmanager
def as_role(
    conn: psycopg.Connection[Any], role: str, sub: str | None = None, *, rollback: bool = False
) -> Iterator[psycopg.Connection[Any]]:
    """One transaction as `role` (and JWT subject `sub`), as PostgREST runs a request."""
    with conn.transaction(force_rollback=rollback):
        conn.execute(f"set local role {role}")
        claims = {"role": role} if sub is None else {"role": role, "sub": sub}
        conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
        yield conn


def column(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> list[Any]:
    return [row[0] for row in conn.execute(sql, params).fetchall()]


def one(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql
    return row[0]


def add_users(conn: psycopg.Connection[Any], *ids: str) -> None:
    for user_id in ids:
        conn.execute(
            "insert into auth.users (id, aud, role, email) values (%s, 'authenticated', 'authenticated', %s) "
            "on conflict (id) do nothing",
            [user_id, f"{user_id[:8]}@example.com"],
        )


# --- the marketplace's own writes -----------------------------------------------------------------------------


def marketplace_writes(conn: psycopg.Connection[Any], tag: str) -> dict[str, Any]:
    """What the marketplace's code writes (pages/api/agents.ts, lib/orchestrator.ts,
    pages/api/agent/access.ts; jobs and payments as its schema has them): only its own columns, ids
    from the column defaults. Run as service_role, as its server routes are. Returns the new ids."""
    ids: dict[str, Any] = {}
    with as_role(conn, "service_role"):
        ids["agent"] = one(
            conn,
            "insert into agents (name, description, subdomain, repo_owner, repo_name, github_url, user_id, "
            "agent_token, status, agent_address, app_id, price_microalgo, category, tags, data_input, "
            "example_input, example_output) values (%s, 'Suggests a movie', %s, 'someone', %s, %s, %s, %s, "
            "'active', 'PAYEE', 42, 1000000, 'Media', '[\"movies\"]', 'a mood', 'sad', 'Up') returning id",
            [
                f"Movie {tag}",
                f"movie-{tag}",
                f"movie-agent-{tag}",
                f"https://github.com/someone/movie-agent-{tag}",
                AGENT_OWNER,
                f"agent-token-{tag}",
            ],
        )
        plan = {"reasoning": "r", "steps": [{"step_number": 1, "agent_id": str(ids["agent"])}]}
        ids["workflow"] = one(
            conn,
            "insert into workflows (user_message, wallet_address, plan, status) "
            "values ('a movie please', %s, %s, 'planned') returning workflow_id",
            [WALLET, Jsonb(plan)],
        )
        conn.execute(
            "update workflows set status = 'approved', updated_at = now() where workflow_id = %s",
            [ids["workflow"]],
        )
        conn.execute(
            "update workflows set status = 'running', current_step = 1 where workflow_id = %s",
            [ids["workflow"]],
        )
        ids["step"] = one(
            conn,
            "insert into step_results (workflow_id, step_number, agent_id, agent_name, status) "
            "values (%s, 1, %s, %s, 'pending') returning id",
            [ids["workflow"], ids["agent"], f"Movie {tag}"],
        )
        ids["agent_job_id"] = f"J1762754481{tag}"
        conn.execute(
            "update step_results set agent_job_id = %s, unsigned_group_txns = %s, status = 'awaiting_payment' "
            "where id = %s",
            [ids["agent_job_id"], Jsonb(["gqNhbXQ=", "gqNhcGlk"]), ids["step"]],
        )
        conn.execute(
            "update step_results set status = 'succeeded', output = 'Up (2009)', completed_at = now() "
            "where id = %s",
            [ids["step"]],
        )
        ids["job"] = one(
            conn,
            "insert into jobs (agent_id, requester_addr, callee_addr, job_input, job_input_hash, "
            "amount_microalgo, state) values (%s, %s, 'PAYEE', %s, 'hash', 1000000, 'prepared') returning job_id",
            [ids["agent"], WALLET, Jsonb("a movie please")],
        )
        conn.execute(
            "update jobs set state = 'onchain_confirmed', txid = %s, group_id = 'G' where job_id = %s",
            [f"MTX-{tag}", ids["job"]],
        )
        ids["payment"] = one(
            conn,
            "insert into payments (job_id, agent_id, payer_addr, payee_addr, amount_microalgo, txid) "
            "values (%s, %s, %s, 'PAYEE', 1000000, %s) returning payment_id",
            [ids["job"], ids["agent"], WALLET, f"MTX-{tag}"],
        )
        ids["access_token"] = one(
            conn,
            "insert into access_tokens (user_id, wallet_address, job_id, agent_id, access_token, job_input_hash, "
            "job_output) values (%s, %s, %s, %s, %s, 'hash', '') returning id",
            [USER_A, WALLET, ids["agent_job_id"], ids["agent"], f"marketplace-secret-{tag}"],
        )
        conn.execute(  # the SDK's second push, on completion (PUT /api/agent/access)
            "update access_tokens set job_output = %s where job_id = %s",
            [json.dumps({"result": "Up", "status": "completed"}), ids["agent_job_id"]],
        )
    return ids


def table_rows(conn: psycopg.Connection[Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        table: column(conn, f"select to_jsonb(t) from {table} t order by to_jsonb(t)::text")
        for table in TABLES
    }


# --- the orchestrator's rows -------------------------------------------------------------------------------------


def workflow_row(user_id: str, agent_id: str, steps: int = 2) -> dict[str, Any]:
    plan = {
        "reasoning": "r",
        "steps": [{"step_number": n, "agent_id": agent_id} for n in range(1, steps + 1)],
    }
    return {
        "workflow_id": str(uuid.uuid4()),
        "user_id": user_id,
        "user_message": "help me",
        "wallet_address": WALLET,
        "plan": plan,
        "status": "planned",
        "current_step": 0,
        "total_cost_microalgo": 1000 * steps,
        "budget_microalgo": 5000,
        "attempt": 0,
        "execution_arn": None,
        "final_output": None,
        "error": None,
        "created_at": "2030-01-02T03:04:05.678901+00:00",
        "updated_at": "2030-01-02T03:04:05.678901+00:00",
    }


def step_row(workflow: dict[str, Any], number: int, agent_id: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "workflow_id": workflow["workflow_id"],
        "step_number": number,
        "agent_id": agent_id,
        "agent_name": "Active",
        "status": "pending",
        "input": None,
        "job_id": None,
        "agent_job_id": None,
        "unsigned_group_txns": [],
        "txn_ids": [],
        "price_microalgo": 1000,
        "payment_required_microalgo": 0,
        "last_valid_round": None,
        "receipt": None,
        "earlier_receipts": [],
        "output": None,
        "output_format": None,
        "error": None,
        "task_token": f"task-token-{workflow['workflow_id']}-{number}",
        "payment_redeliveries": 0,
        "poll_errors": 0,
        "poll_deadline": None,
        "started_at": None,
        "completed_at": None,
        "created_at": "2030-01-02T03:04:05.678901+00:00",
        "updated_at": "2030-01-02T03:04:05.678901+00:00",
    }


def create_workflow(
    conn: psycopg.Connection[Any], workflow: dict[str, Any], steps: list[dict[str, Any]]
) -> Any:
    return one(conn, "select public.orchestrator_create_workflow(%s, %s)", [Jsonb(workflow), Jsonb(steps)])


def record_job(
    conn: psycopg.Connection[Any], workflow_id: str, step: int, agent_id: str, agent_job_id: str
) -> str:
    """SupabaseStore.record_job: an upsert on job_id (derived from the agent's job)."""
    job_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{workflow_id}/{step}/{agent_job_id}"))
    conn.execute(
        "insert into jobs (job_id, agent_id, requester_addr, callee_addr, job_input, job_input_hash, "
        "amount_microalgo, state, workflow_id, step_number, agent_job_id) "
        "values (%s, %s, %s, 'PAYEE', %s, 'h', 1000, 'payment_pending', %s, %s, %s) "
        "on conflict (job_id) do update set state = excluded.state, amount_microalgo = excluded.amount_microalgo",
        [job_id, agent_id, WALLET, Jsonb("hello"), workflow_id, step, agent_job_id],
    )
    return job_id


def record_payments(
    conn: psycopg.Connection[Any], workflow_id: str, step: int, agent_id: str, job_id: str | None, *txids: str
) -> None:
    """SupabaseStore.record_payments: one INSERT of every row of a step."""
    values = ", ".join(["(%s, %s, %s, %s, %s, 'PAYEE', 1000, %s, 7)"] * len(txids))
    params: list[Any] = []
    for txid in txids:
        params += [job_id, agent_id, WALLET, workflow_id, step, txid]
    conn.execute(
        "insert into payments (job_id, agent_id, payer_addr, workflow_id, step_number, payee_addr, "
        f"amount_microalgo, txid, confirmed_round) values {values}",
        params,
    )


def save_access_token(
    conn: psycopg.Connection[Any],
    workflow_id: str,
    step: int,
    user_id: str,
    agent_id: str,
    agent_job_id: str,
    token: str,
) -> None:
    """SupabaseStore.save_access_token: an upsert on (workflow_id, step_number, job_id)."""
    conn.execute(
        "insert into access_tokens (user_id, wallet_address, job_id, agent_id, access_token, job_input_hash, "
        "workflow_id, step_number) values (%s, %s, %s, %s, %s, 'h', %s, %s) "
        "on conflict (workflow_id, step_number, job_id) do update set access_token = excluded.access_token",
        [user_id, WALLET, agent_job_id, agent_id, token, workflow_id, step],
    )


@dataclass
class Seed:
    """The orchestrator's rows in a migrated database (either shape)."""

    active_agent: str = ""
    pending_agent: str = ""  # USER_A's own agent, not yet active
    workflow_a: dict[str, Any] = field(default_factory=dict)
    steps_a: list[dict[str, Any]] = field(default_factory=list)
    workflow_b: dict[str, Any] = field(default_factory=dict)
    steps_b: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)  # workflow_id -> job row of step 1


def seed_orchestrator(conn: psycopg.Connection[Any]) -> Seed:
    seed = Seed()
    add_users(conn, USER_A, USER_B, AGENT_OWNER)
    with as_role(conn, "service_role"):
        seed.active_agent = str(
            one(
                conn,
                "insert into agents (name, subdomain, repo_owner, repo_name, github_url, user_id, status, "
                "agent_token, price_microalgo) values ('Active', 'active-agent', 'o', 'active', 'https://g/a', %s, "
                "'active', 'active-agent-secret', 1000) returning id",
                [AGENT_OWNER],
            )
        )
        seed.pending_agent = str(
            one(
                conn,
                "insert into agents (name, subdomain, repo_owner, repo_name, github_url, user_id, agent_token) "
                "values ('Mine', 'my-agent', 'a', 'mine', 'https://g/m', %s, 'my-agent-secret') returning id",
                [USER_A],
            )
        )
        for user, steps in ((USER_A, 2), (USER_B, 1)):
            workflow = workflow_row(user, seed.active_agent, steps)
            rows = [step_row(workflow, n, seed.active_agent) for n in range(1, steps + 1)]
            create_workflow(conn, workflow, rows)
            wid = workflow["workflow_id"]
            job = record_job(conn, wid, 1, seed.active_agent, f"J-{wid}")
            conn.execute(
                "update step_results set job_id = %s, agent_job_id = %s where workflow_id = %s and step_number = 1",
                [job, f"J-{wid}", wid],
            )
            record_payments(conn, wid, 1, seed.active_agent, job, f"TX-{wid}")
            save_access_token(conn, wid, 1, user, seed.active_agent, f"J-{wid}", f"secret-{wid}")
            seed.jobs[wid] = job
            if user == USER_A:
                seed.workflow_a, seed.steps_a = workflow, rows
            else:
                seed.workflow_b, seed.steps_b = workflow, rows
    return seed


# --- the two database shapes --------------------------------------------------------------------------------------


@dataclass
class Shape:
    name: str
    cluster: PgCluster
    dbname: str
    conninfo: str
    seed: Seed
    marketplace: dict[str, Any] | None = None  # ids of the marketplace's own rows
    rows_before: dict[str, list[dict[str, Any]]] | None = None  # before the migrations
    dumps: list[str] = field(default_factory=list)  # schema after each application of the migrations


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    with postgres_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def empty_db(cluster: PgCluster) -> Shape:
    conninfo = create_database(cluster, "empty")
    apply(cluster, "empty", *MIGRATIONS)
    dumps = [schema_dump(cluster, "empty")]
    apply(cluster, "empty", *MIGRATIONS)
    dumps.append(schema_dump(cluster, "empty"))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        seed = seed_orchestrator(conn)
    return Shape("empty", cluster, "empty", conninfo, seed, dumps=dumps)


@pytest.fixture(scope="module")
def marketplace_db(cluster: PgCluster) -> Shape:
    conninfo = create_database(cluster, "marketplace", MARKETPLACE)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        add_users(conn, USER_A, AGENT_OWNER)
        ids = marketplace_writes(conn, "1")
        before = table_rows(conn)
    apply(cluster, "marketplace", *MIGRATIONS)
    dumps = [schema_dump(cluster, "marketplace")]
    apply(cluster, "marketplace", *MIGRATIONS)
    dumps.append(schema_dump(cluster, "marketplace"))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        seed = seed_orchestrator(conn)
    return Shape("marketplace", cluster, "marketplace", conninfo, seed, ids, before, dumps)


@pytest.fixture(scope="module", params=["empty", "marketplace"])
def shape(request: pytest.FixtureRequest) -> Shape:
    value: Shape = request.getfixturevalue(f"{request.param}_db")
    return value


@pytest.fixture
def conn(shape: Shape) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(shape.conninfo, autocommit=True) as connection:
        yield connection


def table_columns(conn: psycopg.Connection[Any], table: str) -> dict[str, tuple[str, bool, str | None]]:
    rows = conn.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), "
        "a.attidentity from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum "
        "where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum",
        [f"public.{table}"],
    ).fetchall()
    return {
        name: (kind, notnull, "identity" if identity else default)
        for name, kind, notnull, default, identity in rows
    }


def table_keys(conn: psycopg.Connection[Any], table: str) -> set[tuple[str, tuple[str, ...], str | None]]:
    rows = conn.execute(
        "select c.contype, (select array_agg(a.attname::text order by k.i) from unnest(c.conkey) with ordinality "
        "as k(attnum, i) join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum), "
        "case when c.contype = 'f' then c.confrelid::regclass::text || '(' || (select string_agg(a.attname, ',' "
        "order by k.i) from unnest(c.confkey) with ordinality as k(attnum, i) join pg_attribute a on "
        "a.attrelid = c.confrelid and a.attnum = k.attnum) || ')' end "
        "from pg_constraint c where c.conrelid = %s::regclass and c.contype in ('p', 'u', 'f')",
        [f"public.{table}"],
    ).fetchall()
    return {(kind, tuple(columns), parent) for kind, columns, parent in rows}


def catalog(conn: psycopg.Connection[Any]) -> dict[str, list[Any]]:
    """The six tables as the migrations leave them (what the marketplace had besides is left out:
    its own indexes and policies)."""
    rels = [f"public.{t}" for t in TABLES]
    return {
        "columns": [(t, table_columns(conn, t)) for t in TABLES],
        "constraints": conn.execute(
            "select conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated from pg_constraint "
            "where conrelid = any(%s::regclass[]) order by 1, 2",
            [rels],
        ).fetchall(),
        "indexes": conn.execute(
            "select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' "
            "and tablename = any(%s) and indexname not like 'idx\\_%%' order by 1, 2",
            [list(TABLES)],
        ).fetchall(),
        "policies": conn.execute(
            "select tablename, policyname, permissive, cmd, roles::text, qual, with_check from pg_policies "
            "where schemaname = 'public' and policyname like 'orchestrator:%%' order by 1, 2"
        ).fetchall(),
        "rls": conn.execute(
            "select relname, relrowsecurity from pg_class where oid = any(%s::regclass[]) order by 1", [rels]
        ).fetchall(),
        "grants": conn.execute(
            "select table_name, grantee, privilege_type from information_schema.role_table_grants "
            "where table_schema = 'public' and table_name = any(%s) order by 1, 2, 3",
            [list(TABLES)],
        ).fetchall(),
        "column_grants": conn.execute(
            "select table_name, column_name, grantee, privilege_type from information_schema.column_privileges "
            "where table_schema = 'public' and table_name = any(%s) and grantee in ('anon', 'authenticated') "
            "order by 1, 2, 3, 4",
            [list(TABLES)],
        ).fetchall(),
        "functions": conn.execute(
            "select p.proname, pg_get_functiondef(p.oid), p.proacl::text from pg_proc p "
            "where p.pronamespace = 'public'::regnamespace order by 1"
        ).fetchall(),
    }


# --- the migration files ---------------------------------------------------------------------------------------------


def top_level_code(path: Path) -> str:
    """The file without comments and without function bodies ($$ … $$)."""
    code = "\n".join(line.split("--", 1)[0] for line in path.read_text().splitlines())
    return re.sub(r"\$\$.*?\$\$", "$$ $$", code, flags=re.S)


def test_migrations_are_ordered_files_each_one_transaction() -> None:
    assert [p.name for p in MIGRATIONS] == [
        "20251201100000_marketplace_tables.sql",
        "20251201100100_orchestrator_columns.sql",
        "20251201100200_orchestrator_access.sql",
        "20251201100300_agent_push_lookup.sql",
        "20251201100400_workflow_history.sql",
    ]
    for path in MIGRATIONS:
        code = top_level_code(path).strip()
        assert code.startswith("begin;") and code.endswith("commit;"), path.name
        control = re.findall(
            r"^\s*(begin|commit|rollback|end|start transaction|savepoint)\b\s*;", code, re.I | re.M
        )
        assert control == ["begin", "commit"], path.name


@pytest.mark.parametrize("shape_name", ["empty", "marketplace"])
@pytest.mark.parametrize("index", range(len(MIGRATIONS)), ids=[p.stem for p in MIGRATIONS])
def test_a_file_failing_midway_leaves_nothing_of_it_applied(
    cluster: PgCluster, tmp_path: Path, index: int, shape_name: str
) -> None:
    """A statement fails just before the file's commit; psql goes on with the next statements as a
    careless client would (ON_ERROR_STOP off), and still nothing of the file is applied."""
    name = f"failing_{shape_name}_{index}"
    create_database(
        cluster, name, *([MARKETPLACE] if shape_name == "marketplace" else []), *MIGRATIONS[:index]
    )
    before = schema_dump(cluster, name)
    head, _, tail = MIGRATIONS[index].read_text().rpartition("commit;")
    broken = tmp_path / MIGRATIONS[index].name
    broken.write_text(f"{head}select 1 / 0;\ncommit;{tail}")
    result = psql_file(cluster, name, broken, stop_on_error=False)
    assert result.returncode == 0 and "division by zero" in result.stderr  # psql went on to the end
    assert schema_dump(cluster, name) == before
    apply(cluster, name, MIGRATIONS[index])  # the file itself then applies
    # (on the marketplace's database the first file has nothing to create)
    assert (schema_dump(cluster, name) == before) == (shape_name == "marketplace" and index == 0)


@pytest.mark.parametrize("shape_name", ["empty", "marketplace"])
def test_applying_the_migrations_again_changes_nothing(
    request: pytest.FixtureRequest, shape_name: str
) -> None:
    db: Shape = request.getfixturevalue(f"{shape_name}_db")
    assert db.dumps[0] == db.dumps[1]  # the second application, before any row
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        rows = table_rows(conn)
        apply(db.cluster, db.dbname, *MIGRATIONS)  # a third, with rows
        assert table_rows(conn) == rows
    assert schema_dump(db.cluster, db.dbname) == db.dumps[0]


def test_every_table_has_rls_and_every_constraint_is_validated(conn: psycopg.Connection[Any]) -> None:
    rls = dict(
        conn.execute(
            "select relname, relrowsecurity from pg_class where relnamespace = 'public'::regnamespace "
            "and relname = any(%s)",
            [list(TABLES)],
        ).fetchall()
    )
    assert rls == {t: True for t in TABLES}
    not_valid = column(
        conn,
        "select conname from pg_constraint where connamespace = 'public'::regnamespace and not convalidated",
    )
    assert not_valid == []


# --- an empty database ----------------------------------------------------------------------------------------------


def test_the_marketplace_schema_file_is_the_design_data_model(cluster: PgCluster) -> None:
    """tests/marketplace_schema.sql (the marketplace as it is) against the design's table."""
    conninfo = create_database(cluster, "design", MARKETPLACE)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for table in TABLES:
            assert table_columns(conn, table) == MARKETPLACE_COLUMNS[table], table
            assert table_keys(conn, table) == MARKETPLACE_KEYS[table], table


def test_an_empty_database_gets_exactly_the_marketplace_tables_plus_the_orchestrator_columns(
    empty_db: Shape,
) -> None:
    with psycopg.connect(empty_db.conninfo, autocommit=True) as conn:
        for table in TABLES:
            columns = table_columns(conn, table)
            marketplace = {c: spec for c, spec in columns.items() if c in MARKETPLACE_COLUMNS[table]}
            assert marketplace == MARKETPLACE_COLUMNS[table], table
            added = {c: spec for c, spec in columns.items() if c not in MARKETPLACE_COLUMNS[table]}
            expected = {
                c: (kind, True, "identity") if c == "seq" else (kind, False, None)
                for c, kind in ORCHESTRATOR_COLUMNS[table].items()
            }
            assert added == expected, table
            assert list(columns)[: len(MARKETPLACE_COLUMNS[table])] == list(MARKETPLACE_COLUMNS[table]), table
            assert table_keys(conn, table) == MARKETPLACE_KEYS[table] | ORCHESTRATOR_KEYS[table], table
        # The marketplace's own checks come with its tables.
        checks = column(
            conn,
            "select conname from pg_constraint where conname in ('agents_runtime_status_check', 'jobs_state_check')",
        )
        assert sorted(checks) == ["agents_runtime_status_check", "jobs_state_check"]
        # No other table: the marketplace's tokens table is not created, jobs.token_id has no foreign key.
        tables = column(conn, "select tablename from pg_tables where schemaname = 'public' order by 1")
        assert tables == sorted(TABLES)


def test_both_database_shapes_end_with_the_same_six_tables(empty_db: Shape, marketplace_db: Shape) -> None:
    with (
        psycopg.connect(empty_db.conninfo, autocommit=True) as empty,
        psycopg.connect(marketplace_db.conninfo, autocommit=True) as marketplace,
    ):
        assert catalog(empty) == catalog(marketplace)
        # What the marketplace had besides stays.
        assert column(marketplace, "select count(*) from pg_indexes where indexname like 'idx\\_%%'") == [9]
        assert (
            len(column(marketplace, "select policyname from pg_policies where policyname like 'Users can%%'"))
            == 4
        )
        assert column(marketplace, "select count(*) from tokens") == [0]


# --- the marketplace's database ---------------------------------------------------------------------------------------


def test_the_migrations_add_only_nullable_columns_and_keep_the_marketplace_rows(
    marketplace_db: Shape,
) -> None:
    assert marketplace_db.rows_before is not None
    with psycopg.connect(marketplace_db.conninfo, autocommit=True) as conn:
        for table in TABLES:
            columns = table_columns(conn, table)
            assert {
                c: s for c, s in columns.items() if c in MARKETPLACE_COLUMNS[table]
            } == MARKETPLACE_COLUMNS[table]
            assert set(columns) - set(MARKETPLACE_COLUMNS[table]) == set(ORCHESTRATOR_COLUMNS[table]), table
            old = marketplace_db.rows_before[table]
            assert old, table  # the marketplace did write a row
            ids = [row[next(iter(MARKETPLACE_COLUMNS[table]))] for row in old]
            key = next(iter(MARKETPLACE_COLUMNS[table]))
            now = column(
                conn,
                f"select to_jsonb(t) from {table} t where {key}::text = any(%s) order by to_jsonb(t)::text",
                [ids],
            )
            assert [
                {c: v for c, v in row.items() if c in MARKETPLACE_COLUMNS[table]} for row in now
            ] == old, table
            for row in now:
                added = {c: row[c] for c in ORCHESTRATOR_COLUMNS[table] if c != "seq"}
                assert added == dict.fromkeys(added), table  # NULL: nothing invented for old rows
        assert column(conn, "select seq from payments where workflow_id is null order by seq") == [1]


def test_the_marketplace_writes_keep_working_after_the_migrations(marketplace_db: Shape) -> None:
    with (
        psycopg.connect(marketplace_db.conninfo, autocommit=True) as conn,
        conn.transaction(force_rollback=True),
    ):
        ids = marketplace_writes(conn, "2")
        with as_role(conn, "service_role"):
            assert one(conn, "select status from step_results where id = %s", [ids["step"]]) == "succeeded"
            assert one(conn, "select seq is not null from payments where payment_id = %s", [ids["payment"]])
            # The marketplace's rows of the same agent job id and txid as the orchestrator's never clash.
            seed = marketplace_db.seed
            wid = seed.workflow_a["workflow_id"]
            conn.execute(
                "insert into access_tokens (user_id, wallet_address, job_id, access_token) values (%s, %s, %s, 't')",
                [USER_A, WALLET, f"J-{wid}"],
            )
            conn.execute(
                "insert into payments (payer_addr, payee_addr, amount_microalgo, txid) values ('P', 'R', 1, %s), "
                "('P', 'R', 1, %s)",
                [f"TX-{wid}", f"TX-{wid}"],
            )
            assert one(conn, "select count(*) from payments where txid = %s", [f"TX-{wid}"]) == 3


def test_the_orchestrator_rows_work_alongside_the_marketplace_rows(marketplace_db: Shape) -> None:
    market = marketplace_db.marketplace
    assert market is not None
    with (
        psycopg.connect(marketplace_db.conninfo, autocommit=True) as conn,
        as_role(conn, "service_role", rollback=True),
    ):
        # An orchestrator workflow with the marketplace's agent.
        agent = str(market["agent"])
        workflow = workflow_row(USER_A, agent, 1)
        create_workflow(conn, workflow, [step_row(workflow, 1, agent)])
        wid = workflow["workflow_id"]
        # The same agent job id as the marketplace's own job row and access token.
        job = record_job(conn, wid, 1, agent, market["agent_job_id"])
        record_job(conn, wid, 1, agent, market["agent_job_id"])  # a retried task writes the same row
        assert one(conn, "select count(*) from jobs where workflow_id = %s", [wid]) == 1
        record_payments(conn, wid, 1, agent, job, "OTX1", "OTX2")
        assert column(conn, "select txid from payments where workflow_id = %s order by seq", [wid]) == [
            "OTX1",
            "OTX2",
        ]
        for token in ("first", "rotated"):
            save_access_token(conn, wid, 1, USER_A, agent, market["agent_job_id"], token)
        assert column(
            conn,
            "select access_token from access_tokens where job_id = %s order by workflow_id nulls first",
            [market["agent_job_id"]],
        ) == [
            "marketplace-secret-1",
            "rotated",
        ]
        # The marketplace's txid may be recorded once for a workflow step (its own row has no workflow).
        record_payments(conn, wid, 1, agent, job, "MTX-1")
        with (
            pytest.raises(errors.UniqueViolation, match="payments_orchestrator_txid_key"),
            conn.transaction(),
        ):
            record_payments(conn, wid, 1, agent, job, "OTX3", "OTX1")  # a replay: nothing of it is written
        assert one(conn, "select count(*) from payments where txid = 'OTX3'") == 0


def test_existing_rows_that_break_the_rules_stop_or_relax_the_migration(cluster: PgCluster) -> None:
    """Duplicate steps stop the columns file with a clear error and roll it back; once resolved, a
    step with the marketplace's own status word `payment_confirmed` (not the orchestrator's) keeps
    its row: the status check stays NOT VALID and holds for new and changed rows."""
    name = "dirty"
    conninfo = create_database(cluster, name, MARKETPLACE)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        add_users(conn, USER_A, AGENT_OWNER)
        ids = marketplace_writes(conn, "3")
        conn.execute("update step_results set status = 'payment_confirmed' where id = %s", [ids["step"]])
        duplicate = one(
            conn,
            "insert into step_results (workflow_id, step_number, agent_id, status) values (%s, 1, %s, 'pending') "
            "returning id",
            [ids["workflow"], ids["agent"]],
        )
    apply(cluster, name, MIGRATIONS[0])
    before = schema_dump(cluster, name)
    result = psql_file(cluster, name, MIGRATIONS[1])
    assert result.returncode != 0
    assert "cannot add unique key step_results.step_results_workflow_id_step_number_key" in result.stderr
    assert f"Key (workflow_id, step_number)=({ids['workflow']}, 1) is duplicated." in result.stderr
    assert "Resolve the duplicate rows by hand" in result.stderr
    assert schema_dump(cluster, name) == before  # nothing of the file: no column, no constraint

    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("delete from step_results where id = %s", [duplicate])
    messages = apply(cluster, name, *MIGRATIONS[1:])
    assert (
        "constraint step_results.step_results_status_valid is enforced for new and changed rows only"
        in messages
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert column(conn, "select conname from pg_constraint where not convalidated") == [
            "step_results_status_valid"
        ]
        assert (
            one(conn, "select status from step_results where id = %s", [ids["step"]]) == "payment_confirmed"
        )
        with as_role(conn, "service_role"):
            conn.execute("update step_results set status = 'running' where id = %s", [ids["step"]])
        with (
            pytest.raises(errors.CheckViolation, match="step_results_status_valid"),
            as_role(conn, "service_role"),
        ):
            conn.execute("update step_results set status = 'payment_confirmed' where id = %s", [ids["step"]])


# --- RLS and privileges -----------------------------------------------------------------------------------------------


STEP_VISIBLE = "id, workflow_id, step_number, status, price_microalgo, agent_job_id, output"


def test_a_user_reads_only_their_own_workflows_steps_jobs_and_payments(
    shape: Shape, conn: psycopg.Connection[Any]
) -> None:
    seed = shape.seed
    a, b = seed.workflow_a["workflow_id"], seed.workflow_b["workflow_id"]
    with as_role(conn, "authenticated", USER_A):
        assert column(conn, "select workflow_id::text from workflows") == [a]
        assert column(
            conn, "select step_number from step_results where workflow_id = %s order by 1", [a]
        ) == [1, 2]
        assert column(conn, "select workflow_id::text from step_results") == [a, a]
        assert column(conn, "select txid from payments") == [f"TX-{a}"]
        assert column(conn, "select job_id::text from jobs") == [seed.jobs[a]]
        assert column(conn, "select count(*) from workflows where workflow_id = %s", [b]) == [0]
        row = conn.execute(f"select {STEP_VISIBLE} from step_results where step_number = 1").fetchone()
        assert row is not None
        assert (str(row[0]), str(row[1]), *row[2:]) == (
            seed.steps_a[0]["id"],
            a,
            1,
            "pending",
            1000,
            f"J-{a}",
            None,
        )
    with as_role(conn, "authenticated", USER_B):
        assert column(conn, "select workflow_id::text from workflows") == [b]
        assert column(conn, "select workflow_id::text from step_results") == [b]
        for table in ("step_results", "payments", "jobs"):
            assert column(conn, f"select count(*) from {table} where workflow_id = %s", [a]) == [0]


def test_a_page_of_a_users_workflows_is_read_from_the_history_index(
    shape: Shape, conn: psycopg.Connection[Any]
) -> None:
    """The query of GET /api/workflows (SupabaseStore.list_user_workflows: a keyset page, newest
    first) can be answered by walking workflows_user_id_created_at_idx, without a sort."""
    stamp = datetime(2026, 11, 30, tzinfo=UTC)
    with conn.transaction():
        conn.execute("set local enable_seqscan = off")  # a few rows: a scan would be cheaper here
        plan = column(
            conn,
            "explain select workflow_id from public.workflows where user_id = %s and created_at is not null "
            "and (created_at < %s or (created_at = %s and workflow_id < %s)) "
            "order by created_at desc, workflow_id desc limit 21",
            [USER_A, stamp, stamp, str(uuid.uuid4())],
        )
    text = "\n".join(plan)
    assert "workflows_user_id_created_at_idx" in text, text
    assert "Sort" not in text, text


def test_a_user_without_workflows_and_a_stranger_see_nothing(
    shape: Shape, conn: psycopg.Connection[Any]
) -> None:
    for sub in (str(uuid.uuid4()), None):  # a user of no workflow; a signed JWT without a subject
        with as_role(conn, "authenticated", sub):
            for table in ("workflows", "step_results", "jobs", "payments", "access_tokens"):
                assert column(conn, f"select count(*) from {table}") == [0], table


def test_active_agents_are_public_owners_see_their_own_and_nothing_else_is(
    shape: Shape, conn: psycopg.Connection[Any]
) -> None:
    seed = shape.seed
    market = [str(shape.marketplace["agent"])] if shape.marketplace else []
    with as_role(conn, "anon"):
        assert set(column(conn, "select id::text from agents")) >= {seed.active_agent, *market}
        assert seed.pending_agent not in column(conn, "select id::text from agents")
        assert column(conn, "select count(*) from agents where status <> 'active'") == [0]
    with as_role(conn, "authenticated", USER_A):
        assert seed.pending_agent in column(conn, "select id::text from agents")  # their own
    with as_role(conn, "authenticated", USER_B):
        assert column(conn, "select count(*) from agents where status <> 'active'") == [0]
    for table in ("workflows", "step_results", "jobs", "payments", "access_tokens"):
        with pytest.raises(errors.InsufficientPrivilege), as_role(conn, "anon"):
            conn.execute(f"select count(*) from {table}")


@pytest.mark.parametrize(
    "statement",
    [
        "select agent_token from agents",
        "select * from agents",
        "select id from agents where agent_token is not null",
        "select task_token from step_results",
        "select access_token from step_results",
        "select * from step_results",
        "select id from step_results where task_token is not null",
    ],
)
def test_users_cannot_read_secret_columns(
    shape: Shape, conn: psycopg.Connection[Any], statement: str
) -> None:
    for role, sub in (("authenticated", USER_A), ("authenticated", AGENT_OWNER), ("anon", None)):
        with pytest.raises(errors.InsufficientPrivilege), as_role(conn, role, sub):
            conn.execute(statement)


def test_the_service_role_reads_the_secrets(shape: Shape, conn: psycopg.Connection[Any]) -> None:
    a = shape.seed.workflow_a["workflow_id"]
    with as_role(conn, "service_role"):
        assert column(conn, "select access_token from access_tokens where workflow_id = %s", [a]) == [
            f"secret-{a}"
        ]
        assert column(
            conn, "select task_token from step_results where workflow_id = %s and step_number = 1", [a]
        ) == [f"task-token-{a}-1"]
        assert column(conn, "select agent_token from agents where id = %s", [shape.seed.active_agent]) == [
            "active-agent-secret"
        ]


def test_access_tokens_of_the_orchestrator_are_nobodys_and_the_marketplace_rows_their_owners(
    shape: Shape, conn: psycopg.Connection[Any]
) -> None:
    """USER_A owns an orchestrator token row (user_id = USER_A) and, on the marketplace's database, a
    marketplace row: only the latter is readable, by USER_A only."""
    with as_role(conn, "authenticated", USER_A):
        assert column(conn, "select count(*) from access_tokens where workflow_id is not null") == [0]
        mine = column(conn, "select access_token from access_tokens")
        assert mine == (["marketplace-secret-1"] if shape.marketplace else [])
    with as_role(conn, "authenticated", USER_B):
        assert column(conn, "select count(*) from access_tokens") == [0]


RESTRICTED = {
    "workflows": "workflow_id = %(a)s",
    "step_results": "workflow_id = %(a)s",
    "jobs": "workflow_id = %(a)s",
    "payments": "workflow_id = %(a)s",
    "access_tokens": "workflow_id is not null",
    "agents": "status <> 'active'",
}


def test_no_other_policy_can_open_the_orchestrator_rows_to_other_users(
    shape: Shape, conn: psycopg.Connection[Any]
) -> None:
    """Permissive policies are OR-ed: a marketplace policy such as "everyone reads everything" (and a
    grant to anon) would open every row. The orchestrator's restrictive policies are AND-ed with it
    and still hide the orchestrator's rows from other users and from anon."""
    a, b = shape.seed.workflow_a["workflow_id"], shape.seed.workflow_b["workflow_id"]
    for role, sub in (("authenticated", USER_B), ("anon", None)):
        with conn.transaction(force_rollback=True):
            for table in TABLES:
                conn.execute(
                    f'create policy "marketplace: everyone reads" on {table} for select using (true)'
                )
                conn.execute(f"grant select on {table} to anon")
            conn.execute(f"set local role {role}")
            conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps({"sub": sub})])
            for table, where in RESTRICTED.items():
                assert column(conn, f"select count(*) from {table} where {where}", {"a": a}) == [0], (
                    role,
                    table,
                )
            visible = column(conn, "select count(*) from workflows where workflow_id = %s", [b])
            assert visible == ([1] if role == "authenticated" else [0])


USER_WRITES = {
    "insert workflow": "insert into workflows (user_id, wallet_address, user_message, plan) "
    f"values ('{USER_A}', 'W', 'm', '{{}}')",
    "approve own workflow": "update workflows set status = 'approved'",
    "delete own workflow": "delete from workflows",
    "insert step": "insert into step_results (workflow_id, step_number) "
    "values ((select workflow_id from workflows limit 1), 9)",
    "mark own step succeeded": "update step_results set status = 'succeeded'",
    "delete own steps": "delete from step_results",
    "forge a payment": "insert into payments (payer_addr, payee_addr, amount_microalgo, txid, workflow_id, step_number) "
    "values ('P', 'R', 0, 'FORGED', (select workflow_id from workflows limit 1), 1)",
    "delete own payments": "delete from payments",
    "insert job": "insert into jobs (requester_addr, job_input, job_input_hash, state) values ('W', '\"x\"', 'h', 'prepared')",
    "insert access token": "insert into access_tokens (user_id, wallet_address, job_id, access_token) "
    f"values ('{USER_A}', 'W', 'J1', 't')",
    "insert own agent": "insert into agents (name, subdomain, repo_owner, repo_name, github_url, user_id) "
    f"values ('Rogue', 'rogue', 'o', 'r', 'u', '{USER_A}')",
    "update own agent": "update agents set price_microalgo = 0",
    "truncate payments": "truncate payments",
}


@pytest.mark.parametrize("statement", USER_WRITES.values(), ids=USER_WRITES.keys())
def test_users_cannot_write(shape: Shape, conn: psycopg.Connection[Any], statement: str) -> None:
    for role, sub in (("authenticated", USER_A), ("anon", None)):
        with pytest.raises(errors.InsufficientPrivilege), as_role(conn, role, sub):
            conn.execute(statement)


def test_rls_alone_still_blocks_user_writes_if_a_grant_slipped_in(
    shape: Shape, conn: psycopg.Connection[Any]
) -> None:
    """Second lock: with table privileges granted by mistake, no policy allows a user's write."""
    with conn.transaction(force_rollback=True):
        conn.execute("grant insert, update, delete on workflows, payments, access_tokens to authenticated")
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps({"sub": USER_A})])
        assert conn.execute("update workflows set status = 'approved' returning 1").fetchall() == []
        assert conn.execute("delete from payments returning 1").fetchall() == []
        assert conn.execute("delete from access_tokens returning 1").fetchall() == []
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "insert into workflows (user_id, wallet_address, user_message, plan) values (%s, 'W', 'm', '{}')",
                [USER_A],
            )


def test_service_role_reads_and_writes_everything(shape: Shape, conn: psycopg.Connection[Any]) -> None:
    seed = shape.seed
    a, agent = seed.workflow_a["workflow_id"], seed.active_agent
    with as_role(conn, "service_role", rollback=True):
        assert {seed.workflow_a["workflow_id"], seed.workflow_b["workflow_id"]} <= set(
            column(conn, "select workflow_id::text from workflows")
        )
        record_payments(conn, a, 2, agent, None, "NEW1", "NEW2")
        assert column(
            conn, "select txid from payments where workflow_id = %s and step_number = 2 order by seq", [a]
        ) == [
            "NEW1",
            "NEW2",
        ]
        claim = (
            "update step_results set status = 'awaiting_payment' "
            "where workflow_id = %s and step_number = 2 and status in ('pending') returning status"
        )
        assert conn.execute(claim, [a]).fetchall() == [("awaiting_payment",)]
        assert conn.execute(claim, [a]).fetchall() == []
        save_access_token(conn, a, 1, USER_A, agent, f"J-{a}", "rotated")
        assert column(conn, "select access_token from access_tokens where workflow_id = %s", [a]) == [
            "rotated"
        ]
        # The marketplace's step_results -> workflows key has no ON DELETE action: steps go first;
        # the workflow's jobs, payments and access tokens follow it (ON DELETE CASCADE).
        conn.execute("delete from step_results where workflow_id = %s", [a])
        conn.execute("delete from workflows where workflow_id = %s", [a])
        for table in ("jobs", "payments", "access_tokens"):
            assert column(conn, f"select count(*) from {table} where workflow_id = %s", [a]) == [0], table


# --- constraints ----------------------------------------------------------------------------------------------------

BAD_ROWS = {
    "workflow status": (
        "update workflows set status = 'paused' where workflow_id = %(a)s",
        errors.CheckViolation,
        "workflows_status_valid",
    ),
    "negative current step": (
        "update workflows set current_step = -1 where workflow_id = %(a)s",
        errors.CheckViolation,
        "workflows_current_step_nonnegative",
    ),
    "negative total cost": (
        "update workflows set total_cost_microalgo = -1 where workflow_id = %(a)s",
        errors.CheckViolation,
        "workflows_total_cost_nonnegative",
    ),
    "negative budget": (
        "update workflows set budget_microalgo = -1 where workflow_id = %(a)s",
        errors.CheckViolation,
        "workflows_budget_nonnegative",
    ),
    "negative attempt": (
        "update workflows set attempt = -1 where workflow_id = %(a)s",
        errors.CheckViolation,
        "workflows_attempt_nonnegative",
    ),
    "workflow without plan": (
        "insert into workflows (user_message, wallet_address) values ('m', 'W')",
        errors.NotNullViolation,
        "plan",
    ),
    "step status": (
        "update step_results set status = 'done' where workflow_id = %(a)s",
        errors.CheckViolation,
        "step_results_status_valid",
    ),
    "the marketplace's payment_confirmed": (
        "update step_results set status = 'payment_confirmed' where workflow_id = %(a)s",
        errors.CheckViolation,
        "step_results_status_valid",
    ),
    "output format": (
        "update step_results set output_format = 'xml' where workflow_id = %(a)s",
        errors.CheckViolation,
        "step_results_output_format_valid",
    ),
    "negative step price": (
        "update step_results set price_microalgo = -5 where workflow_id = %(a)s",
        errors.CheckViolation,
        "step_results_price_nonnegative",
    ),
    "negative payment required": (
        "update step_results set payment_required_microalgo = -5 where workflow_id = %(a)s",
        errors.CheckViolation,
        "step_results_payment_required_nonnegative",
    ),
    "duplicate step number": (
        "insert into step_results (workflow_id, step_number) values (%(a)s, 1)",
        errors.UniqueViolation,
        "step_results_workflow_id_step_number_key",
    ),
    "step zero": (
        "insert into step_results (workflow_id, step_number) values (%(a)s, 0)",
        errors.CheckViolation,
        "step_results_step_number_positive",
    ),
    "step of a missing workflow": (
        "insert into step_results (workflow_id, step_number) values (gen_random_uuid(), 1)",
        errors.ForeignKeyViolation,
        "step_results_workflow_id_fkey",
    ),
    "step of a missing job": (
        "update step_results set job_id = gen_random_uuid() where workflow_id = %(a)s",
        errors.ForeignKeyViolation,
        "step_results_job_id_fkey",
    ),
    "duplicate txid of a workflow step": (
        "insert into payments (payer_addr, payee_addr, amount_microalgo, txid, workflow_id, step_number) "
        "values ('P', 'R', 1, 'TX-' || %(a)s::text, %(a)s::uuid, 2)",
        errors.UniqueViolation,
        "payments_orchestrator_txid_key",
    ),
    "payment of a missing workflow": (
        "insert into payments (payer_addr, payee_addr, amount_microalgo, txid, workflow_id, step_number) "
        "values ('P', 'R', 1, 'ORPHAN', gen_random_uuid(), 1)",
        errors.ForeignKeyViolation,
        "payments_workflow_id_fkey",
    ),
    "job of a missing workflow": (
        "insert into jobs (requester_addr, job_input, job_input_hash, state, workflow_id, step_number) "
        "values ('W', '\"x\"', 'h', 'prepared', gen_random_uuid(), 1)",
        errors.ForeignKeyViolation,
        "jobs_workflow_id_fkey",
    ),
    "job state": (
        "update jobs set state = 'started' where workflow_id = %(a)s",
        errors.CheckViolation,
        "jobs_state_check",
    ),
    "second token of a step's job": (
        "insert into access_tokens (user_id, wallet_address, job_id, access_token, workflow_id, step_number) "
        "select user_id, wallet_address, job_id, 'again', workflow_id, step_number from access_tokens "
        "where workflow_id = %(a)s",
        errors.UniqueViolation,
        "access_tokens_workflow_id_step_number_job_id_key",
    ),
    "token of a missing workflow": (
        "insert into access_tokens (user_id, wallet_address, job_id, access_token, workflow_id, step_number) "
        f"values ('{USER_A}', 'W', 'J', 't', gen_random_uuid(), 1)",
        errors.ForeignKeyViolation,
        "access_tokens_workflow_id_fkey",
    ),
    "agent runtime status": (
        "update agents set runtime_status = 'gone'",
        errors.CheckViolation,
        "agents_runtime_status_check",
    ),
}


@pytest.mark.parametrize("case", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_constraints_reject_bad_rows(
    shape: Shape, conn: psycopg.Connection[Any], case: tuple[str, type[Exception], str]
) -> None:
    statement, error, name = case
    with pytest.raises(error, match=name), as_role(conn, "service_role"):
        conn.execute(statement, {"a": shape.seed.workflow_a["workflow_id"]})


def check_values(conn: psycopg.Connection[Any], name: str) -> set[str]:
    definition = one(conn, "select pg_get_constraintdef(oid) from pg_constraint where conname = %s", [name])
    return set(re.findall(r"'([a-z_]+)'::text", definition))


def test_status_values_match_the_models(conn: psycopg.Connection[Any]) -> None:
    assert check_values(conn, "step_results_status_valid") == {s.value for s in StepStatus}
    assert check_values(conn, "workflows_status_valid") == {s.value for s in WorkflowStatus}


def test_the_store_upsert_targets_are_unique_keys(shape: Shape, conn: psycopg.Connection[Any]) -> None:
    with as_role(conn, "service_role", rollback=True):
        for table, key in UPSERT_TARGETS.items():
            # Planning the upsert fails (42P10) unless a unique constraint matches its columns.
            conn.execute(
                f"explain insert into {table} select * from {table} on conflict ({', '.join(key)}) do nothing"
            )


# --- the RPC --------------------------------------------------------------------------------------------------------


def stored(conn: psycopg.Connection[Any], table: str, where: str, params: Any) -> list[dict[str, Any]]:
    return column(conn, f"select to_jsonb(t) from {table} t where {where} order by to_jsonb(t)::text", params)


def comparable(value: Any) -> Any:
    """Timestamps compared as instants (PostgreSQL prints them in the session's time zone)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d", value):
        return datetime.fromisoformat(value)
    return value


def test_the_rpc_inputs_are_the_store_rows(conn: psycopg.Connection[Any]) -> None:
    assert list(RPC_COLUMNS["workflows"]) == RPC_WORKFLOW_KEYS
    assert list(RPC_COLUMNS["step_results"]) == RPC_STEP_KEYS


def test_rpc_stores_every_column_it_is_given(shape: Shape, conn: psycopg.Connection[Any]) -> None:
    agent = shape.seed.active_agent
    workflow = workflow_row(USER_A, agent, 1) | {
        "status": "failed",
        "current_step": 1,
        "attempt": 2,
        "execution_arn": "arn:aws:states:x",
        "final_output": {"nested": ["json", 1, None]},
        "error": {"code": "X", "message": "kept"},
    }
    step = step_row(workflow, 1, agent) | {
        "status": "failed",
        "input": "the input",
        "agent_job_id": "J1",
        "unsigned_group_txns": ["gqNhbXQ="],
        "txn_ids": ["T1"],
        "payment_required_microalgo": 1000,
        "last_valid_round": 99,
        "receipt": {"txn_ids": ["T1"], "confirmed_round": 9},
        "output": '{"a": 1}',
        "output_format": "json",
        "error": {"code": "AgentJobFailed", "message": "no"},
        "poll_errors": 3,
        "poll_deadline": "2030-01-02T03:04:05.000001+00:00",
        "started_at": "2030-01-02T03:04:05+00:00",
        "completed_at": "2030-01-02T04:04:05+00:00",
    }
    assert set(workflow) == set(RPC_WORKFLOW_KEYS) and set(step) == set(RPC_STEP_KEYS)
    with as_role(conn, "service_role", rollback=True):
        extra = {"access_token": "not taken", "bogus": 1}
        assert str(create_workflow(conn, workflow | {"bogus": 1}, [step | extra])) == workflow["workflow_id"]
        [stored_workflow] = stored(conn, "workflows", "workflow_id = %s", [workflow["workflow_id"]])
        assert {k: comparable(v) for k, v in stored_workflow.items()} == {
            k: comparable(v) for k, v in workflow.items()
        }
        [stored_step] = stored(conn, "step_results", "workflow_id = %s", [workflow["workflow_id"]])
        assert stored_step.pop("access_token") is None
        assert {k: comparable(v) for k, v in stored_step.items()} == {
            k: comparable(v) for k, v in step.items()
        }


def test_rpc_gives_the_defaults_for_what_it_is_not_given(shape: Shape, conn: psycopg.Connection[Any]) -> None:
    workflow = {"workflow_id": str(uuid.uuid4()), "user_message": "m", "wallet_address": WALLET, "plan": {}}
    with as_role(conn, "service_role", rollback=True):
        create_workflow(
            conn, workflow, [{"workflow_id": workflow["workflow_id"], "step_number": 1, "status": None}]
        )
        row = conn.execute(
            "select status, current_step, created_at is not null, updated_at is not null, attempt from workflows "
            "where workflow_id = %s",
            [workflow["workflow_id"]],
        ).fetchone()
        assert row == ("planned", 0, True, True, None)
        step = conn.execute(
            "select id is not null, status, created_at is not null, updated_at from step_results where workflow_id = %s",
            [workflow["workflow_id"]],
        ).fetchone()
        assert step == (True, "pending", True, None)


def test_rpc_rolls_back_the_workflow_when_a_step_is_bad(shape: Shape, conn: psycopg.Connection[Any]) -> None:
    agent = shape.seed.active_agent
    workflow = workflow_row(USER_A, agent, 2)
    good, second = step_row(workflow, 1, agent), step_row(workflow, 2, agent)
    cases: list[tuple[dict[str, Any], list[dict[str, Any]], type[Exception], str]] = [
        (
            workflow,
            [good, second | {"status": "exploded"}],
            errors.CheckViolation,
            "step_results_status_valid",
        ),
        (
            workflow,
            [good, second | {"step_number": 1}],
            errors.UniqueViolation,
            "step_results_workflow_id_step_number_key",
        ),
        (
            workflow,
            [good, second | {"agent_id": str(uuid.uuid4())}],
            errors.ForeignKeyViolation,
            "step_results_agent_id_fkey",
        ),
        (
            workflow,
            [good, second | {"workflow_id": shape.seed.workflow_b["workflow_id"]}],
            errors.InvalidParameterValue,
            "workflow_id",
        ),
        (
            workflow | {"workflow_id": None},
            [],
            errors.InvalidParameterValue,
            "workflow.workflow_id is required",
        ),
        (
            workflow | {"user_id": str(uuid.uuid4())},
            [good],
            errors.ForeignKeyViolation,
            "workflows_user_id_fkey",
        ),
    ]
    for bad_workflow, steps, error, message in cases:
        with pytest.raises(error, match=message), as_role(conn, "service_role"):
            create_workflow(conn, bad_workflow, steps)
    with as_role(conn, "service_role"):
        assert column(
            conn, "select count(*) from workflows where workflow_id = %s", [workflow["workflow_id"]]
        ) == [0]
        assert column(
            conn, "select count(*) from step_results where workflow_id = %s", [workflow["workflow_id"]]
        ) == [0]


@pytest.mark.parametrize("role", ["authenticated", "anon"])
def test_rpc_is_not_executable_by_users(shape: Shape, conn: psycopg.Connection[Any], role: str) -> None:
    workflow = workflow_row(USER_A, shape.seed.active_agent, 1)
    with (
        pytest.raises(errors.InsufficientPrivilege, match="permission denied for function"),
        as_role(conn, role, USER_A),
    ):
        create_workflow(conn, workflow, [])
    acl = column(
        conn,
        "select grantee::regrole::text from pg_proc, aclexplode(proacl) "
        "where proname = 'orchestrator_create_workflow' and privilege_type = 'EXECUTE' order by 1",
    )
    assert acl == ["postgres", "service_role"]


# --- the store's rows on the real tables -----------------------------------------------------------------------------


def test_the_store_models_fit_the_real_tables(shape: Shape, conn: psycopg.Connection[Any]) -> None:
    """Rows as SupabaseStore sends them (its own mapping of the models) go into the real tables and
    come back as the same models (PostgREST returns to_jsonb of the row)."""
    from orchestrator.models import (
        AccessTokenRecord,
        JobRecord,
        PaymentRecord,
        PlannedStep,
        StepRecord,
        WorkflowPlan,
        WorkflowRecord,
    )
    from orchestrator.store.supabase import _model, _row

    agent = shape.seed.active_agent
    plan = WorkflowPlan(reasoning="r", steps=[PlannedStep(step_number=1, agent_id=agent)])
    workflow = WorkflowRecord(
        workflow_id=str(uuid.uuid4()), user_id=USER_A, wallet_address=WALLET, user_message="m", plan=plan
    )
    step = StepRecord(id=str(uuid.uuid4()), workflow_id=workflow.workflow_id, step_number=1, agent_id=agent)
    with as_role(conn, "service_role", rollback=True):
        create_workflow(conn, _row(workflow), [_row(step)])
        [w] = stored(conn, "workflows", "workflow_id = %s", [workflow.workflow_id])
        [s] = stored(conn, "step_results", "workflow_id = %s", [workflow.workflow_id])
        assert (_model(WorkflowRecord, w), _model(StepRecord, s)) == (workflow, step)
        job = JobRecord(
            job_id=str(uuid.uuid4()),
            agent_id=agent,
            requester_addr=WALLET,
            job_input="hello",
            job_input_hash="h",
            workflow_id=workflow.workflow_id,
            step_number=1,
            agent_job_id="J1",
        )
        payment = PaymentRecord(
            txid="RT",
            workflow_id=workflow.workflow_id,
            step_number=1,
            agent_id=agent,
            job_id=job.job_id,
            payer_addr=WALLET,
            payee_addr="R",
            amount_microalgo=3,
            confirmed_round=4,
        )
        token = AccessTokenRecord(
            user_id=USER_A,
            wallet_address=WALLET,
            job_id="J1",
            agent_id=agent,
            access_token="t",
            workflow_id=workflow.workflow_id,
            step_number=1,
        )
        for table, record, key in (
            ("jobs", job, "job_id"),
            ("payments", payment, "payment_id"),
            ("access_tokens", token, "id"),
        ):
            row = _row(record)
            columns = ", ".join(row)
            conn.execute(
                f"insert into {table} ({columns}) select {columns} from jsonb_populate_record(null::{table}, %s)",
                [Jsonb(row)],
            )
            [back] = stored(conn, table, f"{key}::text = %s", [row[key]])
            assert _model(type(record), back) == record, table


# --- the PostgREST emulator ------------------------------------------------------------------------------------------


def test_fake_postgrest_mirrors_the_migrated_schema(shape: Shape, conn: psycopg.Connection[Any]) -> None:
    """tests/postgrest_fake.py stands in for this schema in the store's contract tests."""
    kinds = {
        "uuid": "uuid",
        "text": "text",
        "character varying": "text",
        "integer": "int",
        "bigint": "int",
        "jsonb": "jsonb",
        "timestamp with time zone": "timestamptz",
        "boolean": "bool",
    }
    for name, table in orchestrator_tables().items():
        rel = f"public.{name}"
        columns = table_columns(conn, name)
        assert list(columns) == list(table.columns), name  # the same columns, in the same order
        assert {c: kinds[kind] for c, (kind, _, _) in columns.items()} == {
            c: spec.kind for c, spec in table.columns.items()
        }, name
        assert {c for c, (_, notnull, _) in columns.items() if notnull} == {
            c for c, spec in table.columns.items() if spec.not_null
        }, name
        assert {c for c, (_, _, default) in columns.items() if default is not None} == {
            c for c, spec in table.columns.items() if spec.default is not None or c == table.identity
        }, name
        assert [c for c, (_, _, default) in columns.items() if default == "identity"] == (
            [table.identity] if table.identity else []
        ), name
        keys = conn.execute(
            "select contype, (select array_agg(a.attname::text order by k.i) from unnest(conkey) with ordinality "
            "as k(attnum, i) join pg_attribute a on a.attrelid = conrelid and a.attnum = k.attnum), "
            "confrelid::regclass::text, (select array_agg(a.attname::text order by k.i) from unnest(confkey) "
            "with ordinality as k(attnum, i) join pg_attribute a on a.attrelid = confrelid and a.attnum = k.attnum), "
            "conname from pg_constraint where conrelid = %s::regclass",
            [rel],
        ).fetchall()
        assert [tuple(cols) for kind, cols, _, _, _ in keys if kind == "p"] == [table.unique[0]], name
        assert {(tuple(cols), conname) for kind, cols, _, _, conname in keys if kind in ("p", "u")} == {
            (key, table.unique_name(key)) for key in table.unique
        }, name
        assert {conname for kind, _, _, _, conname in keys if kind == "c"} == set(table.checks), name
        assert {
            (tuple(cols), parent, tuple(parent_cols))
            for kind, cols, parent, parent_cols, _ in keys
            if kind == "f"
        } == set(table.foreign_keys), name
        partial = conn.execute(
            "select i.relname, (select array_agg(a.attname::text order by k.i) from unnest(x.indkey::int2[]) "
            "with ordinality as k(attnum, i) join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum), "
            "pg_get_expr(x.indpred, x.indrelid) from pg_index x join pg_class i on i.oid = x.indexrelid "
            "where x.indrelid = %s::regclass and x.indisunique and x.indpred is not null",
            [rel],
        ).fetchall()
        assert {(index, tuple(cols), where) for index, cols, where in partial} == {
            (p.name, p.columns, p.where_sql) for p in table.partial_unique
        }, name
    for table_name, key in UPSERT_TARGETS.items():
        assert key in orchestrator_tables()[table_name].unique
