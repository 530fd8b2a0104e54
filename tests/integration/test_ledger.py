"""The dev ledger on loopback, driven only through py-algorand-sdk's AlgodClient and IndexerClient."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgpack
import pytest
from algosdk import abi, encoding, transaction
from algosdk.atomic_transaction_composer import (
    AccountTransactionSigner,
    AtomicTransactionComposer,
    EmptySigner,
    TransactionWithSigner,
)
from algosdk.error import AlgodHTTPError, IndexerHTTPError
from algosdk.v2client import models
from algosdk.v2client.algod import AlgodClient
from algosdk.v2client.indexer import IndexerClient

from devstack.ledger import DevAccount, LedgerServer, dev_accounts, genesis_hash_for
from devstack.ledger.codec import from_json_value, to_json_value
from tests.dev_ledgers import DevLedgers

pytestmark = pytest.mark.integration

BLOCK_TIME = 0.2
INDEXER_LAG = 0.8
FUNDS = 10_000_000
AGENT_APP_ID = 7
PRICE = 250_000

PAYER, AGENT, OTHER = dev_accounts(3, seed="test-ledger")


def as_json(response: object) -> dict[str, Any]:
    assert isinstance(response, dict), response
    return response


class Chain:
    """The clients a wallet or an agent would hold, with JSON answers typed as such."""

    def __init__(self, server: LedgerServer) -> None:
        self.server = server
        self.ledger = server.ledger
        self.algod = AlgodClient("any-token", server.algod_url)
        self.indexer = IndexerClient("", server.indexer_url)

    def account(self, address: str) -> dict[str, Any]:
        return as_json(self.algod.account_info(address))

    def pending(self, txid: str) -> dict[str, Any]:
        return as_json(self.algod.pending_transaction_info(txid))

    def status(self) -> dict[str, Any]:
        return as_json(self.algod.status())

    def status_after(self, round_number: int) -> dict[str, Any]:
        return as_json(self.algod.status_after_block(round_number))

    def pool_size(self) -> int:
        return int(as_json(self.algod.pending_transactions())["total-transactions"])


@pytest.fixture
def chain(ledger_servers: DevLedgers) -> Iterator[Chain]:
    """A ledger of the test's own, making a round every BLOCK_TIME."""
    with ledger_servers.running(
        block_time=BLOCK_TIME, indexer_lag_seconds=INDEXER_LAG, funded={PAYER.address: FUNDS}
    ) as server:
        yield Chain(server)


@pytest.fixture
def idle_chain(ledger_servers: DevLedgers) -> Iterator[Chain]:
    """A ledger of the test's own whose block producer is too slow to interfere: its rounds advance
    only when the test produces them."""
    with ledger_servers.running(
        block_time=60, indexer_lag_seconds=INDEXER_LAG, funded={PAYER.address: FUNDS}
    ) as server:
        yield Chain(server)


def signed(
    txns: list[transaction.Transaction], account: DevAccount = PAYER
) -> list[transaction.GenericSignedTransaction]:
    return AccountTransactionSigner(account.private_key).sign_transactions(txns, list(range(len(txns))))


def agent_group(params: transaction.SuggestedParams, price: int = PRICE) -> list[transaction.Transaction]:
    """What an agent's /start_job offers: a `pay(pay)void` app call grouped with the payment."""
    selector = abi.Method.from_signature("pay(pay)void").get_selector()
    call = transaction.ApplicationNoOpTxn(PAYER.address, params, AGENT_APP_ID, [selector])
    payment = transaction.PaymentTxn(PAYER.address, params, AGENT.address, price)
    return transaction.assign_group_id([call, payment])


def rejection(algod: AlgodClient, stxns: list[transaction.GenericSignedTransaction]) -> str:
    with pytest.raises(AlgodHTTPError) as caught:
        algod.send_transactions(stxns)
    assert caught.value.code == 400
    return str(caught.value)


def test_suggested_params_describe_the_network(chain: Chain) -> None:
    params = chain.algod.suggested_params()
    assert params.gh == genesis_hash_for("orch-devnet-v1") == chain.ledger.genesis_hash
    assert params.gen == "orch-devnet-v1"
    assert (params.fee, params.min_fee, params.flat_fee) == (0, 1000, False)
    assert params.last - params.first == 1000
    assert params.first <= chain.status()["last-round"]
    versions = as_json(chain.algod.versions())
    assert versions["genesis_id"] == "orch-devnet-v1"
    assert versions["genesis_hash_b64"] == params.gh
    assert as_json(chain.algod.genesis())["alloc"] == [
        {"addr": PAYER.address, "comment": "dev account", "state": {"algo": FUNDS}}
    ]


