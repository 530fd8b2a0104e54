"""Decoding the unsigned transactions agents send: base64 msgpack, or (some agents) base64 of that."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from algosdk import encoding, transaction


class UndecodableTransaction(ValueError):
    """A blob is not an unsigned Algorand transaction in any encoding agents use."""


def decode_transaction(blob: str) -> transaction.Transaction:
    """One unsigned transaction from base64 msgpack, or from base64 of the base64 text."""
    if not isinstance(blob, str) or not blob.strip():
        raise UndecodableTransaction("the transaction is empty or not text")
    text = blob.strip()
    txn = _from_msgpack_b64(text)
    if txn is None:
        inner = _b64_text(text)
        txn = _from_msgpack_b64(inner) if inner else None
    if txn is None:
        raise UndecodableTransaction("the transaction is not base64 msgpack of an unsigned transaction")
    return txn


def decode_group(blobs: list[str]) -> list[transaction.Transaction]:
    return [decode_transaction(blob) for blob in blobs]


def group_payments(blobs: list[str], txn_ids: list[str]) -> list[tuple[str, int, str]]:
    """(txid, amount, payee) of each transaction of a group: payments pay their receiver; app calls
    pay nothing, to the app's address."""
    from algosdk import logic

    rows = []
    for txid, txn in zip(txn_ids, decode_group(blobs), strict=True):
        if isinstance(txn, transaction.PaymentTxn):
            rows.append((txid, int(txn.amt), str(txn.receiver)))
        else:
            rows.append((txid, 0, logic.get_application_address(int(getattr(txn, "index", 0) or 0))))
    return rows


def group_fees(blobs: list[str], *, sender: str | None = None) -> int:
    """The network fees of a group's transactions (only those `sender` sends, when given)."""
    return sum(int(txn.fee) for txn in decode_group(blobs) if sender is None or txn.sender == sender)


def encode_transaction(txn: transaction.Transaction) -> str:
    """The canonical form we store and offer for signing: base64 msgpack, once."""
    return str(encoding.msgpack_encode(txn))


def _from_msgpack_b64(text: str) -> transaction.Transaction | None:
    try:
        decoded: Any = encoding.msgpack_decode(text)
    except Exception:
        return None
    # A signed transaction or a multisig blob is not what an agent may ask the person to sign.
    return decoded if isinstance(decoded, transaction.Transaction) else None


def _b64_text(text: str) -> str | None:
    try:
        raw = base64.b64decode(text, validate=True)
        return raw.decode("ascii")
    except (binascii.Error, ValueError):
        return None
