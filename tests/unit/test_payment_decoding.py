"""Decoding agents' unsigned transactions: base64 msgpack, once or twice encoded."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import msgpack
import pytest
from algosdk import abi, account, encoding, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from orchestrator.payments.decoding import (
    UndecodableTransaction,
    decode_group,
    decode_transaction,
    encode_transaction,
)

WALLET_KEY, WALLET = account.generate_account()
_, AGENT = account.generate_account()
APP_ID = 1234
GENESIS_HASH = base64.b64encode(hashlib.sha256(b"orch-test-net").digest()).decode()
PARAMS = transaction.SuggestedParams(1000, 5000, 6000, GENESIS_HASH, flat_fee=True)
PAY_SELECTOR = abi.Method.from_signature("pay(pay)void").get_selector()


def agent_group() -> list[transaction.Transaction]:
    payment = transaction.PaymentTxn(WALLET, PARAMS, AGENT, 250_000, note=b"job 7")
    call = transaction.ApplicationNoOpTxn(WALLET, PARAMS, APP_ID, [PAY_SELECTOR])
    return list(transaction.assign_group_id([payment, call]))


def msgpack_b64(txn: transaction.Transaction) -> str:
    """What an agent sends: the SDK's canonical base64 msgpack, built without the module under test."""
    return str(encoding.msgpack_encode(txn))


def twice(blob: str) -> str:
    return base64.b64encode(blob.encode("ascii")).decode("ascii")


def test_decodes_base64_msgpack() -> None:
    payment, _ = agent_group()
    decoded = decode_transaction(msgpack_b64(payment))
    assert isinstance(decoded, transaction.PaymentTxn)
    assert (decoded.sender, decoded.receiver, decoded.amt, decoded.fee) == (WALLET, AGENT, 250_000, 1000)
    assert (decoded.first_valid_round, decoded.last_valid_round) == (5000, 6000)
    assert decoded.genesis_hash == GENESIS_HASH
    assert decoded.note == b"job 7"
    assert decoded.group == payment.group
    assert decoded.get_txid() == payment.get_txid()


def test_decodes_base64_of_base64() -> None:
    _, call = agent_group()
    decoded = decode_transaction(twice(msgpack_b64(call)))
    assert isinstance(decoded, transaction.ApplicationCallTxn)
    assert (decoded.index, decoded.app_args) == (APP_ID, [PAY_SELECTOR])
    assert decoded.on_complete == transaction.OnComplete.NoOpOC
    assert decoded.get_txid() == call.get_txid()


@pytest.mark.parametrize("encode", [msgpack_b64, lambda txn: twice(msgpack_b64(txn))], ids=["once", "twice"])
def test_whitespace_around_the_blob_is_ignored(encode: Any) -> None:
    payment, _ = agent_group()
    decoded = decode_transaction("  \n" + encode(payment) + "\r\n\t ")
    assert decoded.get_txid() == payment.get_txid()


@pytest.mark.parametrize(
    "blob",
    [
        "",
        "   \n",
        "not a transaction",
        "!!!!",
        base64.b64encode(b"\xc1\xc1 not msgpack").decode(),
        base64.b64encode(bytes(msgpack.packb({"a": 1}))).decode(),
        base64.b64encode(bytes(msgpack.packb([1, 2, 3]))).decode(),
        base64.b64encode(bytes(msgpack.packb("type"))).decode(),
        twice("not a transaction"),
    ],
    ids=[
        "empty",
        "blank",
        "text",
        "punctuation",
        "not msgpack",
        "a map that is no transaction",
        "a list",
        "a string",
        "base64 of garbage",
    ],
)
def test_garbage_is_undecodable(blob: str) -> None:
    with pytest.raises(UndecodableTransaction):
        decode_transaction(blob)


@pytest.mark.parametrize("blob", [None, 42, b"iaNhbXTOAAPQkA==", ["x"]], ids=["none", "int", "bytes", "list"])
def test_non_text_is_undecodable(blob: Any) -> None:
    with pytest.raises(UndecodableTransaction, match="empty or not text"):
        decode_transaction(blob)


def test_bytes_of_a_valid_blob_are_undecodable() -> None:
    payment, _ = agent_group()
    bad: Any = encode_transaction(payment).encode("ascii")
    with pytest.raises(UndecodableTransaction):
        decode_transaction(bad)


@pytest.mark.parametrize("encodings", [1, 2], ids=["once", "twice"])
def test_signed_transaction_is_undecodable(encodings: int) -> None:
    payment, _ = agent_group()
    (signed,) = AccountTransactionSigner(WALLET_KEY).sign_transactions([payment], [0])
    blob = str(encoding.msgpack_encode(signed))
    assert isinstance(encoding.msgpack_decode(blob), transaction.SignedTransaction)
    with pytest.raises(UndecodableTransaction, match="not base64 msgpack of an unsigned transaction"):
        decode_transaction(blob if encodings == 1 else twice(blob))


def test_encode_is_single_base64_msgpack_and_round_trips() -> None:
    for txn in agent_group():
        blob = encode_transaction(txn)
        assert blob == msgpack_b64(txn)
        unpacked = msgpack.unpackb(base64.b64decode(blob), raw=False)
        assert (unpacked["type"], unpacked["snd"]) == (txn.type, encoding.decode_address(WALLET))
        decoded = decode_transaction(blob)
        assert decoded.get_txid() == txn.get_txid()
        assert decoded == txn
        assert encode_transaction(decoded) == blob


def test_reencoding_a_double_base64_blob_gives_the_canonical_form() -> None:
    payment, _ = agent_group()
    assert encode_transaction(decode_transaction(twice(encode_transaction(payment)))) == encode_transaction(
        payment
    )


def test_decode_group_keeps_order_and_types() -> None:
    payment, call = agent_group()
    decoded = decode_group([twice(encode_transaction(call)), encode_transaction(payment)])
    assert [type(txn) for txn in decoded] == [transaction.ApplicationCallTxn, transaction.PaymentTxn]
    assert [txn.get_txid() for txn in decoded] == [call.get_txid(), payment.get_txid()]
    assert decoded[0].group == decoded[1].group == payment.group


def test_decode_group_of_nothing_is_empty() -> None:
    assert decode_group([]) == []


def test_decode_group_rejects_one_bad_member() -> None:
    payment, call = agent_group()
    with pytest.raises(UndecodableTransaction):
        decode_group([encode_transaction(payment), "garbage", encode_transaction(call)])
