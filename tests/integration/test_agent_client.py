"""HttpAgentClient against scripted fake agents served by werkzeug on loopback: what it sends, what it
retries (and what it must never re-send), and which named error each kind of bad answer becomes.
Timeouts, refused and broken connections are real sockets; the answers are the ones orca-agent-sdk
0.1.8 (Flask) gives."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from orchestrator.agents import HttpAgentClient, JobStatusResponse, StartJobResponse, SubmitPaymentResponse
from orchestrator.errors import AgentProtocolError, AgentRejected, AgentUnavailable
from orchestrator.models import AgentMetadata
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.sdk_stack import free_port

pytestmark = pytest.mark.integration

SENDER = "SENDERADDRESS7777777777777777777777777777777777777777777"
AGENT_ID = "agent-123"


# --- the scripted fake agent -------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One scripted answer: JSON for anything but `str`, which is sent as plain text (or as
    `content_type`), after `delay` seconds."""

    status: int
    body: Any = None
    content_type: str = "text/plain"
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    raw_uri: str
    args: dict[str, list[str]]
    body: bytes
    content_type: str | None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ScriptedAgent:
    """A WSGI app answering each path from a script: replies are used in order, the last one repeats.
    Every request it receives is recorded."""

    script: dict[str, list[Reply]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, *replies: Reply) -> None:
        self.script[path] = list(replies)

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        with self.lock:
            self.received.append(
                Received(
                    method=request.method,
                    path=request.path,
                    raw_uri=str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""),
                    args={key: request.args.getlist(key) for key in request.args},
                    body=request.get_data(),
                    content_type=request.content_type,
                )
            )
            replies = self.script.get(request.path)
            if not replies:
                reply = Reply(404, {"status": "error", "message": f"no route {request.path}"})
            else:
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if reply.delay:
            time.sleep(reply.delay)
        if isinstance(reply.body, str):
            response = Response(reply.body, status=reply.status, content_type=reply.content_type)
        else:
            response = Response(json.dumps(reply.body), status=reply.status, content_type="application/json")
        return response(environ, start_response)


@dataclass
class FakeAgent:
    app: ScriptedAgent
    base_url: str
    port: int

    def metadata(self, **overrides: Any) -> AgentMetadata:
        values: dict[str, Any] = {
            "id": AGENT_ID,
            "name": "Fake Agent",
            "price_microalgo": 1000,
            "base_url": self.base_url,
        }
        values.update(overrides)
        return AgentMetadata(**values)


@contextmanager
def serving(app: ScriptedAgent, port: int = 0) -> Iterator[FakeAgent]:
    server = make_server("127.0.0.1", port, app, threaded=True)
    # A short poll interval keeps shutdown (and so each test's teardown) quick.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield FakeAgent(app=app, base_url=f"http://127.0.0.1:{server.port}", port=server.port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def fake_agent() -> Iterator[FakeAgent]:
    with serving(ScriptedAgent()) as agent:
        yield agent


