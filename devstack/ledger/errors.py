"""The one error the dev ledger raises for requests it refuses, shaped like algod's error answers."""

from __future__ import annotations


class LedgerError(Exception):
    """An algod-style refusal: the HTTP status and the `message` algod would put in its JSON body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message