def test_payment_is_confirmed_and_moves_the_balances(chain: Chain) -> None:
    params = chain.algod.suggested_params()
    payment = transaction.PaymentTxn(PAYER.address, params, OTHER.address, 1_000_000, note=b"hello")
    txid = chain.algod.send_transactions(signed([payment]))
    assert txid == payment.get_txid()

    confirmed = transaction.wait_for_confirmation(chain.algod, txid, 10)
    assert confirmed["confirmed-round"] > 0
    assert confirmed["pool-error"] == ""
    assert confirmed["txn"]["txn"]["rcv"] == OTHER.address
    assert confirmed["txn"]["txn"]["amt"] == 1_000_000
    assert base64.b64decode(confirmed["txn"]["txn"]["note"]) == b"hello"
    assert chain.pending(txid) == confirmed

    assert chain.account(PAYER.address)["amount"] == FUNDS - 1_000_000 - 1000
    receiver = chain.account(OTHER.address)
    assert (receiver["amount"], receiver["min-balance"]) == (1_000_000, 100_000)


def test_pool_answers_pending_then_confirmed_in_both_formats(idle_chain: Chain) -> None:
    # A block producer too slow to interfere: rounds advance only when the test produces them.
    params = idle_chain.algod.suggested_params()
    txid = idle_chain.algod.send_transactions(
        signed([transaction.PaymentTxn(PAYER.address, params, OTHER.address, 5)])
    )
    pending = idle_chain.pending(txid)
    assert "confirmed-round" not in pending and pending["pool-error"] == ""
    assert idle_chain.pool_size() == 1

    confirmed_round = idle_chain.ledger.produce_block()
    assert idle_chain.status_after(confirmed_round - 1)["last-round"] == confirmed_round
    info = idle_chain.pending(txid)
    assert info["confirmed-round"] == confirmed_round
    packed = idle_chain.algod.pending_transaction_info(txid, response_format="msgpack")
    assert isinstance(packed, bytes)
    decoded = msgpack.unpackb(packed, raw=False)
    assert decoded["confirmed-round"] == confirmed_round
    assert transaction.SignedTransaction.undictify(decoded["txn"]).get_txid() == txid


def test_unknown_transaction_is_404(chain: Chain) -> None:
    with pytest.raises(AlgodHTTPError) as caught:
        chain.pending("A" * 52)
    assert (caught.value.code, str(caught.value)) == (404, "txn does not exist")
    with pytest.raises(IndexerHTTPError, match="no transaction found for transaction id: " + "A" * 52):
        chain.indexer.transaction("A" * 52)


def test_agent_group_is_confirmed_atomically(chain: Chain) -> None:
    group = agent_group(chain.algod.suggested_params())
    first = chain.algod.send_transactions(signed(group))
    assert first == group[0].get_txid()

    call_info = transaction.wait_for_confirmation(chain.algod, first, 10)
    pay_info = chain.pending(group[1].get_txid())
    assert call_info["confirmed-round"] == pay_info["confirmed-round"]
    assert call_info["txn"]["txn"]["apid"] == AGENT_APP_ID
    assert call_info["txn"]["txn"]["grp"] == pay_info["txn"]["txn"]["grp"]
    assert chain.account(AGENT.address)["amount"] == PRICE
    assert chain.account(PAYER.address)["amount"] == FUNDS - PRICE - 2 * 1000


def test_a_failing_member_rejects_the_whole_group(chain: Chain) -> None:
    group = agent_group(chain.algod.suggested_params(), price=FUNDS)
    message = rejection(chain.algod, signed(group))
    assert "overspend" in message and group[1].get_txid() in message
    with pytest.raises(AlgodHTTPError, match="txn does not exist"):
        chain.pending(group[0].get_txid())
    assert chain.pool_size() == 0
    assert chain.account(PAYER.address)["amount"] == FUNDS