class HangUpAgent:
    """A TCP server that reads each whole request, then closes the connection without answering: the
    agent got the request (and may have acted on it) but the client never hears back."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> HangUpAgent:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                self.requests.append(self._read_request(connection))

    @staticmethod
    def _read_request(connection: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body


@pytest.fixture
def hang_up_agent() -> Iterator[HangUpAgent]:
    with HangUpAgent() as agent:
        yield agent


def agent_at(base_url: str) -> AgentMetadata:
    return AgentMetadata(id=AGENT_ID, name="Fake Agent", price_microalgo=1000, base_url=base_url)


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(sleeps: SleepRecorder) -> Iterator[HttpAgentClient]:
    agent_client = HttpAgentClient(timeout_seconds=5.0, retries=2, sleep=sleeps, backoff_seconds=0.01)
    yield agent_client
    agent_client.close()


START_OK = {
    "job_id": "job-1",
    "unsigned_group_txns": ["dHhuMQ==", "dHhuMg=="],
    "txn_ids": ["TXID1", "TXID2"],
    "payment_required": 250_000,
}


# --- base URLs ---------------------------------------------------------------------------------


def test_base_url_for_prefers_base_url_and_strips_trailing_slash() -> None:
    client = HttpAgentClient(url_template="https://{subdomain}.example.test")
    agent = AgentMetadata(
        id="a", name="A", price_microalgo=1, base_url="https://agent.test/api/", subdomain="ignored"
    )
    assert client.base_url_for(agent) == "https://agent.test/api"


def test_base_url_for_fills_the_template_from_the_subdomain() -> None:
    client = HttpAgentClient(url_template="https://{subdomain}.0rca.live/")
    agent = AgentMetadata(id="a", name="A", price_microalgo=1, subdomain="movies")
    assert client.base_url_for(agent) == "https://movies.0rca.live"


@pytest.mark.parametrize(
    ("template", "subdomain"),
    [(None, "movies"), ("https://{subdomain}.0rca.live", None), (None, None)],
)
def test_base_url_for_without_base_url_or_template_and_subdomain_raises_agent_unavailable(
    template: str | None, subdomain: str | None
) -> None:
    client = HttpAgentClient(url_template=template)
    agent = AgentMetadata(id="a", name="Lost Agent", price_microalgo=1, subdomain=subdomain)
    with pytest.raises(AgentUnavailable) as caught:
        client.base_url_for(agent)
    assert "Lost Agent" in caught.value.message


def test_requests_go_to_the_templated_url(fake_agent: FakeAgent, sleeps: SleepRecorder) -> None:
    fake_agent.app.answer("/agents/movies/start_job", Reply(200, START_OK))
    client = HttpAgentClient(
        url_template=fake_agent.base_url + "/agents/{subdomain}", sleep=sleeps, backoff_seconds=0.01
    )
    try:
        response = client.start_job(
            fake_agent.metadata(base_url=None, subdomain="movies"), sender_address=SENDER, job_input="x"
        )
    finally:
        client.close()
    assert response.job_id == "job-1"
    assert [r.path for r in fake_agent.app.received] == ["/agents/movies/start_job"]


# --- start_job ---------------------------------------------------------------------------------


def test_start_job_sends_exactly_the_protocol_body_and_parses_the_answer(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    fake_agent.app.answer("/start_job", Reply(200, {**START_OK, "extra": "ignored"}))
    response = client.start_job(fake_agent.metadata(), sender_address=SENDER, job_input="headache")
    assert response == StartJobResponse(
        job_id="job-1",
        unsigned_group_txns=["dHhuMQ==", "dHhuMg=="],
        txn_ids=["TXID1", "TXID2"],
        payment_required=250_000,
    )
    [request] = fake_agent.app.received
    assert request.method == "POST"
    assert request.path == "/start_job"
    assert request.content_type == "application/json"
    assert request.json() == {"sender_address": SENDER, "job_input": "headache", "agent_id": AGENT_ID}


def test_start_job_turns_an_integer_job_id_into_text(fake_agent: FakeAgent, client: HttpAgentClient) -> None:
    fake_agent.app.answer("/start_job", Reply(200, {"job_id": 42, "unsigned_group_txns": []}))
    response = client.start_job(fake_agent.metadata(), sender_address=SENDER, job_input="x")
    assert response.job_id == "42"
    assert response.unsigned_group_txns == []
    assert response.txn_ids == []
    assert response.payment_required == 0


# The SDK creates a job on every start_job (J<millis>): once a request may have reached the agent, it
# is never sent again; only a connection that could not be made is retried.


@pytest.mark.parametrize("status", [500, 502, 503])
def test_start_job_is_not_re_sent_after_a_5xx(
    fake_agent: FakeAgent, client: HttpAgentClient, sleeps: SleepRecorder, status: int
) -> None:
    fake_agent.app.answer("/start_job", Reply(status, {"message": "database on fire"}), Reply(200, START_OK))
    with pytest.raises(AgentUnavailable) as caught:
        client.start_job(fake_agent.metadata(), sender_address=SENDER, job_input="x")
    assert len(fake_agent.app.requests_to("/start_job")) == 1
    assert sleeps.calls == []
    assert f"HTTP {status}" in caught.value.message
    assert "database on fire" in caught.value.message
    assert "may have created a job" in caught.value.message
    assert caught.value.details == {"may_have_reached_agent": True}


def test_start_job_is_not_re_sent_after_a_read_timeout(fake_agent: FakeAgent, sleeps: SleepRecorder) -> None:
    fake_agent.app.answer("/start_job", Reply(200, START_OK, delay=1.0), Reply(200, START_OK))
    client = HttpAgentClient(timeout_seconds=0.2, retries=2, sleep=sleeps, backoff_seconds=0.01)
    try:
        with pytest.raises(AgentUnavailable) as caught:
            client.start_job(fake_agent.metadata(), sender_address=SENDER, job_input="x")
    finally:
        client.close()
    assert len(fake_agent.app.requests_to("/start_job")) == 1
    assert sleeps.calls == []
    assert "ReadTimeout" in caught.value.message
    assert "may have created a job" in caught.value.message


def test_start_job_is_not_re_sent_when_the_connection_breaks_after_sending(
    hang_up_agent: HangUpAgent, client: HttpAgentClient, sleeps: SleepRecorder
) -> None:
    with pytest.raises(AgentUnavailable) as caught:
        client.start_job(agent_at(hang_up_agent.base_url), sender_address=SENDER, job_input="x")
    [request] = hang_up_agent.requests
    assert request.startswith(b"POST /start_job ")
    assert sleeps.calls == []
    assert "RemoteProtocolError" in caught.value.message
    assert "may have created a job" in caught.value.message


def test_start_job_is_retried_when_the_connection_was_refused(sleeps: SleepRecorder) -> None:
    """Nothing listens on the port at first; the agent comes up during the client's backoff."""
    port = free_port()
    app = ScriptedAgent()
    app.answer("/start_job", Reply(200, START_OK))
    with ExitStack() as stack:

        def come_up_then_sleep(seconds: float) -> None:
            sleeps(seconds)
            if len(sleeps.calls) == 1:
                stack.enter_context(serving(app, port))

        client = HttpAgentClient(
            timeout_seconds=5.0, retries=2, sleep=come_up_then_sleep, backoff_seconds=0.01
        )
        stack.callback(client.close)
        response = client.start_job(
            agent_at(f"http://127.0.0.1:{port}"), sender_address=SENDER, job_input="x"
        )
    assert response.job_id == "job-1"
    assert len(app.requests_to("/start_job")) == 1
    assert sleeps.calls == [0.01]


