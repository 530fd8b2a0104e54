"""The agent protocol (start_job, submit_payment, job status): what the use cases ask of an agent
(`AgentClient`) and its HTTP client (`HttpAgentClient`).

Liberal in what it accepts, strict in what it hands on. Answers are validated into the models below:
extra fields are ignored, timestamps may be epoch seconds (the SDK's integers), milliseconds or any
text, `output` may be text, JSON or null. Error answers are quoted from `message`, `error` or
`detail`, or, for an HTML page (Flask's 500 page) or other text, as a one-line excerpt of its text:
never markup, never a newline, at most `EXCERPT_CHARS` characters. A garbled answer is a named error.

Retry policy: each request is repeated only where a repeat cannot cost the person anything.
- Every request is re-sent (`retries` times, with backoff) when it never left us: the connection
  could not be established (`httpx.ConnectError` such as connection refused, `httpx.ConnectTimeout`,
  `httpx.PoolTimeout`).
- `GET /job/{id}` reads only, so it is also re-sent after a 5xx or any other transport error.
- `POST /start_job` creates a job on every call (the SDK's `J<millis>` ids), so after anything else
  that may have reached the agent (a 5xx, a read or write timeout, a connection broken after
  sending) it is not re-sent: `AgentUnavailable` at once, saying the agent may have created a job.
- `POST /submit_payment`: a 402 means the agent could not verify the payment yet (its indexer lags
  the chain) and it accepts a later submit, so 402 (and a connection that could not be established)
  is retried with backoff for up to `retry_for_seconds`. A repeat after a *success* makes the agent
  issue a new access token and run the job again, so after an answer that may have been a success
  (a 5xx, a read timeout, a connection broken after sending) it is not re-sent: `AgentUnavailable` at
  once, saying the agent may have accepted the payment.
An `AgentUnavailable` from a request carries `details={"may_have_reached_agent": bool}`: whether the
agent may have acted on it (a job created, a payment accepted) although we heard no answer."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.errors import AgentProtocolError, AgentRejected, AgentUnavailable
from orchestrator.models import AgentMetadata, OrchestratorModel

# Status words foreign agents use for a finished job, mapped onto the protocol's two outcomes. The SDK's
# own words (queued, payment_processing, running, succeeded, failed) pass through as they are.
_SUCCEEDED_WORDS = frozenset({"succeeded", "success", "completed", "complete", "done", "finished"})
_FAILED_WORDS = frozenset({"failed", "failure", "error", "errored"})

# Failures before the request left us: re-sending cannot make the agent act twice.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

EXCERPT_CHARS = 200
_BODY_CHARS_READ = 64_000  # of an error page, enough to find its title and first text
_MILLISECONDS_FROM = 1e11  # as epoch seconds that is the year 5138: a number this big is milliseconds

Model = TypeVar("Model", bound=BaseModel)


def _text_id(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _timestamp_text(value: Any) -> str | None:
    """Epoch seconds (or milliseconds) become ISO 8601 UTC; text is kept as sent (on one line); anything
    else is dropped: a timestamp is never worth failing a paid step over."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None
        seconds = value / 1000 if abs(value) >= _MILLISECONDS_FROM else value
        try:
            moment = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, str):
        return _one_line(value, limit=100) or None
    return None


class StartJobResponse(OrchestratorModel):
    model_config = ConfigDict(extra="ignore")

    job_id: str = Field(min_length=1)
    unsigned_group_txns: list[str] = Field(default_factory=list)
    txn_ids: list[str] = Field(default_factory=list)
    payment_required: int = Field(default=0, ge=0)

    _job_id_text = field_validator("job_id", mode="before")(_text_id)


class SubmitPaymentResponse(OrchestratorModel):
    model_config = ConfigDict(extra="ignore")

    status: str
    access_token: str | None = None
    message: str | None = None


class JobStatusResponse(OrchestratorModel):
    model_config = ConfigDict(extra="ignore")

    job_id: str | None = None
    status: str
    output: Any = None  # text, JSON or null (the SDK hides the output without the access token)
    created_at: str | None = None
    completed_at: str | None = None

    _job_id_text = field_validator("job_id", mode="before")(_text_id)
    _timestamps = field_validator("created_at", "completed_at", mode="before")(_timestamp_text)

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


class AgentClient(Protocol):
    """What the use cases ask of a marketplace agent; `HttpAgentClient` asks it over HTTP."""

    def start_job(self, agent: AgentMetadata, *, sender_address: str, job_input: str) -> StartJobResponse: ...

    def submit_payment(
        self, agent: AgentMetadata, *, job_id: str, txids: list[str], retry_for_seconds: float = 0.0
    ) -> SubmitPaymentResponse: ...

    def job_status(
        self, agent: AgentMetadata, *, job_id: str, access_token: str | None
    ) -> JobStatusResponse: ...


class HttpAgentClient:
    """The agent protocol over HTTP, with the retry policy above."""

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
        """Ask for a job and its payment group. Never re-sent once it may have reached the agent."""
        body = {"sender_address": sender_address, "job_input": job_input, "agent_id": agent.id}
        response = self._send(
            agent,
            "POST",
            "/start_job",
            json=body,
            if_maybe_received="It may have created a job; start_job is not sent again",
        )
        return self._parse(agent, response, StartJobResponse, "start_job")

    def submit_payment(
        self, agent: AgentMetadata, *, job_id: str, txids: list[str], retry_for_seconds: float = 0.0
    ) -> SubmitPaymentResponse:
        """Hand confirmed txids to the agent. Agents verify through an indexer that lags the chain, so
        402 (and a connection that could not be made) is retried with backoff for up to
        `retry_for_seconds`; an answer that may have been a success is never followed by a repeat."""
        deadline = time.monotonic() + retry_for_seconds
        delay = self.backoff_seconds
        while True:
            try:
                response = self._send(
                    agent,
                    "POST",
                    "/submit_payment",
                    json={"job_id": _wire_job_id(job_id), "txid": txids},
                    if_maybe_received=(
                        "It may have accepted the payment; it is not sent again, since a repeat would "
                        "run the job again"
                    ),
                )
            except AgentUnavailable as exc:
                if _may_have_reached_agent(exc) or time.monotonic() + delay > deadline:
                    raise
            else:
                if response.status_code != 402:
                    break
                if time.monotonic() + delay > deadline:
                    raise AgentRejected(
                        f"{agent.name} does not see the payment yet: {_message_of(response)}",
                        details={"status_code": 402},
                    )
            self._sleep(delay)
            delay = min(delay * 2, 4.0)
        parsed = self._parse(agent, response, SubmitPaymentResponse, "submit_payment")
        if parsed.status.strip().lower() != "success":
            raise AgentRejected(
                f"{agent.name} answered status {_one_line(parsed.status)!r}: "
                f"{_one_line(parsed.message or '') or 'no message'}",
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
        self,
        agent: AgentMetadata,
        method: str,
        path: str,
        *,
        if_maybe_received: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; any answer below 500 is returned. A request that never left us is re-sent
        up to `retries` times. `if_maybe_received` marks a request that must not be repeated once it may
        have reached the agent (it says what the agent may have done); without it the request is safe
        to repeat and is also re-sent after a 5xx or any other transport error."""
        url = self.base_url_for(agent) + path
        delay = self.backoff_seconds
        failure: AgentUnavailable | None = None
        for attempt in range(1 + max(0, self.retries)):
            if attempt:
                self._sleep(delay)
                delay *= 2
            try:
                response = self._http.request(method, url, **kwargs)
            except _NEVER_SENT as exc:
                failure = AgentUnavailable(
                    f"{agent.name} could not be reached ({type(exc).__name__}) on {method} {path}.",
                    details={"may_have_reached_agent": False},
                )
                continue
            except httpx.HTTPError as exc:
                problem = f"{agent.name} gave no answer ({type(exc).__name__}) to {method} {path}"
            else:
                if response.status_code < 500:
                    return response
                problem = (
                    f"{agent.name} answered HTTP {response.status_code} on {method} {path}: "
                    f"{_message_of(response)}"
                )
            problem = problem.rstrip(".")
            if if_maybe_received is not None:
                raise AgentUnavailable(
                    f"{problem}. {if_maybe_received}.", details={"may_have_reached_agent": True}
                )
            failure = AgentUnavailable(f"{problem}.", details={"may_have_reached_agent": True})
        assert failure is not None
        raise failure

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
                f"{agent.name} answered {what} with something that is not JSON "
                f"(HTTP {response.status_code}): {_text_excerpt(response)}"
            ) from exc
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            raise AgentProtocolError(
                f"{agent.name} answered {what} in an unexpected shape ({where}: {_one_line(first['msg'])})."
            ) from exc


def _may_have_reached_agent(exc: AgentUnavailable) -> bool:
    details = exc.details if isinstance(exc.details, dict) else {}
    return details.get("may_have_reached_agent") is not False


def _wire_job_id(job_id: str) -> str | int:
    """Agents that number their jobs gave us an integer and look it up as one: send it back as one."""
    if job_id.isdigit() and (job_id == "0" or not job_id.startswith("0")) and len(job_id) < 16:
        return int(job_id)
    return job_id


# --- quoting what an agent said -----------------------------------------------------------------


def _one_line(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` on one line: control characters and runs of white space become one space, and at most
    `limit` characters (the last an ellipsis when cut)."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    collapsed = " ".join(printable.split())
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1].rstrip() + "…"


def _message_of(response: httpx.Response) -> str:
    """What an error answer says: its JSON message (`message`, `error` or `detail`, however nested),
    else an excerpt of its text."""
    try:
        body = response.json()
    except ValueError:
        return _text_excerpt(response)
    found = _json_message(body)
    if found:
        return _one_line(found)
    return _one_line(json.dumps(body, ensure_ascii=False, separators=(",", ":"))) or "no message"


def _json_message(body: Any) -> str | None:
    if isinstance(body, str):
        return body.strip() or None
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "error_description", "msg"):
            found = _json_message(body.get(key))
            if found:
                return found
        return None
    if isinstance(body, list):  # e.g. FastAPI's detail: [{"loc": [...], "msg": "...", ...}, ...]
        found_all = [text for text in map(_json_message, body[:5]) if text]
        return "; ".join(found_all) or None
    return None


def _text_excerpt(response: httpx.Response) -> str:
    """A one-line excerpt of a body that is not JSON: an HTML page's title (or first heading, or first
    text), or the text itself; never markup."""
    text = response.text[:_BODY_CHARS_READ]
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type or "xml" in content_type or text.lstrip().startswith("<"):
        page = _PageText()
        page.feed(text)
        page.close()
        text = next((part for part in (page.title, page.heading, page.text) if _one_line(part)), "")
    return _one_line(text) or "an empty body"


class _PageText(HTMLParser):
    """The title, first <h1> and visible text of an HTML page (scripts and styles left out)."""

    _HIDDEN = frozenset({"script", "style", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._title: list[str] = []
        self._heading: list[str] = []
        self._text: list[str] = []
        self._open: list[str] = []
        self._headings_seen = 0

    @property
    def title(self) -> str:
        return " ".join(self._title)

    @property
    def heading(self) -> str:
        return " ".join(self._heading)

    @property
    def text(self) -> str:
        return " ".join(self._text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN or tag in ("title", "h1"):
            self._open.append(tag)
            if tag == "h1":
                self._headings_seen += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            while self._open and self._open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if "title" in self._open:
            self._title.append(data)
        elif any(tag in self._HIDDEN for tag in self._open):
            return
        else:
            if "h1" in self._open and self._headings_seen == 1:
                self._heading.append(data)
            self._text.append(data)
