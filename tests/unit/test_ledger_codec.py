"""Reading what algod receives: concatenated msgpack SignedTransactions."""

from __future__ import annotations

import base64

import pytest
from algosdk import encoding, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner

from devstack.ledger import LedgerError, dev_accounts, genesis_hash_for
from devstack.ledger.codec import decode_signed_group, to_json_value

SENDER, RECEIVER = dev_accounts(2, seed="unit-codec")
PARAMS = transaction.SuggestedParams(
    1000, 1, 1001, genesis_hash_for("orch-devnet-v1"), "orch-devnet-v1", True
)


def packed(count: int) -> bytes:
    txns: list[transaction.Transaction] = [
        transaction.PaymentTxn(SENDER.address, PARAMS, RECEIVER.address, n) for n in range(count)
    ]
    signer = AccountTransactionSigner(SENDER.private_key)
    return b"".join(
        base64.b64decode(encoding.msgpack_encode(stxn))
        for stxn in signer.sign_transactions(txns, list(range(count)))
    )


def test_concatenated_transactions_decode_in_order_with_algosdk_txids() -> None:
    decoded = decode_signed_group(packed(3))
    assert [t.amount for t in decoded] == [0, 1, 2]
    expected = [
        transaction.PaymentTxn(SENDER.address, PARAMS, RECEIVER.address, n).get_txid() for n in range(3)
    ]
    assert [t.txid for t in decoded] == expected
    assert decoded[1].sender == SENDER.address and decoded[1].receiver == RECEIVER.address


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no transactions"),
        (packed(2)[:-5], "bytes left over after the last complete transaction"),
        (b"\x93\x01\x02\x03", "expected a msgpack map"),
        (packed(17), "group size exceeds the maximum of 16"),
    ],
)
def test_malformed_bodies_are_400(body: bytes, message: str) -> None:
    with pytest.raises(LedgerError, match=message) as caught:
        decode_signed_group(body)
    assert caught.value.status == 400


def test_json_rendering_shows_addresses_in_base32_and_bytes_in_base64() -> None:
    stxn = decode_signed_group(packed(1))[0]
    shown = to_json_value(stxn.raw)
    assert shown["txn"]["snd"] == SENDER.address
    assert shown["txn"]["gh"] == genesis_hash_for("orch-devnet-v1")
    assert base64.b64decode(shown["sig"]) == stxn.signature
