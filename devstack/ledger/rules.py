"""What the transaction pool accepts, and what an accepted group does to balances.

The messages follow algod's ("TransactionPool.Remember: ...") so that a client's error handling sees
the same words it would see on a real node.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field, replace

from devstack.ledger.codec import SignedTxn, b64, group_id_of, signature_verifies
from devstack.ledger.errors import LedgerError

MIN_BALANCE = 100_000  # µAlgo every sender must keep unless it closes its account
MAX_TXN_LIFE = 1000  # rounds between first-valid and last-valid
SUPPORTED_TYPES = ("pay", "appl")
FIRST_APP_ID = 1001


class Rejection(LedgerError):
    """A group the rules refuse: `reason` is algod's words without the pool's prefix (as its simulate
    endpoint reports them), `culprit` the id of the transaction at fault (None: the group as a whole)."""

    def __init__(self, message: str, txid: str | None = None, *, culprit: str | None = None) -> None:
        self.reason = f"transaction {txid}: {message}" if txid else message
        self.culprit = culprit or txid
        super().__init__(400, f"TransactionPool.Remember: {self.reason}")


class FeeShortfall(Rejection):
    """The group's pooled fees are short: algod's verifier refuses the whole request for this, even
    when it only simulates (no transaction is to blame)."""


def rejected(message: str, txid: str | None = None, *, culprit: str | None = None) -> Rejection:
    return Rejection(message, txid, culprit=culprit)


@dataclass
class AccountState:
    amount: int = 0
    auth_addr: str | None = None  # set when the account was rekeyed to another signer
    created_round: int = 0  # first round the account held anything (0: genesis)


@dataclass(frozen=True)
class Network:
    genesis_id: str
    genesis_hash: bytes
    min_fee: int


def check_group(
    txns: list[SignedTxn],
    network: Network,
    next_round: int,
    known_txids: Container[str],
    *,
    allow_empty_signatures: bool = False,
) -> None:
    """The checks that need no balances: structure, types, network, window, duplicates, signatures, fees.
    With `allow_empty_signatures` (simulate's option) a transaction may carry no signature at all."""
    _check_group_id(txns)
    seen: set[str] = set()
    for txn in txns:
        if not (allow_empty_signatures and txn.signature_kind == "none"):
            _check_signature_kind(txn)
        _check_type(txn)
        _check_network(txn, network)
        _check_window(txn, next_round)
        if txn.txid in known_txids or txn.txid in seen:
            raise rejected(f"transaction already in ledger: {txn.txid}", culprit=txn.txid)
        seen.add(txn.txid)
    for txn in txns:
        # The claimed signer (sgnr, else the sender) must have signed; whether that signer is the
        # account's authorized one is checked against balances in apply_group.
        if txn.signature_kind == "none":  # only here when empty signatures are allowed
            continue
        if not signature_verifies(txn, txn.authorizer_claim or txn.sender):
            raise rejected("At least one signature didn't pass verification", txn.txid)
    _check_fees(txns, network.min_fee)


def _check_group_id(txns: list[SignedTxn]) -> None:
    # decode_signed_group has already refused groups larger than algod's limit.
    if len(txns) == 1 and txns[0].group is None:
        return
    group_ids = {txn.group for txn in txns}
    if None in group_ids:
        raise rejected(
            "transactionGroup: incomplete group: transactions sent together must all carry the group id "
            "computed over them (algosdk.transaction.assign_group_id)"
        )
    if len(group_ids) > 1:
        raise rejected(
            "transactionGroup: inconsistent group values: the transactions carry different group ids"
        )
    expected = group_id_of(txns)
    actual = txns[0].group
    assert actual is not None
    if actual != expected:
        raise rejected(
            f"transactionGroup: incomplete group: group id {b64(actual)} does not match {b64(expected)}, "
            f"the group id of the {len(txns)} transaction(s) sent, in the order sent"
        )


def _check_signature_kind(txn: SignedTxn) -> None:
    if txn.signature_kind == "lsig":
        raise rejected(
            "logic signatures are not supported by the dev ledger (it runs no AVM programs)", txn.txid
        )
    if txn.signature_kind == "msig":
        raise rejected("multisig transactions are not supported by the dev ledger", txn.txid)
    if txn.signature_kind != "sig":
        raise rejected("the transaction is not signed", txn.txid)


def _check_type(txn: SignedTxn) -> None:
    if txn.type not in SUPPORTED_TYPES:
        raise rejected(
            f"transaction type {txn.type!r} is not supported by the dev ledger (only pay and appl)", txn.txid
        )
    if txn.type == "pay" and txn.close_to == txn.sender:
        raise rejected("transaction cannot close an account to its sender", txn.txid)


def _check_network(txn: SignedTxn, network: Network) -> None:
    if txn.genesis_hash != network.genesis_hash:
        raise rejected(
            f"genesis hash mismatch: the transaction is for {b64(txn.genesis_hash) or 'no genesis hash'}, "
            f"this network ({network.genesis_id}) is {b64(network.genesis_hash)}",
            txn.txid,
        )
    if txn.genesis_id and txn.genesis_id != network.genesis_id:
        raise rejected(
            f"genesis id mismatch: the transaction is for {txn.genesis_id!r}, this network is "
            f"{network.genesis_id!r}",
            txn.txid,
        )


def _check_window(txn: SignedTxn, next_round: int) -> None:
    if txn.last_valid < txn.first_valid or txn.last_valid - txn.first_valid > MAX_TXN_LIFE:
        raise rejected(
            f"transaction window size excessive: {txn.first_valid}--{txn.last_valid} "
            f"(at most {MAX_TXN_LIFE} rounds)",
            txn.txid,
        )
    if not txn.first_valid <= next_round <= txn.last_valid:
        raise rejected(
            f"txn dead: round {next_round} outside of {txn.first_valid}--{txn.last_valid}", txn.txid
        )


def _check_fees(txns: list[SignedTxn], min_fee: int) -> None:
    # Fees are pooled across a group, as on algod: the sum must cover the minimum for every member.
    total = sum(txn.fee for txn in txns)
    if total < min_fee * len(txns):
        raise FeeShortfall(
            f"txgroup had {total} in fees, which is less than the minimum {len(txns)} * {min_fee}",
            txns[0].txid if len(txns) == 1 else None,
        )


@dataclass
class GroupOutcome:
    accounts: dict[str, AccountState]  # the new state of every account the group touched
    closing_amounts: dict[str, int] = field(default_factory=dict)  # by txid
    created_apps: dict[str, int] = field(default_factory=dict)  # by txid
    fixed_signers: dict[str, str] = field(default_factory=dict)  # by txid: the signer fix_signers chose
    next_app_id: int = FIRST_APP_ID


def apply_group(
    txns: list[SignedTxn],
    accounts: Mapping[str, AccountState],
    next_round: int,
    next_app_id: int,
    *,
    fix_signers: bool = False,
) -> GroupOutcome:
    """Apply the group, in order, to copies of the accounts; raise on the first failing transaction.
    With `fix_signers` (simulate's option) an unsigned transaction counts as signed by whoever the
    sender's account needs, and that signer is reported when it is not the one the transaction names."""
    outcome = GroupOutcome(accounts={}, next_app_id=next_app_id)

    def account(address: str) -> AccountState:
        if address not in outcome.accounts:
            known = accounts.get(address)
            outcome.accounts[address] = replace(known) if known else AccountState(created_round=next_round)
        return outcome.accounts[address]

    for txn in txns:
        sender = account(txn.sender)
        required = sender.auth_addr or txn.sender
        claimed = txn.authorizer_claim or txn.sender
        if fix_signers and txn.signature_kind == "none" and claimed != required:
            outcome.fixed_signers[txn.txid] = claimed = required
        if claimed != required:
            raise rejected(
                f"should have been authorized by {required} but was actually authorized by {claimed}",
                txn.txid,
            )
        spend = txn.fee + (txn.amount if txn.type == "pay" else 0)
        if spend > sender.amount:
            raise rejected(
                f"overspend (account {txn.sender}, balance {sender.amount} microAlgos, "
                f"tried to spend {spend} microAlgos)",
                txn.txid,
            )
        sender.amount -= spend
        if txn.rekey_to is not None:
            sender.auth_addr = None if txn.rekey_to == txn.sender else txn.rekey_to
        closing = False
        if txn.type == "pay":
            account(txn.receiver).amount += txn.amount
            if txn.close_to is not None:
                closing = True
                outcome.closing_amounts[txn.txid] = sender.amount
                account(txn.close_to).amount += sender.amount
                sender.amount, sender.auth_addr = 0, None
        elif txn.app_id == 0:
            outcome.created_apps[txn.txid] = outcome.next_app_id
            outcome.next_app_id += 1
        if not closing and sender.amount < MIN_BALANCE:
            raise rejected(
                f"account {txn.sender} balance {sender.amount} below min {MIN_BALANCE} (0 assets)", txn.txid
            )
    return outcome
