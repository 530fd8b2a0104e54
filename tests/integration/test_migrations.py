"""supabase/migrations/ on a real PostgreSQL 15 (a throwaway cluster, tests/pg.py) prepared with what
Supabase provides (tests/supabase_bootstrap.sql): the migrations apply twice, the constraints hold,
RLS and the grants let users read only their own rows and never write or see secrets, and the RPC
is atomic and reserved to service_role. Users are simulated as PostgREST does it: `set local role`
plus the JWT claims in `request.jwt.claims`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from orchestrator.models import (
    AgentMetadata,
    ErrorInfo,
    PaymentRecord,
    StepResult,
    StepStatus,
    WorkflowPlan,
    WorkflowRecord,
    WorkflowStep,
)
from orchestrator.store.supabase import _model, _row
from psycopg import errors
from psycopg.types.json import Jsonb

from tests.pg import PgCluster, postgres_cluster
from tests.postgrest_fake import orchestrator_tables

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted((ROOT / "supabase" / "migrations").glob("*.sql"))
BOOTSTRAP = ROOT / "tests" / "supabase_bootstrap.sql"
TABLES = ("agents", "workflows", "step_results", "jobs", "payments", "access_tokens")

USER_A = "0a0a0a0a-0000-4000-8000-00000000000a"
USER_B = "0b0b0b0b-0000-4000-8000-00000000000b"
WALLET = "W" * 58


# --- the cluster and the databases --------------------------------------------------------------------------


def apply_sql(conninfo: str, *files: Path) -> None:
    """Each file in one implicit transaction, as `supabase db push` applies a migration."""
    for path in files:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(path.read_text())


def create_database(cluster: PgCluster, name: str) -> str:
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f"create database {name}")
    return cluster.conninfo(name)


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    with postgres_cluster() as running:
        yield running


def make_workflow(user_id: str, steps: int = 2) -> tuple[WorkflowRecord, list[StepResult]]:
    plan = WorkflowPlan(
        reasoning="r",
        steps=[
            WorkflowStep(
                step_number=n, agent_id="active-agent", input_data={"q": f"{{{{step_{n - 1}_output}}}}"}
            )
            for n in range(1, steps + 1)
        ],
    )
    workflow = WorkflowRecord(
        id=str(uuid.uuid4()),
        user_id=user_id,
        wallet_address=WALLET,
        user_message="help me",
        plan=plan,
        total_cost_microalgo=2000,
        budget_microalgo=5000,
    )
    rows = [
        StepResult(
            id=str(uuid.uuid4()),
            workflow_id=workflow.id,
            step_number=n,
            agent_id="active-agent",
            price_microalgo=1000,
            task_token=f"task-token-{workflow.id}-{n}",
        )
        for n in range(1, steps + 1)
    ]
    return workflow, rows


def create_workflow_sql(
    conn: psycopg.Connection[Any], workflow: WorkflowRecord, steps: list[StepResult]
) -> Any:
    """The RPC with exactly the JSON SupabaseStore.create_workflow sends."""
    row = conn.execute(
        "select public.orchestrator_create_workflow(%s, %s)",
        [Jsonb(_row(workflow)), Jsonb([_row(s) for s in steps])],
    ).fetchone()
    assert row is not None
    return row[0]


class Seed:
    def __init__(self) -> None:
        self.workflow_a, self.steps_a = make_workflow(USER_A)
        self.workflow_b, self.steps_b = make_workflow(USER_B, steps=1)


@pytest.fixture(scope="module")
def db(cluster: PgCluster) -> str:
    conninfo = create_database(cluster, "orchestrator")
    apply_sql(conninfo, BOOTSTRAP)
    apply_sql(conninfo, *MIGRATIONS)
    apply_sql(conninfo, *MIGRATIONS)  # idempotent
    return conninfo


@pytest.fixture(scope="module")
def seed(db: str) -> Seed:
    seed = Seed()
    with psycopg.connect(db, autocommit=True) as conn, as_role(conn, "service_role"):
        conn.execute(
            "insert into agents (id, name, price_microalgo, is_active) values "
            "('active-agent', 'Active', 1000, true), ('retired-agent', 'Retired', 1000, false)"
        )
        for workflow, steps in ((seed.workflow_a, seed.steps_a), (seed.workflow_b, seed.steps_b)):
            create_workflow_sql(conn, workflow, steps)
            conn.execute(
                "insert into jobs (job_id, workflow_id, step_number, agent_id) values (%s, %s, 1, 'active-agent')",
                [f"job-{workflow.id}", workflow.id],
            )
            conn.execute(
                "insert into payments (txid, workflow_id, step_number, agent_id, job_id, amount_microalgo, "
                "receiver, confirmed_round) values (%s, %s, 1, 'active-agent', %s, 1000, 'R', 5)",
                [f"TX-{workflow.id}", workflow.id, f"job-{workflow.id}"],
            )
            conn.execute(
                "insert into access_tokens (workflow_id, step_number, job_id, token) values (%s, 1, %s, %s)",
                [workflow.id, f"job-{workflow.id}", f"secret-{workflow.id}"],
            )
    return seed


@pytest.fixture
def conn(db: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db, autocommit=True) as connection:
        yield connection


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


def column(conn: psycopg.Connection[Any], sql: str, params: list[Any] | None = None) -> list[Any]:
    return [row[0] for row in conn.execute(sql, params).fetchall()]


# --- the migrations themselves ------------------------------------------------------------------------------


def schema_snapshot(conn: psycopg.Connection[Any]) -> dict[str, list[Any]]:
    names = list(TABLES)
    return {
        "columns": conn.execute(
            "select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns "
            "where table_schema = 'public' and table_name = any(%s) order by 1, 2",
            [names],
        ).fetchall(),
        "constraints": conn.execute(
            "select conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated from pg_constraint "
            "where conrelid = any(%s::regclass[]) order by 1, 2",
            [[f"public.{t}" for t in names]],
        ).fetchall(),
        "indexes": conn.execute(
            "select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' order by 1, 2"
        ).fetchall(),
        "policies": conn.execute(
            "select tablename, policyname, cmd, roles::text, qual from pg_policies where schemaname = 'public' "
            "order by 1, 2"
        ).fetchall(),
        "grants": conn.execute(
            "select table_name, grantee, privilege_type from information_schema.role_table_grants "
            "where table_schema = 'public' order by 1, 2, 3"
        ).fetchall(),
        "column_grants": conn.execute(
            "select table_name, column_name, grantee, privilege_type from information_schema.column_privileges "
            "where table_schema = 'public' and grantee in ('anon', 'authenticated') order by 1, 2, 3, 4"
        ).fetchall(),
    }


def test_migrations_are_ordered_files(db: str) -> None:
    assert [p.name for p in MIGRATIONS] == [
        "20251125120000_orchestrator_tables.sql",
        "20251125120100_orchestrator_access.sql",
    ]


def test_applying_the_migrations_again_changes_nothing(db: str, conn: psycopg.Connection[Any]) -> None:
    before = schema_snapshot(conn)
    apply_sql(db, *MIGRATIONS)
    assert schema_snapshot(conn) == before
    assert all(before[part] for part in before)  # the snapshot did see the schema
    assert len(before["constraints"]) == 27


def test_every_table_has_rls_and_every_constraint_is_validated(
    db: str, conn: psycopg.Connection[Any]
) -> None:
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


def test_fake_postgrest_mirrors_the_migrated_schema(db: str, conn: psycopg.Connection[Any]) -> None:
    """tests/postgrest_fake.py stands in for this schema in the store's contract tests."""
    for name, table in orchestrator_tables().items():
        rel = f"public.{name}"
        attributes = conn.execute(
            "select attname, attnotnull, atthasdef or attidentity <> '' from pg_attribute "
            "where attrelid = %s::regclass and attnum > 0 and not attisdropped",
            [rel],
        ).fetchall()
        assert {a for a, _, _ in attributes} == set(table.columns), name
        assert {a for a, notnull, _ in attributes if notnull} == {
            c for c, spec in table.columns.items() if spec.not_null
        }, name
        assert {a for a, _, has_default in attributes if has_default} == {
            c for c, spec in table.columns.items() if spec.default is not None or c == table.identity
        }, name
        keys = conn.execute(
            "select contype, (select array_agg(a.attname::text order by k.i) from unnest(conkey) with ordinality "
            "as k(attnum, i) join pg_attribute a on a.attrelid = conrelid and a.attnum = k.attnum), "
            "confrelid::regclass::text, conname from pg_constraint where conrelid = %s::regclass",
            [rel],
        ).fetchall()
        assert {tuple(cols) for kind, cols, _, _ in keys if kind in ("p", "u")} == set(table.unique), name
        assert {conname for kind, _, _, conname in keys if kind == "c"} == set(table.checks), name
        assert {(tuple(cols), parent) for kind, cols, parent, _ in keys if kind == "f"} == {
            (cols, parent) for cols, parent, _ in table.foreign_keys
        }, name