def _tampered(params: transaction.SuggestedParams) -> list[transaction.GenericSignedTransaction]:
    payment = transaction.PaymentTxn(PAYER.address, params, OTHER.address, 1000)
    stxns = signed([payment])
    payment.amt = 9_000_000  # the signature covered the old amount
    return stxns


def _reordered(params: transaction.SuggestedParams) -> list[transaction.GenericSignedTransaction]:
    call, payment = signed(agent_group(params))
    return [payment, call]


def _overspend(params: transaction.SuggestedParams) -> list[transaction.GenericSignedTransaction]:
    return signed([transaction.PaymentTxn(PAYER.address, params, OTHER.address, FUNDS)])


def _below_min_balance(params: transaction.SuggestedParams) -> list[transaction.GenericSignedTransaction]:
    return signed([transaction.PaymentTxn(PAYER.address, params, OTHER.address, FUNDS - 1000 - 50_000)])


def _with_params(
    **changes: object,
) -> Callable[[transaction.SuggestedParams], list[transaction.GenericSignedTransaction]]:
    def build(params: transaction.SuggestedParams) -> list[transaction.GenericSignedTransaction]:
        for name, value in changes.items():
            setattr(params, name, value)
        return signed([transaction.PaymentTxn(PAYER.address, params, OTHER.address, 1000)])

    return build


def _unsupported_type(params: transaction.SuggestedParams) -> list[transaction.GenericSignedTransaction]:
    return signed([transaction.AssetOptInTxn(PAYER.address, params, 31566704)])


def _logic_signature(params: transaction.SuggestedParams) -> list[transaction.GenericSignedTransaction]:
    program = bytes([0x06, 0x81, 0x01])  # #pragma version 6; int 1
    account = transaction.LogicSigAccount(program)
    payment = transaction.PaymentTxn(account.address(), params, OTHER.address, 1000)
    return [transaction.LogicSigTransaction(payment, account)]


