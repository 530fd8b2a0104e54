"""algod's REST API (the parts py-algorand-sdk's AlgodClient and wait_for_confirmation use)."""

from __future__ import annotations

from typing import Any

import msgpack
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devstack.ledger.chain import Ledger
from devstack.ledger.codec import to_json_value
from devstack.ledger.errors import LedgerError
from devstack.ledger.http import JsonApi, query_format
from devstack.ledger.simulate import parse_simulate_request, simulate_response
from devstack.ledger.views import (
    CONSENSUS_VERSION,
    algod_account,
    pending_transaction,
    pending_transaction_json,
    pending_transaction_msgpack,
)
from devstack.serving import json_response

MAX_BODY_BYTES = 1 << 20
MSGPACK = "application/msgpack"


def _get(path: str, endpoint: str) -> Rule:
    return Rule(path, endpoint=endpoint, methods=["GET"])


def _body(request: Request) -> bytes:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise LedgerError(400, f"request body larger than {MAX_BODY_BYTES} bytes")
    return bytes(request.get_data())


class AlgodApi(JsonApi):
    url_map = Map(
        [
            _get("/health", "health"),
            _get("/ready", "health"),
            _get("/versions", "versions"),
            _get("/genesis", "genesis"),
            _get("/v2/status", "status"),
            _get("/v2/status/wait-for-block-after/<int:round_number>", "wait_for_block_after"),
            _get("/v2/transactions/params", "params"),
            Rule("/v2/transactions", endpoint="send", methods=["POST"]),
            Rule("/v2/transactions/simulate", endpoint="simulate", methods=["POST"]),
            _get("/v2/transactions/pending", "pending_list"),
            _get("/v2/transactions/pending/<txid>", "pending"),
            _get("/v2/accounts/<address>", "account"),
            _get("/v2/accounts/<address>/transactions/pending", "account_pending"),
            _get("/v2/applications/<int:app_id>", "application"),
        ],
        strict_slashes=False,
    )

    def __init__(self, ledger: Ledger, *, wait_timeout: float | None = None) -> None:
        self.ledger = ledger
        # algod answers wait-for-block-after within a minute at most; a few block times is enough here
        self.wait_timeout = wait_timeout if wait_timeout is not None else max(5.0, 3 * ledger.block_time)

    def on_health(self, request: Request) -> Response:
        return json_response(None)

    def on_versions(self, request: Request) -> Response:
        return json_response(
            {
                "build": {
                    "branch": "dev-ledger",
                    "build_number": 0,
                    "channel": "dev",
                    "commit_hash": "",
                    "major": 0,
                    "minor": 0,
                },
                "genesis_hash_b64": self.ledger.genesis_hash,
                "genesis_id": self.ledger.genesis_id,
                "versions": ["v2"],
            }
        )

    def on_genesis(self, request: Request) -> Response:
        return json_response(
            {
                "alloc": [
                    {"addr": address, "comment": "dev account", "state": {"algo": amount}}
                    for address, amount in self.ledger.genesis_alloc.items()
                ],
                "fees": "A7NMWS3NT3IUDMLVO26ULGXGIIOUQ3ND2TXSER6EBGRZNOBOUIQXHIBGDE",
                "id": "v1",
                "network": self.ledger.genesis_id,
                "proto": CONSENSUS_VERSION,
                "rwd": "7777777777777777777777777777777777777777777777777774MSJUVU",
                "timestamp": 0,
            }
        )

    def _status(self) -> dict[str, Any]:
        status = self.ledger.status()
        return {
            "catchup-time": 0,
            "last-round": status.last_round,
            "last-version": CONSENSUS_VERSION,
            "next-version": CONSENSUS_VERSION,
            "next-version-round": status.last_round + 1,
            "next-version-supported": True,
            "stopped-at-unsupported-round": False,
            "time-since-last-round": int(status.seconds_since_last_round * 1e9),
        }

    def on_status(self, request: Request) -> Response:
        return json_response(self._status())

    def on_wait_for_block_after(self, request: Request, round_number: int) -> Response:
        self.ledger.wait_for_round_after(round_number, self.wait_timeout)
        return json_response(self._status())

    def on_params(self, request: Request) -> Response:
        return json_response(
            {
                "consensus-version": CONSENSUS_VERSION,
                "fee": 0,
                "genesis-hash": self.ledger.genesis_hash,
                "genesis-id": self.ledger.genesis_id,
                "last-round": self.ledger.current_round(),
                "min-fee": self.ledger.min_fee,
            }
        )

    def on_send(self, request: Request) -> Response:
        txid = self.ledger.submit_signed_group(_body(request))
        return json_response({"txId": txid})

    def on_simulate(self, request: Request) -> Response:
        response_format = query_format(request)
        simulate = parse_simulate_request(_body(request))
        simulation = self.ledger.simulate_group(
            simulate.txns,
            allow_empty_signatures=simulate.allow_empty_signatures,
            fix_signers=simulate.fix_signers,
            round_number=simulate.round,
        )
        body = simulate_response(simulate, simulation)
        if response_format == "msgpack":
            return Response(msgpack.packb(body, use_bin_type=True), content_type=MSGPACK)
        return json_response(to_json_value(body))

    def on_pending(self, request: Request, txid: str) -> Response:
        response_format = query_format(request)
        record = self.ledger.transaction(txid)
        if record is None:
            raise LedgerError(404, "txn does not exist")
        if response_format == "msgpack":
            return Response(pending_transaction_msgpack(record), content_type=MSGPACK)
        return json_response(pending_transaction_json(record))

    def _pending_list(self, request: Request, address: str | None) -> Response:
        response_format = query_format(request)
        limit = request.args.get("max", 0, type=int)
        records = self.ledger.pending_transactions(address)
        shown = records[:limit] if limit else records
        body = {
            "top-transactions": [pending_transaction(record)["txn"] for record in shown],
            "total-transactions": len(records),
        }
        if response_format == "msgpack":
            return Response(msgpack.packb(body, use_bin_type=True), content_type=MSGPACK)
        return json_response(to_json_value(body))

    def on_pending_list(self, request: Request) -> Response:
        return self._pending_list(request, None)

    def on_account_pending(self, request: Request, address: str) -> Response:
        self.ledger.account(address)  # validates the address
        return self._pending_list(request, address)

    def on_account(self, request: Request, address: str) -> Response:
        return json_response(algod_account(self.ledger.account(address)))

    def on_application(self, request: Request, app_id: int) -> Response:
        # No AVM: there is no application state to show, whatever calls were recorded.
        raise LedgerError(404, "application does not exist (the dev ledger keeps no application state)")
