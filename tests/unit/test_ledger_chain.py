"""The dev ledger's chain state without HTTP: rounds produced by hand, groups built with algosdk."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from algosdk import account, encoding, mnemonic, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner, MultisigTransactionSigner

from devstack.ledger import DevAccount, Ledger, LedgerError, dev_accounts, genesis_hash_for
from devstack.ledger.codec import decode_signed_group, group_id_of

ALICE, BOB, CAROL = dev_accounts(3, seed="unit-ledger")
FUNDS = 5_000_000


def new_ledger(*, indexer_lag_seconds: float = 0.0, state_path: str | None = None) -> Ledger:
    return Ledger(
        funded={ALICE.address: FUNDS}, indexer_lag_seconds=indexer_lag_seconds, state_path=state_path
    )


def params(ledger: Ledger, **changes: object) -> transaction.SuggestedParams:
    current = ledger.current_round()
    suggested = transaction.SuggestedParams(
        0, current, current + 1000, ledger.genesis_hash, ledger.genesis_id, min_fee=ledger.min_fee
    )
    for name, value in changes.items():
        setattr(suggested, name, value)
    return suggested


def raw(txns: Sequence[transaction.Transaction], signer: DevAccount = ALICE) -> bytes:
    stxns = AccountTransactionSigner(signer.private_key).sign_transactions(list(txns), list(range(len(txns))))
    return b"".join(base64.b64decode(encoding.msgpack_encode(stxn)) for stxn in stxns)


def pay(ledger: Ledger, amount: int, receiver: str = BOB.address, **options: Any) -> transaction.PaymentTxn:
    return transaction.PaymentTxn(ALICE.address, params(ledger), receiver, amount, **options)


def test_dev_accounts_are_deterministic_and_usable() -> None:
    accounts = dev_accounts(3)
    assert accounts == dev_accounts(3) == dev_accounts(5)[:3]
    assert len({a.address for a in accounts}) == 3
    assert dev_accounts(1, seed="another")[0] != accounts[0]
    for dev in accounts:
        assert account.address_from_private_key(dev.private_key) == dev.address
        assert mnemonic.to_private_key(dev.mnemonic) == dev.private_key
    # Pinned: the local stack's documented accounts must not change between releases.
    assert (
        accounts[0].address
        == dev_accounts(1)[0].address
        == "NAGNF44UGMQXLHSIYCLUEQY4UY4JNBEX5CVNJWA2EJ46F4RRYDJVEPDOUI"
    )


def test_genesis_hash_is_derived_from_the_genesis_id() -> None:
    assert new_ledger().genesis_hash == genesis_hash_for("orch-devnet-v1")
    assert len(base64.b64decode(genesis_hash_for("x"))) == 32
    assert genesis_hash_for("x") != genesis_hash_for("y")


def test_group_id_matches_algosdk() -> None:
    ledger = new_ledger()
    group = transaction.assign_group_id([pay(ledger, 1), pay(ledger, 2), pay(ledger, 3)])
    decoded = decode_signed_group(raw(group))
    assert (
        group_id_of(decoded)
        == group[0].group
        == transaction.calculate_group_id([pay(ledger, 1), pay(ledger, 2), pay(ledger, 3)])
    )
    assert [t.txid for t in decoded] == [t.get_txid() for t in group]


def test_payment_is_pooled_then_confirmed() -> None:
    ledger = new_ledger()
    txid = ledger.submit_signed_group(raw([pay(ledger, 1_000_000)]))
    record = ledger.transaction(txid)
    assert record is not None and record.confirmed_round is None
    assert ledger.balance(BOB.address) == 0  # balances are those of the last round

    assert ledger.produce_block() == 1
    record = ledger.transaction(txid)
    assert record is not None and record.confirmed_round == 1
    assert ledger.balance(ALICE.address) == FUNDS - 1_000_000 - 1000
    assert ledger.balance(BOB.address) == 1_000_000
    assert ledger.pending_transactions() == []


def test_the_pool_sees_the_effects_of_pending_transactions() -> None:
    ledger = new_ledger()
    ledger.submit_signed_group(raw([pay(ledger, 3_000_000)]))
    with pytest.raises(LedgerError, match="overspend") as caught:
        ledger.submit_signed_group(raw([pay(ledger, 3_000_000, note=b"again")]))
    assert caught.value.status == 400


def test_close_remainder_to_empties_the_sender() -> None:
    ledger = new_ledger()
    txid = ledger.submit_signed_group(raw([pay(ledger, 1_000, close_remainder_to=CAROL.address)]))
    ledger.produce_block()
    record = ledger.transaction(txid)
    assert record is not None and record.closing_amount == FUNDS - 1_000 - 1000
    assert ledger.balance(ALICE.address) == 0
    assert ledger.balance(BOB.address) == 1_000
    assert ledger.balance(CAROL.address) == FUNDS - 2000


def test_fees_are_pooled_across_a_group() -> None:
    ledger = new_ledger()
    rich, free = pay(ledger, 1), pay(ledger, 2)
    rich.fee, free.fee = 2000, 0
    ledger.submit_signed_group(raw(transaction.assign_group_id([rich, free])))
    short, other = pay(ledger, 3), pay(ledger, 4)
    short.fee, other.fee = 1500, 0
    with pytest.raises(
        LedgerError, match=r"txgroup had 1500 in fees, which is less than the minimum 2 \* 1000"
    ):
        ledger.submit_signed_group(raw(transaction.assign_group_id([short, other])))


def test_a_member_sent_without_its_group_is_rejected() -> None:
    ledger = new_ledger()
    group = transaction.assign_group_id([pay(ledger, 1), pay(ledger, 2)])
    with pytest.raises(LedgerError, match="incomplete group"):
        ledger.submit_signed_group(raw(group[:1]))
    loose = [pay(ledger, 5), pay(ledger, 6)]
    with pytest.raises(LedgerError, match="incomplete group"):
        ledger.submit_signed_group(raw(loose))


def test_multisig_is_rejected_clearly() -> None:
    ledger = new_ledger()
    multisig = transaction.Multisig(1, 1, [ALICE.address, BOB.address])
    ledger.fund(multisig.address(), 1_000_000)
    payment = transaction.PaymentTxn(multisig.address(), params(ledger), CAROL.address, 1)
    signed = MultisigTransactionSigner(multisig, [ALICE.private_key]).sign_transactions([payment], [0])[0]
    with pytest.raises(LedgerError, match="multisig transactions are not supported"):
        ledger.submit_signed_group(base64.b64decode(encoding.msgpack_encode(signed)))


def test_app_create_gets_an_application_index() -> None:
    ledger = new_ledger()
    create = transaction.ApplicationCreateTxn(
        ALICE.address,
        params(ledger),
        transaction.OnComplete.NoOpOC,
        b"\x06\x81\x01",
        b"\x06\x81\x01",
        transaction.StateSchema(0, 0),
        transaction.StateSchema(0, 0),
    )
    txid = ledger.submit_signed_group(raw([create]))
    ledger.produce_block()
    record = ledger.transaction(txid)
    assert record is not None and record.created_app_id == 1001


def test_indexer_view_lags_and_reverts_younger_blocks() -> None:
    ledger = new_ledger(indexer_lag_seconds=60)
    txid = ledger.submit_signed_group(raw([pay(ledger, 700_000)]))
    ledger.produce_block()
    assert ledger.indexer_round() == 0
    assert ledger.indexed_transaction(txid) == (0, None)
    assert ledger.indexed_transactions() == (0, [])
    round_seen, alice = ledger.indexed_account(ALICE.address)
    assert alice is not None and (round_seen, alice.amount) == (0, FUNDS)
    assert ledger.indexed_account(BOB.address) == (0, None)  # created in round 1

    current = new_ledger()
    txid = current.submit_signed_group(raw([pay(current, 700_000)]))
    current.produce_block()
    assert current.indexed_transaction(txid)[1] is not None
    bob = current.indexed_account(BOB.address)[1]
    assert bob is not None and bob.amount == 700_000


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.json")
    ledger = new_ledger(state_path=path)
    sent = raw([pay(ledger, 123_456)])
    txid = ledger.submit_signed_group(sent)
    ledger.produce_block()
    ledger.produce_block()
    ledger.fund(CAROL.address, 42)
    ledger.stop()

    restored = new_ledger(state_path=path)  # `funded` does not top up accounts the state knows
    assert restored.current_round() == 2
    assert restored.balance(ALICE.address) == FUNDS - 123_456 - 1000
    assert restored.balance(BOB.address) == 123_456
    assert restored.balance(CAROL.address) == 42
    record = restored.transaction(txid)
    assert record is not None and record.confirmed_round == 1
    assert restored.indexed_transaction(txid)[1] is not None
    with pytest.raises(LedgerError, match="transaction already in ledger"):
        restored.submit_signed_group(sent)
    assert restored.produce_block() == 3


def test_state_of_another_network_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    new_ledger(state_path=str(path)).stop()
    assert json.loads(path.read_text())["genesis_id"] == "orch-devnet-v1"
    with pytest.raises(ValueError, match="holds the chain of 'orch-devnet-v1'"):
        Ledger(genesis_id="other-v1", state_path=str(path))
