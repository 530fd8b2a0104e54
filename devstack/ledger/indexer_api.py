"""The indexer's REST API (the parts py-algorand-sdk's IndexerClient uses for transactions and accounts).

It sees the chain `indexer_lag_seconds` late, as a real indexer trails its algod: transactions and
balances of younger rounds are not there yet, and "current-round" lags the same way.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devstack.ledger.chain import Ledger, TxnRecord
from devstack.ledger.errors import LedgerError
from devstack.ledger.http import JsonApi
from devstack.ledger.views import indexer_account, indexer_transaction
from devstack.serving import json_response

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000


class TransactionSearch(BaseModel):
    """The query parameters of GET /v2/transactions and /v2/accounts/{address}/transactions."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    txid: str | None = None
    address: str | None = None
    address_role: Literal["sender", "receiver", "freeze-target"] | None = Field(None, alias="address-role")
    exclude_close_to: bool = Field(False, alias="exclude-close-to")
    tx_type: str | None = Field(None, alias="tx-type")
    sig_type: str | None = Field(None, alias="sig-type")
    round: int | None = None
    min_round: int | None = Field(None, alias="min-round")
    max_round: int | None = Field(None, alias="max-round")
    application_id: int | None = Field(None, alias="application-id")
    group_id: str | None = Field(None, alias="group-id")
    note_prefix: str | None = Field(None, alias="note-prefix")
    currency_greater_than: int | None = Field(None, alias="currency-greater-than")
    currency_less_than: int | None = Field(None, alias="currency-less-than")
    limit: int = Field(DEFAULT_LIMIT, ge=0, le=MAX_LIMIT)
    next: str | None = None

    @classmethod
    def from_request(cls, request: Request, **overrides: str) -> TransactionSearch:
        try:
            return cls.model_validate({**request.args.to_dict(), **overrides})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise LedgerError(400, f"invalid input: {problems}") from exc

    def matches(self, record: TxnRecord) -> bool:
        txn = record.txn
        confirmed = record.confirmed_round or 0
        amount = txn.amount if txn.type == "pay" else 0
        checks = (
            self.txid is None or txn.txid == self.txid,
            self.address is None or self.address in self._participants(record),
            self.tx_type is None or txn.type == self.tx_type,
            self.sig_type is None or self.sig_type == "sig",
            self.round is None or confirmed == self.round,
            self.min_round is None or confirmed >= self.min_round,
            self.max_round is None or confirmed <= self.max_round,
            self.application_id is None
            or (txn.type == "appl" and self.application_id in (txn.app_id, record.created_app_id)),
            self.group_id is None
            or (txn.group is not None and txn.group == _b64_param("group-id", self.group_id)),
            self.note_prefix is None or txn.note.startswith(_b64_param("note-prefix", self.note_prefix)),
            self.currency_greater_than is None or amount > self.currency_greater_than,
            self.currency_less_than is None or amount < self.currency_less_than,
        )
        return all(checks)

    def _participants(self, record: TxnRecord) -> set[str]:
        txn = record.txn
        senders = {txn.sender}
        receivers = {txn.receiver} if txn.type == "pay" else set()
        if txn.close_to and not self.exclude_close_to:
            receivers.add(txn.close_to)
        if self.address_role == "sender":
            return senders
        if self.address_role == "receiver":
            return receivers
        if self.address_role == "freeze-target":
            return set()
        return senders | receivers


def _b64_param(name: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LedgerError(400, f"invalid input: {name} is not base64") from exc


def _position(record: TxnRecord) -> tuple[int, int]:
    return (record.confirmed_round or 0, record.intra_round_offset)


def _cursor(text: str) -> tuple[int, int]:
    try:
        round_text, offset_text = text.split(":")
        return int(round_text), int(offset_text)
    except ValueError as exc:
        raise LedgerError(400, f"invalid input: next token {text!r} is not one this indexer gave") from exc


class IndexerApi(JsonApi):
    url_map = Map(
        [
            Rule("/health", endpoint="health", methods=["GET"]),
            Rule("/v2/transactions", endpoint="search_transactions", methods=["GET"]),
            Rule("/v2/transactions/<txid>", endpoint="transaction", methods=["GET"]),
            Rule("/v2/accounts/<address>", endpoint="account", methods=["GET"]),
            Rule("/v2/accounts/<address>/transactions", endpoint="account_transactions", methods=["GET"]),
        ],
        strict_slashes=False,
    )

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def on_health(self, request: Request) -> Response:
        indexed = self.ledger.indexer_round()
        return json_response(
            {
                "data": {"migration-required": False, "read-only-mode": False},
                "db-available": True,
                "is-migrating": False,
                "message": str(indexed),
                "round": indexed,
                "version": "dev-ledger",
            }
        )

    def on_transaction(self, request: Request, txid: str) -> Response:
        indexed, record = self.ledger.indexed_transaction(txid)
        if record is None:
            raise LedgerError(404, f"no transaction found for transaction id: {txid}")
        return json_response({"current-round": indexed, "transaction": indexer_transaction(record)})

    def on_search_transactions(self, request: Request) -> Response:
        search = TransactionSearch.from_request(request)
        if search.address is not None:
            self.ledger.account(search.address)  # validates the address
        return self._search(search)

    def on_account_transactions(self, request: Request, address: str) -> Response:
        self.ledger.account(address)  # validates the address
        return self._search(TransactionSearch.from_request(request, address=address))

    def _search(self, search: TransactionSearch) -> Response:
        indexed, records = self.ledger.indexed_transactions()
        # Like the indexer: newest first when the search names an address, chain order otherwise.
        newest_first = search.address is not None
        ordered = list(reversed(records)) if newest_first else records
        if search.next:
            cursor = _cursor(search.next)
            ordered = [
                r for r in ordered if (_position(r) < cursor if newest_first else _position(r) > cursor)
            ]
        limit = search.limit or DEFAULT_LIMIT
        found: list[TxnRecord] = []
        more = False
        for record in ordered:
            if not search.matches(record):
                continue
            if len(found) == limit:
                more = True
                break
            found.append(record)
        body: dict[str, Any] = {
            "current-round": indexed,
            "transactions": [indexer_transaction(record) for record in found],
        }
        if more and found:
            last_round, last_offset = _position(found[-1])
            body["next-token"] = f"{last_round}:{last_offset}"
        return json_response(body)

    def on_account(self, request: Request, address: str) -> Response:
        indexed, view = self.ledger.indexed_account(address)
        if view is None:
            raise LedgerError(404, f"no accounts found for address: {address}")
        return json_response({"account": indexer_account(view), "current-round": indexed})
