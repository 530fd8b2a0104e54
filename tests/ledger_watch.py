"""A watch on a dev ledger that lives and dies with another process (`orch demo`): a thread asks the
ledger every 0.1 s and keeps every transaction it has seen, by group and id, so that a test can count
what moved after the process and its ledger are gone."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Self

import httpx

Transactions = Mapping[str, list[dict[str, Any]]]


class TransactionWatch:
    def __init__(self, fetch: Callable[[], Transactions]) -> None:
        """`fetch`: the transactions to keep now, by a group name the test chooses (an agent's slug,
        a wallet); an HTTP error or an unreadable answer (the ledger not up yet, or gone) is skipped."""
        self._fetch = fetch
        self.seen: dict[str, dict[str, dict[str, Any]]] = {}
        self.reads = 0  # answers read: a watch that saw nothing has read the ledger at least once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def found(self, group: str) -> list[dict[str, Any]]:
        return list(self.seen.get(group, {}).values())

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            try:
                batch = self._fetch()
            except (httpx.HTTPError, ValueError):
                continue
            self.reads += 1
            for group, txns in batch.items():
                self.seen.setdefault(group, {}).update({txn["id"]: txn for txn in txns})
