"""Every request is screened and validated at the edge, before a use case runs: the real handlers
(functions/*/app.py, through their Lambda entry points) with the use cases replaced by a stub that
records that it was reached. Bad input is a 4xx JSON error naming the problem, never a 5xx or an
exception out of the handler, and nothing is done for it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from algosdk import account
from orchestrator.config import Settings
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.errors import NotFound
from orchestrator.observability import workflow_id_of
from orchestrator.schemas.api import MAX_BODY_BYTES, json_depth_exceeds, read_json

from devstack.lambdas import FunctionRegistry, LambdaContext
from devstack.template import load_template

USER = "5b1c0c8e-0000-4000-8000-000000000001"
WORKFLOW = "0f8e2c1a-3b4d-4e5f-8a6b-7c8d9e0f1a2b"
TXID = "A" * 52
ADDRESS = account.generate_account()[1]
REACHED = "reached the use case"
CONTEXT = LambdaContext(function_name="RequestValidationTest", aws_request_id="r-1")

# What the handlers get instead of the stack's dependencies: settings only (no idempotency table), no
# adapter is ever built.
DEPENDENCIES = Dependencies(Settings())

REGISTRY = FunctionRegistry(load_template())
ROUTES = {route.route_key: spec for route, spec in REGISTRY.template.routes()}
# A valid body for each POST route (snake_case), and the route's module.
VALID: dict[str, dict[str, Any]] = {
    "/api/workflows/create": {"user_message": "I have a headache", "wallet_address": ADDRESS},
    "/api/workflows/approve": {"workflow_id": WORKFLOW},
    "/api/workflows/start": {"workflow_id": WORKFLOW},
    "/api/workflows/cancel": {"workflow_id": WORKFLOW},
    "/api/workflows/step/start_job": {"workflow_id": WORKFLOW, "step_number": 1},
    "/api/workflows/step/submit_payment": {"workflow_id": WORKFLOW, "step_number": 1, "txn_ids": [TXID]},
    "/api/workflows/step/poll": {"workflow_id": WORKFLOW, "step_number": 1},
}
POST_ROUTES = sorted(VALID)


def module_of(route_key: str) -> ModuleType:
    return REGISTRY.load(ROUTES[route_key])


class Reached:
    """Stands in for every use case a handler calls: records the call, answers 404 `REACHED`."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        raise NotFound(REACHED)


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reached]:
    stub = Reached()
    for spec in {spec.logical_id: spec for spec in ROUTES.values()}.values():
        module = REGISTRY.load(spec)
        # The seam every route takes its Dependencies from (Powertools' Depends), as a test overrides it.
        monkeypatch.setitem(module.app.dependency_overrides, get_dependencies, lambda: DEPENDENCIES)
        for name in (
            "create_workflow",
            "approve_workflow",
            "start_workflow",
            "cancel_workflow",
            "get_workflow",
            "watch_workflow",
            "accept_push",
            "workflow_funds",
            "list_agents",
            "list_workflows",
        ):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, stub)
        for service, name in (
            ("start_job", "start_job_again"),
            ("payment", "submit_payment"),
            ("job_watch", "poll_step"),
        ):
            if hasattr(module, service):
                monkeypatch.setattr(getattr(module, service), name, stub)
    yield stub


def token(claims: dict[str, Any]) -> str:
    """A token as API Gateway passes it on (already verified there; the signature is not read here)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'kid': 'k'})}.{part(claims)}.c2lnbmF0dXJl"


def event(
    route_key: str,
    body: str | bytes | None = None,
    *,
    content_type: str | None = "application/json",
    claims: dict[str, Any] | None = None,
    path: str | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A payload 2.0 event as API Gateway sends it; claims as strings, the token in the header."""
    method, _, route_path = route_key.partition(" ")
    claims = {"sub": USER} if claims is None else claims
    headers = {"authorization": f"Bearer {token(claims)}"}
    if content_type is not None:
        headers["content-type"] = content_type
    result: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path or route_path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {"method": method, "path": path or route_path, "sourceIp": "127.0.0.1"},
            "authorizer": {"jwt": {"claims": {k: _as_gateway(v) for k, v in claims.items()}, "scopes": None}},
            "routeKey": route_key,
            "stage": "$default",
            "requestId": "r-1",
        },
        "isBase64Encoded": False,
    }
    if path_parameters:
        result["pathParameters"] = path_parameters
    if isinstance(body, bytes):
        result["body"], result["isBase64Encoded"] = base64.b64encode(body).decode(), True
    elif body is not None:
        result["body"] = body
    return result


