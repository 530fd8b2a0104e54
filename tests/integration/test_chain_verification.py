"""AlgodChainVerifier against the dev ledger on loopback (algod and indexer endpoints, real HTTP).

Not covered: a confirmed transaction that algod has forgotten and only the indexer still knows.
The dev ledger keeps every confirmed transaction answerable on algod's pending endpoint for its
lifetime (devstack/ledger/README.md, "Chain"), so that fallback cannot happen here; only the
indexer's "not found" and "unreachable" answers are exercised.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from algosdk import abi, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from algosdk.v2client.algod import AlgodClient
from algosdk.v2client.indexer import IndexerClient
from orchestrator.config import Settings
from orchestrator.errors import ChainUnavailable, PaymentNotConfirmed
from orchestrator.payments.verification import AlgodChainVerifier, chain_verifier_from_settings

from devstack.ledger import LedgerServer, dev_accounts, genesis_hash_for
from tests.dev_ledgers import DevLedgers

pytestmark = pytest.mark.integration

PAYER, AGENT = dev_accounts(2, seed="test-chain-verification")
FUNDS = 10_000_000
APP_ID = 7


@pytest.fixture(scope="module")
def live(ledger_servers: DevLedgers) -> LedgerServer:
    """A ledger whose block producer makes a round every 0.2 s."""
    return ledger_servers.start(block_time=0.2, indexer_lag_seconds=0.3, funded={PAYER.address: FUNDS})


@pytest.fixture(scope="module")
def manual(ledger_servers: DevLedgers) -> LedgerServer:
    """A ledger whose rounds advance only when a test produces a block."""
    return ledger_servers.start(block_time=600, indexer_lag_seconds=0.3, funded={PAYER.address: FUNDS})


def verifier_for(server: LedgerServer) -> AlgodChainVerifier:
    verifier = chain_verifier_from_settings(
        Settings(algod_url=server.algod_url, indexer_url=server.indexer_url)
    )
    assert isinstance(verifier, AlgodChainVerifier)
    return verifier


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def send(server: LedgerServer, txns: list[transaction.Transaction]) -> list[str]:
    signed = AccountTransactionSigner(PAYER.private_key).sign_transactions(txns, list(range(len(txns))))
    AlgodClient("", server.algod_url).send_transactions(signed)
    return [txn.get_txid() for txn in txns]


def payment(server: LedgerServer, amount: int, note: bytes = b"") -> transaction.PaymentTxn:
    params = AlgodClient("", server.algod_url).suggested_params()
    return transaction.PaymentTxn(PAYER.address, params, AGENT.address, amount, note=note)


def agent_group(server: LedgerServer) -> list[transaction.Transaction]:
    params = AlgodClient("", server.algod_url).suggested_params()
    selector = abi.Method.from_signature("pay(pay)void").get_selector()
    pay = transaction.PaymentTxn(PAYER.address, params, AGENT.address, 250_000)
    call = transaction.ApplicationNoOpTxn(PAYER.address, params, APP_ID, [selector])
    return list(transaction.assign_group_id([pay, call]))


def never_sent_txid(server: LedgerServer) -> str:
    return payment(server, 1, note=b"never sent").get_txid()


# --- the factory ------------------------------------------------------------------------------


def test_factory_builds_clients_for_the_configured_urls(live: LedgerServer) -> None:
    verifier = verifier_for(live)
    assert isinstance(verifier.algod, AlgodClient) and isinstance(verifier.indexer, IndexerClient)
    assert verifier.algod.algod_address == live.algod_url
    assert verifier.indexer.indexer_address == live.indexer_url
    without_indexer = chain_verifier_from_settings(Settings(algod_url=live.algod_url, indexer_url=None))
    assert isinstance(without_indexer, AlgodChainVerifier) and without_indexer.indexer is None


# --- round and network ------------------------------------------------------------------------


def test_current_round_is_algods_and_increases_with_each_block(manual: LedgerServer) -> None:
    verifier = verifier_for(manual)
    before = verifier.current_round()
    assert before == manual.ledger.current_round()
    produced = manual.ledger.produce_block()
    assert produced == before + 1
    assert verifier.current_round() == before + 1


def test_current_round_advances_with_the_block_producer(live: LedgerServer) -> None:
    verifier = verifier_for(live)
    before = verifier.current_round()
    AlgodClient("", live.algod_url).status_after_block(before)
    assert verifier.current_round() > before


def test_genesis_hash_is_the_ledgers(live: LedgerServer) -> None:
    verifier = verifier_for(live)
    assert verifier.genesis_hash() == live.ledger.genesis_hash == genesis_hash_for("orch-devnet-v1")


# --- confirmation -----------------------------------------------------------------------------


def test_confirmed_payment_reports_the_round_that_confirmed_it(live: LedgerServer) -> None:
    verifier = verifier_for(live)
    (txid,) = send(live, [payment(live, 1000)])
    info = transaction.wait_for_confirmation(AlgodClient("", live.algod_url), txid, 10)
    assert info["confirmed-round"] > 0
    assert verifier.confirmed_round(txid) == info["confirmed-round"]
    assert verifier.require_confirmed([txid]) == info["confirmed-round"]


def test_unknown_txid_is_not_confirmed(live: LedgerServer) -> None:
    txid = never_sent_txid(live)
    assert verifier_for(live).confirmed_round(txid) is None  # algod 404, then indexer 404
    without_indexer = chain_verifier_from_settings(Settings(algod_url=live.algod_url, indexer_url=None))
    assert without_indexer.confirmed_round(txid) is None


def test_pooled_txid_is_not_confirmed_until_its_block(manual: LedgerServer) -> None:
    verifier = verifier_for(manual)
    (txid,) = send(manual, [payment(manual, 2000)])
    assert verifier.confirmed_round(txid) is None
    with pytest.raises(PaymentNotConfirmed, match=f"Transaction {txid} is not confirmed on chain yet"):
        verifier.require_confirmed([txid])
    confirmed = manual.ledger.produce_block()
    assert verifier.confirmed_round(txid) == confirmed
    assert verifier.require_confirmed([txid]) == confirmed


def test_require_confirmed_answers_the_latest_round_of_the_txids(manual: LedgerServer) -> None:
    verifier = verifier_for(manual)
    (single,) = send(manual, [payment(manual, 3000)])
    first_round = manual.ledger.produce_block()
    group = send(manual, agent_group(manual))
    group_round = manual.ledger.produce_block()
    assert group_round == first_round + 1

    assert [verifier.confirmed_round(txid) for txid in group] == [group_round, group_round]
    assert verifier.require_confirmed(group) == group_round
    assert verifier.require_confirmed([single]) == first_round
    assert verifier.require_confirmed([group[1], single, group[0]]) == group_round


def test_require_confirmed_names_the_unknown_txid(live: LedgerServer) -> None:
    verifier = verifier_for(live)
    (known,) = send(live, [payment(live, 4000)])
    transaction.wait_for_confirmation(AlgodClient("", live.algod_url), known, 10)
    unknown = never_sent_txid(live)
    for txids in ([unknown], [known, unknown]):
        with pytest.raises(PaymentNotConfirmed) as caught:
            verifier.require_confirmed(txids)
        assert caught.value.message == (
            f"Transaction {unknown} is not confirmed on chain yet. Wait for confirmation, then submit again."
        )
        assert (caught.value.code, caught.value.http_status) == ("PaymentNotConfirmed", 409)


def test_require_confirmed_of_no_txids_is_not_confirmed(live: LedgerServer) -> None:
    with pytest.raises(PaymentNotConfirmed) as caught:
        verifier_for(live).require_confirmed([])
    assert caught.value.message == "No transaction ids were submitted."


# --- an unavailable chain ---------------------------------------------------------------------


def test_unreachable_algod_is_chain_unavailable(live: LedgerServer) -> None:
    verifier = chain_verifier_from_settings(
        Settings(algod_url=closed_port_url(), indexer_url=live.indexer_url)
    )
    txid = never_sent_txid(live)
    calls = {
        "current_round": verifier.current_round,
        "genesis_hash": verifier.genesis_hash,
        "confirmed_round": lambda: verifier.confirmed_round(txid),
        "require_confirmed": lambda: verifier.require_confirmed([txid]),
    }
    for name, call in calls.items():
        with pytest.raises(ChainUnavailable, match="algod is unreachable") as caught:
            call()
        assert (caught.value.code, caught.value.http_status) == ("ChainUnavailable", 503), name


def test_unreachable_indexer_is_chain_unavailable_only_when_it_is_needed(live: LedgerServer) -> None:
    verifier = chain_verifier_from_settings(Settings(algod_url=live.algod_url, indexer_url=closed_port_url()))
    (known,) = send(live, [payment(live, 5000)])
    confirmed = transaction.wait_for_confirmation(AlgodClient("", live.algod_url), known, 10)[
        "confirmed-round"
    ]
    assert verifier.confirmed_round(known) == confirmed  # algod knows it: the indexer is not asked
    with pytest.raises(ChainUnavailable, match="the indexer is unreachable"):
        verifier.confirmed_round(never_sent_txid(live))


class _FailingAlgod(BaseHTTPRequestHandler):
    """An algod that answers every request with a 500."""

    def do_GET(self) -> None:
        body = json.dumps({"message": "internal error"}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def failing_algod_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FailingAlgod)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_algod_errors_are_chain_unavailable_not_unconfirmed(
    live: LedgerServer, failing_algod_url: str
) -> None:
    verifier = chain_verifier_from_settings(
        Settings(algod_url=failing_algod_url, indexer_url=live.indexer_url)
    )
    with pytest.raises(ChainUnavailable, match="algod answered an error: internal error"):
        verifier.current_round()
    with pytest.raises(ChainUnavailable, match="algod answered an error"):
        verifier.genesis_hash()
    txid = never_sent_txid(live)
    with pytest.raises(ChainUnavailable, match=f"algod could not tell whether {txid} is confirmed"):
        verifier.confirmed_round(txid)
    with pytest.raises(ChainUnavailable):
        verifier.require_confirmed([txid])
