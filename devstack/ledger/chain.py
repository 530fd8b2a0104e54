"""The dev ledger's chain state: accounts, the transaction pool, rounds, and the lagging indexer's view.

One lock guards everything. Transactions admitted to the pool are applied at once to a pending
overlay of the accounts (so later submissions see their effects, as algod's pool does); every
pending transaction is valid for the next round, so producing a block confirms the whole pool.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from collections import ChainMap, deque
from dataclasses import dataclass, replace
from pathlib import Path

import msgpack
from algosdk import encoding

from devstack.ledger.codec import SignedTxn, decode_signed_group, parse_signed_txn
from devstack.ledger.errors import LedgerError
from devstack.ledger.persistence import (
    AccountRecord,
    BlockRecord,
    ConfirmedTxnRecord,
    LedgerSnapshot,
    load_snapshot,
    save_snapshot,
)
from devstack.ledger.rules import (
    FIRST_APP_ID,
    AccountState,
    FeeShortfall,
    GroupOutcome,
    Network,
    Rejection,
    apply_group,
    check_group,
)

logger = logging.getLogger(__name__)

RECENT_ROUNDS_KEPT = 10_000  # round times remembered for the indexer's lag


def genesis_hash_for(genesis_id: str) -> str:
    """A stable genesis hash per network name: base64 of sha256(genesis_id)."""
    return base64.b64encode(hashlib.sha256(genesis_id.encode()).digest()).decode()


@dataclass(frozen=True)
class TxnRecord:
    """A transaction the ledger accepted; confirmed_round is None while it waits in the pool."""

    txn: SignedTxn
    confirmed_round: int | None = None
    round_time: int | None = None
    intra_round_offset: int = 0
    closing_amount: int = 0
    created_app_id: int | None = None


@dataclass(frozen=True)
class AccountView:
    address: str
    round: int
    amount: int
    auth_addr: str | None


@dataclass(frozen=True)
class ChainStatus:
    last_round: int
    seconds_since_last_round: float


@dataclass(frozen=True)
class Simulation:
    """What a group would do in the next round, from the last round's state (nothing is changed).
    `failure` is why it would fail (then `outcome` is None)."""

    last_round: int
    outcome: GroupOutcome | None
    failure: Rejection | None = None


class _ConfirmedTxids:
    """The ids of confirmed transactions, as a container over the ledger's records (pooled ones excluded)."""

    def __init__(self, records: dict[str, TxnRecord]) -> None:
        self._records = records

    def __contains__(self, txid: object) -> bool:
        record = self._records.get(txid) if isinstance(txid, str) else None
        return record is not None and record.confirmed_round is not None


def _require_address(address: str) -> None:
    if not encoding.is_valid_address(address):
        raise LedgerError(400, f"failed to parse the address: {address!r}")


def _saved_form(record: TxnRecord) -> ConfirmedTxnRecord:
    return ConfirmedTxnRecord(
        signed_txn=base64.b64encode(record.txn.msgpack()).decode(),
        confirmed_round=record.confirmed_round or 0,
        round_time=record.round_time or 0,
        intra_round_offset=record.intra_round_offset,
        closing_amount=record.closing_amount,
        created_app_id=record.created_app_id,
    )