def _as_gateway(value: Any) -> str:
    """API Gateway passes every claim on as a string (null as Go prints nil)."""
    return "<nil>" if value is None else value if isinstance(value, str) else json.dumps(value)


def call(route: str, body: Any = None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """POST `body` (a dict/list is sent as JSON) to `route` through its Lambda handler."""
    key = f"POST {route}"
    text = json.dumps(body) if isinstance(body, dict | list) else body
    result = module_of(key).lambda_handler(event(key, text, **kwargs), CONTEXT)
    assert result["headers"]["Content-Type"] == "application/json", result
    return int(result["statusCode"]), json.loads(result["body"])


def assert_refused(
    answer: tuple[int, dict[str, Any]], status: int, code: str, reached: Reached
) -> dict[str, Any]:
    got, body = answer
    assert (got, body["error"]["code"]) == (status, code), body
    assert body["error"]["message"]
    assert reached.calls == [], "a refused request reached the use case"
    return dict(body["error"])


def assert_reached(answer: tuple[int, dict[str, Any]], reached: Reached) -> None:
    got, body = answer
    assert (got, body["error"]["message"]) == (404, REACHED), body
    assert reached.calls
    assert reached.calls[-1][0][0] is DEPENDENCIES, "the use case did not get the app's Dependencies"


# --- media type, size, encoding, JSON ---------------------------------------------------------------


@pytest.mark.parametrize("route", POST_ROUTES)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "multipart/form-data; boundary=xyz",
        "application/x-www-form-urlencoded",
        None,
        "application/json; charset=latin-1",
        "application/jsonx",
        "application/xml",
        "",
    ],
)
def test_a_body_not_sent_as_json_is_a_415(route: str, content_type: str | None, reached: Reached) -> None:
    body = json.dumps(VALID[route])
    error = assert_refused(call(route, body, content_type=content_type), 415, "UnsupportedMediaType", reached)
    assert "application/json" in error["message"]


@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON; charset=UTF-8", "application/json;charset=utf8"]
)
def test_json_media_types_are_read(content_type: str, reached: Reached) -> None:
    assert_reached(
        call("/api/workflows/approve", {"workflow_id": WORKFLOW}, content_type=content_type), reached
    )


@pytest.mark.parametrize("route", POST_ROUTES)
def test_a_body_over_the_limit_is_a_413(route: str, reached: Reached) -> None:
    body = json.dumps({**VALID[route], "pad": "x" * MAX_BODY_BYTES})
    error = assert_refused(call(route, body), 413, "PayloadTooLarge", reached)
    assert error["details"] == {"limit_bytes": MAX_BODY_BYTES}


@pytest.mark.parametrize("route", POST_ROUTES)
@pytest.mark.parametrize(
    "body",
    [
        b'{"workflow_id": "\xff\xfe"}',  # not UTF-8 (the gateway passes it base64-encoded)
        "{not json",
        '{"workflow_id": "a"',
        "[" * 100 + "]" * 100,  # deeper than 32 levels
        '{"a":' * 33 + "1" + "}" * 33,
        "[" * 20_000 + "]" * 20_000,  # deep enough to overflow a recursive parser
        '{"n": ' + "1" * 5000 + "}",  # more digits than Python reads
        '{"budget_microalgo": NaN}',
        '{"workflow_id": "x", "workflow_id": "y"}',
        '"a string"',
        "null",
        "[]",
    ],
)
def test_a_body_that_is_not_one_json_object_within_the_limits_is_a_400(
    route: str, body: str | bytes, reached: Reached
) -> None:
    assert_refused(call(route, body), 400, "BadRequest", reached)


