"""The CLI's dev signer: signs a step's payment group with a dev account and sends it to algod."""

from __future__ import annotations

from algosdk import transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from algosdk.v2client.algod import AlgodClient
from orchestrator.payments.decoding import decode_group
from pydantic import BaseModel


class SentPayment(BaseModel):
    txn_ids: list[str]
    confirmed_round: int


class DevWallet:
    def __init__(self, address: str, private_key: str, algod_url: str, algod_token: str = "") -> None:
        self.address = address
        self._private_key = private_key
        self.algod = AlgodClient(algod_token, algod_url)

    def pay(self, unsigned_group_txns: list[str], *, wait_rounds: int = 20) -> SentPayment:
        """Sign every transaction of the group (all are ours: the orchestrator checked), send, confirm."""
        txns = decode_group(unsigned_group_txns)
        foreign = [t for t in txns if t.sender != self.address]
        if foreign:
            raise ValueError(f"the group holds a transaction from {foreign[0].sender}, not from this wallet")
        signed = AccountTransactionSigner(self._private_key).sign_transactions(txns, list(range(len(txns))))
        self.algod.send_transactions(signed)
        txids = [txn.get_txid() for txn in txns]
        info = transaction.wait_for_confirmation(self.algod, txids[0], wait_rounds)
        return SentPayment(txn_ids=txids, confirmed_round=int(info["confirmed-round"]))
