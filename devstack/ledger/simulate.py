"""algod's `POST /v2/transactions/simulate`, without an AVM: the request as algod decodes it, and its
answer (py-algorand-sdk's `AtomicTransactionComposer.simulate` and algokit-utils'
`populate_app_call_resources` read it).

The group is checked and applied to a copy of the last round's accounts by the same rules a
submission meets (chain.Ledger.simulate_group). No program runs, so a successful answer has no
logs, no budget consumed, no unnamed resources and no execution traces; each `txn-result` echoes its
transaction with the amounts the ledger computed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import msgpack
from algosdk import constants

from devstack.ledger.chain import Simulation
from devstack.ledger.codec import SignedTxn, from_json_value, parse_signed_txn
from devstack.ledger.errors import LedgerError

RESULT_VERSION = 2  # go-algorand's simulation.ResultLatestVersion
MAX_LOG_CALLS = 2048  # what allow-more-logging lifts the limits to (config.MaxLogCalls)
MAX_LOG_SIZE = 65536  # simulation.LogBytesLimit
MAX_EXTRA_OPCODE_BUDGET = 320_000  # simulation.MaxExtraOpcodeBudget
APP_CALL_BUDGET = 700  # opcode budget each app call adds to its group's pool
REQUEST_FIELDS = frozenset(
    {
        "txn-groups",
        "round",
        "allow-empty-signatures",
        "allow-more-logging",
        "allow-unnamed-resources",
        "extra-opcode-budget",
        "exec-trace-config",
        "fix-signers",
    }
)
TRACE_CONFIG_FIELDS = frozenset({"enable", "stack-change", "scratch-change", "state-change"})


@dataclass(frozen=True)
class SimulateRequest:
    txns: list[SignedTxn]  # the one group algod simulates
    round: int = 0  # 0: the latest round
    allow_empty_signatures: bool = False
    allow_more_logging: bool = False
    allow_unnamed_resources: bool = False
    extra_opcode_budget: int = 0
    exec_trace_config: dict[str, bool] = field(default_factory=dict)
    fix_signers: bool = False


def _bad(message: str) -> LedgerError:
    return LedgerError(400, message)


def _decode_body(data: bytes) -> dict[str, Any]:
    """msgpack first, then JSON, as algod tries them (whatever the Content-Type says)."""
    try:
        body = msgpack.unpackb(data, raw=False, strict_map_key=False)
        if not isinstance(body, dict):
            raise ValueError("not a map")
        return body
    except (ValueError, TypeError, msgpack.UnpackException):
        pass
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"failed to decode object: the body is neither msgpack nor JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise _bad("failed to decode object: a simulate request is a map")
    try:
        return dict(from_json_value(body))
    except ValueError as exc:
        raise _bad(f"failed to decode object: {exc}") from exc


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise _bad(f"failed to decode object: {key} must be a boolean")
    return value


def _uint(body: dict[str, Any], key: str) -> int:
    value = body.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(f"failed to decode object: {key} must be an unsigned integer")
    return value


def parse_simulate_request(data: bytes) -> SimulateRequest:
    """The request as algod checks it before simulating; LedgerError(400) with algod's words if not."""
    if not data:
        raise _bad("failed to decode object: empty request body")
    body = _decode_body(data)
    unknown = sorted(str(key) for key in body if key not in REQUEST_FIELDS)
    if unknown:
        raise _bad(f"failed to decode object: unknown field(s) {', '.join(unknown)}")
    groups = body.get("txn-groups") or []
    if not isinstance(groups, list) or not all(isinstance(group, dict) for group in groups):
        raise _bad("failed to decode object: txn-groups must be a list of {txns: [...]}")
    txn_lists = [group.get("txns") or [] for group in groups]
    for listed in txn_lists:
        if not isinstance(listed, list):
            raise _bad("failed to decode object: txns must be a list of signed transactions")
        if not listed:
            raise _bad("empty txgroup")
        if len(listed) > constants.tx_group_limit:
            raise _bad(
                f"transaction group size {len(listed)} exceeds protocol max {constants.tx_group_limit}"
            )
    if len(txn_lists) != 1:
        raise _bad(f"expected 1 transaction group, got {len(txn_lists)}")
    txns: list[SignedTxn] = []
    for raw in txn_lists[0]:
        try:
            if not isinstance(raw, dict):
                raise ValueError("expected a map per signed transaction")
            txns.append(parse_signed_txn(raw))
        except ValueError as exc:
            raise _bad(f"failed to decode object: {exc}") from exc
    trace_config = body.get("exec-trace-config") or {}
    if not isinstance(trace_config, dict) or not set(trace_config) <= TRACE_CONFIG_FIELDS:
        raise _bad(
            f"failed to decode object: exec-trace-config takes {', '.join(sorted(TRACE_CONFIG_FIELDS))}"
        )
    request = SimulateRequest(
        txns=txns,
        round=_uint(body, "round"),
        allow_empty_signatures=_flag(body, "allow-empty-signatures"),
        allow_more_logging=_flag(body, "allow-more-logging"),
        allow_unnamed_resources=_flag(body, "allow-unnamed-resources"),
        extra_opcode_budget=_uint(body, "extra-opcode-budget"),
        exec_trace_config={key: _flag(trace_config, key) for key in trace_config},
        fix_signers=_flag(body, "fix-signers"),
    )
    if request.fix_signers and not request.allow_empty_signatures:
        raise _bad("FixSigners requires AllowEmptySignatures to be enabled")
    if request.extra_opcode_budget > MAX_EXTRA_OPCODE_BUDGET:
        raise _bad(
            f"extra budget {request.extra_opcode_budget} > simulation extra budget limit "
            f"{MAX_EXTRA_OPCODE_BUDGET}"
        )
    return request


