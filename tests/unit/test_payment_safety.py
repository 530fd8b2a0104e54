"""The payment safety rules: every rule is broken by a group that breaks only that rule."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from algosdk import abi, account, encoding, logic, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from orchestrator.errors import UnsafePaymentGroup
from orchestrator.payments.decoding import encode_transaction
from orchestrator.payments.safety import MAX_GROUP_SIZE, CheckedGroup, PaymentPolicy, check_payment_group

WALLET_KEY, WALLET = account.generate_account()
_, AGENT = account.generate_account()
_, STRANGER = account.generate_account()
APP_ID = 1234
ASSET_ID = 31566704
PRICE = 250_000
FEE = 1000
CURRENT_ROUND = 5000
GENESIS_HASH = base64.b64encode(hashlib.sha256(b"orch-test-net").digest()).decode()
OTHER_GENESIS_HASH = base64.b64encode(hashlib.sha256(b"another-net").digest()).decode()
PAY_SELECTOR = abi.Method.from_signature("pay(pay)void").get_selector()

POLICY = PaymentPolicy(
    sender=WALLET,
    agent_address=AGENT,
    app_id=APP_ID,
    max_total_microalgo=PRICE,
    max_fee_microalgo=2 * FEE,
    genesis_hash=GENESIS_HASH,
    current_round=CURRENT_ROUND,
)


def params(
    first: int = CURRENT_ROUND, last: int = CURRENT_ROUND + 1000, fee: int = FEE, gh: str = GENESIS_HASH
) -> transaction.SuggestedParams:
    return transaction.SuggestedParams(fee, first, last, gh, flat_fee=True)


def payment(
    amount: int = PRICE,
    receiver: str = AGENT,
    sp: transaction.SuggestedParams | None = None,
    sender: str = WALLET,
    **options: Any,
) -> transaction.PaymentTxn:
    return transaction.PaymentTxn(sender, sp or params(), receiver, amount, **options)


def app_call(
    app_id: int = APP_ID, sp: transaction.SuggestedParams | None = None, **options: Any
) -> transaction.ApplicationNoOpTxn:
    return transaction.ApplicationNoOpTxn(WALLET, sp or params(), app_id, [PAY_SELECTOR], **options)


def grouped(*txns: transaction.Transaction) -> list[transaction.Transaction]:
    return list(transaction.assign_group_id(list(txns)))


def baseline() -> list[transaction.Transaction]:
    """What a well-behaved agent offers: the price to its address, then a `pay(pay)void` call."""
    return grouped(payment(), app_call())


def blobs_of(txns: list[transaction.Transaction]) -> list[str]:
    return [encode_transaction(txn) for txn in txns]


def ids_of(txns: list[transaction.Transaction]) -> list[str]:
    return [txn.get_txid() for txn in txns]


def check(txns: list[transaction.Transaction], policy: PaymentPolicy = POLICY) -> CheckedGroup:
    return check_payment_group(blobs_of(txns), ids_of(txns), policy)


def broken_rule(
    txns: list[transaction.Transaction],
    policy: PaymentPolicy = POLICY,
    *,
    blobs: list[str] | None = None,
    txn_ids: list[str] | None = None,
) -> str:
    with pytest.raises(UnsafePaymentGroup) as caught:
        check_payment_group(
            blobs_of(txns) if blobs is None else blobs,
            ids_of(txns) if txn_ids is None else txn_ids,
            policy,
        )
    assert caught.value.details == {"rule": caught.value.rule}
    return caught.value.rule


# --- groups that pass ---------------------------------------------------------------------------


def test_baseline_group_passes_with_exact_summary() -> None:
    txns = baseline()
    checked = check(txns)
    group_id = txns[0].group
    assert group_id is not None and txns[1].group == group_id
    assert checked == CheckedGroup(
        unsigned_group_txns=blobs_of(txns),
        txn_ids=ids_of(txns),
        group_id=base64.b64encode(group_id).decode(),
        total_paid_microalgo=PRICE,
        total_fee_microalgo=2 * FEE,
        receiver=AGENT,
        first_valid=CURRENT_ROUND,
        last_valid=CURRENT_ROUND + 1000,
    )


def test_validity_window_is_the_intersection_of_the_members_windows() -> None:
    txns = grouped(
        payment(sp=params(first=CURRENT_ROUND - 10, last=CURRENT_ROUND + 900)),
        app_call(sp=params(first=CURRENT_ROUND + 1, last=CURRENT_ROUND + 950)),
    )
    checked = check(txns)
    assert (checked.first_valid, checked.last_valid) == (CURRENT_ROUND + 1, CURRENT_ROUND + 900)


def test_double_base64_blobs_are_accepted_and_reencoded_once() -> None:
    txns = baseline()
    doubled = [base64.b64encode(blob.encode("ascii")).decode("ascii") for blob in blobs_of(txns)]
    assert doubled != blobs_of(txns)
    checked = check_payment_group(doubled, ids_of(txns), POLICY)
    assert checked.unsigned_group_txns == blobs_of(txns)
    assert checked.txn_ids == ids_of(txns)


def test_single_ungrouped_payment_passes_without_group_id() -> None:
    txns: list[transaction.Transaction] = [payment(amount=PRICE - 1)]
    checked = check(txns)
    assert checked.group_id is None
    assert checked.txn_ids == ids_of(txns)
    assert (checked.total_paid_microalgo, checked.total_fee_microalgo) == (PRICE - 1, FEE)
    assert checked.receiver == AGENT


def test_payment_to_the_agents_app_address_passes() -> None:
    app_address = logic.get_application_address(APP_ID)
    checked = check(grouped(app_call(), payment(receiver=app_address)))
    assert (checked.receiver, checked.total_paid_microalgo) == (app_address, PRICE)


def test_notes_are_allowed() -> None:
    checked = check(grouped(payment(note=b"job 42"), app_call(note=b"orchestrator")))
    assert checked.total_paid_microalgo == PRICE


@pytest.mark.parametrize("order", ["payment first", "app call first"])
def test_app_call_and_payment_pass_in_either_order(order: str) -> None:
    pay, call = payment(), app_call()
    txns = grouped(pay, call) if order == "payment first" else grouped(call, pay)
    checked = check(txns)
    assert checked.txn_ids == ids_of(txns)
    assert (checked.receiver, checked.total_paid_microalgo) == (AGENT, PRICE)


def test_several_payments_totalling_exactly_the_price_pass() -> None:
    checked = check(grouped(payment(amount=PRICE - 1000), payment(amount=1000)))
    assert checked.total_paid_microalgo == PRICE


def test_fees_exactly_at_the_cap_pass() -> None:
    txns = grouped(payment(sp=params(fee=1500)), app_call(sp=params(fee=500)))
    assert check(txns).total_fee_microalgo == POLICY.max_fee_microalgo


def test_largest_allowed_group_passes() -> None:
    txns = grouped(*(payment(amount=1, note=str(i).encode()) for i in range(MAX_GROUP_SIZE)))
    policy = POLICY.model_copy(update={"max_fee_microalgo": MAX_GROUP_SIZE * FEE})
    checked = check(txns, policy)
    assert MAX_GROUP_SIZE == 16
    assert (len(checked.txn_ids), checked.total_paid_microalgo) == (16, 16)


def test_window_of_exactly_the_maximum_length_passes() -> None:
    sp = params(first=CURRENT_ROUND - 10, last=CURRENT_ROUND - 10 + POLICY.max_validity_rounds)
    assert check([payment(sp=sp)]).last_valid == CURRENT_ROUND + 990


def test_window_opening_within_the_round_slack_passes() -> None:
    first = CURRENT_ROUND + POLICY.round_slack
    assert check([payment(sp=params(first=first, last=first + 10))]).first_valid == CURRENT_ROUND + 2


def test_window_that_ends_at_the_next_round_passes() -> None:
    sp = params(first=CURRENT_ROUND - 5, last=CURRENT_ROUND + 1)
    assert check([payment(sp=sp)]).last_valid == CURRENT_ROUND + 1


# --- one broken rule each -----------------------------------------------------------------------


def test_undecodable_blob() -> None:
    txns = baseline()
    blobs = [blobs_of(txns)[0], "not a transaction"]
    assert broken_rule(txns, blobs=blobs) == "undecodable"


def test_signed_transaction_is_undecodable() -> None:
    txns: list[transaction.Transaction] = [payment()]
    (stxn,) = AccountTransactionSigner(WALLET_KEY).sign_transactions(txns, [0])
    signed = str(encoding.msgpack_encode(stxn))
    assert broken_rule(txns, blobs=[signed]) == "undecodable"


def test_empty_group() -> None:
    assert broken_rule([], blobs=[], txn_ids=[]) == "empty_group"


def test_group_too_large() -> None:
    # calculate_group_id refuses more than 16, so these 17 carry no group id.
    txns: list[transaction.Transaction] = [
        payment(amount=1, note=str(i).encode()) for i in range(MAX_GROUP_SIZE + 1)
    ]
    policy = POLICY.model_copy(update={"max_fee_microalgo": 100 * FEE})
    assert broken_rule(txns, policy) == "group_too_large"


def test_group_id_from_another_list() -> None:
    txns = baseline()
    other = grouped(payment(amount=PRICE - 1), app_call())
    for txn in txns:
        txn.group = other[0].group
    assert broken_rule(txns) == "group_id_mismatch"


def test_group_id_of_another_order() -> None:
    pay, call = baseline()
    assert broken_rule([call, pay]) == "group_id_mismatch"


def test_grouped_transaction_missing_its_group_id() -> None:
    txns = baseline()
    txns[1].group = None
    assert broken_rule(txns) == "group_id_mismatch"


def test_lone_transaction_with_a_foreign_group_id() -> None:
    pay = payment()
    pay.group = baseline()[0].group
    assert broken_rule([pay]) == "group_id_mismatch"


def test_foreign_sender() -> None:
    assert broken_rule(grouped(payment(sender=STRANGER), app_call())) == "foreign_sender"


def test_rekey() -> None:
    assert broken_rule(grouped(payment(), app_call(rekey_to=STRANGER))) == "rekey"


def test_close_to() -> None:
    assert broken_rule(grouped(payment(close_remainder_to=AGENT), app_call())) == "close_to"


def test_asset_close_to() -> None:
    close = transaction.AssetTransferTxn(WALLET, params(), AGENT, 0, ASSET_ID, close_assets_to=AGENT)
    assert broken_rule(grouped(payment(), close)) == "asset_close_to"


def _keyreg() -> transaction.Transaction:
    return transaction.KeyregOfflineTxn(WALLET, params())


def _asset_create() -> transaction.Transaction:
    return transaction.AssetCreateTxn(WALLET, params(), 1000, 0, False, unit_name="X", asset_name="X")


def _asset_config() -> transaction.Transaction:
    return transaction.AssetConfigTxn(
        WALLET, params(), index=ASSET_ID, manager=STRANGER, strict_empty_address_check=False
    )


def _asset_freeze() -> transaction.Transaction:
    return transaction.AssetFreezeTxn(WALLET, params(), ASSET_ID, STRANGER, True)


def _clawback() -> transaction.Transaction:
    return transaction.AssetTransferTxn(WALLET, params(), AGENT, 10, ASSET_ID, revocation_target=STRANGER)


def _asset_transfer() -> transaction.Transaction:
    return transaction.AssetTransferTxn(WALLET, params(), AGENT, 10, ASSET_ID)


def _app_opt_in() -> transaction.Transaction:
    return transaction.ApplicationOptInTxn(WALLET, params(), APP_ID)


def _app_close_out() -> transaction.Transaction:
    return transaction.ApplicationCloseOutTxn(WALLET, params(), APP_ID)


def _app_clear_state() -> transaction.Transaction:
    return transaction.ApplicationClearStateTxn(WALLET, params(), APP_ID)


def _app_delete() -> transaction.Transaction:
    return transaction.ApplicationDeleteTxn(WALLET, params(), APP_ID)


def _app_update() -> transaction.Transaction:
    program = bytes([0x06, 0x81, 0x01])  # #pragma version 6; int 1
    return transaction.ApplicationUpdateTxn(WALLET, params(), APP_ID, program, program)


FORBIDDEN: dict[str, Callable[[], transaction.Transaction]] = {
    "key registration": _keyreg,
    "asset create": _asset_create,
    "asset config": _asset_config,
    "asset freeze": _asset_freeze,
    "clawback": _clawback,
    "asset transfer": _asset_transfer,
    "app opt-in": _app_opt_in,
    "app close-out": _app_close_out,
    "app clear state": _app_clear_state,
    "app delete": _app_delete,
    "app update": _app_update,
}


@pytest.mark.parametrize("kind", list(FORBIDDEN))
def test_forbidden_type(kind: str) -> None:
    assert broken_rule(grouped(payment(), FORBIDDEN[kind]())) == "forbidden_type"


def test_wrong_receiver() -> None:
    assert broken_rule(grouped(payment(receiver=STRANGER), app_call())) == "wrong_receiver"


def test_payment_to_another_apps_address_is_wrong_receiver() -> None:
    other_app = logic.get_application_address(APP_ID + 1)
    assert broken_rule(grouped(payment(receiver=other_app), app_call())) == "wrong_receiver"


def test_wrong_app_id() -> None:
    assert broken_rule(grouped(payment(), app_call(app_id=APP_ID + 1))) == "wrong_app_id"


def test_app_call_when_the_agent_has_no_app_is_wrong_app_id() -> None:
    policy = POLICY.model_copy(update={"app_id": None})
    assert broken_rule(baseline(), policy) == "wrong_app_id"


def test_overprice() -> None:
    assert broken_rule(grouped(payment(amount=PRICE + 1), app_call())) == "overprice"


def test_overprice_summed_over_several_payments() -> None:
    assert broken_rule(grouped(payment(amount=PRICE), payment(amount=1))) == "overprice"


def test_fee_too_high() -> None:
    assert broken_rule(grouped(payment(sp=params(fee=FEE + 1)), app_call())) == "fee_too_high"


def test_wrong_genesis() -> None:
    assert broken_rule(grouped(payment(), app_call(sp=params(gh=OTHER_GENESIS_HASH)))) == "wrong_genesis"


def test_window_expired() -> None:
    sp = params(first=CURRENT_ROUND - 100, last=CURRENT_ROUND - 1)
    assert broken_rule(grouped(payment(sp=sp), app_call(sp=sp))) == "window_expired"


def test_window_ending_at_the_current_round_is_expired() -> None:
    # The next block is CURRENT_ROUND + 1: a transaction whose last valid round is the current
    # one can no longer be confirmed.
    sp = params(first=CURRENT_ROUND - 100, last=CURRENT_ROUND)
    assert broken_rule([payment(sp=sp)]) == "window_expired"


def test_window_not_open() -> None:
    first = CURRENT_ROUND + POLICY.round_slack + 1
    sp = params(first=first, last=first + 100)
    assert broken_rule(grouped(payment(), app_call(sp=sp))) == "window_not_open"


def test_window_too_long() -> None:
    sp = params(first=CURRENT_ROUND, last=CURRENT_ROUND + POLICY.max_validity_rounds + 1)
    assert broken_rule(grouped(payment(sp=sp), app_call())) == "window_too_long"


def test_txid_mismatch_in_the_wrong_order() -> None:
    txns = baseline()
    assert broken_rule(txns, txn_ids=list(reversed(ids_of(txns)))) == "txid_mismatch"


def test_txid_mismatch_with_other_ids() -> None:
    txns = baseline()
    other = grouped(payment(amount=PRICE - 1), app_call())
    assert broken_rule(txns, txn_ids=ids_of(other)) == "txid_mismatch"


def test_txid_mismatch_with_a_missing_id() -> None:
    txns = baseline()
    assert broken_rule(txns, txn_ids=ids_of(txns)[:1]) == "txid_mismatch"


def test_unsafe_group_error_names_the_rule_and_the_transaction() -> None:
    with pytest.raises(UnsafePaymentGroup) as caught:
        check(grouped(payment(), app_call(app_id=APP_ID + 1)))
    error = caught.value
    assert (error.code, error.http_status, error.rule) == ("UnsafePaymentGroup", 422, "wrong_app_id")
    assert error.message == (
        f"transaction 2 of 2 calls app {APP_ID + 1}, not the agent's registered app {APP_ID}."
    )
    assert error.to_dict() == {
        "code": "UnsafePaymentGroup",
        "message": error.message,
        "details": {"rule": "wrong_app_id"},
    }
