"""An agent's side of payment: the unsigned group it asks the person to sign (an ABI `pay(pay)void`
app call grouped with a payment of the price), and the check, through the indexer, that the
group was confirmed on chain before the job runs."""

from __future__ import annotations

import base64
import urllib.error
from dataclasses import dataclass
from typing import Any

from algosdk import abi, encoding, error, transaction
from algosdk.v2client.algod import AlgodClient
from algosdk.v2client.indexer import IndexerClient

PAY_METHOD = abi.Method.from_signature("pay(pay)void")
DEFAULT_MIN_FEE = 1000
CHAIN_TIMEOUT_SECONDS = 10


class PaymentNotFound(Exception):
    """The indexer does not show the confirmed payment (yet): the person may try again shortly."""


class PaymentInvalid(Exception):
    """The submitted transactions are not this job's payment, or do not pay enough."""


class ChainUnavailable(Exception):
    """algod or the indexer could not be reached."""


@dataclass(frozen=True)
class PaymentGroup:
    encoded: list[str]  # base64 msgpack of each unsigned txn (base64 twice when asked)
    txn_ids: list[str]


def build_payment_group(
    algod: AlgodClient,
    *,
    sender: str,
    receiver: str,
    amount: int,
    app_id: int,
    note: bytes,
    app_call: bool = True,
    double_base64: bool = False,
    validity_rounds: int | None = None,
) -> PaymentGroup:
    """The unsigned group for one job. `note` must name the job: two jobs asked for in the same
    round would otherwise get identical transactions, and one payment would release both."""
    try:
        params = algod.suggested_params(timeout=CHAIN_TIMEOUT_SECONDS)
    except (error.AlgodHTTPError, urllib.error.URLError, OSError) as exc:
        raise ChainUnavailable(f"algod is unavailable: {exc}") from exc
    params.flat_fee = True
    params.fee = params.min_fee or DEFAULT_MIN_FEE
    if validity_rounds is not None:
        params.last = params.first + validity_rounds
    payment = transaction.PaymentTxn(sender, params, receiver, amount, note=note)
    txns: list[transaction.Transaction] = [payment]
    if app_call:
        call = transaction.ApplicationNoOpTxn(sender, params, app_id, [PAY_METHOD.get_selector()], note=note)
        # ABI order: a transaction argument sits right before the method call that takes it.
        txns = transaction.assign_group_id([payment, call])
    # A lone payment stays ungrouped, as single-transaction agents send it.
    encoded = [encoding.msgpack_encode(txn) for txn in txns]
    if double_base64:
        encoded = [base64.b64encode(text.encode()).decode() for text in encoded]
    return PaymentGroup(encoded=encoded, txn_ids=[txn.get_txid() for txn in txns])


def verify_payment(
    indexer: IndexerClient,
    *,
    submitted_txids: list[str],
    expected_txids: list[str],
    sender: str,
    receiver: str,
    price: int,
) -> int:
    """Check the job's group is confirmed and pays `receiver` at least `price`; return its round."""
    if len(submitted_txids) != len(expected_txids) or set(submitted_txids) != set(expected_txids):
        raise PaymentInvalid("the transaction ids are not this job's payment group")
    paid = 0
    confirmed_round = 0
    for txid in expected_txids:
        txn = _confirmed_transaction(indexer, txid)
        if txn.get("sender") != sender:
            raise PaymentInvalid(f"transaction {txid} was not sent by {sender}")
        if txn.get("tx-type") == "pay":
            details = txn.get("payment-transaction") or {}
            if details.get("receiver") == receiver:
                paid += int(details.get("amount", 0))
        confirmed_round = max(confirmed_round, int(txn["confirmed-round"]))
    if paid < price:
        raise PaymentInvalid(f"the group pays {paid} µAlgo to the agent; the price is {price} µAlgo")
    return confirmed_round


def _confirmed_transaction(indexer: IndexerClient, txid: str) -> dict[str, Any]:
    try:
        response = indexer.transaction(txid, timeout=CHAIN_TIMEOUT_SECONDS)
    except error.IndexerHTTPError as exc:
        # The SDK hides the status: a 404 (not indexed yet) and a hiccup both mean "try again".
        raise PaymentNotFound("payment not found yet") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ChainUnavailable(f"the indexer is unavailable: {exc}") from exc
    txn = response.get("transaction") if isinstance(response, dict) else None
    if not isinstance(txn, dict) or txn.get("id") != txid:
        raise PaymentNotFound("payment not found yet")
    if not txn.get("confirmed-round"):
        raise PaymentNotFound("payment not found yet")
    return txn