def _eval_overrides(request: SimulateRequest) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if request.allow_empty_signatures:
        overrides["allow-empty-signatures"] = True
    if request.allow_unnamed_resources:
        overrides["allow-unnamed-resources"] = True
    if request.allow_more_logging:
        overrides["max-log-calls"] = MAX_LOG_CALLS
        overrides["max-log-size"] = MAX_LOG_SIZE
    if request.extra_opcode_budget:
        overrides["extra-opcode-budget"] = request.extra_opcode_budget
    if request.fix_signers:
        overrides["fix-signers"] = True
    return overrides


def _txn_result(txn: SignedTxn, simulation: Simulation) -> dict[str, Any]:
    outcome = simulation.outcome
    applied: dict[str, Any] = {
        "txn": txn.raw,
        "pool-error": "",
        "closing-amount": outcome.closing_amounts.get(txn.txid, 0) if outcome else 0,
        "asset-closing-amount": 0,
        "sender-rewards": 0,
        "receiver-rewards": 0,
        "close-rewards": 0,
    }
    created = outcome.created_apps.get(txn.txid) if outcome else None
    if created is not None:
        applied["application-index"] = created
    result: dict[str, Any] = {"txn-result": applied}
    fixed = outcome.fixed_signers.get(txn.txid) if outcome else None
    if fixed is not None:
        result["fixed-signer"] = fixed
    return result


def simulate_response(request: SimulateRequest, simulation: Simulation) -> dict[str, Any]:
    """algod's SimulateResponse (msgpack field names; bytes stay bytes: to_json_value renders JSON)."""
    group: dict[str, Any] = {"txn-results": [_txn_result(txn, simulation) for txn in request.txns]}
    app_calls = sum(1 for txn in request.txns if txn.type == "appl")
    if app_calls:
        group["app-budget-added"] = APP_CALL_BUDGET * app_calls + request.extra_opcode_budget
    failure = simulation.failure
    if failure is not None:
        group["failure-message"] = failure.reason
        txids = [txn.txid for txn in request.txns]
        group["failed-at"] = [txids.index(failure.culprit) if failure.culprit in txids else 0]
    response: dict[str, Any] = {
        "version": RESULT_VERSION,
        "last-round": simulation.last_round,
        "txn-groups": [group],
    }
    overrides = _eval_overrides(request)
    if overrides:
        response["eval-overrides"] = overrides
    if any(request.exec_trace_config.values()):
        response["exec-trace-config"] = {key: True for key, on in request.exec_trace_config.items() if on}
    return response