# --- RLS and privileges -----------------------------------------------------------------------------------------


STEP_VISIBLE = "id, workflow_id, step_number, status, price_microalgo"


def test_a_user_reads_only_their_own_workflows_steps_jobs_and_payments(
    seed: Seed, conn: psycopg.Connection[Any]
) -> None:
    a, b = seed.workflow_a, seed.workflow_b
    with as_role(conn, "authenticated", USER_A):
        assert column(conn, "select id from workflows") == [a.id]
        assert column(
            conn, "select step_number from step_results where workflow_id = %s order by 1", [a.id]
        ) == [1, 2]
        assert column(conn, "select workflow_id from step_results") == [a.id, a.id]
        assert column(conn, "select txid from payments") == [f"TX-{a.id}"]
        assert column(conn, "select job_id from jobs") == [f"job-{a.id}"]
        assert column(conn, "select count(*) from workflows where id = %s", [b.id]) == [0]
        row = conn.execute(f"select {STEP_VISIBLE} from step_results where step_number = 1").fetchone()
        assert row == (seed.steps_a[0].id, a.id, 1, "pending", 1000)
    with as_role(conn, "authenticated", USER_B):
        assert column(conn, "select id from workflows") == [b.id]
        assert column(conn, "select workflow_id from step_results") == [b.id]
        assert column(conn, "select count(*) from step_results where workflow_id = %s", [a.id]) == [0]
        assert column(conn, "select count(*) from payments where workflow_id = %s", [a.id]) == [0]
        assert column(conn, "select count(*) from jobs where workflow_id = %s", [a.id]) == [0]


