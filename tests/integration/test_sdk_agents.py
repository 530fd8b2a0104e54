"""Agents built with the marketplace's real SDK (orca-agent-sdk 0.1.8, unmodified, in .venv-agents)
against the dev ledger, hired directly over HTTP as the orchestrator hires them: start_job → sign the
group the SDK composed (through algokit-utils and the ledger's simulate) → send → submit_payment
(the SDK checks the payment on the lagging dev indexer) → poll the job with its access token."""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from algosdk import encoding, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from algosdk.v2client.algod import AlgodClient
from algosdk.v2client.indexer import IndexerClient

from devstack.ledger import DevAccount, LedgerServer, dev_accounts
from devstack.sdk_agents import AGENTS_PYTHON, SDK_AGENTS, SdkAgentProcess, SdkAgentSpec
from devstack.sdk_agents.launch import LAUNCHER
from tests.dev_ledgers import DevLedgers

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not AGENTS_PYTHON.exists(),
        reason=f"!!! {AGENTS_PYTHON} is missing: `make sdk-agents` builds it (`make test` does) !!!",
    ),
]

REQUIREMENTS = LAUNCHER.with_name("requirements.txt")
BLOCK_TIME = 0.25
INDEXER_LAG = 0.5
(PAYER,) = dev_accounts(1, seed="test-sdk-agents")
SUMMARIZER, WORD_STATS = SDK_AGENTS
TEXT = (
    "I woke up with a terrible headache and felt tired all morning. A slow walk in the park made me "
    "calm and happy again. The day ended well."
)
SUMMARY = "Summary: I woke up with a terrible headache and felt tired all morning. (28 words)"
STATS = "Sentiment: negative (-3); words: 15, distinct: 15; top: all(1), felt(1), headache(1)"


class Chain:
    def __init__(self, server: LedgerServer) -> None:
        self.server = server
        self.algod = AlgodClient("", server.algod_url)
        self.indexer = IndexerClient("", server.indexer_url)


@pytest.fixture(scope="module")
def chain(ledger_servers: DevLedgers) -> Chain:
    return Chain(
        ledger_servers.start(
            block_time=BLOCK_TIME, indexer_lag_seconds=INDEXER_LAG, funded={PAYER.address: 100_000_000}
        )
    )


@pytest.fixture(scope="module")
def agents(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SdkAgentProcess]]:
    data = tmp_path_factory.mktemp("sdk-agents")
    processes = {
        spec.slug: SdkAgentProcess(
            spec, chain.server.algod_url, chain.server.indexer_url, db_path=data / f"{spec.slug}.sqlite3"
        )
        for spec in SDK_AGENTS
    }
    try:
        for process in processes.values():  # both import Flask and algokit-utils at once
            process.launch()
        yield {slug: process.wait() for slug, process in processes.items()}
    finally:
        for process in processes.values():
            process.stop()


def decode_unsigned(blob: str) -> transaction.Transaction:
    """base64 msgpack of an unsigned transaction; the SDK base64s that once more (msgpack_encode
    already answers base64 text)."""
    raw = base64.b64decode(blob)
    try:
        inner = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        inner = raw
    decoded = encoding.msgpack_decode(base64.b64encode(inner).decode())
    assert isinstance(decoded, transaction.Transaction), decoded
    return decoded


def hire(
    chain: Chain, agent: SdkAgentProcess, job_input: str, payer: DevAccount = PAYER
) -> tuple[dict[str, Any], list[str], float]:
    """One job as the orchestrator runs it; the finished job, the txids paid, the seconds it took."""
    started = time.monotonic()
    with httpx.Client(base_url=agent.base_url, timeout=30) as http:
        offer = http.post(
            "/start_job",
            json={"sender_address": payer.address, "job_input": job_input, "agent_id": agent.spec.id},
        )
        assert offer.status_code == 200, agent.log_text()
        quote = offer.json()
        assert quote["payment_required"] == agent.spec.price_microalgo
        group = [decode_unsigned(blob) for blob in quote["unsigned_group_txns"]]
        assert [txn.get_txid() for txn in group] == quote["txn_ids"]
        signed = AccountTransactionSigner(payer.private_key).sign_transactions(group, list(range(len(group))))
        chain.algod.send_transactions(signed)
        transaction.wait_for_confirmation(chain.algod, quote["txn_ids"][0], 20)

        deadline = time.monotonic() + 15
        while True:  # the SDK checks on the indexer, which lags algod: 402 until it has the round
            paid = http.post("/submit_payment", json={"job_id": quote["job_id"], "txid": quote["txn_ids"]})
            if paid.status_code != 402 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "success"
        token = paid.json()["access_token"]

        hidden = http.get(f"/job/{quote['job_id']}").json()
        assert hidden["output"] is None  # without the token the output stays hidden
        deadline = time.monotonic() + 15
        while True:
            job = http.get(f"/job/{quote['job_id']}", params={"access_token": token}).json()
            if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    return job, quote["txn_ids"], time.monotonic() - started