def test_the_400_says_why_the_body_was_refused(reached: Reached) -> None:
    route = "/api/workflows/start"
    assert "UTF-8" in assert_refused(call(route, b"\xff"), 400, "BadRequest", reached)["message"]
    assert "JSON" in assert_refused(call(route, "{nope"), 400, "BadRequest", reached)["message"]
    deep = assert_refused(call(route, "[" * 40 + "]" * 40), 400, "BadRequest", reached)
    assert "32 levels" in deep["message"]
    twice = assert_refused(
        call(route, '{"workflow_id": "x", "workflow_id": "y"}'), 400, "BadRequest", reached
    )
    assert "twice" in twice["message"]


def test_a_missing_body_is_a_400(reached: Reached) -> None:
    for route in POST_ROUTES:
        assert_refused(call(route, None), 400, "BadRequest", reached)
        assert_refused(call(route, "", content_type=None), 400, "BadRequest", reached)


def test_depth_is_measured_without_parsing_and_ignores_brackets_in_strings() -> None:
    assert not json_depth_exceeds("[" * 32 + "]" * 32)
    assert json_depth_exceeds("[" * 33 + "]" * 33)
    assert not json_depth_exceeds(json.dumps({"s": "[" * 100, "t": '\\"{{{{'}))
    assert json_depth_exceeds("[" * 1_000_000)  # stops at the first bracket past the limit
    assert read_json(json.dumps({"a": [[1]]})) == {"a": [[1]]}


# --- fields ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", POST_ROUTES)
def test_unknown_fields_are_a_422_naming_them(route: str, reached: Reached) -> None:
    body = {**VALID[route], "surprise": 1, "walletaddress": "x"}
    error = assert_refused(call(route, body), 422, "UnknownFields", reached)
    assert sorted(error["details"]["unknown_fields"]) == ["surprise", "walletaddress"]
    assert "surprise" in error["message"]


@pytest.mark.parametrize(
    "route, body",
    [
        ("/api/workflows/create", {"userMessage": "hi", "walletAddress": ADDRESS, "budgetMicroalgo": 5}),
        ("/api/workflows/create", {"message": "hi", "wallet_address": ADDRESS}),
        ("/api/workflows/create", {"request": "hi", "wallet_address": ADDRESS}),
        ("/api/workflows/approve", {"workflowId": WORKFLOW, "budgetMicroalgo": 2**63 - 1}),
        ("/api/workflows/start", {"workflowId": WORKFLOW, "repaySteps": [2, 1]}),
        ("/api/workflows/cancel", {"workflowId": WORKFLOW.upper()}),
        ("/api/workflows/step/poll", {"workflowId": WORKFLOW, "stepNumber": 1, "stepResultId": WORKFLOW}),
        ("/api/workflows/step/start_job", {"workflowId": WORKFLOW, "stepNumber": 50}),
        ("/api/workflows/step/submit_payment", {"workflowId": WORKFLOW, "stepNumber": 1, "txnIds": [TXID]}),
        ("/api/workflows/step/submit_payment", {"workflowId": WORKFLOW, "stepNumber": 1, "txid": TXID}),
        (
            "/api/workflows/step/submit_payment",
            {"workflowId": WORKFLOW, "stepNumber": 1, "txIds": [TXID, "B" * 52]},
        ),
        (
            "/api/workflows/create",
            {"user_message": "line one\nline two\ttabbed\r\n", "wallet_address": ADDRESS},
        ),
    ],
)
def test_the_seeds_camelcase_and_valid_values_reach_the_use_case(
    route: str, body: dict[str, Any], reached: Reached
) -> None:
    assert_reached(call(route, body), reached)


