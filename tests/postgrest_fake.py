"""A small PostgREST emulator for testing SupabaseStore without a Supabase project.

It interprets the HTTP requests the supabase/postgrest client sends (as a respx side effect) against
in-memory tables that mirror the six tables as supabase/migrations/ leave them: the marketplace's
columns plus the orchestrator's, NOT NULLs, defaults, keys and unique constraints, checks, foreign
keys and the partial unique index on payments.txid (tests/integration/test_migrations.py checks
the mirror against the real migrated database). It answers the way PostgREST does: status codes,
`Prefer` handling, error bodies with SQLSTATE codes.

Emulated: `GET|POST|PATCH /rest/v1/<table>` with filters `eq.`, `in.(…)`, `is.null` and their
`not.` forms, logic trees `or=(…)`/`and=(…)` of comparisons (`eq`, `neq`, `lt`, `lte`, `gt`, `gte`,
`is.null`; values in double quotes when they hold reserved characters), `select`, `order`, `limit`, `on_conflict` (upserts need a unique constraint on exactly
those columns, as PostgreSQL does: agents on `id`, jobs on `job_id`, access_tokens on
`workflow_id,step_number,job_id`), `columns`, `Prefer: return=…, resolution=…, missing=default`;
and `POST /rest/v1/rpc/orchestrator_create_workflow`. Each request is one transaction: it applies
whole or not at all, and requests are serialized (one lock), like row locks on a single row.
Foreign keys to tables the emulator does not hold (auth.users) are not checked. Anything else
answers 501 so that a store doing something unexpected fails loudly.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import respx

Row = dict[str, Any]

WORKFLOW_STATUSES = {"planned", "approved", "running", "completed", "failed", "cancelled"}
STEP_STATUSES = {
    "pending",
    "awaiting_payment",
    "payment_submitted",
    "running",
    "succeeded",
    "failed",
    "payment_timeout",
    "cancelled",
}
# The marketplace's own lists.
JOB_STATES = {
    "prepared",
    "payment_pending",
    "onchain_confirmed",
    "running",
    "succeeded",
    "failed",
    "expired",
    "cancelled",
}
RUNTIME_STATUSES = {"active", "inactive", "error", "maintenance"}


class PgError(Exception):
    """A database or PostgREST error, rendered as PostgREST renders it."""

    STATUS = {
        "23505": 409,
        "23503": 409,
        "23514": 400,
        "23502": 400,
        "22P02": 400,
        "22023": 400,
        "42703": 400,
        "42P10": 400,
        "PGRST100": 400,
        "PGRST204": 400,
        "PGRST202": 404,
        "PGRST205": 404,
        "PGRST301": 401,
    }

    def __init__(self, code: str, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details

    def response(self) -> httpx.Response:
        body = {"code": self.code, "details": self.details, "hint": None, "message": self.message}
        return httpx.Response(self.STATUS.get(self.code, 400), json=body)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Column:
    kind: str  # text (text, varchar) | int (integer, bigint) | bool | jsonb | timestamptz | uuid
    not_null: bool = False
    default: Callable[[], Any] | None = None


def _text(not_null: bool = False, default: str | None = None) -> Column:
    return Column("text", not_null, None if default is None else (lambda: default))


def _int(not_null: bool = False, default: int | None = None) -> Column:
    return Column("int", not_null, None if default is None else (lambda: default))


def _jsonb(not_null: bool = False, default: Any = None) -> Column:
    return Column("jsonb", not_null, None if default is None else (lambda: json.loads(json.dumps(default))))


def _stamp(not_null: bool = False, default_now: bool = False) -> Column:
    return Column("timestamptz", not_null, _now if default_now else None)


def _uuid(not_null: bool = False, default_random: bool = False) -> Column:
    return Column("uuid", not_null, (lambda: str(uuid.uuid4())) if default_random else None)


def _nonneg(*columns: str) -> Callable[[Row], bool]:
    return lambda row: all(row[c] is None or row[c] >= 0 for c in columns)


def _one_of(column: str, values: set[str]) -> Callable[[Row], bool]:
    return lambda row: row[column] is None or row[column] in values


@dataclass(frozen=True)
class PartialUnique:
    """A unique index with a WHERE clause (not a constraint: no upsert can target it)."""

    name: str
    columns: tuple[str, ...]
    where_sql: str  # as pg_get_expr renders the index predicate
    where: Callable[[Row], bool]


@dataclass
class Table:
    name: str
    columns: dict[str, Column]
    unique: list[tuple[str, ...]]  # the first is the primary key
    checks: dict[str, Callable[[Row], bool]] = field(default_factory=dict)
    foreign_keys: list[tuple[tuple[str, ...], str, tuple[str, ...]]] = field(default_factory=list)
    identity: str | None = None
    partial_unique: list[PartialUnique] = field(default_factory=list)

    def unique_name(self, key: tuple[str, ...]) -> str:
        """PostgreSQL's names: <table>_pkey, <table>_<columns>_key."""
        return f"{self.name}_pkey" if key == self.unique[0] else f"{self.name}_{'_'.join(key)}_key"