def test_a_user_without_workflows_and_a_stranger_see_nothing(
    seed: Seed, conn: psycopg.Connection[Any]
) -> None:
    with as_role(conn, "authenticated", str(uuid.uuid4())):
        assert column(conn, "select count(*) from workflows") == [0]
        assert column(conn, "select count(*) from step_results") == [0]
        assert column(conn, "select count(*) from payments") == [0]
    with as_role(conn, "authenticated"):  # signed JWT without a subject
        assert column(conn, "select count(*) from workflows") == [0]


def test_active_agents_are_public_and_nothing_else_is(seed: Seed, conn: psycopg.Connection[Any]) -> None:
    with as_role(conn, "anon"):
        assert column(conn, "select id from agents order by id") == ["active-agent"]
    with as_role(conn, "authenticated", USER_A):
        assert column(conn, "select id from agents order by id") == ["active-agent"]
    for table in ("workflows", "step_results", "jobs", "payments", "access_tokens"):
        with pytest.raises(errors.InsufficientPrivilege), as_role(conn, "anon"):
            conn.execute(f"select count(*) from {table}")


def test_users_cannot_read_access_tokens_or_task_tokens(seed: Seed, conn: psycopg.Connection[Any]) -> None:
    for statement in (
        "select token from access_tokens",
        "select count(*) from access_tokens",
        "select task_token from step_results",
        "select * from step_results",
        "select id from step_results where task_token is not null",
    ):
        with pytest.raises(errors.InsufficientPrivilege), as_role(conn, "authenticated", USER_A):
            conn.execute(statement)
    with as_role(conn, "service_role"):
        assert column(
            conn, "select token from access_tokens where workflow_id = %s", [seed.workflow_a.id]
        ) == [f"secret-{seed.workflow_a.id}"]
        assert column(
            conn,
            "select task_token from step_results where workflow_id = %s and step_number = 1",
            [seed.workflow_a.id],
        ) == [f"task-token-{seed.workflow_a.id}-1"]


