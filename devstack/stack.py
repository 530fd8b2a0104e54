"""The local stack: every part of the production system on loopback, in one process.

HTTP API (routed from template.yaml) → the same handlers → SQLite, the dev ledger (algod/indexer),
sample agents; the same state machine definition executed by moto, whose Lambda tasks reach the
handlers through a local Lambda Invoke API.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from devstack.apigw import FallbackApp, HttpApiApp
from devstack.auth import ISSUER_PATH, LocalIssuer
from devstack.lambdas import FunctionRegistry, LambdaInvokeApp
from devstack.operations import OperationsLoop, operations_spec
from devstack.serving import PortUnavailable, ThreadedServer
from devstack.sfn import LocalStepFunctions
from devstack.template import LOCAL_REGION, PROJECT_ROOT, Template, load_template

if TYPE_CHECKING:
    from orchestrator.dependencies import Dependencies

# The logical id of the template's idempotency table; the local table has this name.
IDEMPOTENCY_TABLE = "IdempotencyTable"
AGENT_PUSH_PATH = "/api/agent/access"  # where agents push (template.yaml's AgentAccessFunction)


class StackConfig(BaseModel):
    """Ports, paths and timings of the local stack. Port 0 means: any free port."""

    host: str = "127.0.0.1"
    api_port: int = 3000
    lambda_port: int = 3001
    algod_port: int = 4001
    indexer_port: int = 8980
    agents_base_port: int = 5001
    data_dir: Path = PROJECT_ROOT / ".local"
    catalog_file: Path | None = None
    dev_account_count: int = 3
    dev_account_funds_microalgo: int = 1_000_000_000_000
    block_time: float = 1.0
    indexer_lag_seconds: float = 1.0
    payment_timeout_seconds: int | None = 600
    # None: as deployed (template.yaml's defaults); tests shorten them.
    poll_deadline_seconds: int | None = None
    poll_fast_seconds: int | None = None
    poll_max_seconds: int | None = None
    submit_payment_retry_seconds: float = 12.0
    # What EventBridge and Scheduler do in AWS (devstack/operations.py); None turns either off.
    execution_watch_seconds: float | None = 1.0  # ended executions → the reconcile function
    sweep_interval_seconds: float | None = 60.0  # the sweep function (AWS: every 5 minutes)
    agent_job_seconds: float | None = None
    # Sample agents (slug or id) whose jobs end `failed` (`orch demo --fail-agent`: a failed run).
    failing_agents: list[str] = Field(default_factory=list)
    # The sample agents push their payments and completions to the API (POST /api/agent/access), as
    # agents built with the marketplace's SDK do when configured to; False: they are only polled.
    agent_push: bool = True
    persist_ledger: bool = True
    access_log: bool = False  # log each request to the API and Lambda endpoints (orch up does)
    extra_env: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def ephemeral(cls, data_dir: Path, **overrides: Any) -> StackConfig:
        """Every port chosen by the OS: for tests and for the demo."""
        ports = dict(api_port=0, lambda_port=0, algod_port=0, indexer_port=0, agents_base_port=0)
        return cls(data_dir=data_dir, **{**ports, **overrides})


@dataclass(frozen=True)
class CatalogFile:
    """A `--catalog` file as read: the records that can be hired, and why each of the others cannot."""

    records: list[dict[str, Any]]  # the hireable agents, as AgentMetadata reads them (no other column)
    left_out: list[str]  # "name (id): why not", one per record left out of planning
    # The hireable agents' secrets (`agent_token`, what their pushes carry), kept apart from the catalog.
    agent_tokens: dict[str, str] = field(default_factory=dict)


# Columns of the local stack's earlier catalog shape, and the marketplace's own for the same thing.
_RENAMED_COLUMNS = {"address": "agent_address", "is_active": "status", "capabilities": "tags"}


def load_catalog_file(path: Path, *, url_template: str | None = None) -> CatalogFile:
    """A JSON list of the marketplace's `agents` rows (plus an optional local `base_url`). Columns the
    catalog does not read (`created_at`, `runtime_status`, the secret `agent_token`, ...) are dropped
    and never shown. A record that cannot be hired (`orchestrator.catalog`: not active, no price, no
    way to reach it with `url_template`, nowhere valid to pay) is left out and reported; a file that
    is not such a list, or in which no agent can be hired, ends the start with a message."""
    from orchestrator.catalog import check_catalog, payment_problems
    from orchestrator.models import AgentMetadata

    try:
        records = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SystemExit(f"cannot read the catalog {path}: {exc}") from exc
    if not isinstance(records, list):
        raise SystemExit(f"the catalog {path} must be a JSON list of agent records (rows of `agents`)")
    if not records:
        raise SystemExit(f"the catalog {path} holds no agent records")
    agents: list[AgentMetadata] = []
    numbers: dict[str, int] = {}
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise SystemExit(f"the catalog {path}: record {number} is not a JSON object")
        try:
            agent = AgentMetadata.model_validate(record)
        except ValidationError as exc:
            # Where and what only: pydantic's own text would quote the input, secrets included.
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'record'}: {error['msg']}"
                for error in exc.errors()
            )
            raise SystemExit(
                f"the catalog {path}: record {number}{_record_name(record)} is not an agent record: {problems}"
            ) from None
        if agent.id in numbers:
            raise SystemExit(
                f"the catalog {path}: record {number}{_record_name(record)} repeats the id {agent.id!r} "
                f"of record {numbers[agent.id]}"
            )
        numbers[agent.id] = number
        agents.append(agent)

    checked = check_catalog(agents, url_template=url_template)
    hireable = {agent.id for agent in checked.hireable}
    left_out = []
    for agent, record in zip(agents, records, strict=True):
        if agent.id in hireable:
            continue
        who = f"{agent.name} ({agent.id})"
        reasons = checked.left_out.get(who) or [
            f"status {agent.status!r}, not 'active'",
            *payment_problems(agent, url_template=url_template),
        ]
        renamed = [
            f"{old} is {new}" for old, new in _RENAMED_COLUMNS.items() if old in record and new not in record
        ]
        if renamed:
            reasons = [*reasons, f"(the marketplace's columns: {', '.join(renamed)})"]
        left_out.append(f"{who}: {'; '.join(reasons)}")
    if not checked.hireable:
        raise SystemExit(f"no agent in the catalog {path} can be hired:\n  " + "\n  ".join(left_out))
    tokens = {
        agent.id: record["agent_token"]
        for agent, record in zip(agents, records, strict=True)
        if agent.id in hireable and isinstance(record.get("agent_token"), str) and record["agent_token"]
    }
    return CatalogFile(
        records=[agent.model_dump(mode="json") for agent in checked.hireable],
        left_out=left_out,
        agent_tokens=tokens,
    )


def _record_name(record: dict[str, Any]) -> str:
    """` ("name", id ...)` of a record as far as it says, for messages about it."""
    parts = [f"{value!r}" for value in (record.get("name"),) if isinstance(value, str)]
    parts += [f"id {value!r}" for value in (record.get("id"),) if isinstance(value, str | int)]
    return f" ({', '.join(parts)})" if parts else ""


class PortClash(Exception):
    """A part of the local stack cannot listen where it was told to: `message` says which part,
    which port, and which option of `orch` chooses another."""

    def __init__(self, message: str, *, part: str, flag: str, port: int) -> None:
        super().__init__(message)
        self.message = message
        self.part = part
        self.flag = flag
        self.port = port


# ThreadedServer names (devstack.serving) → the part of the stack, and the `orch` option for its port.
_PARTS = {
    "local-api": ("the HTTP API", "--api-port"),
    "local-lambda": ("the Lambda endpoint", "--lambda-port"),
    "dev-ledger-algod": ("the dev ledger's algod", "--algod-port"),
    "dev-ledger-indexer": ("the dev ledger's indexer", "--indexer-port"),
}


def port_clash(exc: PortUnavailable, config: StackConfig) -> PortClash:
    """The sentence for a server of the stack that could not bind: which part, and the flag to change."""
    if exc.name.startswith("agent-"):
        part = f"the sample agent {exc.name.removeprefix('agent-')} (the agents use consecutive ports from "
        part += f"{config.agents_base_port})"
        flag = "--agents-port"
    else:
        part, flag = _PARTS.get(exc.name, (exc.name, "--host"))
    where = f"{exc.host}:{exc.port}"
    if exc.in_use:
        message = (
            f"Port {exc.port} is already in use, so {part} cannot listen on {where}: "
            f"stop what uses it, or choose another port with {flag}."
        )
    else:
        message = (
            f"{part[0].upper()}{part[1:]} cannot listen on {where} ({exc.reason}): check --host and {flag}."
        )
    return PortClash(message, part=part, flag=flag, port=exc.port)


def planner_description(environ: dict[str, str] | None = None) -> str:
    """Which planner the create function uses with this environment, in words: the one
    orchestrator.planner chooses from these settings."""
    from orchestrator.config import ConfigError, settings_from_env
    from orchestrator.errors import OrchestratorError
    from orchestrator.planner import planner_from_settings
    from orchestrator.planner.offline import OfflinePlanner

    try:
        settings = settings_from_env(dict(os.environ) if environ is None else environ)
        planner = planner_from_settings(settings)
    except (ConfigError, OrchestratorError) as exc:  # e.g. a key parameter that cannot be read here
        return f"unknown ({exc})"
    if not isinstance(planner, OfflinePlanner):
        where = f" at {settings.openai_base_url}" if settings.openai_base_url else ""
        return f"OpenAI, model {settings.openai_model}{where} (OPENAI_MODEL, OPENAI_BASE_URL)"
    return "offline (keyword matching over the catalog; set OPENAI_API_KEY to plan with OpenAI)"


class LocalStack:
    def __init__(
        self, config: StackConfig, *, template: Template | None = None, fallback: FallbackApp | None = None
    ):
        self.config = config
        self.template = template or load_template()
        self.fallback = fallback
        self.ledger: Any = None
        self.ledger_server: Any = None
        self.agent_servers: list[Any] = []
        self.catalog: list[dict[str, Any]] = []
        self.catalog_left_out: list[str] = []  # "name (id): why" for each --catalog record not hired
        self.catalog_agent_tokens: dict[str, str] = {}  # the --catalog agents' secrets, by agent id
        self.dev_accounts: list[Any] = []
        self.sfn: LocalStepFunctions | None = None
        self.lambda_server: ThreadedServer | None = None
        self.api_server: ThreadedServer | None = None
        self.registry = FunctionRegistry(self.template)
        self.operations: OperationsLoop | None = None
        self.issuer: LocalIssuer | None = None  # signs users' access tokens (devstack/auth.py)
        # Called with the workflow's view (JSON) when one of its executions ends (`orch up` says how).
        self.on_workflow_ended: Callable[[dict[str, Any]], None] | None = None
        self._saved_env: dict[str, str | None] = {}

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        """Start every part; a port that cannot be bound raises PortClash (which part, which flag)."""
        try:
            self._start()
        except PortUnavailable as exc:
            self.stop()
            raise port_clash(exc, self.config) from None
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from devstack.agents import AgentBehaviour, start_sample_agents
        from devstack.ledger import Ledger, LedgerServer, dev_accounts

        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.dev_accounts = dev_accounts(cfg.dev_account_count)
        self.ledger = Ledger(
            block_time=cfg.block_time,
            indexer_lag_seconds=cfg.indexer_lag_seconds,
            funded={a.address: cfg.dev_account_funds_microalgo for a in self.dev_accounts},
            state_path=str(cfg.data_dir / "ledger.json") if cfg.persist_ledger else None,
        )
        self.ledger_server = LedgerServer(
            self.ledger, host=cfg.host, algod_port=cfg.algod_port, indexer_port=cfg.indexer_port
        )
        self.ledger_server.start()

        if cfg.catalog_file is None:
            behaviours = None
            if cfg.agent_job_seconds is not None or cfg.failing_agents:
                from devstack.agents import SAMPLE_AGENTS

                job_seconds = (
                    AgentBehaviour().job_seconds if cfg.agent_job_seconds is None else cfg.agent_job_seconds
                )
                behaviours = {
                    s.id: AgentBehaviour(
                        job_seconds=job_seconds,
                        fail_jobs=s.id in cfg.failing_agents or s.slug in cfg.failing_agents,
                    )
                    for s in SAMPLE_AGENTS
                }
            self.agent_servers = start_sample_agents(
                algod_url=self.ledger_server.algod_url,
                indexer_url=self.ledger_server.indexer_url,
                host=cfg.host,
                base_port=cfg.agents_base_port,
                behaviours=behaviours,
            )
            self.catalog = [server.catalog_entry() for server in self.agent_servers]

        self.lambda_server = ThreadedServer(
            LambdaInvokeApp(self.registry),
            cfg.host,
            cfg.lambda_port,
            access_log=cfg.access_log,
            name="local-lambda",
        )
        self._configure_environment()
        if cfg.catalog_file is not None:
            self._load_catalog_file(cfg.catalog_file)  # checked against the handlers' environment
        self.sfn = LocalStepFunctions(self.template, payment_timeout_seconds=cfg.payment_timeout_seconds)
        self.lambda_server.start()
        os.environ["STATE_MACHINE_ARN"] = self.sfn.start()
        if os.environ.get("IDEMPOTENCY_TABLE"):
            os.environ["IDEMPOTENCY_TABLE"] = self.sfn.create_table(IDEMPOTENCY_TABLE)
        self._reset_dependencies()
        self._seed_catalog()
        self._reconcile_orphans()
        self._start_operations()
        api = HttpApiApp(self.registry, self.fallback)
        api_server = ThreadedServer(api, cfg.host, cfg.api_port, access_log=cfg.access_log, name="local-api")
        # The issuer is the API's own URL + /auth/v1 (known once the port is bound), recorded in the
        # data dir for `orch token`; its key lives there too, so tokens survive restarts.
        self.issuer = api.issuer = LocalIssuer.load_or_create(
            cfg.data_dir, issuer=f"{api_server.url}{ISSUER_PATH}"
        )
        if cfg.agent_push:
            self._connect_pushes(f"{api_server.url}{AGENT_PUSH_PATH}")
        self.api_server = api_server.start()

    def stop(self) -> None:
        if self.operations is not None:
            self.operations.stop()
            self.operations = None
        for server in (self.api_server, self.lambda_server):
            if server is not None:
                server.stop()
        self.api_server = self.lambda_server = None
        for agent in self.agent_servers:
            agent.stop()
        self.agent_servers = []
        if self.ledger_server is not None:
            self.ledger_server.stop()
            self.ledger_server = None
        if self.sfn is not None:
            self.sfn.stop()
            self.sfn = None
        self._restore_environment()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextmanager
    def overrides(self, **adapters: Any) -> Iterator[None]:
        """Until the block ends, every function of the stack gets a bundle with these adapters
        (`planner=`, `engine=`, `chain=`, `settings=`, ...; every other one is the stack's own,
        shared), as a test swaps one in: the bundle the process shares never changes. Blocks nest,
        each on top of the one around it, and each puts back what was there before."""
        from orchestrator.dependencies import get_dependencies

        installed = self.registry.dependency_overrides
        before = installed.get(get_dependencies)
        underneath: Callable[[], Dependencies] = before or get_dependencies

        def overridden() -> Dependencies:
            # Derived at each call from the bundle underneath (cheap: nothing is built twice), so
            # that a restart of the stack (new settings, new adapters) shows through.
            return underneath().with_overrides(**adapters)

        installed[get_dependencies] = overridden
        try:
            yield
        finally:
            if before is None:
                installed.pop(get_dependencies, None)
            else:
                installed[get_dependencies] = before

    # --- wiring ---------------------------------------------------------------------------------
    def _template_variables(self, *names: str) -> dict[str, str]:
        """Global variables of template.yaml (defaults of the parameters they name)."""
        values = {name: self.template.global_variable(name) for name in names}
        return {name: value for name, value in values.items() if value is not None}

    def _configure_environment(self) -> None:
        cfg = self.config
        assert self.lambda_server is not None and self.ledger_server is not None
        env = {
            # The handlers read the same variables as in AWS (template.yaml's Globals), local values.
            "STORE_BACKEND": "sqlite",
            "SQLITE_PATH": str(cfg.data_dir / "orchestrator.sqlite3"),
            "ALGORAND_NETWORK": "localnet",
            "ALGOD_URL": self.ledger_server.algod_url,
            "ALGOD_TOKEN": "",
            "INDEXER_URL": self.ledger_server.indexer_url,
            "INDEXER_TOKEN": "",
            "GENESIS_HASH": self.ledger.genesis_hash,
            # As deployed: an agent without a base_url override is reached through its subdomain.
            "AGENT_URL_TEMPLATE": str(self.template.parameter_default("AgentUrlTemplate")),
            # The poll schedule and deadline as deployed, unless a test shortens them.
            **self._template_variables(
                "POLL_DEADLINE_SECONDS", "POLL_FAST_SECONDS", "POLL_FAST_WINDOW_SECONDS", "POLL_MAX_SECONDS"
            ),
            **{
                name: str(value)
                for name, value in (
                    ("POLL_DEADLINE_SECONDS", cfg.poll_deadline_seconds),
                    ("POLL_FAST_SECONDS", cfg.poll_fast_seconds),
                    ("POLL_MAX_SECONDS", cfg.poll_max_seconds),
                )
                if value is not None
            },
            "SUBMIT_PAYMENT_RETRY_SECONDS": str(cfg.submit_payment_retry_seconds),
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_REGION": LOCAL_REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_server.url,
            "POWERTOOLS_SERVICE_NAME": "orchestrator",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            # No X-Ray daemon here; EMF metric lines would drown the log (set them to false to see them).
            "POWERTOOLS_TRACE_DISABLED": os.environ.get("POWERTOOLS_TRACE_DISABLED", "true"),
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
            "PAYMENT_TIMEOUT_SECONDS": str(
                cfg.payment_timeout_seconds or self.template.parameter_default("PaymentTimeoutSeconds")
            ),
            # template.yaml's IdempotencyTable, created in moto's DynamoDB at start ("" turns it off).
            "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
            **cfg.extra_env,
        }
        for key, value in env.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        self._saved_env.setdefault("STATE_MACHINE_ARN", os.environ.get("STATE_MACHINE_ARN"))

    def _restore_environment(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        self._reset_dependencies()

    @staticmethod
    def _reset_dependencies() -> None:
        from orchestrator.dependencies import reset_dependencies
        from orchestrator.idempotency import reset_idempotency

        reset_dependencies()
        reset_idempotency()  # its DynamoDB client belongs to the moto mock of this stack

    def _connect_pushes(self, url: str) -> None:
        """Give each sample agent a secret, keep it as the marketplace keeps `agents.agent_token`, and
        have the agent push to `url` with it."""
        from orchestrator.dependencies import get_dependencies

        store = get_dependencies().store
        for server in self.agent_servers:
            token = secrets.token_urlsafe(32)
            store.set_agent_token(server.spec.id, token)
            server.push_to(url, token)

    def _seed_catalog(self) -> None:
        """The store's `agents` table holds exactly this stack's hireable catalog as active agents; every
        other agent in it (an earlier run's, a --catalog record left out) is set `inactive`."""
        from orchestrator.dependencies import get_dependencies
        from orchestrator.models import AgentMetadata

        store = get_dependencies().store
        wanted = [AgentMetadata.model_validate(record) for record in self.catalog]
        wanted_ids = {a.id for a in wanted}
        stale = [
            a.model_copy(update={"status": "inactive"})
            for a in store.list_agents(active_only=False)
            if a.id not in wanted_ids
        ]
        store.upsert_agents(stale + wanted)
        for agent_id, token in self.catalog_agent_tokens.items():
            store.set_agent_token(agent_id, token)

    def _load_catalog_file(self, path: Path) -> None:
        """The --catalog records that can be hired, as the handlers will reach them (their
        AGENT_URL_TEMPLATE); each record left out is reported on stderr (and by `describe`)."""
        loaded = load_catalog_file(path, url_template=os.environ.get("AGENT_URL_TEMPLATE") or None)
        self.catalog, self.catalog_left_out = loaded.records, loaded.left_out
        self.catalog_agent_tokens = loaded.agent_tokens
        for line in self.catalog_left_out:
            print(f"catalog: left out of planning: {line}", file=sys.stderr, flush=True)

    def _describe_operations(self) -> str:
        cfg = self.config
        watch = (
            f"ended executions reconciled every {cfg.execution_watch_seconds:g}s"
            if cfg.execution_watch_seconds
            else "no reconcile"
        )
        sweep = f"sweep every {cfg.sweep_interval_seconds:g}s" if cfg.sweep_interval_seconds else "no sweep"
        return f"{watch}, {sweep}"

    def _start_operations(self) -> None:
        """Reconcile ended executions and run the sweep in the background, as AWS does (template.yaml)."""
        assert self.sfn is not None
        self.operations = OperationsLoop(
            self.registry,
            self.sfn.client(),
            self.sfn.state_machine_arn,
            operations_spec(self.template),
            watch_seconds=self.config.execution_watch_seconds,
            sweep_seconds=self.config.sweep_interval_seconds,
            on_ended=self._execution_ended if self.on_workflow_ended is not None else None,
        ).start()

    def _execution_ended(self, execution: dict[str, Any]) -> None:
        """The workflow of an ended execution, as the API shows it, to `on_workflow_ended`."""
        from orchestrator.engine import execution_ref
        from orchestrator.services.views import view_of

        workflow_id, _ = execution_ref(execution)
        deps = self.registry.dependencies()  # what the functions see
        workflow = deps.store.get_workflow(workflow_id) if workflow_id else None
        if workflow is not None and self.on_workflow_ended is not None:
            self.on_workflow_ended(view_of(deps, workflow).model_dump(mode="json"))

    def _reconcile_orphans(self) -> None:
        """Executions do not survive a restart of the local stack: fail their workflows (resumable)."""
        from orchestrator.dependencies import get_dependencies
        from orchestrator.services.reconcile import fail_orphaned_workflows

        fail_orphaned_workflows(
            get_dependencies(),
            "The local stack restarted while this workflow ran; resume it to continue where it stopped.",
        )

    # --- what the stack offers ------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        assert self.api_server is not None
        return self.api_server.url

    @property
    def algod_url(self) -> str:
        return str(self.ledger_server.algod_url)

    @property
    def indexer_url(self) -> str:
        return str(self.ledger_server.indexer_url)

    def describe(self) -> str:
        lines = [
            f"HTTP API        {self.api_url}",
            f"auth issuer     {self.issuer.issuer if self.issuer else '-'}   (orch token prints a user's token)",
            f"Lambda Invoke   {self.lambda_server.url if self.lambda_server else '-'}",
            f"algod           {self.algod_url}   (token: any)",
            f"indexer         {self.indexer_url}",
            f"state machine   {os.environ.get('STATE_MACHINE_ARN', '-')}",
            f"repairs         {self._describe_operations()}",
            f"database        {self.config.data_dir / 'orchestrator.sqlite3'}",
            f"planner         {planner_description()}",
            "agents:",
        ]
        lines += [
            f"  {r['name']:<32} {r.get('base_url') or r.get('subdomain')}  {r['price_microalgo']} µAlgo"
            for r in self.catalog
        ]
        if self.catalog_left_out:
            lines.append("left out of planning (cannot be hired):")
            lines += [f"  {line}" for line in self.catalog_left_out]
        lines.append("funded dev accounts (local only, never use elsewhere):")
        for account in self.dev_accounts:
            lines.append(f"  {account.address}")
            lines.append(f"    mnemonic: {account.mnemonic}")
        return "\n".join(lines)