REJECTIONS = {
    "bad signature": (_tampered, "At least one signature didn't pass verification"),
    "group id mismatch": (_reordered, "transactionGroup: incomplete group: group id"),
    "overspend": (_overspend, f"overspend (account {PAYER.address}"),
    "minimum balance": (_below_min_balance, "balance 50000 below min 100000"),
    "expired window": (_with_params(first=0, last=0), "txn dead: round 1 outside of 0--0"),
    "window too long": (_with_params(first=1, last=1002), "transaction window size excessive"),
    "wrong genesis hash": (_with_params(gh=genesis_hash_for("other-net")), "genesis hash mismatch"),
    "wrong genesis id": (_with_params(gen="testnet-v1.0"), "genesis id mismatch"),
    "fee below min": (_with_params(flat_fee=True, fee=999), "txgroup had 999 in fees"),
    "unsupported type": (_unsupported_type, "transaction type 'axfer' is not supported"),
    "logic signature": (_logic_signature, "logic signatures are not supported"),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_invalid_submissions_are_rejected_with_algod_messages(case: str, idle_chain: Chain) -> None:
    # The block producer stays idle so that the window cases see round 0 (next round 1).
    build, expected = REJECTIONS[case]
    message = rejection(idle_chain.algod, build(idle_chain.algod.suggested_params()))
    assert message.startswith("TransactionPool.Remember: ")
    assert expected in message
    assert idle_chain.pool_size() == 0


def test_duplicate_is_rejected_while_pending_and_after_confirmation(chain: Chain) -> None:
    stxns = signed(
        [transaction.PaymentTxn(PAYER.address, chain.algod.suggested_params(), OTHER.address, 1000)]
    )
    txid = chain.algod.send_transactions(stxns)
    assert f"transaction already in ledger: {txid}" in rejection(chain.algod, stxns)
    transaction.wait_for_confirmation(chain.algod, txid, 10)
    assert f"transaction already in ledger: {txid}" in rejection(chain.algod, stxns)
    assert chain.account(OTHER.address)["amount"] == 1000


def test_malformed_body_is_a_400(chain: Chain) -> None:
    with pytest.raises(AlgodHTTPError) as caught:
        chain.algod.send_raw_transaction(base64.b64encode(b"\xc1 not msgpack"))
    assert caught.value.code == 400 and "msgpack decode error" in str(caught.value)


def test_indexer_sees_transactions_only_after_its_lag(chain: Chain) -> None:
    submitted_at = time.monotonic()
    payment = transaction.PaymentTxn(PAYER.address, chain.algod.suggested_params(), OTHER.address, 4242)
    txid = chain.algod.send_transactions(signed([payment]))
    confirmed_round = transaction.wait_for_confirmation(chain.algod, txid, 10)["confirmed-round"]

    with pytest.raises(IndexerHTTPError, match=f"no transaction found for transaction id: {txid}"):
        chain.indexer.transaction(txid)
    assert chain.indexer.health()["round"] < confirmed_round
    assert chain.indexer.search_transactions(txid=txid)["transactions"] == []

    found = None
    while found is None and time.monotonic() - submitted_at < 5:
        try:
            found = chain.indexer.transaction(txid)
        except IndexerHTTPError:
            time.sleep(0.05)
    assert found is not None, "the indexer never showed the transaction"
    assert time.monotonic() - submitted_at >= INDEXER_LAG
    assert found["current-round"] >= confirmed_round
    seen = found["transaction"]
    assert (seen["id"], seen["confirmed-round"], seen["tx-type"]) == (txid, confirmed_round, "pay")
    assert (seen["sender"], seen["fee"], seen["genesis-id"]) == (PAYER.address, 1000, "orch-devnet-v1")
    assert seen["payment-transaction"] == {"amount": 4242, "close-amount": 0, "receiver": OTHER.address}
    assert seen["round-time"] > 0

    by_address = chain.indexer.search_transactions_by_address(OTHER.address)["transactions"]
    assert [t["id"] for t in by_address] == [txid]
    as_receiver = chain.indexer.search_transactions(address=OTHER.address, address_role="receiver")
    assert [t["id"] for t in as_receiver["transactions"]] == [txid]
    assert (
        chain.indexer.search_transactions(address=OTHER.address, address_role="sender")["transactions"] == []
    )
    assert chain.indexer.account_info(OTHER.address)["account"]["amount"] == 4242


def test_indexer_group_search_and_paging(chain: Chain) -> None:
    group = agent_group(chain.algod.suggested_params())
    first = chain.algod.send_transactions(signed(group))
    transaction.wait_for_confirmation(chain.algod, first, 10)
    deadline = time.monotonic() + 5
    while not chain.indexer.search_transactions(txid=first)["transactions"] and time.monotonic() < deadline:
        time.sleep(0.05)

    page = chain.indexer.search_transactions(limit=1, min_round=1)
    assert [t["id"] for t in page["transactions"]] == [group[0].get_txid()]
    call = page["transactions"][0]["application-transaction"]
    assert (call["application-id"], call["on-completion"]) == (AGENT_APP_ID, "noop")
    assert (
        base64.b64decode(call["application-args"][0])
        == abi.Method.from_signature("pay(pay)void").get_selector()
    )
    rest = chain.indexer.search_transactions(limit=1, next_page=page["next-token"])
    assert [t["id"] for t in rest["transactions"]] == [group[1].get_txid()]
    assert "next-token" not in rest
    by_group = chain.indexer.search_transactions(group_id=group[0].group, txn_type="pay")
    assert [t["id"] for t in by_group["transactions"]] == [group[1].get_txid()]
    assert chain.indexer.search_transactions(application_id=AGENT_APP_ID)["transactions"][0]["id"] == first


def test_status_after_block_waits_for_the_next_round(chain: Chain) -> None:
    last = chain.status()["last-round"]
    started = time.monotonic()
    status = chain.status_after(last)
    assert status["last-round"] > last
    assert time.monotonic() - started < 2.0  # woken by the new round, not by the 5 s timeout
    # A round already passed answers at once.
    started = time.monotonic()
    assert chain.status_after(0)["last-round"] >= status["last-round"]
    assert time.monotonic() - started < 0.5


def test_rekeyed_account_needs_its_new_signer(chain: Chain) -> None:
    params = chain.algod.suggested_params()
    rekey = transaction.PaymentTxn(PAYER.address, params, PAYER.address, 0, rekey_to=AGENT.address)
    transaction.wait_for_confirmation(chain.algod, chain.algod.send_transactions(signed([rekey])), 10)
    assert chain.account(PAYER.address)["auth-addr"] == AGENT.address

    old_key = transaction.PaymentTxn(PAYER.address, params, OTHER.address, 1000, note=b"old")
    assert f"should have been authorized by {AGENT.address}" in rejection(chain.algod, signed([old_key]))
    new_key = transaction.PaymentTxn(PAYER.address, params, OTHER.address, 1000, note=b"new")
    txid = chain.algod.send_transactions(signed([new_key], AGENT))
    info = transaction.wait_for_confirmation(chain.algod, txid, 10)
    assert info["txn"]["sgnr"] == AGENT.address


def test_endpoints_answer_errors_as_algod_does(chain: Chain) -> None:
    with pytest.raises(AlgodHTTPError) as caught:
        chain.account("not-an-address")
    assert caught.value.code == 400 and "failed to parse the address" in str(caught.value)
    with pytest.raises(AlgodHTTPError) as caught:
        chain.algod.application_info(AGENT_APP_ID)
    assert caught.value.code == 404
    with pytest.raises(IndexerHTTPError, match="no accounts found for address"):
        chain.indexer.account_info(AGENT.address)
    assert chain.algod.health() is None


def test_browser_wallets_may_call_across_origins(chain: Chain) -> None:
    preflight = urllib.request.Request(chain.server.algod_url + "/v2/transactions", method="OPTIONS")
    with urllib.request.urlopen(preflight, timeout=5) as answer:
        assert answer.status == 204
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert "X-Algo-API-Token" in answer.headers["Access-Control-Allow-Headers"]
    with urllib.request.urlopen(chain.server.indexer_url + "/health", timeout=5) as answer:
        assert answer.headers["Access-Control-Allow-Origin"] == "*"


# --- POST /v2/transactions/simulate ------------------------------------------------------------------
NEVER_CREATED_APP_ID = 1001  # what the marketplace's sample agents call: no app by that id exists here


def sdk_agent_composer(
    algod: AlgodClient, price: int = PRICE, app_id: int = NEVER_CREATED_APP_ID
) -> AtomicTransactionComposer:
    """What orca-agent-sdk's start_job composes: `pay(pay)void` taking the payment as its argument, flat
    fee 2000 per transaction, unsigned (its signer leaves the signatures empty)."""
    params = algod.suggested_params()
    params.flat_fee, params.fee = True, 2000
    payment = transaction.PaymentTxn(PAYER.address, params, AGENT.address, price)
    composer = AtomicTransactionComposer()
    composer.add_method_call(
        app_id=app_id,
        method=abi.Method.from_signature("pay(pay)void"),
        sender=PAYER.address,
        sp=params,
        signer=EmptySigner(),
        method_args=[TransactionWithSigner(payment, EmptySigner())],
    )
    return composer


def algokit_request() -> models.SimulateRequest:
    """The request algokit-utils' populate_app_call_resources sends (its _get_group_execution_info)."""
    return models.SimulateRequest(txn_groups=[], allow_unnamed_resources=True, allow_empty_signatures=True)


def simulate_raw(chain: Chain, body: bytes, query: str = "") -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{chain.server.algod_url}/v2/transactions/simulate{query}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/msgpack"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def request_body(txns: Sequence[transaction.GenericSignedTransaction], **options: object) -> dict[str, Any]:
    """A simulate request as algosdk encodes it (msgpack field names), plus options it has no words for."""
    group = models.SimulateRequestTransactionGroup(txns=list(txns))
    request = models.SimulateRequest(txn_groups=[group], allow_empty_signatures=True)
    body = dict(msgpack.unpackb(base64.b64decode(encoding.msgpack_encode(request)), raw=False))
    return {**body, **options}


def _msgpack_form(signed_json: dict[str, Any]) -> dict[str, Any]:
    """algod's JSON rendering of a SignedTransaction back to what msgpack carries (addresses, base64)."""
    return dict(from_json_value(signed_json))


def test_simulate_answers_the_sdk_agents_group_as_algokit_asks(chain: Chain) -> None:
    before = chain.account(PAYER.address)["amount"]
    composer = sdk_agent_composer(chain.algod)
    group = [tws.txn for tws in composer.build_group()]
    result = composer.simulate(chain.algod, algokit_request())

    assert (result.failure_message, result.failed_at, result.version) == ("", None, 2)
    assert result.tx_ids == [txn.get_txid() for txn in group]
    assert [r.decode_error for r in result.abi_results] == [None]  # void: nothing to decode
    assert result.eval_overrides is not None
    assert (result.eval_overrides.allow_empty_signatures, result.eval_overrides.allow_unnamed_resources) == (
        True,
        True,
    )
    response = result.simulate_response
    assert response["last-round"] <= chain.status()["last-round"]
    (simulated,) = response["txn-groups"]
    assert "unnamed-resources-accessed" not in simulated and "failure-message" not in simulated
    assert simulated["app-budget-added"] == 700
    echoed = [r["txn-result"]["txn"] for r in simulated["txn-results"]]
    assert all("sig" not in signed_txn for signed_txn in echoed)
    assert [transaction.SignedTransaction.undictify(_msgpack_form(e)).get_txid() for e in echoed] == [
        txn.get_txid() for txn in group
    ]
    assert echoed[0]["txn"]["rcv"] == AGENT.address and echoed[0]["txn"]["amt"] == PRICE
    assert echoed[1]["txn"]["apid"] == NEVER_CREATED_APP_ID
    assert all("unnamed-resources-accessed" not in r for r in simulated["txn-results"])
    assert all(r["txn-result"]["pool-error"] == "" for r in simulated["txn-results"])
    # Nothing happened: no pool entry, no balance moved.
    assert chain.pool_size() == 0
    assert chain.account(PAYER.address)["amount"] == before


def test_simulate_answers_msgpack_when_asked(chain: Chain) -> None:
    composer = sdk_agent_composer(chain.algod)
    stxns = composer.gather_signatures()
    request = algokit_request()
    request.txn_groups = [models.SimulateRequestTransactionGroup(txns=list(stxns))]
    packed = chain.algod.simulate_transactions(
        request, params={"format": "msgpack"}, response_format="msgpack"
    )
    assert isinstance(packed, bytes)
    decoded = msgpack.unpackb(packed, raw=False)
    as_json_answer = as_json(chain.algod.simulate_transactions(request))
    assert decoded["version"] == as_json_answer["version"] == 2
    assert decoded["eval-overrides"] == as_json_answer["eval-overrides"]
    echoed = [r["txn-result"]["txn"] for r in decoded["txn-groups"][0]["txn-results"]]
    assert echoed == [stxn.dictify() for stxn in stxns]  # bytes stay bytes, as sent
    assert echoed[0]["txn"]["snd"] == encoding.decode_address(PAYER.address)


def test_simulate_accepts_a_json_request(chain: Chain) -> None:
    stxns = sdk_agent_composer(chain.algod).gather_signatures()
    status, answer = simulate_raw(chain, json.dumps(to_json_value(request_body(stxns))).encode())
    assert status == 200, answer
    response = json.loads(answer)
    assert "failure-message" not in response["txn-groups"][0]
    txids = [
        transaction.SignedTransaction.undictify(_msgpack_form(r["txn-result"]["txn"])).get_txid()
        for r in response["txn-groups"][0]["txn-results"]
    ]
    assert txids == [stxn.get_txid() for stxn in stxns]


def test_simulate_reports_what_would_fail_in_the_group(chain: Chain) -> None:
    too_dear = sdk_agent_composer(chain.algod, price=FUNDS)
    result = too_dear.simulate(chain.algod, algokit_request())
    assert result.failed_at == [0]  # the payment, first in the group
    assert "overspend" in result.failure_message
    assert result.failure_message.startswith(f"transaction {result.tx_ids[0]}: ")

    params = chain.algod.suggested_params()
    forged = _tampered(params)
    status, answer = simulate_raw(chain, msgpack.packb(request_body(forged), use_bin_type=True))
    assert status == 200
    group = json.loads(answer)["txn-groups"][0]
    assert group["failed-at"] == [0]
    assert "At least one signature didn't pass verification" in group["failure-message"]

    unsigned = [
        transaction.SignedTransaction(transaction.PaymentTxn(PAYER.address, params, OTHER.address, 1), "")
    ]
    status, answer = simulate_raw(
        chain, msgpack.packb(request_body(unsigned, **{"allow-empty-signatures": False}), use_bin_type=True)
    )
    assert status == 200 and "is not signed" in json.loads(answer)["txn-groups"][0]["failure-message"]


def test_simulate_checks_the_group_and_what_the_chain_already_holds(idle_chain: Chain) -> None:
    params = idle_chain.algod.suggested_params()

    def simulated(stxns: list[transaction.GenericSignedTransaction]) -> dict[str, Any]:
        status, answer = simulate_raw(idle_chain, msgpack.packb(request_body(stxns), use_bin_type=True))
        assert status == 200, answer
        return dict(json.loads(answer)["txn-groups"][0])

    reordered = simulated(_reordered(params))
    assert reordered["failed-at"] == [0]
    assert "transactionGroup: incomplete group" in reordered["failure-message"]

    payment = signed([transaction.PaymentTxn(PAYER.address, params, OTHER.address, 1000)])
    txid = idle_chain.algod.send_transactions(payment)
    # Simulation works on the last round, not on the pool: the pooled copy is no duplicate yet.
    assert "failure-message" not in simulated(payment)
    idle_chain.ledger.produce_block()
    confirmed = simulated(payment)
    assert confirmed["failed-at"] == [0]
    assert f"transaction already in ledger: {txid}" in confirmed["failure-message"]


def test_simulate_after_a_rekey_needs_or_fixes_the_signer(chain: Chain) -> None:
    params = chain.algod.suggested_params()
    rekey = transaction.PaymentTxn(PAYER.address, params, PAYER.address, 0, rekey_to=AGENT.address)
    transaction.wait_for_confirmation(chain.algod, chain.algod.send_transactions(signed([rekey])), 10)
    unsigned = [
        transaction.SignedTransaction(transaction.PaymentTxn(PAYER.address, params, OTHER.address, 1), "")
    ]

    status, answer = simulate_raw(chain, msgpack.packb(request_body(unsigned), use_bin_type=True))
    assert status == 200
    assert (
        f"should have been authorized by {AGENT.address}"
        in json.loads(answer)["txn-groups"][0]["failure-message"]
    )

    status, answer = simulate_raw(
        chain, msgpack.packb(request_body(unsigned, **{"fix-signers": True}), use_bin_type=True)
    )
    response = json.loads(answer)
    assert status == 200 and "failure-message" not in response["txn-groups"][0]
    assert response["txn-groups"][0]["txn-results"][0]["fixed-signer"] == AGENT.address
    assert response["eval-overrides"] == {"allow-empty-signatures": True, "fix-signers": True}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("two groups", "expected 1 transaction group, got 2"),
        ("no group", "expected 1 transaction group, got 0"),
        ("empty group", "empty txgroup"),
        ("short fees", "txgroup had 0 in fees, which is less than the minimum 1 * 1000"),
        ("fix signers alone", "FixSigners requires AllowEmptySignatures to be enabled"),
        ("unknown option", "unknown field(s) state-overrides"),
        ("not msgpack", "failed to decode object"),
        ("another round", "simulates at its latest round only"),
        ("bad format", "unsupported format 'xml'"),
    ],
)
def test_simulate_refuses_requests_algod_refuses(chain: Chain, case: str, message: str) -> None:
    params = chain.algod.suggested_params()
    one = [transaction.SignedTransaction(transaction.PaymentTxn(PAYER.address, params, OTHER.address, 1), "")]
    body = request_body(one)
    query = ""
    if case == "two groups":
        body["txn-groups"] = body["txn-groups"] * 2
    elif case == "no group":
        body["txn-groups"] = []
    elif case == "empty group":
        body["txn-groups"] = [{"txns": []}]
    elif case == "short fees":
        params.flat_fee, params.fee = True, 0
        free = transaction.PaymentTxn(PAYER.address, params, OTHER.address, 1)
        body = request_body([transaction.SignedTransaction(free, "")])
    elif case == "fix signers alone":
        body = {**request_body(one, **{"fix-signers": True}), "allow-empty-signatures": False}
    elif case == "unknown option":
        body["state-overrides"] = {}
    elif case == "another round":
        body["round"] = chain.status()["last-round"] + 100
    elif case == "bad format":
        query = "?format=xml"
    data = b"\xc1 not msgpack" if case == "not msgpack" else msgpack.packb(body, use_bin_type=True)
    status, answer = simulate_raw(chain, data, query)
    assert status == 400, answer
    assert message in json.loads(answer)["message"]
