"""Sample agents on loopback, driven over HTTP exactly as the orchestrator drives marketplace agents,
paid on the dev ledger with py-algorand-sdk as a wallet would."""

from __future__ import annotations

import base64
import dataclasses
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from algosdk import abi, encoding, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from algosdk.v2client.algod import AlgodClient
from orchestrator.catalog import payment_problems
from orchestrator.models import AgentMetadata

from devstack.agents import (
    SAMPLE_AGENTS,
    AgentBehaviour,
    SampleAgentServer,
    SampleAgentSpec,
    start_sample_agents,
)
from devstack.ledger import DevAccount, LedgerServer, dev_accounts
from devstack.serving import PortUnavailable
from tests.dev_ledgers import DevLedgers

pytestmark = pytest.mark.integration

BLOCK_TIME = 0.2
INDEXER_LAG = 0.6  # long enough that a submit right after confirmation reliably comes too early
JOB_SECONDS = 0.2
PAYER, STRANGER = dev_accounts(2, seed="test-sample-agents")
SELECTOR = abi.Method.from_signature("pay(pay)void").get_selector()


def sample(slug: str) -> SampleAgentSpec:
    return next(s for s in SAMPLE_AGENTS if s.slug == slug)


SYMPTOMS = sample("symptom-checker")
MOVIES = sample("movie-recommender")


@pytest.fixture(scope="module")
def ledger_server(ledger_servers: DevLedgers) -> LedgerServer:
    return ledger_servers.start(
        block_time=BLOCK_TIME,
        indexer_lag_seconds=INDEXER_LAG,
        funded={PAYER.address: 100_000_000, STRANGER.address: 100_000_000},
    )


@pytest.fixture(scope="module")
def algod(ledger_server: LedgerServer) -> AlgodClient:
    return AlgodClient("", ledger_server.algod_url)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