def orchestrator_tables() -> dict[str, Table]:
    """The six tables as supabase/migrations/ leave them (an empty database or the marketplace's)."""
    agents = (("agent_id",), "agents", ("id",))
    workflow = (("workflow_id",), "workflows", ("workflow_id",))
    jobs = (("job_id",), "jobs", ("job_id",))
    tables = [
        Table(
            "agents",
            {
                "id": _uuid(True, True),
                "user_id": _uuid(),
                "name": _text(True),
                "description": _text(),
                "subdomain": _text(True),
                "repo_owner": _text(True),
                "repo_name": _text(True),
                "github_url": _text(True),
                "status": _text(default="pending"),
                "created_at": _stamp(default_now=True),
                "updated_at": _stamp(default_now=True),
                "agent_address": _text(),
                "app_id": _int(),
                "price_microalgo": _int(default=0),
                "runtime_status": _text(default="inactive"),
                "category": _text(default="General"),
                "tags": _jsonb(default=[]),
                "data_input": _text(),
                "example_input": _text(),
                "example_output": _text(),
                "agent_token": _text(),
                "base_url": _text(),  # the orchestrator's
            },
            [("id",), ("subdomain",), ("agent_token",)],
            {"agents_runtime_status_check": _one_of("runtime_status", RUNTIME_STATUSES)},
            [(("user_id",), "auth.users", ("id",))],
        ),
        Table(
            "workflows",
            {
                "workflow_id": _uuid(True, True),
                "user_id": _uuid(),
                "user_message": _text(True),
                "wallet_address": _text(True),
                "plan": _jsonb(True),
                "current_step": _int(default=0),
                "status": _text(default="planned"),
                "created_at": _stamp(default_now=True),
                "updated_at": _stamp(default_now=True),
                # the orchestrator's
                "total_cost_microalgo": _int(),
                "budget_microalgo": _int(),
                "attempt": _int(),
                "execution_arn": _text(),
                "final_output": _jsonb(),
                "error": _jsonb(),
            },
            [("workflow_id",)],
            {
                "workflows_status_valid": _one_of("status", WORKFLOW_STATUSES),
                "workflows_current_step_nonnegative": _nonneg("current_step"),
                "workflows_total_cost_nonnegative": _nonneg("total_cost_microalgo"),
                "workflows_budget_nonnegative": _nonneg("budget_microalgo"),
                "workflows_attempt_nonnegative": _nonneg("attempt"),
            },
            [(("user_id",), "auth.users", ("id",))],
        ),
        Table(
            "step_results",
            {
                "id": _uuid(True, True),
                "workflow_id": _uuid(),
                "step_number": _int(True),
                "agent_id": _uuid(),
                "job_id": _uuid(),
                "status": _text(default="pending"),
                "access_token": _text(),
                "output": _text(),
                "created_at": _stamp(default_now=True),
                "completed_at": _stamp(),
                "agent_job_id": _text(),
                "agent_name": _text(),
                "unsigned_group_txns": _jsonb(),
                "txn_ids": _jsonb(),
                # the orchestrator's
                "input": _text(),
                "output_format": _text(),
                "price_microalgo": _int(),
                "payment_required_microalgo": _int(),
                "last_valid_round": _int(),
                "receipt": _jsonb(),
                "earlier_receipts": _jsonb(),
                "error": _jsonb(),
                "task_token": _text(),
                "payment_redeliveries": _int(),
                "poll_errors": _int(),
                "poll_deadline": _stamp(),
                "started_at": _stamp(),
                "updated_at": _stamp(),
            },
            [("id",), ("workflow_id", "step_number")],
            {
                "step_results_status_valid": _one_of("status", STEP_STATUSES),
                "step_results_output_format_valid": _one_of("output_format", {"text", "json"}),
                "step_results_step_number_positive": lambda r: (
                    r["step_number"] is None or r["step_number"] >= 1
                ),
                "step_results_price_nonnegative": _nonneg("price_microalgo"),
                "step_results_payment_required_nonnegative": _nonneg("payment_required_microalgo"),
            },
            [workflow, agents, jobs],
        ),
        Table(
            "jobs",
            {
                "job_id": _uuid(True, True),
                "agent_id": _uuid(),
                "requester_addr": _text(True),
                "callee_addr": _text(),
                "job_input": _jsonb(True),
                "job_input_hash": _text(True),
                "amount_microalgo": _int(),
                "state": _text(True),
                "txid": _text(),
                "group_id": _text(),
                "token_id": _uuid(),
                "created_at": _stamp(default_now=True),
                "updated_at": _stamp(default_now=True),
                # the orchestrator's
                "workflow_id": _uuid(),
                "step_number": _int(),
                "agent_job_id": _text(),
                "unsigned_group_txns": _jsonb(),
                "txn_ids": _jsonb(),
                "last_valid_round": _int(),
            },
            [("job_id",)],
            {"jobs_state_check": _one_of("state", JOB_STATES)},
            [agents, workflow],
        ),
        Table(
            "payments",
            {
                "payment_id": _uuid(True, True),
                "job_id": _uuid(),
                "agent_id": _uuid(),
                "payer_addr": _text(True),
                "payee_addr": _text(True),
                "amount_microalgo": _int(True),
                "txid": _text(True),
                "confirmed_at": _stamp(default_now=True),
                # the orchestrator's
                "workflow_id": _uuid(),
                "step_number": _int(),
                "confirmed_round": _int(),
                "seq": _int(True),
            },
            [("payment_id",)],
            foreign_keys=[jobs, agents, workflow],
            identity="seq",
            partial_unique=[
                PartialUnique(
                    "payments_orchestrator_txid_key",
                    ("txid",),
                    "(workflow_id IS NOT NULL)",
                    lambda r: r["workflow_id"] is not None,
                )
            ],
        ),
        Table(
            "access_tokens",
            {
                "id": _uuid(True, True),
                "user_id": _uuid(True),
                "wallet_address": _text(True),
                "job_id": _text(True),  # the agent's job id
                "agent_id": _uuid(),
                "access_token": _text(True),
                "job_input_hash": _text(),
                "job_output": _text(),
                "created_at": _stamp(default_now=True),
                # the orchestrator's
                "workflow_id": _uuid(),
                "step_number": _int(),
            },
            [("id",), ("workflow_id", "step_number", "job_id")],
            foreign_keys=[agents, workflow],
        ),
    ]
    return {t.name: t for t in tables}


# What orchestrator_create_workflow inserts (other keys of its JSON are ignored; a NULL where the
# column has a default takes the default).
RPC_COLUMNS: dict[str, tuple[str, ...]] = {
    "workflows": (
        "workflow_id",
        "user_id",
        "user_message",
        "wallet_address",
        "plan",
        "status",
        "current_step",
        "total_cost_microalgo",
        "budget_microalgo",
        "attempt",
        "execution_arn",
        "final_output",
        "error",
        "created_at",
        "updated_at",
    ),
    "step_results": (
        "id",
        "workflow_id",
        "step_number",
        "agent_id",
        "agent_name",
        "status",
        "input",
        "job_id",
        "agent_job_id",
        "unsigned_group_txns",
        "txn_ids",
        "price_microalgo",
        "payment_required_microalgo",
        "last_valid_round",
        "receipt",
        "earlier_receipts",
        "output",
        "output_format",
        "error",
        "task_token",
        "payment_redeliveries",
        "poll_errors",
        "poll_deadline",
        "started_at",
        "completed_at",
        "created_at",
        "updated_at",
    ),
}


# --- value conversion -----------------------------------------------------------------------------------


def _coerce(table: Table, column: str, value: Any) -> Any:
    """A JSON value as the column stores it (what json_populate_record would do, strictly)."""
    if value is None:
        return None
    kind = table.columns[column].kind
    ok = {
        "text": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "jsonb": True,
        "timestamptz": isinstance(value, str),
        "uuid": isinstance(value, str),
    }[kind]
    if not ok:
        raise PgError("22P02", f'invalid input syntax for type {kind}: "{value}"')
    if kind == "uuid":
        try:
            return str(uuid.UUID(value))  # as PostgreSQL prints it: lower case, with hyphens
        except ValueError as exc:
            raise PgError("22P02", f'invalid input syntax for type uuid: "{value}"') from exc
    if kind == "timestamptz":
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError as exc:
            raise PgError(
                "22P02", f'invalid input syntax for type timestamp with time zone: "{value}"'
            ) from exc
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    if kind == "jsonb":
        return json.loads(json.dumps(value))
    return value