def test_job_status_with_zero_retries_sends_one_request(fake_agent: FakeAgent, sleeps: SleepRecorder) -> None:
    fake_agent.app.answer("/job/job-1", Reply(502, "bad gateway"))
    client = HttpAgentClient(retries=0, sleep=sleeps, backoff_seconds=0.01)
    try:
        with pytest.raises(AgentUnavailable):
            client.job_status(fake_agent.metadata(), job_id="job-1", access_token="t")
    finally:
        client.close()
    assert len(fake_agent.app.received) == 1
    assert sleeps.calls == []


def test_connection_refused_becomes_agent_unavailable(client: HttpAgentClient, sleeps: SleepRecorder) -> None:
    agent = AgentMetadata(
        id="a", name="Gone Agent", price_microalgo=1, base_url=f"http://127.0.0.1:{free_port()}"
    )
    with pytest.raises(AgentUnavailable) as caught:
        client.start_job(agent, sender_address=SENDER, job_input="x")
    assert "Gone Agent could not be reached (ConnectError)" in caught.value.message
    assert caught.value.details == {"may_have_reached_agent": False}
    assert sleeps.calls == [0.01, 0.02]  # the request never left: retried `retries` times


def test_start_job_4xx_becomes_agent_rejected_with_the_agents_message(
    fake_agent: FakeAgent, client: HttpAgentClient, sleeps: SleepRecorder
) -> None:
    fake_agent.app.answer("/start_job", Reply(422, {"status": "error", "message": "job_input is empty"}))
    with pytest.raises(AgentRejected) as caught:
        client.start_job(fake_agent.metadata(), sender_address=SENDER, job_input="")
    assert caught.value.details == {"status_code": 422}
    assert "job_input is empty" in caught.value.message
    assert "HTTP 422" in caught.value.message
    assert len(fake_agent.app.received) == 1  # 4xx is not retried
    assert sleeps.calls == []


@pytest.mark.parametrize(
    ("body", "expected_message"),
    [
        ({"error": "unknown agent"}, "unknown agent"),
        ({"detail": "Not Found"}, "Not Found"),
        ("plain text refusal", "plain text refusal"),
    ],
)
def test_agent_rejected_quotes_the_message_wherever_the_agent_put_it(
    fake_agent: FakeAgent, client: HttpAgentClient, body: Any, expected_message: str
) -> None:
    fake_agent.app.answer("/start_job", Reply(404, body))
    with pytest.raises(AgentRejected) as caught:
        client.start_job(fake_agent.metadata(), sender_address=SENDER, job_input="x")
    assert caught.value.details == {"status_code": 404}
    assert expected_message in caught.value.message


def test_start_job_non_json_answer_is_a_protocol_error(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    fake_agent.app.answer("/start_job", Reply(200, "<html>welcome to nginx</html>"))
    with pytest.raises(AgentProtocolError) as caught:
        client.start_job(fake_agent.metadata(), sender_address=SENDER, job_input="x")
    assert "not JSON" in caught.value.message


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"unsigned_group_txns": [], "txn_ids": []}, "job_id"),
        ({"job_id": "j", "unsigned_group_txns": "dHhu"}, "unsigned_group_txns"),
        ({"job_id": "", "unsigned_group_txns": []}, "job_id"),
        ({"job_id": "j", "payment_required": -5}, "payment_required"),
        (["job_id", "j"], "body"),
    ],
)
def test_start_job_answer_of_the_wrong_shape_is_a_protocol_error(
    fake_agent: FakeAgent, client: HttpAgentClient, body: Any, where: str
) -> None:
    fake_agent.app.answer("/start_job", Reply(200, body))
    with pytest.raises(AgentProtocolError) as caught:
        client.start_job(fake_agent.metadata(), sender_address=SENDER, job_input="x")
    assert f"({where}:" in caught.value.message


# --- submit_payment ----------------------------------------------------------------------------

PAID = {"status": "success", "access_token": "tok-1"}


