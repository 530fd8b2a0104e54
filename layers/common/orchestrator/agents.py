"""The agent HTTP client: the marketplace's agent protocol (start_job, submit_payment, job status).

Only connection errors and 5xx are retried (and, for submit_payment, 402 while the agent's indexer
catches up); every answer is validated, so a garbled agent fails with a named error."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.errors import AgentProtocolError, AgentRejected, AgentUnavailable
from orchestrator.models import AgentMetadata

# Status words foreign agents use for a finished job, mapped onto the protocol's two outcomes.
_SUCCEEDED_WORDS = frozenset({"succeeded", "success", "completed", "complete", "done", "finished"})
_FAILED_WORDS = frozenset({"failed", "failure", "error", "errored"})

Model = TypeVar("Model", bound=BaseModel)


def _text_id(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class StartJobResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")

    job_id: str = Field(min_length=1)
    unsigned_group_txns: list[str] = Field(default_factory=list)
    txn_ids: list[str] = Field(default_factory=list)
    payment_required: int = Field(default=0, ge=0)

    _job_id_text = field_validator("job_id", mode="before")(_text_id)


class SubmitPaymentResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str
    access_token: str | None = None
    message: str | None = None


class JobStatusResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")

    job_id: str | None = None
    status: str
    output: Any = None
    created_at: str | None = None

    _job_id_text = field_validator("job_id", mode="before")(_text_id)

    @field_validator("status", mode="before")
    @classmethod
    def _normalise_status(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word in _SUCCEEDED_WORDS:
            return "succeeded"
        if word in _FAILED_WORDS:
            return "failed"
        return word


class AgentClient:
    def __init__(
        self,
        *,
        timeout_seconds: float = 10.0,
        retries: int = 2,
        url_template: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.retries = retries
        self.url_template = url_template
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=timeout_seconds,
            transport=transport,
            headers={"User-Agent": "agent-orchestrator", "Accept": "application/json"},
        )

    def base_url_for(self, agent: AgentMetadata) -> str:
        if agent.base_url:
            return agent.base_url.rstrip("/")
        if self.url_template and agent.subdomain:
            return self.url_template.replace("{subdomain}", agent.subdomain).rstrip("/")
        raise AgentUnavailable(f"{agent.name} has no base URL and no subdomain to build one from.")

    # --- the protocol -------------------------------------------------------------------------

    def start_job(self, agent: AgentMetadata, *, sender_address: str, job_input: str) -> StartJobResponse:
        body = {"sender_address": sender_address, "job_input": job_input, "agent_id": agent.id}
        response = self._send(agent, "POST", "/start_job", json=body)
        return self._parse(agent, response, StartJobResponse, "start_job")

    def submit_payment(
        self, agent: AgentMetadata, *, job_id: str, txids: list[str], retry_for_seconds: float = 0.0
    ) -> SubmitPaymentResponse:
        """Hand confirmed txids to the agent. Agents verify through an indexer that lags the chain, so
        402 and 5xx are retried with backoff for up to `retry_for_seconds`."""
        deadline = time.monotonic() + retry_for_seconds
        delay = self.backoff_seconds
        while True:
            try:
                response = self._send(
                    agent,
                    "POST",
                    "/submit_payment",
                    json={"job_id": _wire_job_id(job_id), "txid": txids},
                    retry=False,
                )
                if response.status_code == 402:
                    raise AgentRejected(
                        f"{agent.name} does not see the payment yet: {_message_of(response)}",
                        details={"status_code": 402},
                    )
                parsed = self._parse(agent, response, SubmitPaymentResponse, "submit_payment")
            except (AgentUnavailable, AgentRejected) as exc:
                retryable = isinstance(exc, AgentUnavailable) or _status_of(exc) == 402
                if not retryable or time.monotonic() + delay > deadline:
                    raise
                self._sleep(delay)
                delay = min(delay * 2, 4.0)
                continue
            if parsed.status.lower() != "success":
                raise AgentRejected(
                    f"{agent.name} answered status {parsed.status!r}: {parsed.message or 'no message'}",
                    details={"status_code": response.status_code},
                )
            return parsed

    def job_status(self, agent: AgentMetadata, *, job_id: str, access_token: str | None) -> JobStatusResponse:
        params = {"access_token": access_token} if access_token else None
        response = self._send(agent, "GET", f"/job/{quote(job_id, safe='')}", params=params)
        return self._parse(agent, response, JobStatusResponse, "job status")

    def close(self) -> None:
        self._http.close()

    # --- plumbing ---------------------------------------------------------------------------

    def _send(
        self, agent: AgentMetadata, method: str, path: str, *, retry: bool = True, **kwargs: Any
    ) -> httpx.Response:
        url = self.base_url_for(agent) + path
        attempts = 1 + (self.retries if retry else 0)
        delay = self.backoff_seconds
        for attempt in range(1, attempts + 1):
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                problem = f"{agent.name} could not be reached ({type(exc).__name__})"
            else:
                if response.status_code < 500:
                    return response
                problem = f"{agent.name} answered HTTP {response.status_code}: {_message_of(response)}"
            if attempt < attempts:
                self._sleep(delay)
                delay *= 2
        raise AgentUnavailable(f"{problem} on {method} {path}.")

    def _parse(self, agent: AgentMetadata, response: httpx.Response, model: type[Model], what: str) -> Model:
        if 400 <= response.status_code < 500:
            raise AgentRejected(
                f"{agent.name} refused {what} (HTTP {response.status_code}): {_message_of(response)}",
                details={"status_code": response.status_code},
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise AgentProtocolError(
                f"{agent.name} answered {what} with something that is not JSON."
            ) from exc
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            raise AgentProtocolError(
                f"{agent.name} answered {what} in an unexpected shape ({where}: {first['msg']})."
            ) from exc


def _wire_job_id(job_id: str) -> str | int:
    """Agents that number their jobs gave us an integer and look it up as one: send it back as one."""
    if job_id.isdigit() and (job_id == "0" or not job_id.startswith("0")) and len(job_id) < 16:
        return int(job_id)
    return job_id


def _message_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or "no message"
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key])[:300]
    return str(body)[:200]


def _status_of(exc: AgentRejected) -> int | None:
    details = exc.details if isinstance(exc.details, dict) else {}
    status = details.get("status_code")
    return status if isinstance(status, int) else None
