"""The OpenAPI document is generated from the handlers and served as committed: it must not drift, and
it says what the routes answer (success status, every error with its body)."""

from __future__ import annotations

import json
import re
from typing import Any

from devstack.openapi import DOCUMENT_PATH, build_document, render
from devstack.template import load_template

DOCUMENT = json.loads(DOCUMENT_PATH.read_text())
ERROR = {"$ref": "#/components/schemas/ErrorResponse"}
ERROR_OR_GATEWAY = {"anyOf": [ERROR, {"$ref": "#/components/schemas/GatewayMessage"}]}
OPERATIONS = [
    (path, method, operation)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
]


def _schema(operation: dict[str, Any], status: str) -> dict[str, Any]:
    schema = dict(operation["responses"][status]["content"]["application/json"]["schema"])
    schema.pop("title", None)
    return schema


def _shape(path: str) -> str:
    """/api/workflows/{id} and /api/workflows/{workflow_id} are the same route."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_committed_document_matches_the_handlers() -> None:
    assert DOCUMENT_PATH.read_text() == render(build_document()), (
        "functions/openapi/openapi.json is stale: run `.venv/bin/python -m devstack.openapi`"
    )


def test_every_routed_path_is_documented() -> None:
    routed = {_shape(route.path) for route, _ in load_template().routes()} - {"/api/openapi.json"}
    assert routed == {_shape(path) for path in DOCUMENT["paths"]}
    assert DOCUMENT["openapi"].startswith("3.1")


def test_success_statuses_are_the_ones_the_handlers_answer() -> None:
    successes = {
        (path, method): sorted(s for s in op["responses"] if s.startswith("2"))
        for path, method, op in OPERATIONS
    }
    assert successes[("/api/workflows/create", "post")] == ["201"]
    assert successes[("/api/workflows/start", "post")] == ["202"]
    for key in (("/api/workflows/approve", "post"), ("/api/workflows/{workflow_id}", "get")):
        assert successes[key] == ["200"]
    assert all(len(statuses) == 1 for statuses in successes.values()), successes
    view = {"$ref": "#/components/schemas/WorkflowView"}
    assert _schema(DOCUMENT["paths"]["/api/workflows/create"]["post"], "201") == view
    assert _schema(DOCUMENT["paths"]["/api/workflows/start"]["post"], "202") == view


def test_every_error_is_documented_with_our_error_body() -> None:
    for path, method, operation in OPERATIONS:
        responses = operation["responses"]
        assert "default" not in responses, (path, method)  # every status is listed, none is implied
        for status in responses:
            if status.startswith(("2", "3")):  # successes, and not modified (no body)
                continue
            gateway_too = {"413", "503", "504"} | ({"401"} if operation.get("security") != [] else set())
            expected = ERROR_OR_GATEWAY if status in gateway_too else ERROR
            assert _schema(operation, status) == expected, (path, method, status)
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(responses), (path, method)
            assert set(operation["requestBody"]["content"]) == {"application/json"}
    error = DOCUMENT["components"]["schemas"]["ErrorDetail"]
    assert error["required"] == ["code", "message"]
    assert set(error["properties"]) == {"code", "message", "details"}
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        assert unused not in DOCUMENT["components"]["schemas"]


def test_routes_that_find_a_workflow_document_404_and_state_routes_409() -> None:
    paths = DOCUMENT["paths"]
    for path in [p for p in paths if p.startswith("/api/workflows/") and not p.endswith("/create")]:
        for operation in paths[path].values():
            assert "404" in operation["responses"], path
    for path in ("approve", "start", "cancel", "step/start_job", "step/submit_payment"):
        assert "409" in paths[f"/api/workflows/{path}"]["post"]["responses"], path
    for path in ("step/start_job", "step/submit_payment"):
        assert "502" in paths[f"/api/workflows/{path}"]["post"]["responses"], path
    assert "504" in paths["/api/workflows/create"]["post"]["responses"]


def test_guarded_routes_need_a_token_and_document_the_gateways_401() -> None:
    assert DOCUMENT["security"] == [{"SupabaseJwt": []}]
    assert DOCUMENT["components"]["securitySchemes"]["SupabaseJwt"]["scheme"] == "bearer"
    guarded = {_shape(r.path) for r, _ in load_template().routes() if r.authorizer is not None}
    for path, method, operation in OPERATIONS:
        if _shape(path) in guarded:
            assert "security" not in operation, (path, method)  # the document's default
            assert _schema(operation, "401") == ERROR_OR_GATEWAY, (path, method)
        else:
            assert operation["security"] == [], (path, method)
            # The gateway never answers 401 here; a route that checks its own credential may.
            if "401" in operation["responses"]:
                assert _schema(operation, "401") == ERROR, (path, method)
    assert DOCUMENT["paths"]["/api/health"]["get"]["security"] == []


def test_request_bodies_accept_the_documented_fields_and_no_others() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert schemas["SubmitPaymentRequest"]["required"] == ["workflow_id", "step_number", "txn_ids"]
    assert schemas["CreateWorkflowRequest"]["required"] == ["user_message", "wallet_address"]
    for name in (
        "CreateWorkflowRequest",
        "ApproveRequest",
        "StartRequest",
        "StepRequest",
        "SubmitPaymentRequest",
    ):
        assert schemas[name]["additionalProperties"] is False, name
    create = schemas["CreateWorkflowRequest"]["properties"]
    assert create["wallet_address"]["pattern"] == "^[A-Z2-7]{58}$"
    assert create["user_message"]["maxLength"] == 4000
    budget = {"exclusiveMaximum": 2**63, "minimum": 0, "type": "integer"}  # 0 ... 2**63 - 1
    assert create["budget_microalgo"]["anyOf"][0] == budget
    step = schemas["SubmitPaymentRequest"]["properties"]
    assert step["step_number"]["type"] == "integer"
    assert step["txn_ids"]["items"]["pattern"] == "^[A-Z2-7]{52}$"
    repay = schemas["StartRequest"]["properties"]["repay_steps"]
    assert repay["maxItems"] == 10 and repay["uniqueItems"] is True and repay["items"]["minimum"] == 1


def test_the_workflow_route_documents_its_long_poll() -> None:
    """GET /api/workflows/{id}: `wait` (0..20 s) and If-None-Match in, ETag out; 304 has no body."""
    operation = DOCUMENT["paths"]["/api/workflows/{workflow_id}"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    wait = parameters["wait"]
    assert (wait["in"], wait["required"]) == ("query", False)
    assert {k: wait["schema"][k] for k in ("type", "minimum", "maximum", "default")} == {
        "type": "integer",
        "minimum": 0,
        "maximum": 20,
        "default": 0,
    }
    assert (parameters["if-none-match"]["in"], parameters["if-none-match"]["required"]) == ("header", False)
    responses = operation["responses"]
    assert _schema(operation, "200") == {"$ref": "#/components/schemas/WorkflowView"}
    assert "content" not in responses["304"]
    for status in ("200", "304"):
        assert set(responses[status]["headers"]) == {"ETag", "Cache-Control"}, status
    assert [s for s in responses if s.startswith("3")] == ["304"]
    assert "400" in responses  # a wait out of range, or not a number
