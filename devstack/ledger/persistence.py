"""The ledger's JSON snapshot: balances, confirmed transactions and rounds survive a local stack restart."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError


class AccountRecord(BaseModel):
    amount: int
    auth_addr: str | None = None
    created_round: int = 0


class ConfirmedTxnRecord(BaseModel):
    signed_txn: str  # base64 of the SignedTransaction's canonical msgpack
    confirmed_round: int
    round_time: int
    intra_round_offset: int
    closing_amount: int = 0
    created_app_id: int | None = None


class BlockRecord(BaseModel):
    round: int
    timestamp: float
    deltas: dict[str, int]  # µAlgo each touched account gained (negative: lost) in this block


class LedgerSnapshot(BaseModel):
    format: Literal[1] = 1
    genesis_id: str
    round: int
    round_time: float
    next_app_id: int
    accounts: dict[str, AccountRecord]
    blocks: list[BlockRecord]  # only blocks that hold transactions
    transactions: list[ConfirmedTxnRecord]  # in chain order


def load_snapshot(path: Path) -> LedgerSnapshot | None:
    """The saved snapshot, or None when there is none yet; ValueError when the file is unreadable."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"cannot read the dev ledger state {path}: {exc}") from exc
    try:
        return LedgerSnapshot.model_validate_json(text)
    except ValidationError as exc:
        raise ValueError(
            f"{path} is not a dev ledger state file (delete it to start a fresh chain): {exc}"
        ) from exc


def save_snapshot(path: Path, snapshot: LedgerSnapshot) -> None:
    """Write atomically: a crash leaves the previous snapshot, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(snapshot.model_dump_json())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