def payments_to(chain: Chain, spec: SdkAgentSpec) -> list[dict[str, Any]]:
    answer = chain.indexer.search_transactions(
        address=spec.agent_address, address_role="receiver", txn_type="pay"
    )
    assert isinstance(answer, dict)
    return list(answer["transactions"])


def calls_to(chain: Chain, spec: SdkAgentSpec) -> list[dict[str, Any]]:
    answer = chain.indexer.search_transactions(application_id=spec.app_id)
    assert isinstance(answer, dict)
    return list(answer["transactions"])


def test_two_sdk_agents_are_hired_and_paid_once_each(
    chain: Chain, agents: dict[str, SdkAgentProcess]
) -> None:
    before = int(time.time())
    first, first_txids, first_seconds = hire(chain, agents[SUMMARIZER.slug], TEXT)
    second, second_txids, second_seconds = hire(chain, agents[WORD_STATS.slug], first["output"])
    print(f"\nSDK hire loop: summarizer {first_seconds:.2f}s, word stats {second_seconds:.2f}s")

    assert (first["status"], first["output"]) == ("succeeded", SUMMARY)
    assert (second["status"], second["output"]) == ("succeeded", STATS)
    for job in (first, second):
        assert isinstance(job["created_at"], int) and isinstance(job["completed_at"], int)
        assert before - 5 <= job["created_at"] <= job["completed_at"] <= time.time() + 5
    # The second agent was fed the first one's output, as a workflow's next step is.
    with sqlite3.connect(agents[WORD_STATS.slug].db_path) as db:
        (stored,) = db.execute("SELECT job_input FROM jobs_local WHERE job_id = ?", (second["job_id"],))
    assert stored == (SUMMARY,)

    deadline = time.monotonic() + 5  # the indexer lags: wait until it has both groups
    while len(calls_to(chain, SUMMARIZER)) + len(calls_to(chain, WORD_STATS)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    for spec, txids in ((SUMMARIZER, first_txids), (WORD_STATS, second_txids)):
        (payment,) = payments_to(chain, spec)  # exactly one payment, of exactly its price
        assert payment["sender"] == PAYER.address
        assert payment["payment-transaction"]["amount"] == spec.price_microalgo
        (call,) = calls_to(chain, spec)  # and its pay(pay)void call, in the same group
        assert call["sender"] == PAYER.address and call["tx-type"] == "appl"
        assert call["group"] == payment["group"]
        assert {payment["id"], call["id"]} == set(txids)
        assert payment["fee"] == call["fee"] == 2000  # the SDK's flat fee


def test_each_sdk_agent_offers_the_group_its_record_promises(agents: dict[str, SdkAgentProcess]) -> None:
    # start_job composes and simulates; nothing reaches the chain (paying is the test above).
    for spec in SDK_AGENTS:
        record = spec.catalog_record(agents[spec.slug].base_url)
        offer = httpx.post(
            f"{record['base_url']}/start_job",
            json={"sender_address": PAYER.address, "job_input": record["example_input"], "agent_id": spec.id},
            timeout=30,
        )
        assert offer.status_code == 200
        payment, call = (decode_unsigned(blob) for blob in offer.json()["unsigned_group_txns"])
        assert isinstance(payment, transaction.PaymentTxn) and isinstance(
            call, transaction.ApplicationCallTxn
        )
        assert (payment.receiver, payment.amt) == (record["agent_address"], record["price_microalgo"])
        assert (call.index, call.sender, payment.sender) == (record["app_id"], PAYER.address, PAYER.address)
        assert not (call.accounts or call.foreign_apps or call.foreign_assets or call.boxes)


def test_each_records_example_output_is_what_its_handler_answers() -> None:
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import run_agent; "
        "print(json.dumps({n: run_agent.HANDLERS[n](x) for n, x in json.loads(sys.argv[2]).items()}))"
    )
    examples = {spec.handler: spec.example_input for spec in SDK_AGENTS}
    answered = subprocess.run(
        [str(AGENTS_PYTHON), "-c", script, str(LAUNCHER.parent), json.dumps(examples)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(answered.stdout) == {spec.handler: spec.example_output for spec in SDK_AGENTS}


def test_the_agents_venv_holds_exactly_the_pinned_packages() -> None:
    frozen = subprocess.run(
        [str(AGENTS_PYTHON), "-m", "pip", "freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    pinned = [line for line in REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")]
    assert sorted(frozen, key=str.lower) == sorted(pinned, key=str.lower)
