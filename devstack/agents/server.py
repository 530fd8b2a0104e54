"""A sample agent on its own port, speaking the marketplace's agent protocol:
POST /start_job, POST /submit_payment, GET /job/{job_id}?access_token=..."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from algosdk import encoding
from algosdk.v2client.algod import AlgodClient
from algosdk.v2client.indexer import IndexerClient
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devstack.agents.catalog import SAMPLE_AGENTS, SampleAgentSpec
from devstack.agents.jobs import Job, JobBook, JobRunPlan
from devstack.agents.payments import (
    ChainUnavailable,
    PaymentInvalid,
    PaymentNotFound,
    build_payment_group,
    verify_payment,
)
from devstack.agents.push import Pusher, PushTarget
from devstack.serving import ThreadedServer, json_response

log = logging.getLogger(__name__)


@dataclass
class AgentBehaviour:
    """Knobs for tests and for agents that should look like other marketplace agents."""

    double_base64: bool = False  # base64 the base64 text of each txn again (some real agents do)
    free: bool = False  # no payment: empty group, job starts at once, no access token needed
    fail_jobs: bool = False  # jobs end `failed` with an error message as output
    job_seconds: float = 1.0
    app_call: bool = True  # False: a single payment txn, no app call
    validity_rounds: int | None = None  # shorter validity window than algod suggests (tests re-quotes)
    push: bool = True  # push payment and completion to the orchestrator, as the SDK does, once told where


# --- request bodies -------------------------------------------------------------------------------
class StartJobRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sender_address: str
    job_input: Any = ""
    agent_id: str | None = None

    @field_validator("sender_address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        if not encoding.is_valid_address(value):
            raise ValueError("not an Algorand address")
        return value

    def job_input_text(self) -> str:
        # The protocol sends a string; other JSON is kept as its JSON text.
        return self.job_input if isinstance(self.job_input, str) else json.dumps(self.job_input)


class SubmitPaymentRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    job_id: str
    txid: list[str]

    @field_validator("job_id", mode="before")
    @classmethod
    def _job_id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("txid", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


# --- the WSGI application -------------------------------------------------------------------------
class AgentApp:
    """The agent's HTTP routes over its job book and the chain."""

    def __init__(
        self,
        spec: SampleAgentSpec,
        behaviour: AgentBehaviour,
        algod: AlgodClient,
        indexer: IndexerClient,
    ) -> None:
        self.spec = spec
        self.behaviour = behaviour
        self.algod = algod
        self.indexer = indexer
        self.pusher = Pusher(spec.id)
        self.jobs = JobBook(
            JobRunPlan(spec.skill, behaviour.job_seconds, behaviour.fail_jobs),
            on_finished=self.pusher.completed,
        )
        self.routes = Map(
            [
                Rule("/start_job", endpoint="start_job", methods=["POST"]),
                Rule("/submit_payment", endpoint="submit_payment", methods=["POST"]),
                Rule("/job/<job_id>", endpoint="job", methods=["GET"]),
                Rule("/", endpoint="about", methods=["GET"]),
                Rule("/health", endpoint="health", methods=["GET"]),
            ]
        )

    @property
    def price(self) -> int:
        return 0 if self.behaviour.free else self.spec.price_microalgo

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response: Response
        try:
            endpoint, args = self.routes.bind_to_environ(environ).match()
            response = getattr(self, f"_{endpoint}")(request, **args)
        except HTTPException as exc:
            response = _error(exc.code or 500, exc.description or exc.name)
        except ChainUnavailable as exc:
            response = _error(503, str(exc))
        except Exception:
            log.exception("sample agent %s failed on %s", self.spec.slug, request.path)
            response = _error(500, "internal error")
        return response(environ, start_response)

    def _start_job(self, request: Request) -> Response:
        try:
            body = StartJobRequest.model_validate(_json_body(request))
        except ValidationError as exc:
            return _error(400, _first_problem(exc))
        job = Job(
            job_id=str(uuid.uuid4()),
            sender=body.sender_address,
            job_input=body.job_input_text(),
            txn_ids=[],
            price_microalgo=self.price,
        )
        unsigned: list[str] = []
        if not self.behaviour.free:
            group = build_payment_group(
                self.algod,
                sender=body.sender_address,
                receiver=self.spec.agent_address,
                amount=self.spec.price_microalgo,
                app_id=self.spec.app_id,
                note=f"{self.spec.slug} job {job.job_id}".encode(),
                app_call=self.behaviour.app_call,
                double_base64=self.behaviour.double_base64,
                validity_rounds=self.behaviour.validity_rounds,
            )
            unsigned, job.txn_ids = group.encoded, group.txn_ids
        self.jobs.add(job)
        if self.behaviour.free:
            self.jobs.release(job, free=True)
        return json_response(
            {
                "job_id": job.job_id,
                "unsigned_group_txns": unsigned,
                "txn_ids": job.txn_ids,
                "payment_required": self.price,
            },
        )

    def _submit_payment(self, request: Request) -> Response:
        try:
            body = SubmitPaymentRequest.model_validate(_json_body(request))
        except ValidationError as exc:
            return _error(400, _first_problem(exc))
        job = self.jobs.get(body.job_id)
        if job is None:
            return _error(404, "no such job")
        if not self.behaviour.free:
            try:
                confirmed_round = verify_payment(
                    self.indexer,
                    submitted_txids=body.txid,
                    expected_txids=job.txn_ids,
                    sender=job.sender,
                    receiver=self.spec.agent_address,
                    price=job.price_microalgo,
                )
            except PaymentNotFound as exc:
                return _error(402, str(exc))
            except PaymentInvalid as exc:
                return _error(400, str(exc))
            token = self.jobs.release(job, confirmed_round=confirmed_round)
        else:
            token = self.jobs.release(job, free=True)
        self.pusher.payment_verified(job)
        return json_response({"status": "success", "access_token": token})

    def _job(self, request: Request, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            return _error(404, "no such job")
        token = request.args.get("access_token") or None
        if not job.accepts(token):
            if token is None:
                return _error(401, "an access token is required; pay for the job first")
            return _error(403, "the access token is not valid for this job")
        return json_response(self.jobs.view(job))

    def _about(self, request: Request) -> Response:
        return json_response({**self.spec.catalog_record(price_microalgo=self.price), "sample_agent": True})

    def _health(self, request: Request) -> Response:
        return json_response({"status": "ok"})


def _json_body(request: Request) -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        return None  # validation then reports a missing body


def _first_problem(exc: ValidationError) -> str:
    problem = exc.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    return f"invalid request: {where}: {problem['msg']}"


def _error(status: int, message: str) -> Response:
    return json_response({"status": "error", "message": message}, status)


# --- serving ----------------------------------------------------------------------------------------
class SampleAgentServer:
    """One sample agent on its own port (a threaded werkzeug server in a daemon thread)."""

    def __init__(
        self,
        spec: SampleAgentSpec,
        *,
        algod_url: str,
        algod_token: str = "",
        indexer_url: str,
        indexer_token: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        behaviour: AgentBehaviour | None = None,
    ) -> None:
        self.spec = spec
        self.behaviour = behaviour or AgentBehaviour()
        self.app = AgentApp(
            spec,
            self.behaviour,
            AlgodClient(algod_token, algod_url.rstrip("/")),
            IndexerClient(indexer_token, indexer_url.rstrip("/")),
        )
        self.host = host
        self._requested_port = port
        self._server: ThreadedServer | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the agent server is not started")
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SampleAgentServer:
        if self._server is not None:
            return self
        # No access log (the default): the orchestrator polls agents several times a second.
        self._server = ThreadedServer(
            self.app, self.host, self._requested_port, name=f"agent-{self.spec.slug}"
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent). The port stays known, so a stopped agent's entry still names it."""
        if self._server is None:
            return
        self.app.jobs.stop()
        self._server.stop()

    def __enter__(self) -> SampleAgentServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def push_to(self, url: str, agent_token: str) -> None:
        """Push to `url` with `agent_token` from now on (unless its behaviour says not to push)."""
        if self.behaviour.push:
            self.app.pusher.target = PushTarget(url=url, agent_token=agent_token)

    @property
    def pushes_sent(self) -> int:
        return self.app.pusher.sent

    def catalog_entry(self) -> dict[str, Any]:
        """The agent as the marketplace's `agents` table records it (what `AgentMetadata` reads), with
        its price as served (0 when free) and where to reach it (`base_url`)."""
        return self.spec.catalog_record(price_microalgo=self.app.price, base_url=self.base_url)


def start_sample_agents(
    *,
    algod_url: str,
    indexer_url: str,
    algod_token: str = "",
    indexer_token: str = "",
    host: str = "127.0.0.1",
    base_port: int = 5001,
    specs: list[SampleAgentSpec] | None = None,
    behaviours: dict[str, AgentBehaviour] | None = None,
) -> list[SampleAgentServer]:
    """Start one server per agent: on base_port, base_port+1, ... (or ephemeral ports if 0).
    `behaviours` is keyed by agent id or slug."""
    behaviours = behaviours or {}
    servers: list[SampleAgentServer] = []
    try:
        for offset, spec in enumerate(SAMPLE_AGENTS if specs is None else specs):
            server = SampleAgentServer(
                spec,
                algod_url=algod_url,
                algod_token=algod_token,
                indexer_url=indexer_url,
                indexer_token=indexer_token,
                host=host,
                port=base_port + offset if base_port else 0,
                behaviour=behaviours.get(spec.id) or behaviours.get(spec.slug),
            )
            servers.append(server.start())
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers
