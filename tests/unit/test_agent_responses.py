"""HttpAgentClient without sockets (httpx.MockTransport): which transport failures are re-sent for each
request, and how agents' answers and error bodies are read. The loopback tests with real sockets are
in tests/integration/test_agent_client.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from orchestrator.agents import EXCERPT_CHARS, HttpAgentClient, JobStatusResponse
from orchestrator.errors import AgentProtocolError, AgentRejected, AgentUnavailable
from orchestrator.models import AgentMetadata

AGENT = AgentMetadata(id="agent-1", name="Agent", price_microalgo=1, base_url="http://agent.test")
START_OK = {"job_id": "J1", "unsigned_group_txns": [], "txn_ids": [], "payment_required": 0}
PAID = {"status": "success", "access_token": "tok"}
JOB = {"job_id": "J1", "status": "running", "created_at": 1762754481, "output": None}

NEVER_SENT = [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout]
MAYBE_RECEIVED = [
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
]


class FailingOnce:
    """A transport handler that raises `error` for the first request, then answers `body`."""

    def __init__(self, error: type[httpx.TransportError], body: Any) -> None:
        self.error = error
        self.body = body
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) == 1:
            raise self.error("scripted failure", request=request)
        return httpx.Response(200, json=self.body)


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> HttpAgentClient:
    return HttpAgentClient(transport=httpx.MockTransport(handler), retries=2, sleep=lambda _: None)


CALLS: dict[str, tuple[Any, Callable[[HttpAgentClient], Any]]] = {
    "start_job": (START_OK, lambda c: c.start_job(AGENT, sender_address="S", job_input="x")),
    "submit_payment": (
        PAID,
        lambda c: c.submit_payment(AGENT, job_id="J1", txids=["T"], retry_for_seconds=30),
    ),
    "job_status": (JOB, lambda c: c.job_status(AGENT, job_id="J1", access_token="tok")),
}


@pytest.fixture
def answering() -> Iterator[Callable[..., HttpAgentClient]]:
    clients: list[HttpAgentClient] = []

    def make(status: int, content: bytes, content_type: str = "application/json") -> HttpAgentClient:
        client = client_for(
            lambda _: httpx.Response(status, content=content, headers={"Content-Type": content_type})
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# --- the retry policy --------------------------------------------------------------------------


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("error", NEVER_SENT)
def test_a_request_that_never_left_is_re_sent(call: str, error: type[httpx.TransportError]) -> None:
    body, send = CALLS[call]
    handler = FailingOnce(error, body)
    client = client_for(handler)
    send(client)
    assert len(handler.requests) == 2


@pytest.mark.parametrize("call", ["start_job", "submit_payment"])
@pytest.mark.parametrize("error", MAYBE_RECEIVED)
def test_a_post_that_may_have_reached_the_agent_is_not_re_sent(
    call: str, error: type[httpx.TransportError]
) -> None:
    body, send = CALLS[call]
    handler = FailingOnce(error, body)
    with pytest.raises(AgentUnavailable) as caught:
        send(client_for(handler))
    assert len(handler.requests) == 1
    assert error.__name__ in caught.value.message
    assert "may have" in caught.value.message
    assert caught.value.details == {"may_have_reached_agent": True}


@pytest.mark.parametrize("error", MAYBE_RECEIVED)
def test_job_status_is_re_sent_after_any_transport_error(error: type[httpx.TransportError]) -> None:
    handler = FailingOnce(error, JOB)
    client_for(handler).job_status(AGENT, job_id="J1", access_token="tok")
    assert len(handler.requests) == 2


# --- reading answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (1762754481.0, "2025-11-10T06:01:21Z"),
        (float("nan"), None),
        (float("inf"), None),
        (10**30, None),
        (False, None),
        ([1762754481], None),
        ("  2025-11-10\n06:01:21 ", "2025-11-10 06:01:21"),
        ("", None),
        ("x" * 500, "x" * 99 + "…"),
    ],
)
def test_timestamps_are_read_liberally_and_handed_on_strictly(value: Any, expected: str | None) -> None:
    response = JobStatusResponse.model_validate({"status": "running", "created_at": value})
    assert response.created_at == expected


@pytest.mark.parametrize(
    ("page", "excerpt"),
    [
        ("<html><body><h1>Bad Gateway</h1><p>upstream died</p></body></html>", "Bad Gateway"),
        ("<html><body><p>Only\n  a paragraph</p></body></html>", "Only a paragraph"),
        (
            "<html><head><style>h1 {color: red}</style><script>var x = '<b>';</script></head>"
            "<body>Service &amp; agent &lt;down&gt;</body></html>",
            "Service & agent <down>",
        ),
        ("<title>\n  Error\t 502 \n</title>", "Error 502"),
        ("<html><body></body></html>", "an empty body"),
    ],
)
def test_an_html_error_page_is_quoted_by_its_text(
    answering: Callable[..., HttpAgentClient], page: str, excerpt: str
) -> None:
    client = answering(403, page.encode(), "text/html")
    with pytest.raises(AgentRejected) as caught:
        client.job_status(AGENT, job_id="J1", access_token="tok")
    assert caught.value.message == f"Agent refused job status (HTTP 403): {excerpt}"


def test_html_is_recognised_without_its_content_type(answering: Callable[..., HttpAgentClient]) -> None:
    client = answering(403, b"  <!DOCTYPE html><title>Forbidden</title>", "application/octet-stream")
    with pytest.raises(AgentRejected) as caught:
        client.job_status(AGENT, job_id="J1", access_token="tok")
    assert caught.value.message.endswith(": Forbidden")


def test_a_huge_page_is_cut_to_the_excerpt_length(answering: Callable[..., HttpAgentClient]) -> None:
    client = answering(403, ("<p>" + "word " * 20_000 + "</p>").encode(), "text/html")
    with pytest.raises(AgentRejected) as caught:
        client.job_status(AGENT, job_id="J1", access_token="tok")
    excerpt = caught.value.message.split(": ", 1)[1]
    assert len(excerpt) == EXCERPT_CHARS
    assert excerpt.endswith("…")


def test_control_characters_never_reach_the_message(answering: Callable[..., HttpAgentClient]) -> None:
    client = answering(400, json.dumps({"message": "bad\x00input\r\n\x1b[31mred"}).encode())
    with pytest.raises(AgentRejected) as caught:
        client.job_status(AGENT, job_id="J1", access_token="tok")
    assert caught.value.message.endswith(": bad input [31mred")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "error"}, '{"status":"error"}'),  # no message anywhere: the body itself, compact
        ({"error": True, "detail": "the real reason"}, "the real reason"),
        ([], "[]"),
        ("just a JSON string", "just a JSON string"),
    ],
)
def test_a_json_error_without_a_message_key_is_quoted_compactly(
    answering: Callable[..., HttpAgentClient], body: Any, message: str
) -> None:
    client = answering(409, json.dumps(body).encode())
    with pytest.raises(AgentRejected) as caught:
        client.start_job(AGENT, sender_address="S", job_input="x")
    assert caught.value.message.endswith(f": {message}")


def test_a_non_json_success_names_the_status_and_quotes_the_page(
    answering: Callable[..., HttpAgentClient],
) -> None:
    client = answering(200, b"<html><title>Just a moment...</title></html>", "text/html")
    with pytest.raises(AgentProtocolError) as caught:
        client.start_job(AGENT, sender_address="S", job_input="x")
    assert caught.value.message == (
        "Agent answered start_job with something that is not JSON (HTTP 200): Just a moment..."
    )