class Ledger:
    """In-memory Algorand stand-in: pay and appl transactions, no AVM (see devstack.ledger)."""

    def __init__(
        self,
        *,
        genesis_id: str = "orch-devnet-v1",
        block_time: float = 1.0,
        indexer_lag_seconds: float = 0.0,
        min_fee: int = 1000,
        funded: dict[str, int] | None = None,
        state_path: str | None = None,
    ) -> None:
        if block_time <= 0:
            raise ValueError("block_time must be positive")
        self.genesis_id = genesis_id
        self.genesis_hash = genesis_hash_for(genesis_id)
        self.block_time = block_time
        self.indexer_lag_seconds = max(0.0, indexer_lag_seconds)
        self.min_fee = min_fee
        self.state_path = Path(state_path) if state_path else None
        self.genesis_alloc = dict(funded or {})
        self._network = Network(genesis_id, base64.b64decode(self.genesis_hash), min_fee)

        self._lock = threading.Lock()
        self._round_advanced = threading.Condition(self._lock)
        self._round = 0
        self._round_time = time.time()
        self._recent_rounds: deque[tuple[int, float]] = deque(maxlen=RECENT_ROUNDS_KEPT)
        self._indexer_floor = 0  # rounds at or below this are visible to the indexer whatever the lag
        self._accounts: dict[str, AccountState] = {}  # as of the last round
        self._pending_accounts: dict[str, AccountState] = {}  # accounts the pool changed, after its effects
        self._pool: list[TxnRecord] = []
        self._txns: dict[str, TxnRecord] = {}  # pool and confirmed, by txid
        self._history: list[TxnRecord] = []  # confirmed, in chain order
        self._saved_history: list[ConfirmedTxnRecord] = []  # the same, as the snapshot holds them
        self._blocks: list[BlockRecord] = []  # blocks that hold transactions
        self._next_app_id = FIRST_APP_ID
        self._dirty = False  # something to save since the last snapshot
        self._snapshot_seq = 0
        self._saved_seq = 0
        self._save_lock = threading.Lock()
        self._stopping = False
        self._producer: threading.Thread | None = None
        self._producer_stop = threading.Event()

        snapshot = load_snapshot(self.state_path) if self.state_path else None
        if snapshot is not None:
            self._restore(snapshot)
        for address, amount in self.genesis_alloc.items():
            if address not in self._accounts:  # a restored chain keeps its balances
                self.fund(address, amount)

    # --- chain ------------------------------------------------------------------------------------
    def current_round(self) -> int:
        with self._lock:
            return self._round

    def status(self) -> ChainStatus:
        with self._lock:
            return ChainStatus(self._round, max(0.0, time.time() - self._round_time))

    def fund(self, address: str, amount: int) -> None:
        """Credit µAlgo out of thin air (a genesis allocation or a dispenser), visible at once."""
        _require_address(address)
        if amount < 0:
            raise ValueError("amount must not be negative")
        with self._lock:
            account = self._accounts.setdefault(address, AccountState(created_round=self._round))
            account.amount += amount
            if address in self._pending_accounts:
                self._pending_accounts[address].amount += amount
            self._dirty = True

    def balance(self, address: str) -> int:
        """µAlgo as of the last round."""
        return self.account(address).amount

    def account(self, address: str) -> AccountView:
        _require_address(address)
        with self._lock:
            state = self._accounts.get(address) or AccountState()
            return AccountView(address, self._round, state.amount, state.auth_addr)

    def submit_signed_group(self, raw: bytes) -> str:
        """Validate and pool a group (all or nothing); the first transaction's id."""
        txns = decode_signed_group(raw)
        with self._lock:
            next_round = self._round + 1
            check_group(txns, self._network, next_round, self._txns)
            outcome = apply_group(
                txns, ChainMap(self._pending_accounts, self._accounts), next_round, self._next_app_id
            )
            self._pending_accounts.update(outcome.accounts)
            self._next_app_id = outcome.next_app_id
            for txn in txns:
                record = TxnRecord(
                    txn,
                    closing_amount=outcome.closing_amounts.get(txn.txid, 0),
                    created_app_id=outcome.created_apps.get(txn.txid),
                )
                self._pool.append(record)
                self._txns[txn.txid] = record
        return txns[0].txid

    def simulate_group(
        self,
        txns: list[SignedTxn],
        *,
        allow_empty_signatures: bool = False,
        fix_signers: bool = False,
        round_number: int = 0,
    ) -> Simulation:
        """Evaluate a group as algod's simulate does: against the last round's accounts and confirmed
        transactions (not the pool), changing nothing. A group the rules refuse is a `failure`, except
        short fees, which algod refuses as a bad request (FeeShortfall is raised). No AVM runs."""
        with self._lock:
            last_round = self._round
            if round_number and round_number != last_round:
                raise LedgerError(
                    400,
                    f"the dev ledger simulates at its latest round only ({last_round}), not at round "
                    f"{round_number}",
                )
            try:
                check_group(
                    txns,
                    self._network,
                    last_round + 1,
                    _ConfirmedTxids(self._txns),
                    allow_empty_signatures=allow_empty_signatures,
                )
                outcome = apply_group(
                    txns, self._accounts, last_round + 1, self._next_app_id, fix_signers=fix_signers
                )
            except FeeShortfall:
                raise
            except Rejection as exc:
                return Simulation(last_round, None, exc)
        return Simulation(last_round, outcome)

    def produce_block(self) -> int:
        """Confirm every pooled transaction in a new round; the round."""
        with self._lock:
            self._round += 1
            now = time.time()
            self._round_time = now
            self._recent_rounds.append((self._round, now))
            if self._pool:
                self._confirm_pool(now)
            snapshot = self._snapshot() if self._dirty and self.state_path else None
            self._round_advanced.notify_all()
            produced = self._round
        if snapshot is not None:
            self._save(*snapshot)
        return produced

    def _confirm_pool(self, now: float) -> None:
        deltas = {
            address: state.amount - (self._accounts[address].amount if address in self._accounts else 0)
            for address, state in self._pending_accounts.items()
        }
        self._accounts.update(self._pending_accounts)
        self._pending_accounts = {}
        self._blocks.append(BlockRecord(round=self._round, timestamp=now, deltas=deltas))
        for offset, pooled in enumerate(self._pool):
            confirmed = replace(
                pooled, confirmed_round=self._round, round_time=int(now), intra_round_offset=offset
            )
            self._txns[pooled.txn.txid] = confirmed
            self._history.append(confirmed)
            if self.state_path:
                self._saved_history.append(_saved_form(confirmed))
        self._pool = []
        self._dirty = True

    def wait_for_round_after(self, round_number: int, timeout: float) -> int:
        """Block until the chain is past `round_number` (or `timeout` seconds pass); the last round."""
        deadline = time.monotonic() + timeout
        with self._round_advanced:
            while self._round <= round_number and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._round_advanced.wait(remaining)
            return self._round

    # --- algod's view ---------------------------------------------------------------------------
    def transaction(self, txid: str) -> TxnRecord | None:
        """A pooled or confirmed transaction (confirmed ones are kept for the ledger's lifetime)."""
        with self._lock:
            return self._txns.get(txid)

    def pending_transactions(self, address: str | None = None) -> list[TxnRecord]:
        with self._lock:
            return [
                record
                for record in self._pool
                if address is None or address in (record.txn.sender, record.txn.receiver)
            ]

    # --- the indexer's view: what was confirmed at least indexer_lag_seconds ago ------------------
    def indexer_round(self) -> int:
        with self._lock:
            return self._indexer_round()

    def _indexer_round(self) -> int:
        if self.indexer_lag_seconds <= 0:
            return self._round
        cutoff = time.time() - self.indexer_lag_seconds
        for round_number, produced_at in reversed(self._recent_rounds):
            if produced_at <= cutoff:
                return round_number
        if len(self._recent_rounds) == self._recent_rounds.maxlen:
            return self._recent_rounds[0][0] - 1
        return self._indexer_floor

    def indexed_transactions(self) -> tuple[int, list[TxnRecord]]:
        """The indexer's round and the transactions it has seen, in chain order."""
        with self._lock:
            indexed = self._indexer_round()
            end = len(self._history)
            while end and (self._history[end - 1].confirmed_round or 0) > indexed:
                end -= 1
            return indexed, self._history[:end]

    def indexed_transaction(self, txid: str) -> tuple[int, TxnRecord | None]:
        with self._lock:
            indexed = self._indexer_round()
            record = self._txns.get(txid)
            if record is None or record.confirmed_round is None or record.confirmed_round > indexed:
                return indexed, None
            return indexed, record

    def indexed_account(self, address: str) -> tuple[int, AccountView | None]:
        """The account as of the indexer's round; None when it did not exist yet."""
        _require_address(address)
        with self._lock:
            indexed = self._indexer_round()
            state = self._accounts.get(address)
            if state is None or state.created_round > indexed:
                return indexed, None
            amount = state.amount
            for block in reversed(self._blocks):
                if block.round <= indexed:
                    break
                amount -= block.deltas.get(address, 0)
            return indexed, AccountView(address, indexed, amount, state.auth_addr)

    # --- block producer -------------------------------------------------------------------------
    def start_block_producer(self) -> None:
        """Produce a block every block_time seconds in a daemon thread, until stop()."""
        with self._lock:
            if self._producer is not None and self._producer.is_alive():
                return
            self._stopping = False
            self._producer_stop = threading.Event()
            self._producer = threading.Thread(
                target=self._produce_blocks,
                args=(self._producer_stop,),
                name="dev-ledger-blocks",
                daemon=True,
            )
            self._producer.start()

    def _produce_blocks(self, stop: threading.Event) -> None:
        next_block_at = time.monotonic() + self.block_time
        while not stop.wait(max(0.0, next_block_at - time.monotonic())):
            try:
                self.produce_block()
            except Exception:  # a failed snapshot write must not stop the chain
                logger.exception("dev ledger: producing round %d failed", self.current_round())
            next_block_at = max(next_block_at + self.block_time, time.monotonic())

    def stop(self) -> None:
        """Stop producing blocks, release waiters, save what is unsaved."""
        self._producer_stop.set()
        producer = self._producer
        if producer is not None and producer is not threading.current_thread():
            producer.join(timeout=5)
        with self._lock:
            self._producer = None
            self._stopping = True
            self._round_advanced.notify_all()
            snapshot = self._snapshot() if self._dirty and self.state_path else None
        if snapshot is not None:
            self._save(*snapshot)

    # --- persistence ----------------------------------------------------------------------------
    def _snapshot(self) -> tuple[int, LedgerSnapshot]:
        """Taken under the lock: what is confirmed (a pool that stop() finds is not saved)."""
        self._dirty = False
        self._snapshot_seq += 1
        snapshot = LedgerSnapshot(
            genesis_id=self.genesis_id,
            round=self._round,
            round_time=self._round_time,
            next_app_id=self._next_app_id,
            accounts={
                address: AccountRecord(
                    amount=state.amount, auth_addr=state.auth_addr, created_round=state.created_round
                )
                for address, state in self._accounts.items()
            },
            blocks=list(self._blocks),
            transactions=list(self._saved_history),
        )
        return self._snapshot_seq, snapshot

    def _save(self, seq: int, snapshot: LedgerSnapshot) -> None:
        assert self.state_path is not None
        with self._save_lock:
            if seq <= self._saved_seq:  # a newer snapshot is already on disk
                return
            save_snapshot(self.state_path, snapshot)
            self._saved_seq = seq

    def _restore(self, snapshot: LedgerSnapshot) -> None:
        if snapshot.genesis_id != self.genesis_id:
            raise ValueError(
                f"{self.state_path} holds the chain of {snapshot.genesis_id!r}, not {self.genesis_id!r}: "
                "delete it or choose another state_path"
            )
        self._round = self._indexer_floor = snapshot.round
        self._round_time = snapshot.round_time
        self._next_app_id = snapshot.next_app_id
        self._accounts = {
            address: AccountState(record.amount, record.auth_addr, record.created_round)
            for address, record in snapshot.accounts.items()
        }
        self._blocks = list(snapshot.blocks)
        for saved in snapshot.transactions:
            raw = msgpack.unpackb(base64.b64decode(saved.signed_txn), raw=False)
            record = TxnRecord(
                parse_signed_txn(raw),
                confirmed_round=saved.confirmed_round,
                round_time=saved.round_time,
                intra_round_offset=saved.intra_round_offset,
                closing_amount=saved.closing_amount,
                created_app_id=saved.created_app_id,
            )
            self._history.append(record)
            self._saved_history.append(saved)
            self._txns[record.txn.txid] = record