USER_WRITES = {
    "insert workflow": "insert into workflows (id, user_id, wallet_address, user_message, plan) "
    f"values ('mine', '{USER_A}', 'W', 'm', '{{}}')",
    "approve own workflow": "update workflows set status = 'approved'",
    "delete own workflow": "delete from workflows",
    "insert step": "insert into step_results (id, workflow_id, step_number, agent_id) "
    "values ('s', (select id from workflows limit 1), 9, 'a')",
    "mark own step succeeded": "update step_results set status = 'succeeded'",
    "delete own steps": "delete from step_results",
    "forge a payment": "insert into payments (txid, workflow_id, step_number, agent_id, amount_microalgo, receiver, "
    "confirmed_round) values ('FORGED', (select id from workflows limit 1), 1, 'a', 0, 'R', 1)",
    "delete own payments": "delete from payments",
    "insert job": "insert into jobs (job_id, workflow_id, step_number, agent_id) "
    "values ('j', (select id from workflows limit 1), 1, 'a')",
    "insert access token": "insert into access_tokens (workflow_id, step_number, job_id, token) "
    "values ((select id from workflows limit 1), 1, 'j', 't')",
    "insert agent": "insert into agents (id, name) values ('rogue', 'Rogue')",
    "reprice agent": "update agents set price_microalgo = 0",
    "truncate payments": "truncate payments",
}


@pytest.mark.parametrize("statement", USER_WRITES.values(), ids=USER_WRITES.keys())
def test_users_cannot_write(seed: Seed, conn: psycopg.Connection[Any], statement: str) -> None:
    for role, sub in (("authenticated", USER_A), ("anon", None)):
        with pytest.raises(errors.InsufficientPrivilege), as_role(conn, role, sub):
            conn.execute(statement)


def test_rls_alone_still_blocks_user_writes_if_a_grant_slipped_in(
    seed: Seed, conn: psycopg.Connection[Any]
) -> None:
    """Second lock: with table privileges granted by mistake, no policy allows a user's write."""
    with conn.transaction(force_rollback=True):
        conn.execute("grant insert, update, delete on workflows, payments to authenticated")
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps({"sub": USER_A})])
        updated = conn.execute("update workflows set status = 'approved' returning id").fetchall()
        assert updated == []  # no UPDATE policy: no row is visible to update
        assert conn.execute("delete from payments returning txid").fetchall() == []
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "insert into workflows (id, user_id, wallet_address, user_message, plan) "
                "values ('mine', %s, 'W', 'm', '{}')",
                [USER_A],
            )