def _from_filter(table: Table, column: str, text: str) -> Any:
    kind = table.columns[column].kind
    try:
        if kind == "int":
            return int(text)
        if kind == "bool":
            return {"true": True, "false": False}[text]
        if kind in ("timestamptz", "uuid"):
            return _coerce(table, column, text)
    except (ValueError, KeyError) as exc:
        raise PgError("22P02", f'invalid input syntax for type {kind}: "{text}"') from exc
    if kind == "jsonb":
        raise PgError("PGRST100", f"postgrest_fake does not compare jsonb column {column}")
    return text


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _split_list(text: str) -> list[str]:
    """`a,"b,c",d` → ['a', 'b,c', 'd'] (PostgREST's quoting of in.(…) values and column lists)."""
    items, current, quoted, escaped = [], "", False, False
    for char in text:
        if escaped:
            current += char
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return items


# --- logic trees: or=(…), and=(…) ------------------------------------------------------------------------

# A condition (column, operator, value) or a nested tree ("and" | "or", [nodes]).
LogicNode = tuple[str, Any]
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def _parse_logic_tree(table: Table, text: str) -> list[LogicNode]:
    """`(a.lt."x,y",and(b.eq.1,c.is.null))` → its conditions, as PostgREST reads a logic tree:
    values with reserved characters in double quotes. Only comparisons and `is.null` are emulated."""
    if not (text.startswith("(") and text.endswith(")")):
        raise PgError("PGRST100", f'"failed to parse logic tree ({text})"')
    nodes: list[LogicNode] = []
    for item in _split_top_level(text[1:-1]):
        for logic in ("and", "or"):
            if item.startswith(f"{logic}(") and item.endswith(")"):
                nodes.append((logic, _parse_logic_tree(table, item[len(logic) :])))
                break
        else:
            column, _, rest = item.partition(".")
            op, _, operand = rest.partition(".")
            if column not in table.columns:
                raise PgError("42703", f"column {table.name}.{column} does not exist")
            if op == "is" and operand == "null":
                nodes.append((column, ("is", None)))
            elif op in _COMPARISONS:
                value = operand[1:-1] if len(operand) >= 2 and operand[0] == operand[-1] == '"' else operand
                nodes.append((column, (op, _from_filter(table, column, value))))
            else:
                raise PgError("PGRST100", f"postgrest_fake does not emulate {item} in a logic tree")
    return nodes


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside double quotes and parentheses."""
    items, current, depth, quoted = [], "", 0, False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "," and not quoted and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return items


def _tree_columns(nodes: list[LogicNode]) -> list[str]:
    columns: list[str] = []
    for name, node in nodes:
        columns += _tree_columns(node) if name in ("and", "or") else [name]
    return columns


def _tree_holds(tree: tuple[str, list[LogicNode]], row: Row) -> bool:
    """SQL's answer, with a NULL compared to anything false."""
    logic, nodes = tree
    results = []
    for name, node in nodes:
        if name in ("and", "or"):
            results.append(_tree_holds((name, node), row))
            continue
        op, operand = node
        value = row[name]
        results.append(
            value is None if op == "is" else value is not None and _COMPARISONS[op](value, operand)
        )
    return all(results) if logic == "and" else any(results)