@pytest.mark.parametrize(
    "route, body, field",
    [
        # wallet addresses: algosdk's checks (uppercase base32, 58 characters, checksum)
        (
            "/api/workflows/create",
            {"user_message": "hi", "wallet_address": ADDRESS.lower()},
            "wallet_address",
        ),
        (
            "/api/workflows/create",
            # One character of the key changed (the last one may only carry padding bits): its
            # checksum no longer matches.
            {
                "user_message": "hi",
                "wallet_address": ADDRESS[:10] + ("B" if ADDRESS[10] != "B" else "C") + ADDRESS[11:],
            },
            "wallet_address",
        ),
        ("/api/workflows/create", {"user_message": "hi", "wallet_address": ADDRESS[:57]}, "wallet_address"),
        ("/api/workflows/create", {"user_message": "hi", "wallet_address": "A" * 58}, "wallet_address"),
        ("/api/workflows/create", {"user_message": "hi", "wallet_address": 5}, "wallet_address"),
        # the message: 1..4000 characters, no control characters but tab and newlines
        ("/api/workflows/create", {"user_message": "", "wallet_address": ADDRESS}, "user_message"),
        ("/api/workflows/create", {"user_message": "  \n ", "wallet_address": ADDRESS}, "user_message"),
        ("/api/workflows/create", {"user_message": "x" * 4001, "wallet_address": ADDRESS}, "user_message"),
        ("/api/workflows/create", {"user_message": "nul\x00", "wallet_address": ADDRESS}, "user_message"),
        ("/api/workflows/create", {"user_message": "esc\x1b[2J", "wallet_address": ADDRESS}, "user_message"),
        ("/api/workflows/create", {"user_message": "del\x7f", "wallet_address": ADDRESS}, "user_message"),
        ("/api/workflows/create", {"user_message": "c1\x85", "wallet_address": ADDRESS}, "user_message"),
        ("/api/workflows/create", {"user_message": "half \ud800", "wallet_address": ADDRESS}, "user_message"),
        ("/api/workflows/create", {"user_message": ["hi"], "wallet_address": ADDRESS}, "user_message"),
        # amounts: integers 0 .. 2**63 - 1, never true or "5"
        (
            "/api/workflows/create",
            {"user_message": "hi", "wallet_address": ADDRESS, "budget_microalgo": -1},
            "budget_microalgo",
        ),
        ("/api/workflows/approve", {"workflow_id": WORKFLOW, "budget_microalgo": 2**63}, "budget_microalgo"),
        ("/api/workflows/approve", {"workflow_id": WORKFLOW, "budget_microalgo": True}, "budget_microalgo"),
        ("/api/workflows/approve", {"workflow_id": WORKFLOW, "budget_microalgo": "5"}, "budget_microalgo"),
        ("/api/workflows/approve", {"workflow_id": WORKFLOW, "budget_microalgo": 5.0}, "budget_microalgo"),
        # workflow ids: UUIDs
        ("/api/workflows/approve", {"workflow_id": "wf-1"}, "workflow_id"),
        ("/api/workflows/cancel", {"workflow_id": WORKFLOW + "0"}, "workflow_id"),
        ("/api/workflows/start", {"workflow_id": None}, "workflow_id"),
        # step numbers: strict integers 1 .. 50
        ("/api/workflows/step/poll", {"workflow_id": WORKFLOW, "stepNumber": True}, "stepNumber"),
        ("/api/workflows/step/poll", {"workflow_id": WORKFLOW, "stepNumber": "1"}, "stepNumber"),
        ("/api/workflows/step/poll", {"workflow_id": WORKFLOW, "stepNumber": 1.0}, "stepNumber"),
        ("/api/workflows/step/start_job", {"workflow_id": WORKFLOW, "step_number": 0}, "step_number"),
        ("/api/workflows/step/start_job", {"workflow_id": WORKFLOW, "step_number": 51}, "step_number"),
        # txn ids: 52 characters of uppercase base32, 1..16 of them, each once
        (
            "/api/workflows/step/submit_payment",
            {"workflow_id": WORKFLOW, "step_number": 1, "txn_ids": []},
            "txn_ids",
        ),
        (
            "/api/workflows/step/submit_payment",
            {"workflow_id": WORKFLOW, "step_number": 1, "txn_ids": ["A" * 51]},
            "txn_ids.0",
        ),
        (
            "/api/workflows/step/submit_payment",
            {"workflow_id": WORKFLOW, "step_number": 1, "txn_ids": ["a" * 52]},
            "txn_ids.0",
        ),
        (
            "/api/workflows/step/submit_payment",
            {"workflow_id": WORKFLOW, "step_number": 1, "txn_ids": ["1" * 52]},
            "txn_ids.0",
        ),
        (
            "/api/workflows/step/submit_payment",
            {"workflow_id": WORKFLOW, "step_number": 1, "txn_ids": [TXID, TXID]},
            "txn_ids",
        ),
        (
            "/api/workflows/step/submit_payment",
            {"workflow_id": WORKFLOW, "step_number": 1, "txn_ids": [TXID] * 17},
            "txn_ids",
        ),
        (
            "/api/workflows/step/submit_payment",
            {"workflow_id": WORKFLOW, "step_number": 1, "txn_ids": [5]},
            "txn_ids.0",
        ),
        # repay_steps: at most 10 step numbers, each once, each >= 1
        ("/api/workflows/start", {"workflow_id": WORKFLOW, "repay_steps": [0]}, "repay_steps.0"),
        ("/api/workflows/start", {"workflow_id": WORKFLOW, "repay_steps": [1, 1]}, "repay_steps"),
        ("/api/workflows/start", {"workflow_id": WORKFLOW, "repay_steps": list(range(1, 12))}, "repay_steps"),
        ("/api/workflows/start", {"workflow_id": WORKFLOW, "repay_steps": [True]}, "repay_steps.0"),
        ("/api/workflows/start", {"workflow_id": WORKFLOW, "repay_steps": 1}, "repay_steps"),
    ],
)
def test_invalid_fields_are_a_400_naming_the_field(
    route: str, body: dict[str, Any], field: str, reached: Reached
) -> None:
    error = assert_refused(call(route, body), 400, "BadRequest", reached)
    assert field in [detail["field"] for detail in error["details"]], error