def test_service_role_reads_and_writes_everything(seed: Seed, conn: psycopg.Connection[Any]) -> None:
    a = seed.workflow_a
    with as_role(conn, "service_role", rollback=True):
        assert set(column(conn, "select id from workflows")) == {a.id, seed.workflow_b.id}
        assert len(column(conn, "select id from agents")) == 2
        conn.execute(
            "insert into payments (txid, workflow_id, step_number, agent_id, amount_microalgo, receiver, "
            "confirmed_round) values ('NEW1', %s, 2, 'a', 7, 'R', 9), ('NEW2', %s, 2, 'a', 7, 'R', 9)",
            [a.id, a.id],
        )
        assert column(
            conn, "select txid from payments where workflow_id = %s and step_number = 2 order by seq", [a.id]
        ) == [
            "NEW1",
            "NEW2",
        ]
        claimed = conn.execute(
            "update step_results set status = 'awaiting_payment' "
            "where workflow_id = %s and step_number = 2 and status in ('pending') returning status",
            [a.id],
        ).fetchall()
        assert claimed == [("awaiting_payment",)]
        again = conn.execute(
            "update step_results set status = 'awaiting_payment' "
            "where workflow_id = %s and step_number = 2 and status in ('pending') returning status",
            [a.id],
        ).fetchall()
        assert again == []
        conn.execute(
            "insert into access_tokens (workflow_id, step_number, job_id, token) values (%s, 1, %s, 'rotated') "
            "on conflict (workflow_id, step_number, job_id) do update set token = excluded.token",
            [a.id, f"job-{a.id}"],
        )
        assert column(conn, "select token from access_tokens where workflow_id = %s", [a.id]) == ["rotated"]
        conn.execute("delete from workflows where id = %s", [a.id])  # cascades to its rows
        assert column(conn, "select count(*) from step_results where workflow_id = %s", [a.id]) == [0]
        assert column(conn, "select count(*) from payments where workflow_id = %s", [a.id]) == [0]
        assert column(conn, "select count(*) from access_tokens where workflow_id = %s", [a.id]) == [0]


# --- constraints ---------------------------------------------------------------------------------------------------

BAD_ROWS = {
    "workflow status": (
        "update workflows set status = 'paused' where id = %(a)s",
        errors.CheckViolation,
        "workflows_status_valid",
    ),
    "step status": (
        "update step_results set status = 'done' where workflow_id = %(a)s",
        errors.CheckViolation,
        "step_results_status_valid",
    ),
    "negative agent price": (
        "update agents set price_microalgo = -1",
        errors.CheckViolation,
        "agents_price_microalgo_nonnegative",
    ),
    "negative step price": (
        "update step_results set price_microalgo = -5 where workflow_id = %(a)s",
        errors.CheckViolation,
        "step_results_price_nonnegative",
    ),
    "negative budget": (
        "update workflows set budget_microalgo = -1 where id = %(a)s",
        errors.CheckViolation,
        "workflows_budget_nonnegative",
    ),
    "negative payment": (
        "insert into payments (txid, workflow_id, step_number, agent_id, amount_microalgo, receiver, "
        "confirmed_round) values ('NEG', %(a)s, 1, 'a', -1, 'R', 1)",
        errors.CheckViolation,
        "payments_amount_nonnegative",
    ),
    "duplicate txid": (
        "insert into payments (txid, workflow_id, step_number, agent_id, amount_microalgo, receiver, "
        "confirmed_round) values ('TX-' || %(a)s, %(a)s, 2, 'a', 1, 'R', 1)",
        errors.UniqueViolation,
        "payments_pkey",
    ),
    "duplicate step number": (
        "insert into step_results (id, workflow_id, step_number, agent_id) values ('dup', %(a)s, 1, 'a')",
        errors.UniqueViolation,
        "step_results_workflow_id_step_number_key",
    ),
    "step zero": (
        "insert into step_results (id, workflow_id, step_number, agent_id) values ('zero', %(a)s, 0, 'a')",
        errors.CheckViolation,
        "step_results_step_number_positive",
    ),
    "step of a missing workflow": (
        "insert into step_results (id, workflow_id, step_number, agent_id) values ('orphan', 'nope', 1, 'a')",
        errors.ForeignKeyViolation,
        "step_results_workflow_id_fkey",
    ),
    "payment for a missing step": (
        "insert into payments (txid, workflow_id, step_number, agent_id, amount_microalgo, receiver, "
        "confirmed_round) values ('ORPHAN', %(a)s, 9, 'a', 1, 'R', 1)",
        errors.ForeignKeyViolation,
        "payments_step_fkey",
    ),
    "workflow without plan": (
        "insert into workflows (id, user_id, wallet_address, user_message) values ('np', 'u', 'W', 'm')",
        errors.NotNullViolation,
        "plan",
    ),
    "txn ids not a list": (
        "update step_results set txn_ids = '\"T1\"' where workflow_id = %(a)s",
        errors.CheckViolation,
        "step_results_txn_lists_are_arrays",
    ),
}


