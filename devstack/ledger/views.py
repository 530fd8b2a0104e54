"""The JSON (and msgpack) bodies algod and the indexer answer with, built from the ledger's records."""

from __future__ import annotations

from typing import Any

import msgpack

from devstack.ledger.chain import AccountView, TxnRecord
from devstack.ledger.codec import b64, to_json_value
from devstack.ledger.rules import MIN_BALANCE

# Not a real protocol version: clients only carry it along in their suggested params.
CONSENSUS_VERSION = "https://github.com/algorandfoundation/specs/tree/orch-dev-ledger"
ON_COMPLETION_NAMES = ("noop", "optin", "closeout", "clear", "update", "delete")


# --- algod ----------------------------------------------------------------------------------------
def pending_transaction(record: TxnRecord) -> dict[str, Any]:
    """algod's PendingTransactionResponse, its `txn` as msgpack decoded it (bytes stay bytes)."""
    body: dict[str, Any] = {"pool-error": "", "txn": record.txn.raw}
    if record.confirmed_round is not None:
        body.update(
            {
                "confirmed-round": record.confirmed_round,
                "closing-amount": record.closing_amount,
                "sender-rewards": 0,
                "receiver-rewards": 0,
                "close-rewards": 0,
            }
        )
        if record.created_app_id is not None:
            body["application-index"] = record.created_app_id
    return body


def pending_transaction_json(record: TxnRecord) -> dict[str, Any]:
    return dict(to_json_value(pending_transaction(record)))


def pending_transaction_msgpack(record: TxnRecord) -> bytes:
    return bytes(msgpack.packb(pending_transaction(record), use_bin_type=True))


def _account_common(view: AccountView) -> dict[str, Any]:
    """The fields algod's and the indexer's account answers share."""
    body: dict[str, Any] = {
        "address": view.address,
        "amount": view.amount,
        "amount-without-pending-rewards": view.amount,
        "min-balance": MIN_BALANCE,
        "pending-rewards": 0,
        "rewards": 0,
        "round": view.round,
        "status": "Offline",
        "total-apps-opted-in": 0,
        "total-assets-opted-in": 0,
        "total-box-bytes": 0,
        "total-boxes": 0,
        "total-created-apps": 0,
        "total-created-assets": 0,
    }
    if view.auth_addr:
        body["auth-addr"] = view.auth_addr
    return body


def algod_account(view: AccountView) -> dict[str, Any]:
    return {
        **_account_common(view),
        "apps-local-state": [],
        "apps-total-schema": {"num-byte-slice": 0, "num-uint": 0},
        "assets": [],
        "created-apps": [],
        "created-assets": [],
        "reward-base": 0,
    }


# --- indexer --------------------------------------------------------------------------------------
def indexer_transaction(record: TxnRecord) -> dict[str, Any]:
    """A confirmed transaction as the indexer shows it (empty optional fields left out, as it does)."""
    txn = record.txn
    fields = txn.txn
    body: dict[str, Any] = {
        "id": txn.txid,
        "confirmed-round": record.confirmed_round,
        "round-time": record.round_time,
        "intra-round-offset": record.intra_round_offset,
        "sender": txn.sender,
        "fee": txn.fee,
        "first-valid": txn.first_valid,
        "last-valid": txn.last_valid,
        "genesis-hash": b64(txn.genesis_hash),
        "genesis-id": txn.genesis_id,
        "tx-type": txn.type,
        "closing-amount": record.closing_amount,
        "sender-rewards": 0,
        "receiver-rewards": 0,
        "close-rewards": 0,
        "signature": {"sig": b64(txn.signature)},
    }
    optional = {
        "group": b64(txn.group) if txn.group else None,
        "note": b64(txn.note) if txn.note else None,
        "lease": to_json_value(fields["lx"]) if fields.get("lx") else None,
        "rekey-to": txn.rekey_to,
        "auth-addr": txn.authorizer_claim,
        "created-application-index": record.created_app_id,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if txn.type == "pay":
        payment: dict[str, Any] = {
            "receiver": txn.receiver,
            "amount": txn.amount,
            "close-amount": record.closing_amount,
        }
        if txn.close_to:
            payment["close-remainder-to"] = txn.close_to
        body["payment-transaction"] = payment
    elif txn.type == "appl":
        body["application-transaction"] = _application_call(fields, txn.app_id, txn.on_completion)
    return body


def _application_call(fields: dict[str, Any], app_id: int, on_completion: int) -> dict[str, Any]:
    def schema(key: str) -> dict[str, int]:
        value = fields.get(key) or {}
        return {"num-byte-slice": int(value.get("nbs", 0)), "num-uint": int(value.get("nui", 0))}

    call: dict[str, Any] = {
        "application-id": app_id,
        "on-completion": (
            ON_COMPLETION_NAMES[on_completion]
            if on_completion < len(ON_COMPLETION_NAMES)
            else str(on_completion)
        ),
        "application-args": to_json_value(fields.get("apaa", [])),
        "accounts": to_json_value(fields.get("apat", []), "apat"),
        "foreign-apps": list(fields.get("apfa", [])),
        "foreign-assets": list(fields.get("apas", [])),
        "global-state-schema": schema("apgs"),
        "local-state-schema": schema("apls"),
    }
    optional = {
        "approval-program": fields.get("apap"),
        "clear-state-program": fields.get("apsu"),
        "extra-program-pages": fields.get("apep"),
        "box-references": fields.get("apbx"),
    }
    call.update({key: to_json_value(value) for key, value in optional.items() if value})
    return call


def indexer_account(view: AccountView) -> dict[str, Any]:
    return {**_account_common(view), "deleted": False, "sig-type": "sig"}