@pytest.mark.parametrize(
    ("job_id", "wire_job_id"),
    [
        ("42", 42),
        ("0", 0),
        ("job-7", "job-7"),
        ("0042", "0042"),  # a leading zero would be lost as a number
        ("12345678901234567890", "12345678901234567890"),  # too long to be a safe integer
    ],
)
def test_submit_payment_sends_job_id_and_txids_with_numeric_ids_as_numbers(
    fake_agent: FakeAgent, client: HttpAgentClient, job_id: str, wire_job_id: str | int
) -> None:
    fake_agent.app.answer("/submit_payment", Reply(200, PAID))
    response = client.submit_payment(fake_agent.metadata(), job_id=job_id, txids=["TX1", "TX2"])
    assert response == SubmitPaymentResponse(status="success", access_token="tok-1")
    [request] = fake_agent.app.received
    assert request.method == "POST"
    assert request.path == "/submit_payment"
    body = request.json()
    assert body == {"job_id": wire_job_id, "txid": ["TX1", "TX2"]}
    assert type(body["job_id"]) is type(wire_job_id)


def test_submit_payment_retries_402_within_the_window_and_succeeds(
    fake_agent: FakeAgent, client: HttpAgentClient, sleeps: SleepRecorder
) -> None:
    not_yet = Reply(402, {"status": "error", "message": "payment not found"})
    fake_agent.app.answer("/submit_payment", not_yet, not_yet, Reply(200, PAID))
    response = client.submit_payment(
        fake_agent.metadata(), job_id="job-1", txids=["TX1"], retry_for_seconds=30.0
    )
    assert response.access_token == "tok-1"
    assert len(fake_agent.app.requests_to("/submit_payment")) == 3
    assert sleeps.calls == [0.01, 0.02]


def test_submit_payment_gives_up_on_402_when_the_window_is_over(
    fake_agent: FakeAgent, sleeps: SleepRecorder
) -> None:
    fake_agent.app.answer("/submit_payment", Reply(402, {"status": "error", "message": "payment not found"}))
    # The recorder does not sleep, so only the backoff sums count: 1 and 2 fit in 2.5 s, 4 does not.
    client = HttpAgentClient(sleep=sleeps, backoff_seconds=1.0)
    try:
        with pytest.raises(AgentRejected) as caught:
            client.submit_payment(fake_agent.metadata(), job_id="job-1", txids=["TX1"], retry_for_seconds=2.5)
    finally:
        client.close()
    assert caught.value.details == {"status_code": 402}
    assert "payment not found" in caught.value.message
    assert len(fake_agent.app.requests_to("/submit_payment")) == 3
    assert sleeps.calls == [1.0, 2.0]


def test_submit_payment_without_a_window_does_not_retry_402(
    fake_agent: FakeAgent, client: HttpAgentClient, sleeps: SleepRecorder
) -> None:
    fake_agent.app.answer(
        "/submit_payment", Reply(402, {"status": "error", "message": "not yet"}), Reply(200, PAID)
    )
    with pytest.raises(AgentRejected) as caught:
        client.submit_payment(fake_agent.metadata(), job_id="job-1", txids=["TX1"])
    assert caught.value.details == {"status_code": 402}
    assert len(fake_agent.app.received) == 1
    assert sleeps.calls == []


def test_submit_payment_does_not_retry_400(
    fake_agent: FakeAgent, client: HttpAgentClient, sleeps: SleepRecorder
) -> None:
    fake_agent.app.answer(
        "/submit_payment", Reply(400, {"status": "error", "message": "txid already used"}), Reply(200, PAID)
    )
    with pytest.raises(AgentRejected) as caught:
        client.submit_payment(fake_agent.metadata(), job_id="job-1", txids=["TX1"], retry_for_seconds=30.0)
    assert caught.value.details == {"status_code": 400}
    assert "txid already used" in caught.value.message
    assert len(fake_agent.app.received) == 1
    assert sleeps.calls == []


# A repeat after a success makes the SDK issue a new access token and run the job again: after an answer
# that may have been a success, submit_payment is never sent again.


def test_submit_payment_is_not_re_sent_after_a_5xx(
    fake_agent: FakeAgent, client: HttpAgentClient, sleeps: SleepRecorder
) -> None:
    fake_agent.app.answer("/submit_payment", Reply(500, "oops"), Reply(200, PAID))
    with pytest.raises(AgentUnavailable) as caught:
        client.submit_payment(fake_agent.metadata(), job_id="7", txids=["TX1"], retry_for_seconds=30.0)
    assert len(fake_agent.app.requests_to("/submit_payment")) == 1
    assert sleeps.calls == []
    assert "HTTP 500" in caught.value.message
    assert "oops" in caught.value.message
    assert "may have accepted the payment" in caught.value.message