@pytest.mark.parametrize("case", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_constraints_reject_bad_rows(
    seed: Seed, conn: psycopg.Connection[Any], case: tuple[str, type[Exception], str]
) -> None:
    statement, error, name = case
    with pytest.raises(error, match=name), as_role(conn, "service_role"):
        conn.execute(statement, {"a": seed.workflow_a.id})


# --- the RPC --------------------------------------------------------------------------------------------------------


def read_back(
    conn: psycopg.Connection[Any], workflow_id: str
) -> tuple[WorkflowRecord | None, list[StepResult]]:
    """Rows as PostgREST would return them (to_jsonb), mapped by SupabaseStore's own mapping."""
    row = conn.execute("select to_jsonb(w) from workflows w where id = %s", [workflow_id]).fetchone()
    steps = column(
        conn,
        "select to_jsonb(s) from step_results s where workflow_id = %s order by step_number",
        [workflow_id],
    )
    workflow = _model(WorkflowRecord, row[0]) if row else None
    return workflow, [_model(StepResult, s) for s in steps]


def test_rpc_creates_the_workflow_and_its_steps_as_the_store_sends_them(
    seed: Seed, conn: psycopg.Connection[Any]
) -> None:
    workflow, steps = make_workflow(USER_A, steps=3)
    workflow.error = ErrorInfo(code="X", message="kept")
    workflow.final_output = {"nested": ["json", 1, None]}
    with as_role(conn, "service_role", rollback=True):
        assert create_workflow_sql(conn, workflow, steps) == workflow.id
        assert read_back(conn, workflow.id) == (workflow, steps)
        # The payment and agent rows round-trip through the same mapping.
        record = PaymentRecord(
            txid="RT",
            workflow_id=workflow.id,
            step_number=2,
            agent_id="a",
            amount_microalgo=3,
            receiver="R",
            confirmed_round=4,
        )
        columns = ", ".join(PaymentRecord.model_fields)
        conn.execute(
            f"insert into payments ({columns}) select {columns} from jsonb_populate_record(null::payments, %s)",
            [Jsonb(_row(record))],
        )
        stored = conn.execute("select to_jsonb(p) from payments p where txid = 'RT'").fetchone()
        assert stored is not None and _model(PaymentRecord, stored[0]) == record
        agent = conn.execute("select to_jsonb(a) from agents a where id = 'active-agent'").fetchone()
        assert agent is not None
        assert _model(AgentMetadata, agent[0]) == AgentMetadata(
            id="active-agent", name="Active", price_microalgo=1000
        )


def test_rpc_rolls_back_the_workflow_when_a_step_is_bad(seed: Seed, conn: psycopg.Connection[Any]) -> None:
    workflow, steps = make_workflow(USER_A, steps=2)
    bad = _row(steps[1]) | {"status": "exploded"}
    with pytest.raises(errors.CheckViolation), as_role(conn, "service_role"):
        conn.execute(
            "select orchestrator_create_workflow(%s, %s)",
            [Jsonb(_row(workflow)), Jsonb([_row(steps[0]), bad])],
        )
    foreign = _row(steps[1]) | {"workflow_id": seed.workflow_b.id}
    with pytest.raises(errors.InvalidParameterValue, match="workflow_id"), as_role(conn, "service_role"):
        conn.execute(
            "select orchestrator_create_workflow(%s, %s)",
            [Jsonb(_row(workflow)), Jsonb([_row(steps[0]), foreign])],
        )
    with as_role(conn, "service_role"):
        assert read_back(conn, workflow.id) == (None, [])


@pytest.mark.parametrize("role", ["authenticated", "anon"])
def test_rpc_is_not_executable_by_users(seed: Seed, conn: psycopg.Connection[Any], role: str) -> None:
    workflow, steps = make_workflow(USER_A, steps=1)
    with (
        pytest.raises(errors.InsufficientPrivilege, match="permission denied for function"),
        as_role(conn, role, USER_A),
    ):
        create_workflow_sql(conn, workflow, steps)
    acl = column(
        conn,
        "select grantee::regrole::text from pg_proc, aclexplode(proacl) "
        "where proname = 'orchestrator_create_workflow' and privilege_type = 'EXECUTE' order by 1",
    )
    assert acl == ["postgres", "service_role"]


# --- upgrading the marketplace's existing tables ---------------------------------------------------------------------

LEGACY_SCHEMA = """
create table agents (id text primary key, name text not null, owner_wallet text, is_active boolean default true);
insert into agents (id, name, owner_wallet) values ('legacy-agent', 'Old', 'OWNER');
create table workflows (id text primary key, user_id text, status text, created_at timestamptz default now());
insert into workflows (id, user_id, status) values ('legacy-wf', 'someone', 'pending');
create table jobs (id uuid primary key default gen_random_uuid(), job_id text not null, agent_id text, status text);
insert into jobs (job_id, agent_id, status) values ('direct-hire', 'legacy-agent', 'done');
create table payments (id uuid primary key default gen_random_uuid(), txid text not null, amount bigint);
insert into payments (txid, amount) values ('LEGACYTX', 10);
create table access_tokens (id uuid primary key default gen_random_uuid(), job_id text, token text);
insert into access_tokens (job_id, token) values ('direct-hire', 'legacy-secret');
"""


def test_migrations_upgrade_the_marketplace_existing_tables(cluster: PgCluster) -> None:
    conninfo = create_database(cluster, "marketplace")
    apply_sql(conninfo, BOOTSTRAP)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(LEGACY_SCHEMA)
    apply_sql(conninfo, *MIGRATIONS)
    apply_sql(conninfo, *MIGRATIONS)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for table in TABLES:
            assert column(conn, f"select count(*) from {table}") == [0 if table == "step_results" else 1]
        # The legacy 'pending' workflow keeps its status; the check holds for every new or changed row.
        assert column(
            conn, "select convalidated from pg_constraint where conname = 'workflows_status_valid'"
        ) == [False]
        with pytest.raises(errors.CheckViolation), as_role(conn, "service_role"):
            conn.execute("update workflows set status = 'paused' where id = 'legacy-wf'")
        assert column(
            conn, "select convalidated from pg_constraint where conname = 'payments_step_fkey'"
        ) == [True]

        workflow, steps = make_workflow(USER_A, steps=1)
        with as_role(conn, "service_role"):
            create_workflow_sql(conn, workflow, steps)
            # What PostgREST runs for SupabaseStore.record_job / save_access_token (upserts on the new keys).
            for _ in range(2):
                conn.execute(
                    "insert into jobs (job_id, workflow_id, step_number, agent_id) values ('j', %s, 1, 'a') "
                    "on conflict (workflow_id, step_number, job_id) do update set agent_id = excluded.agent_id",
                    [workflow.id],
                )
                conn.execute(
                    "insert into access_tokens (workflow_id, step_number, job_id, token) values (%s, 1, 'j', 't') "
                    "on conflict (workflow_id, step_number, job_id) do update set token = excluded.token",
                    [workflow.id],
                )
            assert read_back(conn, workflow.id) == (workflow, steps)
        with pytest.raises(errors.UniqueViolation), as_role(conn, "service_role"):
            conn.execute(
                "insert into payments (txid, workflow_id, step_number, agent_id, amount_microalgo, receiver, "
                "confirmed_round) values ('LEGACYTX', %s, 1, 'a', 1, 'R', 1)",
                [workflow.id],
            )
        with as_role(conn, "authenticated", USER_A):
            assert column(conn, "select id from workflows") == [workflow.id]
            assert column(conn, "select id from agents") == ["legacy-agent"]
        with pytest.raises(errors.InsufficientPrivilege), as_role(conn, "authenticated", USER_A):
            conn.execute("select token from access_tokens")


def test_step_status_values_match_the_models(db: str, conn: psycopg.Connection[Any]) -> None:
    definition = column(
        conn,
        "select pg_get_constraintdef(oid) from pg_constraint where conname = 'step_results_status_valid'",
    )[0]
    assert all(f"'{status.value}'" in definition for status in StepStatus)
