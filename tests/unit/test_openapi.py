"""The OpenAPI document is generated from the handlers and served as committed: it must not drift."""

from __future__ import annotations

import json
import re

from devstack.openapi import DOCUMENT_PATH, build_document, render
from devstack.template import load_template


def test_committed_document_matches_the_handlers() -> None:
    assert DOCUMENT_PATH.read_text() == render(build_document()), (
        "functions/openapi/openapi.json is stale: run `.venv/bin/python -m devstack.openapi`"
    )


def test_every_routed_path_is_documented_with_our_error_shape() -> None:
    document = json.loads(DOCUMENT_PATH.read_text())
    routed = {_shape(route.path) for route, _ in load_template().routes()} - {"/api/openapi.json"}
    assert routed == {_shape(path) for path in document["paths"]}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (path, method)
            assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"
            }
    assert document["security"] == [{"SupabaseJwt": []}]
    assert document["paths"]["/api/health"]["get"]["security"] == []


def test_request_bodies_accept_the_documented_fields() -> None:
    schemas = json.loads(DOCUMENT_PATH.read_text())["components"]["schemas"]
    assert schemas["SubmitPaymentRequest"]["required"] == ["workflow_id", "step_number", "txn_ids"]
    assert schemas["CreateWorkflowRequest"]["required"] == ["user_message", "wallet_address"]


def _shape(path: str) -> str:
    """/api/workflows/{id} and /api/workflows/{workflow_id} are the same route."""
    return re.sub(r"\{[^}]+\}", "{}", path)