def test_submit_payment_is_not_re_sent_after_a_read_timeout(
    fake_agent: FakeAgent, sleeps: SleepRecorder
) -> None:
    fake_agent.app.answer("/submit_payment", Reply(200, PAID, delay=1.0), Reply(200, PAID))
    client = HttpAgentClient(timeout_seconds=0.2, retries=2, sleep=sleeps, backoff_seconds=0.01)
    try:
        with pytest.raises(AgentUnavailable) as caught:
            client.submit_payment(
                fake_agent.metadata(), job_id="job-1", txids=["TX1"], retry_for_seconds=30.0
            )
    finally:
        client.close()
    assert len(fake_agent.app.requests_to("/submit_payment")) == 1
    assert sleeps.calls == []
    assert "ReadTimeout" in caught.value.message
    assert "may have accepted the payment" in caught.value.message
    assert caught.value.details == {"may_have_reached_agent": True}


def test_submit_payment_is_not_re_sent_when_the_connection_breaks_after_sending(
    hang_up_agent: HangUpAgent, client: HttpAgentClient, sleeps: SleepRecorder
) -> None:
    with pytest.raises(AgentUnavailable) as caught:
        client.submit_payment(
            agent_at(hang_up_agent.base_url), job_id="job-1", txids=["TX1"], retry_for_seconds=30.0
        )
    [request] = hang_up_agent.requests
    assert request.startswith(b"POST /submit_payment ")
    assert request.endswith(b'{"job_id":"job-1","txid":["TX1"]}')
    assert sleeps.calls == []
    assert "may have accepted the payment" in caught.value.message


def test_submit_payment_is_retried_when_the_connection_was_refused(sleeps: SleepRecorder) -> None:
    """Nothing listens on the port for longer than the client's own retries; the agent comes up
    within the payment window, and gets the payment once."""
    port = free_port()
    app = ScriptedAgent()
    app.answer("/submit_payment", Reply(200, PAID))
    with ExitStack() as stack:

        def come_up_later(seconds: float) -> None:
            sleeps(seconds)
            if len(sleeps.calls) == 3:
                stack.enter_context(serving(app, port))

        client = HttpAgentClient(timeout_seconds=5.0, retries=1, sleep=come_up_later, backoff_seconds=0.01)
        stack.callback(client.close)
        response = client.submit_payment(
            agent_at(f"http://127.0.0.1:{port}"), job_id="job-1", txids=["TX1"], retry_for_seconds=30.0
        )
    assert response.access_token == "tok-1"
    assert len(app.requests_to("/submit_payment")) == 1
    # retries=1 inside one send (0.01), then the window's backoff (0.01), then a new send retrying (0.01)
    assert sleeps.calls == [0.01, 0.01, 0.01]


def test_submit_payment_refused_without_a_window_gives_up_after_the_retries(
    client: HttpAgentClient, sleeps: SleepRecorder
) -> None:
    with pytest.raises(AgentUnavailable) as caught:
        client.submit_payment(agent_at(f"http://127.0.0.1:{free_port()}"), job_id="job-1", txids=["TX1"])
    assert "could not be reached (ConnectError)" in caught.value.message
    assert sleeps.calls == [0.01, 0.02]


def test_submit_payment_402_then_success_reports_the_agents_later_answer(
    fake_agent: FakeAgent, client: HttpAgentClient, sleeps: SleepRecorder
) -> None:
    """The SDK's own answers: 402 while its indexer lags (it marks the job failed), then success."""
    fake_agent.app.answer(
        "/submit_payment",
        Reply(402, {"status": "error", "message": "On-chain verification failed for TX1: 404 Not Found"}),
        Reply(
            200, {"status": "success", "message": "Payment verified, job started", "access_token": "ab" * 32}
        ),
    )
    response = client.submit_payment(
        fake_agent.metadata(), job_id="J1762754481290", txids=["TX1"], retry_for_seconds=30.0
    )
    assert response == SubmitPaymentResponse(
        status="success", access_token="ab" * 32, message="Payment verified, job started"
    )
    assert [r.json() for r in fake_agent.app.requests_to("/submit_payment")] == [
        {"job_id": "J1762754481290", "txid": ["TX1"]}
    ] * 2
    assert sleeps.calls == [0.01]


