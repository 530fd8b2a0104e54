"""The payment safety rules: what an agent's unsigned group must satisfy before a person is asked
to sign it. Each broken rule raises `UnsafePaymentGroup` naming the rule."""

from __future__ import annotations

import base64
import copy

from algosdk import logic, transaction

from orchestrator.errors import UnsafePaymentGroup
from orchestrator.models import OrchestratorModel
from orchestrator.payments.decoding import UndecodableTransaction, decode_transaction, encode_transaction

MAX_GROUP_SIZE = 16  # the protocol's limit on an atomic group


class PaymentPolicy(OrchestratorModel):
    """What one step may be asked to pay, and the chain it pays on."""

    sender: str  # the workflow's wallet
    agent_address: str
    app_id: int | None
    max_total_microalgo: int  # the agent's price as approved in the plan
    max_fee_microalgo: int  # cap on the group's total fees
    genesis_hash: str  # base64, of the configured network
    current_round: int
    max_validity_rounds: int = 1000
    # Agents read the round from their own node, which may be a round or two ahead of ours.
    round_slack: int = 2


class CheckedGroup(OrchestratorModel):
    """A group that passed every rule, in the canonical encoding the wallet signs."""

    unsigned_group_txns: list[str]
    txn_ids: list[str]
    group_id: str | None
    total_paid_microalgo: int
    total_fee_microalgo: int
    receiver: str
    first_valid: int
    last_valid: int


def check_payment_group(blobs: list[str], txn_ids: list[str], policy: PaymentPolicy) -> CheckedGroup:
    txns = _decode_all(blobs)
    _check_group_id(txns)
    allowed_receivers = {policy.agent_address}
    if policy.app_id:
        allowed_receivers.add(logic.get_application_address(policy.app_id))

    total_paid = 0
    total_fee = 0
    receiver = ""
    for position, txn in enumerate(txns, start=1):
        where = f"transaction {position} of {len(txns)}"
        _check_common(txn, where, policy)
        total_fee += int(txn.fee)
        if isinstance(txn, transaction.PaymentTxn):
            if txn.close_remainder_to:
                raise UnsafePaymentGroup(
                    "close_to", f"{where} would close the wallet's account to {txn.close_remainder_to}."
                )
            if txn.receiver not in allowed_receivers:
                raise UnsafePaymentGroup(
                    "wrong_receiver",
                    f"{where} pays {txn.receiver}, not the agent's registered address {policy.agent_address}.",
                )
            total_paid += int(txn.amt)
            receiver = receiver or str(txn.receiver)
        elif isinstance(txn, transaction.ApplicationCallTxn):
            if not policy.app_id or int(txn.index) != policy.app_id:
                raise UnsafePaymentGroup(
                    "wrong_app_id",
                    f"{where} calls app {txn.index}, not the agent's registered app {policy.app_id}.",
                )
            if txn.on_complete != transaction.OnComplete.NoOpOC:
                raise UnsafePaymentGroup(
                    "forbidden_type",
                    f"{where} is a {getattr(txn.on_complete, 'name', txn.on_complete)} app call; only a plain (NoOp) call is allowed.",
                )
        elif isinstance(txn, transaction.AssetTransferTxn) and txn.close_assets_to:
            raise UnsafePaymentGroup(
                "asset_close_to", f"{where} would close the wallet's asset holding to {txn.close_assets_to}."
            )
        else:
            # Key registration, asset config/freeze/transfer (incl. clawback), state proofs...
            raise UnsafePaymentGroup(
                "forbidden_type",
                f"{where} is a {txn.type!r} transaction; only payments and app calls are allowed.",
            )

    if total_paid > policy.max_total_microalgo:
        raise UnsafePaymentGroup(
            "overprice",
            f"The group pays {total_paid} µAlgo; the approved price is {policy.max_total_microalgo} µAlgo.",
        )
    if total_fee > policy.max_fee_microalgo:
        raise UnsafePaymentGroup(
            "fee_too_high",
            f"The group's fees are {total_fee} µAlgo; the cap is {policy.max_fee_microalgo} µAlgo.",
        )
    computed_ids = [txn.get_txid() for txn in txns]
    if list(txn_ids) != computed_ids:
        raise UnsafePaymentGroup(
            "txid_mismatch", "The agent's txn_ids are not the ids of the transactions it asks to sign."
        )
    group = txns[0].group
    return CheckedGroup(
        unsigned_group_txns=[encode_transaction(txn) for txn in txns],
        txn_ids=computed_ids,
        group_id=base64.b64encode(group).decode() if group else None,
        total_paid_microalgo=total_paid,
        total_fee_microalgo=total_fee,
        receiver=receiver,
        first_valid=max(int(txn.first_valid_round) for txn in txns),
        last_valid=min(int(txn.last_valid_round) for txn in txns),
    )


def _decode_all(blobs: list[str]) -> list[transaction.Transaction]:
    if not blobs:
        raise UnsafePaymentGroup("empty_group", "The agent asked for a payment but sent no transactions.")
    if len(blobs) > MAX_GROUP_SIZE:
        raise UnsafePaymentGroup(
            "group_too_large",
            f"The group has {len(blobs)} transactions; at most {MAX_GROUP_SIZE} are allowed.",
        )
    txns = []
    for position, blob in enumerate(blobs, start=1):
        try:
            txns.append(decode_transaction(blob))
        except UndecodableTransaction as exc:
            raise UnsafePaymentGroup(
                "undecodable", f"Transaction {position} cannot be decoded: {exc}."
            ) from exc
    return txns


def _check_group_id(txns: list[transaction.Transaction]) -> None:
    """Every transaction carries the group id computed from the whole list (a lone one may carry none)."""
    if len(txns) == 1 and not txns[0].group:
        return
    # The group id is computed over the transactions without their group field.
    bare = [copy.copy(txn) for txn in txns]
    for txn in bare:
        txn.group = None
    computed = transaction.calculate_group_id(bare)
    if any(txn.group != computed for txn in txns):
        raise UnsafePaymentGroup(
            "group_id_mismatch", "The transactions' group id is not the one computed from the group."
        )


def _check_common(txn: transaction.Transaction, where: str, policy: PaymentPolicy) -> None:
    if txn.sender != policy.sender:
        raise UnsafePaymentGroup(
            "foreign_sender",
            f"{where} is sent by {txn.sender}, not by the workflow's wallet {policy.sender}.",
        )
    if txn.rekey_to:
        raise UnsafePaymentGroup("rekey", f"{where} would rekey the wallet to {txn.rekey_to}.")
    if txn.genesis_hash != policy.genesis_hash:
        raise UnsafePaymentGroup(
            "wrong_genesis", f"{where} is for another network (genesis {txn.genesis_hash})."
        )
    first, last = int(txn.first_valid_round), int(txn.last_valid_round)
    if last - first > policy.max_validity_rounds:
        raise UnsafePaymentGroup(
            "window_too_long",
            f"{where} stays valid for {last - first} rounds; at most {policy.max_validity_rounds} are allowed.",
        )
    # The next block is current_round + 1: a window that ends at the current round is already closed.
    if last <= policy.current_round:
        raise UnsafePaymentGroup(
            "window_expired",
            f"{where} expired at round {last}; the chain is at round {policy.current_round}.",
        )
    if first > policy.current_round + policy.round_slack:
        raise UnsafePaymentGroup(
            "window_not_open",
            f"{where} only becomes valid at round {first}; the chain is at round {policy.current_round}.",
        )