# --- the emulator -------------------------------------------------------------------------------------


class FakePostgrest:
    """Install with `fake.install(respx_router)`; `fake.requests` records every request received."""

    RESERVED_PARAMS = frozenset({"select", "order", "limit", "offset", "on_conflict", "columns"})
    LOGIC_PARAMS = frozenset({"or", "and"})

    def __init__(
        self, base_url: str = "https://fake-project.supabase.co", api_key: str = "service-role-key"
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.schema = orchestrator_tables()
        self.rows: dict[str, list[Row]] = {name: [] for name in self.schema}
        self._identity: dict[str, int] = {name: 0 for name in self.schema}
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def install(self, router: respx.MockRouter) -> None:
        router.route(url__startswith=self.base_url + "/rest/v1/").mock(side_effect=self.handle)

    # --- request dispatch ------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            try:
                return self._dispatch(request)
            except PgError as exc:
                return exc.response()

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        if (
            request.headers.get("apikey") != self.api_key
            or request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            raise PgError("PGRST301", "No suitable key or wrong key type")
        for header in ("accept-profile", "content-profile"):
            if request.headers.get(header, "public") != "public":
                raise PgError("PGRST106", f"postgrest_fake only serves schema public ({header})")
        path = request.url.path.removeprefix("/rest/v1/")
        if path.startswith("rpc/"):
            if request.method != "POST":
                return self._unsupported(request)
            return self._rpc(path.removeprefix("rpc/"), request)
        table = self.schema.get(path)
        if table is None:
            raise PgError("PGRST205", f"Could not find the table 'public.{path}' in the schema cache")
        handler = {"GET": self._select, "POST": self._insert, "PATCH": self._update}.get(request.method)
        if handler is None:
            return self._unsupported(request)
        return handler(table, request)

    @staticmethod
    def _unsupported(request: httpx.Request) -> httpx.Response:
        body = {
            "code": "FAKE501",
            "message": f"postgrest_fake does not emulate {request.method} {request.url}",
        }
        return httpx.Response(501, json=body)

    @staticmethod
    def _prefer(request: httpx.Request) -> dict[str, str]:
        prefer: dict[str, str] = {}
        for token in request.headers.get("prefer", "").split(","):
            name, _, value = token.strip().partition("=")
            if name:
                prefer[name] = value
        unknown = set(prefer) - {"return", "resolution", "missing"}
        if unknown:
            raise PgError("PGRST100", f"postgrest_fake does not emulate Prefer: {sorted(unknown)}")
        return prefer

    # --- transactions ------------------------------------------------------------------------------
    def _transaction(self, work: Callable[[], httpx.Response]) -> httpx.Response:
        saved_rows = {name: list(rows) for name, rows in self.rows.items()}
        saved_identity = dict(self._identity)
        try:
            return work()
        except PgError:
            self.rows, self._identity = saved_rows, saved_identity
            raise

    # --- reading -------------------------------------------------------------------------------------
    def _filters(self, table: Table, request: httpx.Request) -> list[tuple[str, str, bool, set[Any]]]:
        """(column, operator, negated, values): `eq` and `in` match a non-null value in `values`, `is`
        matches null; negated (`not.`) they match what SQL's NOT matches (never a null for eq/in)."""
        filters: list[tuple[str, str, bool, set[Any]]] = []
        for key, raw in request.url.params.multi_items():
            if key in self.RESERVED_PARAMS or key in self.LOGIC_PARAMS:
                continue
            self._known(table, [key])
            negated = raw.startswith("not.")
            op, _, operand = raw.removeprefix("not.").partition(".")
            if op == "eq":
                filters.append((key, "in", negated, {_from_filter(table, key, operand)}))
            elif op == "in":
                if not (operand.startswith("(") and operand.endswith(")")):
                    raise PgError("PGRST100", f'"failed to parse filter (in.{operand})"')
                inner = operand[1:-1]
                values = {_from_filter(table, key, v) for v in _split_list(inner)} if inner else set()
                filters.append((key, "in", negated, values))
            elif op == "is" and operand == "null":
                filters.append((key, "is", negated, set()))
            else:
                raise PgError("PGRST100", f"postgrest_fake does not emulate the filter {key}={raw}")
        return filters

    def _known(self, table: Table, columns: Iterable[str]) -> None:
        for column in columns:
            if column not in table.columns:
                raise PgError("42703", f"column {table.name}.{column} does not exist")

    def _matching(self, table: Table, request: httpx.Request) -> list[Row]:
        filters = self._filters(table, request)
        trees = [
            (key, _parse_logic_tree(table, raw))
            for key, raw in request.url.params.multi_items()
            if key in self.LOGIC_PARAMS
        ]
        for _, tree in trees:
            self._known(table, _tree_columns(tree))

        def matches(row: Row) -> bool:
            for column, op, negated, values in filters:
                value = row[column]
                if op == "is":
                    if (value is None) == negated:
                        return False
                elif value is None or (value in values) == negated:
                    return False
            return all(_tree_holds((key, tree), row) for key, tree in trees)

        return [row for row in self.rows[table.name] if matches(row)]

    def _represent(self, table: Table, rows: list[Row], request: httpx.Request) -> list[Row]:
        select = request.url.params.get("select", "*")
        columns = list(table.columns) if select == "*" else [c.strip() for c in select.split(",")]
        self._known(table, columns)
        order = request.url.params.get("order")
        if order:
            for term in reversed(order.split(",")):
                column, _, direction = term.partition(".")
                self._known(table, [column])
                if direction not in ("", "asc", "desc"):
                    raise PgError("PGRST100", f"postgrest_fake does not emulate order {term}")
                descending = direction == "desc"
                present = [r for r in rows if r[column] is not None]
                missing = [r for r in rows if r[column] is None]
                present.sort(key=lambda r: r[column], reverse=descending)
                rows = missing + present if descending else present + missing  # NULLS LAST for asc
        limit = request.url.params.get("limit")
        if limit is not None:
            rows = rows[: int(limit)]
        return [{c: _to_json(row[c]) for c in columns} for row in rows]

    def _select(self, table: Table, request: httpx.Request) -> httpx.Response:
        rows = self._represent(table, self._matching(table, request), request)
        end = f"0-{len(rows) - 1}" if rows else "*"
        return httpx.Response(200, json=rows, headers={"Content-Range": f"{end}/*"})

    # --- writing -------------------------------------------------------------------------------------
    def _check(self, table: Table, row: Row, others: list[Row]) -> None:
        for column, spec in table.columns.items():
            if spec.not_null and row[column] is None:
                raise PgError(
                    "23502",
                    f'null value in column "{column}" of relation "{table.name}" violates not-null constraint',
                )
        for name, predicate in table.checks.items():
            if not predicate(row):
                raise PgError(
                    "23514", f'new row for relation "{table.name}" violates check constraint "{name}"'
                )
        keys = [(table.unique_name(key), key, others) for key in table.unique]
        keys += [
            (index.name, index.columns, [o for o in others if index.where(o)])
            for index in table.partial_unique
            if index.where(row)
        ]
        for name, key, rivals in keys:
            if any(row[c] is None for c in key):  # NULLs are distinct
                continue
            if any(all(other[c] == row[c] for c in key) for other in rivals):
                detail = f"Key ({', '.join(key)})=({', '.join(str(row[c]) for c in key)}) already exists."
                raise PgError("23505", f'duplicate key value violates unique constraint "{name}"', detail)
        for columns, parent, parent_columns in table.foreign_keys:
            if any(row[c] is None for c in columns) or parent not in self.rows:
                continue
            wanted = [row[c] for c in columns]
            if not any([p[c] for c in parent_columns] == wanted for p in self.rows[parent]):
                raise PgError(
                    "23503",
                    f'insert or update on table "{table.name}" violates foreign key constraint',
                    f"Key ({', '.join(columns)})=({', '.join(map(str, wanted))}) is not present in table "
                    f'"{parent}".',
                )

    def _new_row(
        self, table: Table, values: Row, *, use_default_for_missing: bool, given: Iterable[str]
    ) -> Row:
        given = set(given)
        row: Row = {}
        for column, spec in table.columns.items():
            if column in values:
                row[column] = _coerce(table, column, values[column])
            elif column in given and not use_default_for_missing:
                row[column] = None
            elif column == table.identity:
                self._identity[table.name] += 1
                row[column] = self._identity[table.name]
            else:
                row[column] = spec.default() if spec.default else None
        return row

    def _body(self, request: httpx.Request) -> Any:
        try:
            return json.loads(request.content or b"null")
        except ValueError as exc:
            raise PgError("PGRST102", "Empty or invalid json") from exc

    def _insert(self, table: Table, request: httpx.Request) -> httpx.Response:
        prefer = self._prefer(request)
        body = self._body(request)
        payload: list[Row] = body if isinstance(body, list) else [body]
        if not all(isinstance(r, dict) for r in payload):
            raise PgError("PGRST102", "All object keys must match")
        columns_param = request.url.params.get("columns")
        given = (
            [c for c in _split_list(columns_param)]
            if columns_param
            else sorted({k for r in payload for k in r})
        )
        for column in given:
            if column not in table.columns:
                raise PgError(
                    "PGRST204", f"Could not find the '{column}' column of '{table.name}' in the schema cache"
                )
        payload = [{k: v for k, v in r.items() if k in given} for r in payload]
        resolution = prefer.get("resolution")
        on_conflict = request.url.params.get("on_conflict")
        conflict_key: tuple[str, ...] = tuple(on_conflict.split(",")) if on_conflict else table.unique[0]
        if resolution and conflict_key not in table.unique:
            raise PgError(
                "42P10", "there is no unique or exclusion constraint matching the ON CONFLICT specification"
            )
        use_defaults = prefer.get("missing") == "default"

        def work() -> httpx.Response:
            written: list[Row] = []
            for values in payload:
                row = self._new_row(table, values, use_default_for_missing=use_defaults, given=given)
                existing = self.rows[table.name]
                clash = next(
                    (
                        r
                        for r in existing
                        if all(
                            row[c] is not None and r[c] == row[c] for c in conflict_key
                        )  # NULLs never clash
                    ),
                    None,
                )
                if clash is not None and resolution == "merge-duplicates":
                    # ON CONFLICT DO UPDATE SET <each column sent> = EXCLUDED.<column>
                    merged = {**clash, **{c: row[c] for c in given}}
                    others = [r for r in existing if r is not clash]
                    self._check(table, merged, others)
                    self.rows[table.name] = [merged if r is clash else r for r in existing]
                    written.append(merged)
                elif clash is not None and resolution == "ignore-duplicates":
                    continue
                else:
                    self._check(table, row, existing)
                    self.rows[table.name] = [*existing, row]
                    written.append(row)
            if prefer.get("return") == "representation":
                return httpx.Response(201, json=self._represent(table, written, request))
            return httpx.Response(201)

        return self._transaction(work)

    def _update(self, table: Table, request: httpx.Request) -> httpx.Response:
        prefer = self._prefer(request)
        body = self._body(request)
        if not isinstance(body, dict):
            raise PgError("PGRST102", "PATCH expects one JSON object")
        for column in body:
            if column not in table.columns:
                raise PgError(
                    "PGRST204", f"Could not find the '{column}' column of '{table.name}' in the schema cache"
                )

        def work() -> httpx.Response:
            targets = self._matching(table, request)
            changes = {c: _coerce(table, c, v) for c, v in body.items()}
            updated: list[Row] = []
            for target in targets:
                row = {**target, **changes}
                others = [r for r in self.rows[table.name] if r is not target]
                self._check(table, row, others)
                self.rows[table.name] = [row if r is target else r for r in self.rows[table.name]]
                updated.append(row)
            if prefer.get("return") == "representation":
                return httpx.Response(200, json=self._represent(table, updated, request))
            return httpx.Response(204)

        return self._transaction(work)

    # --- RPC ------------------------------------------------------------------------------------------
    def _rpc(self, function: str, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        if (
            function != "orchestrator_create_workflow"
            or not isinstance(body, dict)
            or set(body)
            != {
                "workflow",
                "steps",
            }
        ):
            arguments = sorted(body) if isinstance(body, dict) else []
            raise PgError(
                "PGRST202",
                f"Could not find the function public.{function}({', '.join(arguments)}) in the schema cache",
            )
        workflow, steps = body["workflow"], body["steps"]
        if not isinstance(workflow, dict):
            raise PgError("22023", "workflow must be a JSON object")
        if not isinstance(steps, list):
            raise PgError("22023", "steps must be a JSON array")
        workflows, step_results = self.schema["workflows"], self.schema["step_results"]
        workflow_id = _coerce(workflows, "workflow_id", workflow.get("workflow_id"))
        if workflow_id is None:
            raise PgError("22023", "workflow.workflow_id is required")
        if any(
            not isinstance(s, dict)
            or _coerce(step_results, "workflow_id", s.get("workflow_id")) != workflow_id
            for s in steps
        ):
            raise PgError("22023", f"every step must be an object with workflow_id {workflow_id}")

        def insert(table: Table, values: Row) -> None:
            # The function inserts its columns only (other keys are ignored); a NULL takes the
            # column's default.
            known = {k: v for k, v in values.items() if k in RPC_COLUMNS[table.name] and v is not None}
            row = self._new_row(table, known, use_default_for_missing=True, given=())
            self._check(table, row, self.rows[table.name])
            self.rows[table.name] = [*self.rows[table.name], row]

        def work() -> httpx.Response:
            insert(workflows, workflow)
            for step in steps:
                insert(step_results, step)
            return httpx.Response(200, json=workflow_id)

        return self._transaction(work)

    # --- helpers for tests -------------------------------------------------------------------------
    def table_rows(self, name: str) -> list[Row]:
        with self._lock:
            return [{c: _to_json(v) for c, v in row.items()} for row in self.rows[name]]