def test_submit_payment_error_status_with_200_is_agent_rejected(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    fake_agent.app.answer("/submit_payment", Reply(200, {"status": "error", "message": "amount too low"}))
    with pytest.raises(AgentRejected) as caught:
        client.submit_payment(fake_agent.metadata(), job_id="job-1", txids=["TX1"], retry_for_seconds=30.0)
    assert caught.value.details == {"status_code": 200}
    assert "amount too low" in caught.value.message
    assert len(fake_agent.app.received) == 1


def test_submit_payment_accepts_success_in_any_case(fake_agent: FakeAgent, client: HttpAgentClient) -> None:
    fake_agent.app.answer("/submit_payment", Reply(200, {"status": "SUCCESS", "access_token": "t"}))
    response = client.submit_payment(fake_agent.metadata(), job_id="job-1", txids=["TX1"])
    assert response.status == "SUCCESS"
    assert response.access_token == "t"


def test_submit_payment_answer_without_status_is_a_protocol_error(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    fake_agent.app.answer("/submit_payment", Reply(200, {"access_token": "t"}))
    with pytest.raises(AgentProtocolError) as caught:
        client.submit_payment(fake_agent.metadata(), job_id="job-1", txids=["TX1"])
    assert "(status:" in caught.value.message


# --- job status --------------------------------------------------------------------------------


def test_job_status_gets_the_job_with_the_access_token(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    fake_agent.app.answer(
        "/job/job-1",
        Reply(
            200,
            {
                "job_id": "job-1",
                "status": "succeeded",
                "output": {"movies": ["Paddington"]},
                "created_at": "2024-01-01T00:00:00Z",
            },
        ),
    )
    response = client.job_status(fake_agent.metadata(), job_id="job-1", access_token="tok 1&x")
    assert response == JobStatusResponse(
        job_id="job-1",
        status="succeeded",
        output={"movies": ["Paddington"]},
        created_at="2024-01-01T00:00:00Z",
    )
    [request] = fake_agent.app.received
    assert request.method == "GET"
    assert request.path == "/job/job-1"
    assert request.args == {"access_token": ["tok 1&x"]}


def test_job_status_without_access_token_sends_no_query(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    fake_agent.app.answer("/job/9", Reply(200, {"job_id": 9, "status": "processing"}))
    response = client.job_status(fake_agent.metadata(), job_id="9", access_token=None)
    assert response.job_id == "9"
    assert response.output is None
    [request] = fake_agent.app.received
    assert request.args == {}
    assert "?" not in request.raw_uri


def test_job_status_quotes_the_job_id_into_one_path_segment(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    fake_agent.app.answer("/job/a/b c", Reply(200, {"status": "queued"}))
    client.job_status(fake_agent.metadata(), job_id="a/b c", access_token="t")
    [request] = fake_agent.app.received
    assert request.raw_uri.startswith("/job/a%2Fb%20c?")


@pytest.mark.parametrize(
    ("agent_status", "normalised"),
    [
        ("completed", "succeeded"),
        ("success", "succeeded"),
        ("Done", "succeeded"),
        (" succeeded ", "succeeded"),
        ("error", "failed"),
        ("FAILED", "failed"),
        ("processing", "processing"),
        ("Running", "running"),
    ],
)
def test_job_status_normalises_the_agents_status_words(
    fake_agent: FakeAgent, client: HttpAgentClient, agent_status: str, normalised: str
) -> None:
    fake_agent.app.answer("/job/job-1", Reply(200, {"job_id": "job-1", "status": agent_status}))
    response = client.job_status(fake_agent.metadata(), job_id="job-1", access_token="t")
    assert response.status == normalised


def test_job_status_401_is_agent_rejected(fake_agent: FakeAgent, client: HttpAgentClient) -> None:
    fake_agent.app.answer("/job/job-1", Reply(401, {"message": "bad access token"}))
    with pytest.raises(AgentRejected) as caught:
        client.job_status(fake_agent.metadata(), job_id="job-1", access_token="wrong")
    assert caught.value.details == {"status_code": 401}
    assert "bad access token" in caught.value.message


def test_job_status_without_status_is_a_protocol_error(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    fake_agent.app.answer("/job/job-1", Reply(200, {"job_id": "job-1", "output": "x"}))
    with pytest.raises(AgentProtocolError):
        client.job_status(fake_agent.metadata(), job_id="job-1", access_token="t")


def test_job_status_is_retried_on_503(
    fake_agent: FakeAgent, client: HttpAgentClient, sleeps: SleepRecorder
) -> None:
    fake_agent.app.answer(
        "/job/job-1",
        Reply(503, {"message": "warming up"}),
        Reply(200, {"job_id": "job-1", "status": "running"}),
    )
    response = client.job_status(fake_agent.metadata(), job_id="job-1", access_token="t")
    assert response.status == "running"
    assert len(fake_agent.app.requests_to("/job/job-1")) == 2
    assert sleeps.calls == [0.01]


def test_job_status_gives_up_after_the_retries_with_agent_unavailable(
    fake_agent: FakeAgent, client: HttpAgentClient, sleeps: SleepRecorder
) -> None:
    fake_agent.app.answer("/job/job-1", Reply(500, {"message": "database on fire"}))
    with pytest.raises(AgentUnavailable) as caught:
        client.job_status(fake_agent.metadata(), job_id="job-1", access_token="t")
    assert len(fake_agent.app.requests_to("/job/job-1")) == 3  # 1 + retries=2
    assert sleeps.calls == [0.01, 0.02]
    assert "HTTP 500" in caught.value.message
    assert "database on fire" in caught.value.message
    assert "may have" not in caught.value.message  # reading twice is harmless


def test_job_status_is_retried_after_a_read_timeout(fake_agent: FakeAgent, sleeps: SleepRecorder) -> None:
    fake_agent.app.answer(
        "/job/job-1", Reply(200, {"status": "running"}, delay=1.0), Reply(200, {"status": "succeeded"})
    )
    client = HttpAgentClient(timeout_seconds=0.2, retries=2, sleep=sleeps, backoff_seconds=0.01)
    try:
        response = client.job_status(fake_agent.metadata(), job_id="job-1", access_token="t")
    finally:
        client.close()
    assert response.status == "succeeded"
    assert len(fake_agent.app.requests_to("/job/job-1")) == 2
    assert sleeps.calls == [0.01]


# --- what the SDK's agents answer: be liberal ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (  # without the access token the SDK hides the output and sends no completed_at
            {"job_id": "J1762754481290", "status": "running", "created_at": 1762754481, "output": None},
            JobStatusResponse(
                job_id="J1762754481290", status="running", created_at="2025-11-10T06:01:21Z", output=None
            ),
        ),
        (
            {
                "job_id": "J1762754481290",
                "status": "succeeded",
                "created_at": 1762754481,
                "completed_at": 1762754504,
                "output": "Echo: Hello from local SDK test",
            },
            JobStatusResponse(
                job_id="J1762754481290",
                status="succeeded",
                created_at="2025-11-10T06:01:21Z",
                completed_at="2025-11-10T06:01:44Z",
                output="Echo: Hello from local SDK test",
            ),
        ),
    ],
)
def test_job_status_accepts_the_sdks_answers(
    fake_agent: FakeAgent, client: HttpAgentClient, body: dict[str, Any], expected: JobStatusResponse
) -> None:
    fake_agent.app.answer("/job/J1762754481290", Reply(200, body))
    response = client.job_status(fake_agent.metadata(), job_id="J1762754481290", access_token="t")
    assert response == expected


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        (1762754481, "2025-11-10T06:01:21Z"),  # the SDK: integer epoch seconds
        (1762754481.25, "2025-11-10T06:01:21.250000Z"),
        (1762754481290, "2025-11-10T06:01:21.290000Z"),  # epoch milliseconds
        ("2025-11-10T06:01:21+00:00", "2025-11-10T06:01:21+00:00"),  # text is kept as sent
        ("10 Nov 2025, morning", "10 Nov 2025, morning"),
        (None, None),
        (True, None),  # not a time: dropped, never a reason to fail a paid step
        ({"seconds": 1}, None),
    ],
)
def test_job_status_accepts_timestamps_in_any_form(
    fake_agent: FakeAgent, client: HttpAgentClient, created_at: Any, expected: str | None
) -> None:
    body = {"status": "running", "created_at": created_at, "completed_at": created_at}
    fake_agent.app.answer("/job/job-1", Reply(200, body))
    response = client.job_status(fake_agent.metadata(), job_id="job-1", access_token="t")
    assert response.created_at == expected
    assert response.completed_at == expected


def test_job_status_without_timestamps_leaves_them_empty(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    fake_agent.app.answer("/job/job-1", Reply(200, {"status": "queued"}))
    response = client.job_status(fake_agent.metadata(), job_id="job-1", access_token=None)
    assert response.created_at is None
    assert response.completed_at is None


@pytest.mark.parametrize("word", ["queued", "payment_processing", "running", "succeeded", "failed"])
def test_job_status_keeps_the_sdks_status_words(
    fake_agent: FakeAgent, client: HttpAgentClient, word: str
) -> None:
    fake_agent.app.answer("/job/J1", Reply(200, {"job_id": "J1", "status": word, "created_at": 1762754481}))
    response = client.job_status(fake_agent.metadata(), job_id="J1", access_token="t")
    assert response.status == word


@pytest.mark.parametrize("output", ["plain text", {"movies": ["Paddington"]}, [1, 2], 42, None])
def test_job_status_output_may_be_text_json_or_null(
    fake_agent: FakeAgent, client: HttpAgentClient, output: Any
) -> None:
    fake_agent.app.answer("/job/job-1", Reply(200, {"status": "succeeded", "output": output}))
    response = client.job_status(fake_agent.metadata(), job_id="job-1", access_token="t")
    assert response.output == output


def test_extra_fields_in_every_answer_are_ignored(fake_agent: FakeAgent, client: HttpAgentClient) -> None:
    extra = {"version": "0.1.8", "meta": {"region": "eu"}, "txn_ids_hint": None}
    fake_agent.app.answer("/start_job", Reply(200, {**START_OK, **extra}))
    fake_agent.app.answer("/submit_payment", Reply(200, {**PAID, "message": "Payment verified", **extra}))
    fake_agent.app.answer("/job/job-1", Reply(200, {"status": "running", "progress": 0.5, **extra}))
    agent = fake_agent.metadata()
    assert client.start_job(agent, sender_address=SENDER, job_input="x").job_id == "job-1"
    assert client.submit_payment(agent, job_id="job-1", txids=["TX1"]).access_token == "tok-1"
    assert client.job_status(agent, job_id="job-1", access_token="tok-1").status == "running"


# --- error answers: quoted cleanly ----------------------------------------------------------------

FLASK_500_PAGE = (
    "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
    "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to "
    "complete your request. Either the server is overloaded or there is an error in the application.</p>\n"
)


@pytest.mark.parametrize(
    ("path", "body", "expected_message"),
    [
        (
            "/start_job",
            {"error": "sender_address and job_input are required"},
            "sender_address and job_input",
        ),
        ("/submit_payment", {"error": "txid must be an array"}, "txid must be an array"),
        (
            "/submit_payment",
            {"status": "error", "message": "Submitted txids do not match"},
            "Submitted txids",
        ),
        ("/job/job-1", {"error": "Invalid or expired access token"}, "Invalid or expired access token"),
        ("/job/job-1", {"error": "Bad Request", "message": "job id malformed"}, "job id malformed"),
        ("/job/job-1", {"error": {"code": 17, "message": "nested reason"}}, "nested reason"),
        ("/job/job-1", {"detail": [{"loc": ["job_id"], "msg": "field required"}]}, "field required"),
    ],
)
def test_agent_rejected_quotes_error_or_message(
    fake_agent: FakeAgent, client: HttpAgentClient, path: str, body: Any, expected_message: str
) -> None:
    fake_agent.app.answer(path, Reply(400, body))
    agent = fake_agent.metadata()
    with pytest.raises(AgentRejected) as caught:
        if path == "/start_job":
            client.start_job(agent, sender_address=SENDER, job_input="x")
        elif path == "/submit_payment":
            client.submit_payment(agent, job_id="job-1", txids=["TX1"])
        else:
            client.job_status(agent, job_id="job-1", access_token="t")
    assert expected_message in caught.value.message
    assert caught.value.details == {"status_code": 400}


def assert_clean(message: str) -> None:
    assert "<" not in message
    assert ">" not in message
    assert "\n" not in message
    assert len(message) < 500


def test_an_html_500_page_becomes_the_status_and_the_pages_title(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    fake_agent.app.answer("/start_job", Reply(500, FLASK_500_PAGE, content_type="text/html; charset=utf-8"))
    with pytest.raises(AgentUnavailable) as caught:
        client.start_job(fake_agent.metadata(), sender_address=SENDER, job_input="x")
    message = caught.value.message
    assert_clean(message)
    assert "HTTP 500" in message
    assert "500 Internal Server Error" in message
    assert "may have created a job" in message
    assert len(fake_agent.app.requests_to("/start_job")) == 1


def test_an_html_500_page_on_job_status_is_quoted_cleanly_after_the_retries(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    fake_agent.app.answer("/job/job-1", Reply(500, FLASK_500_PAGE, content_type="text/html"))
    with pytest.raises(AgentUnavailable) as caught:
        client.job_status(fake_agent.metadata(), job_id="job-1", access_token="t")
    assert_clean(caught.value.message)
    assert "HTTP 500" in caught.value.message
    assert "500 Internal Server Error" in caught.value.message


def test_an_html_404_page_is_agent_rejected_with_its_title(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    page = "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>"
    fake_agent.app.answer("/submit_payment", Reply(404, page, content_type="text/html"))
    with pytest.raises(AgentRejected) as caught:
        client.submit_payment(fake_agent.metadata(), job_id="job-1", txids=["TX1"])
    assert_clean(caught.value.message)
    assert caught.value.message.endswith("(HTTP 404): 404 Not Found")


def test_a_long_multi_line_error_message_is_cut_to_one_line(
    fake_agent: FakeAgent, client: HttpAgentClient
) -> None:
    trace = "Traceback (most recent call last):\n" + '  File "app.py", line 1, in start_job\n' * 200
    fake_agent.app.answer("/job/job-1", Reply(401, {"error": trace}))
    with pytest.raises(AgentRejected) as caught:
        client.job_status(fake_agent.metadata(), job_id="job-1", access_token="t")
    assert_clean(caught.value.message)
    assert "Traceback (most recent call last): File" in caught.value.message
    assert caught.value.message.endswith("…")


@pytest.mark.parametrize(
    ("reply", "excerpt"),
    [
        (
            Reply(200, "<html><title>Welcome to nginx!</title><h1>Welcome</h1></html>", "text/html"),
            "Welcome to nginx!",
        ),
        (Reply(200, "OK\r\nall good", "text/plain"), "OK all good"),
        (Reply(200, "", "text/plain"), "an empty body"),
    ],
)
def test_a_non_json_success_is_a_protocol_error_with_a_clean_excerpt(
    fake_agent: FakeAgent, client: HttpAgentClient, reply: Reply, excerpt: str
) -> None:
    fake_agent.app.answer("/job/job-1", reply)
    with pytest.raises(AgentProtocolError) as caught:
        client.job_status(fake_agent.metadata(), job_id="job-1", access_token="t")
    assert_clean(caught.value.message)
    assert "not JSON (HTTP 200)" in caught.value.message
    assert caught.value.message.endswith(f": {excerpt}")
