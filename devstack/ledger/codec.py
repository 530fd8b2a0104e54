"""Algorand wire formats as algod reads them: signed transactions in canonical msgpack, transaction ids,
group ids, ed25519 signatures, and the JSON rendering of msgpack values (bytes as base64, addresses
as base32)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import msgpack
from algosdk import constants, encoding
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from devstack.ledger.errors import LedgerError

ZERO_ADDRESS = encoding.encode_address(bytes(32))
# msgpack fields holding 32-byte public keys, which algod renders as base32 addresses in JSON
ADDRESS_FIELDS = frozenset({"snd", "rcv", "close", "rekey", "sgnr", "asnd", "arcv", "aclose", "fadd", "apat"})
# the other byte-string fields of a SignedTransaction (base64 in algod's JSON); "n" is a box's name
BYTES_FIELDS = frozenset(
    {"sig", "note", "gh", "grp", "lx", "apap", "apsu", "apaa", "n", "am", "votekey", "selkey", "sprfkey"}
)


def canonical_msgpack(value: dict[str, Any]) -> bytes:
    """algosdk's canonical encoding: keys sorted, zero values omitted (dicts recursively)."""
    return base64.b64decode(encoding.msgpack_encode(value))


def sha512_256(data: bytes) -> bytes:
    return bytes(encoding.checksum(data))


def txid_from_hash(digest: bytes) -> str:
    return base64.b32encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class SignedTxn:
    """One SignedTransaction as submitted, with the fields the ledger looks at already decoded."""

    raw: dict[str, Any]  # as msgpack decoded it: msgpack field names, bytes stay bytes
    txid: str
    signing_bytes: bytes  # b"TX" + canonical msgpack of the transaction: what the signature covers
    group_member_hash: bytes  # hash of the transaction without its group field: an entry of the group id
    type: str
    sender: str
    fee: int
    first_valid: int
    last_valid: int
    genesis_id: str
    genesis_hash: bytes
    group: bytes | None
    note: bytes
    rekey_to: str | None
    receiver: str
    amount: int
    close_to: str | None
    app_id: int
    on_completion: int
    signature_kind: str  # "sig", "msig", "lsig" or "none"
    signature: bytes
    authorizer_claim: str | None  # "sgnr": the address that signed for a rekeyed sender

    @property
    def txn(self) -> dict[str, Any]:
        return dict(self.raw["txn"])

    def msgpack(self) -> bytes:
        return canonical_msgpack(self.raw)


def _uint(fields: dict[str, Any], key: str) -> int:
    value = fields.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"field {key!r} must be an unsigned integer")
    return value


def _bytes(fields: dict[str, Any], key: str, size: int | None = None) -> bytes:
    value = fields.get(key, b"")
    if not isinstance(value, bytes) or (value and size is not None and len(value) != size):
        raise ValueError(f"field {key!r} must be {size or 'some'} bytes")
    return value


def _text(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} must be a string")
    return value


def _address(fields: dict[str, Any], key: str) -> str | None:
    value = _bytes(fields, key, 32)
    return str(encoding.encode_address(value)) if value else None


def parse_signed_txn(raw: dict[str, Any]) -> SignedTxn:
    """Decode the fields of one SignedTransaction; ValueError when it is malformed."""
    txn = raw.get("txn")
    if not isinstance(txn, dict):
        raise ValueError("a signed transaction needs a 'txn' map")
    if "lsig" in raw:
        kind = "lsig"
    elif "msig" in raw:
        kind = "msig"
    elif "sig" in raw:
        kind = "sig"
    else:
        kind = "none"
    body = canonical_msgpack(txn)
    without_group = canonical_msgpack({key: value for key, value in txn.items() if key != "grp"})
    return SignedTxn(
        raw=raw,
        txid=txid_from_hash(sha512_256(constants.txid_prefix + body)),
        signing_bytes=constants.txid_prefix + body,
        group_member_hash=sha512_256(constants.txid_prefix + without_group),
        type=_text(txn, "type"),
        sender=_address(txn, "snd") or ZERO_ADDRESS,
        fee=_uint(txn, "fee"),
        first_valid=_uint(txn, "fv"),
        last_valid=_uint(txn, "lv"),
        genesis_id=_text(txn, "gen"),
        genesis_hash=_bytes(txn, "gh", 32),
        group=_bytes(txn, "grp", 32) or None,
        note=_bytes(txn, "note"),
        rekey_to=_address(txn, "rekey"),
        receiver=_address(txn, "rcv") or ZERO_ADDRESS,
        amount=_uint(txn, "amt"),
        close_to=_address(txn, "close"),
        app_id=_uint(txn, "apid"),
        on_completion=_uint(txn, "apan"),
        signature_kind=kind,
        signature=_bytes(raw, "sig", 64) if kind == "sig" else b"",
        authorizer_claim=_address(raw, "sgnr"),
    )


def decode_signed_group(data: bytes) -> list[SignedTxn]:
    """Concatenated msgpack SignedTransactions, as POST /v2/transactions receives them."""
    if not data:
        raise LedgerError(400, "no transactions in the request body")
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=len(data))
    unpacker.feed(data)
    txns: list[SignedTxn] = []
    consumed = 0
    try:
        for item in unpacker:
            consumed = unpacker.tell()  # after the last complete item (a truncated one ends the loop)
            if not isinstance(item, dict):
                raise ValueError("expected a msgpack map per signed transaction")
            txns.append(parse_signed_txn(item))
            if len(txns) > constants.tx_group_limit:
                raise LedgerError(
                    400, f"transaction group size exceeds the maximum of {constants.tx_group_limit}"
                )
        if consumed != len(data):
            raise ValueError(f"{len(data) - consumed} bytes left over after the last complete transaction")
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise LedgerError(400, f"msgpack decode error: {exc}") from exc
    if not txns:
        raise LedgerError(400, "no transactions in the request body")
    return txns


def group_id_of(txns: list[SignedTxn]) -> bytes:
    """The group id algosdk's calculate_group_id gives these transactions."""
    encoded = canonical_msgpack({"txlist": [txn.group_member_hash for txn in txns]})
    return sha512_256(constants.tgid_prefix + encoded)


def signature_verifies(txn: SignedTxn, signer: str) -> bool:
    """Does `txn`'s single ed25519 signature verify under `signer`'s public key?"""
    try:
        VerifyKey(encoding.decode_address(signer)).verify(txn.signing_bytes, txn.signature)
    except (BadSignatureError, ValueError):
        return False
    return True


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def to_json_value(value: Any, field: str = "") -> Any:
    """A decoded msgpack value as algod's JSON shows it: addresses in base32, other bytes in base64."""
    if isinstance(value, dict):
        return {str(key): to_json_value(item, str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json_value(item, field) for item in value]
    if isinstance(value, bytes):
        if field in ADDRESS_FIELDS and len(value) == 32:
            return encoding.encode_address(value)
        return b64(value)
    return value


def from_json_value(value: Any, field: str = "") -> Any:
    """The inverse of to_json_value for a SignedTransaction in algod's JSON: the address and byte-string
    fields back to bytes (an address may also come as base64 of its 32 bytes); ValueError if malformed."""
    if isinstance(value, dict):
        return {str(key): from_json_value(item, str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json_value(item, field) for item in value]
    if isinstance(value, str) and (field in ADDRESS_FIELDS or field in BYTES_FIELDS):
        if field in ADDRESS_FIELDS and encoding.is_valid_address(value):
            return bytes(encoding.decode_address(value))
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"field {field!r} is neither an address nor base64") from exc
    return value