def test_a_field_given_under_two_names_is_a_400(reached: Reached) -> None:
    body = {"workflow_id": WORKFLOW, "workflowId": WORKFLOW}
    error = assert_refused(call("/api/workflows/cancel", body), 400, "BadRequest", reached)
    assert "workflow_id is given twice" in error["message"]


def test_ids_are_stored_lowercase_and_repay_steps_reach_start(reached: Reached) -> None:
    assert_reached(
        call("/api/workflows/start", {"workflowId": WORKFLOW.upper(), "repaySteps": [3, 1]}), reached
    )
    args, kwargs = reached.calls[-1]
    assert args[1:] == (WORKFLOW, USER) and kwargs == {"repay_steps": [3, 1]}
    assert_reached(call("/api/workflows/start", {"workflow_id": WORKFLOW}), reached)
    assert reached.calls[-1][1] == {"repay_steps": []}


# --- the path and the caller -------------------------------------------------------------------------


def read(workflow_id: str, claims: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    key = "GET /api/workflows/{id}"
    path = f"/api/workflows/{workflow_id}"
    request = event(
        key, None, content_type=None, claims=claims, path=path, path_parameters={"id": workflow_id}
    )
    result = module_of(key).lambda_handler(request, CONTEXT)
    return int(result["statusCode"]), json.loads(result["body"])


@pytest.mark.parametrize(
    "workflow_id", ["not-a-uuid", "x" * 500, WORKFLOW + "1", "%ff", "'; drop table workflows"]
)
def test_a_path_that_cannot_name_a_workflow_is_a_404(workflow_id: str, reached: Reached) -> None:
    assert_refused(read(workflow_id), 404, "NotFound", reached)
    assert_refused(funds(workflow_id), 404, "NotFound", reached)


def test_a_path_workflow_id_reaches_the_use_case_lowercase(reached: Reached) -> None:
    assert_reached(read(WORKFLOW.upper()), reached)
    assert reached.calls[-1][0][1:] == (WORKFLOW, USER)
    assert_reached(funds(WORKFLOW.upper()), reached)
    assert reached.calls[-1][0][1:] == (WORKFLOW, USER)


def get(
    route_key: str,
    *,
    query: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
    path: str | None = None,
    path_parameters: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """GET a route through its Lambda handler, with query parameters as API Gateway passes them."""
    request = event(
        route_key, None, content_type=None, claims=claims, path=path, path_parameters=path_parameters
    )
    if query:
        request["queryStringParameters"] = query
        request["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    result = module_of(route_key).lambda_handler(request, CONTEXT)
    assert result["headers"]["Content-Type"] == "application/json", result
    return int(result["statusCode"]), json.loads(result["body"])


def funds(workflow_id: str, claims: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    return get(
        "GET /api/workflows/{id}/funds",
        claims=claims,
        path=f"/api/workflows/{workflow_id}/funds",
        path_parameters={"id": workflow_id},
    )


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5", "", "1e2", "9" * 40])
def test_a_list_limit_out_of_range_is_a_400_naming_it(limit: str, reached: Reached) -> None:
    error = assert_refused(get("GET /api/workflows", query={"limit": limit}), 400, "BadRequest", reached)
    assert [d["field"] for d in error["details"]] == ["query.limit"], error


def test_a_cursor_longer_than_any_the_api_gives_is_a_400_naming_it(reached: Reached) -> None:
    answer = get("GET /api/workflows", query={"cursor": "a" * 257})
    error = assert_refused(answer, 400, "BadRequest", reached)
    assert [d["field"] for d in error["details"]] == ["query.cursor"], error


def test_list_parameters_reach_the_use_case(reached: Reached) -> None:
    assert_reached(get("GET /api/workflows"), reached)
    assert reached.calls[-1][0][1:] == (USER,) and reached.calls[-1][1] == {"limit": 20, "cursor": None}
    assert_reached(get("GET /api/workflows", query={"limit": "100", "cursor": "abc"}), reached)
    assert reached.calls[-1][1] == {"limit": 100, "cursor": "abc"}
    assert_reached(get("GET /api/agents"), reached)


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"sub": ""},
        {"sub": "  "},
        {"sub": 123},
        {"sub": None},
        {"sub": ["a"]},
        {"sub": {"id": USER}},
        {"sub": "a\x00b"},
    ],
    ids=["no sub", "empty", "blank", "number", "null", "list", "object", "control character"],
)
def test_a_token_without_a_string_sub_is_a_401_on_every_route(
    claims: dict[str, Any], reached: Reached
) -> None:
    for route in POST_ROUTES:
        assert_refused(call(route, VALID[route], claims=claims), 401, "Unauthorized", reached)
    assert_refused(read(WORKFLOW, claims=claims), 401, "Unauthorized", reached)
    assert_refused(funds(WORKFLOW, claims=claims), 401, "Unauthorized", reached)
    for listing in ("GET /api/workflows", "GET /api/agents"):
        assert_refused(get(listing, claims=claims), 401, "Unauthorized", reached)


def test_the_claims_and_the_token_must_name_the_same_user(reached: Reached) -> None:
    key = "POST /api/workflows/cancel"
    request = event(key, json.dumps({"workflow_id": WORKFLOW}))
    request["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = "someone-else"
    result = module_of(key).lambda_handler(request, CONTEXT)
    assert result["statusCode"] == 401 and reached.calls == []


# --- correlation ids never parse more than they need ------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["[" * 50_000, '{"a":' * 40_000, '{"workflow_id": "' + "x" * MAX_BODY_BYTES + '"}', '{"workflow_id": 5}'],
)
def test_the_correlation_id_of_a_hostile_body_is_none(body: str) -> None:
    assert workflow_id_of({"routeKey": "POST /x", "requestContext": {}, "body": body}) is None


def test_the_correlation_id_is_the_body_workflow_id() -> None:
    body = json.dumps({"workflowId": WORKFLOW, "nested": {"workflow_id": "other"}})
    assert workflow_id_of({"routeKey": "POST /x", "requestContext": {}, "body": body}) == WORKFLOW