class Agent:
    """A started agent and the calls a client makes to it."""

    def __init__(self, server: SampleAgentServer, http: httpx.Client) -> None:
        self.server = server
        self.spec = server.spec
        self.http = http

    def start_job(self, job_input: str, sender: str = PAYER.address) -> dict[str, Any]:
        response = self.http.post(
            f"{self.server.base_url}/start_job",
            json={"sender_address": sender, "job_input": job_input, "agent_id": self.spec.id},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def submit(self, job_id: str, txids: list[str]) -> httpx.Response:
        return self.http.post(
            f"{self.server.base_url}/submit_payment", json={"job_id": job_id, "txid": txids}
        )

    def submit_until_accepted(
        self, job_id: str, txids: list[str], timeout: float = 10.0
    ) -> list[httpx.Response]:
        """Every answer until the first non-402 one (the indexer lags behind algod)."""
        answers = []
        deadline = time.monotonic() + timeout
        while True:
            answer = self.submit(job_id, txids)
            answers.append(answer)
            if answer.status_code != 402:
                return answers
            assert time.monotonic() < deadline, "the agent never saw the payment"
            time.sleep(0.05)

    def job(self, job_id: str, token: str | None) -> httpx.Response:
        params = {} if token is None else {"access_token": token}
        return self.http.get(f"{self.server.base_url}/job/{job_id}", params=params)

    def wait_for_job(self, job_id: str, token: str | None, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every status seen until the job ends."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            response = self.job(job_id, token)
            assert response.status_code == 200, response.text
            seen.append(response.json())
            if seen[-1]["status"] in ("succeeded", "failed"):
                return seen
            assert time.monotonic() < deadline, f"the job did not end: {seen[-1]}"
            time.sleep(0.05)


@pytest.fixture
def agent_factory(ledger_server: LedgerServer, http: httpx.Client) -> Iterator[Any]:
    servers: list[SampleAgentServer] = []

    def start(spec: SampleAgentSpec = SYMPTOMS, **behaviour: Any) -> Agent:
        server = SampleAgentServer(
            spec,
            algod_url=ledger_server.algod_url,
            indexer_url=ledger_server.indexer_url,
            behaviour=AgentBehaviour(**{"job_seconds": JOB_SECONDS, **behaviour}),
        )
        servers.append(server.start())
        return Agent(server, http)

    yield start
    for server in servers:
        server.stop()


def decode(encoded: list[str], *, times: int = 1) -> list[transaction.Transaction]:
    """Undo the extra base64 layers, then algosdk's own base64 msgpack."""
    for _ in range(times - 1):
        encoded = [base64.b64decode(text).decode() for text in encoded]
    txns = [encoding.msgpack_decode(text) for text in encoded]
    assert all(isinstance(t, transaction.Transaction) for t in txns)
    return txns


def pay(algod: AlgodClient, payer: DevAccount, txns: list[transaction.Transaction]) -> list[str]:
    signer = AccountTransactionSigner(payer.private_key)
    algod.send_transactions(signer.sign_transactions(txns, list(range(len(txns)))))
    txids = [t.get_txid() for t in txns]
    transaction.wait_for_confirmation(algod, txids[0], 20)
    return txids


def ungrouped(txn: transaction.Transaction) -> transaction.Transaction:
    copy = encoding.msgpack_decode(encoding.msgpack_encode(txn))
    copy.group = None
    return copy


def assert_payment_group(
    txns: list[transaction.Transaction], started: dict[str, Any], spec: SampleAgentSpec, algod: AlgodClient
) -> None:
    payment, call = txns
    assert isinstance(payment, transaction.PaymentTxn)
    assert (payment.sender, payment.receiver, payment.amt) == (
        PAYER.address,
        spec.agent_address,
        spec.price_microalgo,
    )
    assert isinstance(call, transaction.ApplicationCallTxn)
    assert call.sender == PAYER.address
    assert call.index == spec.app_id
    assert call.on_complete == transaction.OnComplete.NoOpOC
    assert call.app_args == [SELECTOR]
    assert payment.note == call.note == f"{spec.slug} job {started['job_id']}".encode()
    group_id = transaction.calculate_group_id([ungrouped(t) for t in txns])
    assert payment.group == call.group == group_id
    min_fee = algod.suggested_params().min_fee
    assert [t.fee for t in txns] == [min_fee, min_fee]
    assert all(t.last_valid_round - t.first_valid_round <= 1000 for t in txns)
    assert started["txn_ids"] == [t.get_txid() for t in txns]
    assert started["payment_required"] == spec.price_microalgo


# --- the paid path ----------------------------------------------------------------------------------
def test_paid_job_runs_once_the_indexer_shows_the_payment(agent_factory: Any, algod: AlgodClient) -> None:
    agent = agent_factory(SYMPTOMS)
    started = agent.start_job('{"symptoms": "headache, runny nose"}')
    assert set(started) == {"job_id", "unsigned_group_txns", "txn_ids", "payment_required"}
    txns = decode(started["unsigned_group_txns"])
    assert_payment_group(txns, started, SYMPTOMS, algod)

    # Not paid yet: no token, no job output, and the payment is not found.
    assert agent.job(started["job_id"], None).status_code == 401
    early = agent.submit(started["job_id"], started["txn_ids"])
    assert early.status_code == 402
    assert early.json() == {"status": "error", "message": "payment not found yet"}

    txids = pay(algod, PAYER, txns)
    answers = agent.submit_until_accepted(started["job_id"], txids)
    # Confirmed on algod, but the indexer lags: the first answer right after confirmation is 402.
    assert answers[0].status_code == 402
    accepted = answers[-1]
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["status"] == "success" and body["access_token"]
    token = body["access_token"]

    seen = agent.wait_for_job(started["job_id"], token)
    assert {s["status"] for s in seen[:-1]} <= {"queued", "running"}
    assert len(seen) > 1  # the job takes its time: it was not finished at the first poll
    done = seen[-1]
    assert done["status"] == "succeeded"
    assert done["job_id"] == started["job_id"]
    assert done["created_at"].endswith("Z")
    assert done["output"]["condition"] == "common cold"
    assert done["output"]["sample_agent"] is True

    # Submitting the same payment again is harmless: the same token, the job is not run twice.
    again = agent.submit(started["job_id"], list(reversed(txids)))
    assert again.status_code == 200 and again.json()["access_token"] == token
    assert agent.job(started["job_id"], token).json() == done


def test_movie_agent_receives_the_symptom_checkers_output(agent_factory: Any, algod: AlgodClient) -> None:
    checker, movies = agent_factory(SYMPTOMS), agent_factory(MOVIES)
    outputs = []
    job_input = "headache, runny nose"
    for agent in (checker, movies):
        started = agent.start_job(job_input)
        assert_payment_group(decode(started["unsigned_group_txns"]), started, agent.spec, algod)
        txids = pay(algod, PAYER, decode(started["unsigned_group_txns"]))
        token = agent.submit_until_accepted(started["job_id"], txids)[-1].json()["access_token"]
        outputs.append(agent.wait_for_job(started["job_id"], token)[-1]["output"])
        job_input = json.dumps({"condition": outputs[-1]})  # as the orchestrator's templating passes it
    recommendations = outputs[1]["recommendations"]
    assert outputs[1]["based_on"]["condition"] == "common cold"
    assert recommendations and all("common cold" in r["why"] for r in recommendations)


# --- what an agent refuses --------------------------------------------------------------------------
def test_wrong_access_tokens_and_unknown_jobs_are_refused(agent_factory: Any, algod: AlgodClient) -> None:
    agent = agent_factory(SYMPTOMS)
    started = agent.start_job("cough")
    txids = pay(algod, PAYER, decode(started["unsigned_group_txns"]))
    token = agent.submit_until_accepted(started["job_id"], txids)[-1].json()["access_token"]

    wrong = agent.job(started["job_id"], token + "x")
    assert wrong.status_code == 403
    assert wrong.json()["status"] == "error"
    assert agent.job(started["job_id"], None).status_code == 401
    assert agent.job(started["job_id"], "").status_code == 401
    # A token is good for its own job only.
    other = agent.start_job("fever")
    assert agent.job(other["job_id"], token).status_code == 403
    assert agent.job("no-such-job", token).status_code == 404
    assert agent.submit("no-such-job", txids).status_code == 404


def test_transactions_that_are_not_the_jobs_group_are_refused(agent_factory: Any, algod: AlgodClient) -> None:
    agent = agent_factory(SYMPTOMS)
    first = agent.start_job("sneezing")
    second = agent.start_job("sneezing")
    # Same sender, input and round: the job id in the notes still makes the groups differ.
    assert not set(first["txn_ids"]) & set(second["txn_ids"])
    first_txids = pay(algod, PAYER, decode(first["unsigned_group_txns"]))
    # Accepted for its own job, so the indexer shows it: the refusals below are about the txids.
    assert agent.submit_until_accepted(first["job_id"], first_txids)[-1].status_code == 200

    # The first job's payment does not pay for the second job, wholly or in part.
    for txids in (first_txids, first_txids[:1], [*second["txn_ids"][:1], first_txids[1]], []):
        refused = agent.submit(second["job_id"], txids)
        assert refused.status_code == 400, (txids, refused.text)
        assert refused.json()["status"] == "error"
    # The second job's own (unpaid) group is not found on chain.
    assert agent.submit(second["job_id"], second["txn_ids"]).status_code == 402
    assert agent.job(second["job_id"], None).status_code == 401
    # A duplicated id does not stand in for the other transaction.
    assert agent.submit(first["job_id"], [first_txids[0], first_txids[0]]).status_code == 400


def test_malformed_requests_get_json_errors(agent_factory: Any, http: httpx.Client) -> None:
    base = agent_factory(SYMPTOMS).server.base_url
    cases = [
        http.post(f"{base}/start_job", json={"sender_address": "not-an-address", "job_input": "x"}),
        http.post(f"{base}/start_job", json={"job_input": "x"}),
        http.post(f"{base}/start_job", content=b"{not json", headers={"Content-Type": "application/json"}),
        http.post(f"{base}/submit_payment", json={"job_id": "x"}),
        http.post(f"{base}/submit_payment", json={"job_id": "x", "txid": [1, 2]}),
    ]
    for response in cases:
        assert response.status_code == 400, response.text
        assert response.json()["status"] == "error"
        assert response.json()["message"].startswith("invalid request")
    missing = http.get(f"{base}/nowhere")
    assert missing.status_code == 404 and missing.json()["status"] == "error"
    assert http.get(f"{base}/start_job").status_code == 405


def test_agent_without_algod_answers_503(http: httpx.Client, ledger_server: LedgerServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with SampleAgentServer(
        SYMPTOMS, algod_url=f"http://127.0.0.1:{closed_port}", indexer_url=ledger_server.indexer_url
    ) as server:
        response = http.post(
            f"{server.base_url}/start_job", json={"sender_address": PAYER.address, "job_input": "cough"}
        )
    assert response.status_code == 503
    assert response.json()["status"] == "error"


# --- behaviours -------------------------------------------------------------------------------------
def test_double_base64_agent_needs_two_decoding_steps(agent_factory: Any, algod: AlgodClient) -> None:
    agent = agent_factory(MOVIES, double_base64=True)
    started = agent.start_job('{"mood": "funny"}')
    # One base64 step gives algosdk's base64 text, not a transaction.
    assert not isinstance(_try_decode(started["unsigned_group_txns"][0]), transaction.Transaction)
    txns = decode(started["unsigned_group_txns"], times=2)
    assert_payment_group(txns, started, MOVIES, algod)

    txids = pay(algod, PAYER, txns)
    token = agent.submit_until_accepted(started["job_id"], txids)[-1].json()["access_token"]
    done = agent.wait_for_job(started["job_id"], token)[-1]
    assert done["status"] == "succeeded"
    assert "funny" in done["output"]["based_on"]["moods"]


def _try_decode(text: str) -> Any:
    try:
        return encoding.msgpack_decode(text)
    except Exception:
        return None


def test_free_agent_starts_at_once_without_payment(agent_factory: Any) -> None:
    agent = agent_factory(dataclasses.replace(MOVIES, id="free-movies", price_microalgo=0), free=True)
    started = agent.start_job("adventure")
    assert started["unsigned_group_txns"] == [] and started["txn_ids"] == []
    assert started["payment_required"] == 0
    done = agent.wait_for_job(started["job_id"], None)[-1]
    assert done["status"] == "succeeded"
    assert done["output"]["recommendations"]
    assert agent.job(started["job_id"], "").json()["status"] == "succeeded"
    assert agent.submit(started["job_id"], []).json() == {"status": "success", "access_token": ""}
    assert agent.server.catalog_entry()["price_microalgo"] == 0


def test_failing_agent_ends_the_paid_job_failed(agent_factory: Any, algod: AlgodClient) -> None:
    agent = agent_factory(MOVIES, fail_jobs=True)
    started = agent.start_job("funny")
    txids = pay(algod, PAYER, decode(started["unsigned_group_txns"]))
    token = agent.submit_until_accepted(started["job_id"], txids)[-1].json()["access_token"]
    done = agent.wait_for_job(started["job_id"], token)[-1]
    assert done["status"] == "failed"
    assert isinstance(done["output"], str) and "fail" in done["output"]


def test_a_skill_that_raises_fails_its_job(agent_factory: Any) -> None:
    def broken(job_input: str) -> Any:
        raise ValueError(f"cannot handle {job_input!r}")

    agent = agent_factory(dataclasses.replace(SYMPTOMS, skill=broken), free=True)
    done = agent.wait_for_job(agent.start_job("x")["job_id"], None)[-1]
    assert done["status"] == "failed"
    assert done["output"] == "The job failed: ValueError: cannot handle 'x'"


def test_single_payment_agent_without_app_call(agent_factory: Any, algod: AlgodClient) -> None:
    agent = agent_factory(SYMPTOMS, app_call=False)
    started = agent.start_job("fever")
    (payment,) = decode(started["unsigned_group_txns"])
    assert isinstance(payment, transaction.PaymentTxn)
    assert (payment.receiver, payment.amt, payment.group) == (
        SYMPTOMS.agent_address,
        SYMPTOMS.price_microalgo,
        None,
    )
    txids = pay(algod, PAYER, [payment])
    assert agent.submit_until_accepted(started["job_id"], txids)[-1].status_code == 200


def test_payment_from_another_wallet_is_not_this_jobs(agent_factory: Any, algod: AlgodClient) -> None:
    # A stranger's group for the same job input has other txids: it is refused, even once confirmed.
    agent = agent_factory(SYMPTOMS)
    mine = agent.start_job("cough")
    theirs = agent.start_job("cough", sender=STRANGER.address)
    their_txids = pay(algod, STRANGER, decode(theirs["unsigned_group_txns"]))
    assert agent.submit(mine["job_id"], their_txids).status_code == 400


# --- starting the whole set -------------------------------------------------------------------------
def test_start_sample_agents_serves_the_catalog(ledger_server: LedgerServer, http: httpx.Client) -> None:
    servers = start_sample_agents(
        algod_url=ledger_server.algod_url,
        indexer_url=ledger_server.indexer_url,
        base_port=0,
        behaviours={"movie-recommender": AgentBehaviour(free=True)},
    )
    try:
        entries = [AgentMetadata.model_validate(server.catalog_entry()) for server in servers]
        assert [e.id for e in entries] == [s.id for s in SAMPLE_AGENTS]
        assert len({e.base_url for e in entries}) == len(SAMPLE_AGENTS)
        for entry, spec in zip(entries, SAMPLE_AGENTS, strict=True):
            assert (entry.agent_address, entry.app_id, entry.is_active) == (
                spec.agent_address,
                spec.app_id,
                True,
            )
            assert (entry.subdomain, entry.tags, entry.category) == (spec.slug, spec.tags, spec.category)
            assert payment_problems(entry, url_template=None) == []
            about = http.get(f"{entry.base_url}/").json()
            assert about["id"] == spec.id and about["sample_agent"] is True
            assert about["agent_address"] == spec.agent_address and about["status"] == "active"
        movies = next(e for e in entries if e.id == MOVIES.id)
        assert movies.price_microalgo == 0  # the free behaviour, found by slug
        started = http.post(
            f"{movies.base_url}/start_job", json={"sender_address": PAYER.address, "job_input": "comedy"}
        ).json()
        assert started["payment_required"] == 0
    finally:
        for server in servers:
            server.stop()
    with pytest.raises(httpx.ConnectError):
        http.get(f"{servers[0].base_url}/health")
    servers[0].stop()  # stopping twice is harmless


def test_start_sample_agents_on_consecutive_ports(ledger_server: LedgerServer) -> None:
    # Another test process may take the port after a free one meanwhile: try a few free ones.
    for _ in range(5):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base_port = sock.getsockname()[1]
        try:
            servers = start_sample_agents(
                algod_url=ledger_server.algod_url,
                indexer_url=ledger_server.indexer_url,
                base_port=base_port,
                specs=SAMPLE_AGENTS[:2],
            )
            break
        except (OSError, PortUnavailable):
            continue
    else:
        pytest.skip("the port after each of 5 free ones was taken")
    try:
        assert [s.port for s in servers] == [base_port, base_port + 1]
    finally:
        for server in servers:
            server.stop()
