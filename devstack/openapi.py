"""The API's OpenAPI document, generated from the handlers: each routed function of `template.yaml`
contributes its resolver's schema (Powertools builds it from the routes' pydantic annotations), and
Powertools' OpenAPIMerge joins them. The result is committed as `functions/openapi/openapi.json`,
which the `openapi` function serves; a test fails when it drifts from the handlers.

    .venv/bin/python -m devstack.openapi          # rewrite functions/openapi/openapi.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from devstack.lambdas import FunctionRegistry
from devstack.template import PROJECT_ROOT, Template, load_template

DOCUMENT_PATH = PROJECT_ROOT / "functions" / "openapi" / "openapi.json"
TITLE = "Agent workflow orchestrator"
VERSION = "1.0.0"
DESCRIPTION = (
    "Plan a workflow of marketplace agents from a request, approve it, pay each step from the "
    "person's Algorand wallet, and follow it to its final output. Errors are "
    '`{"error": {"code", "message"}}` with a stable code.'
)


def build_document(template: Template | None = None) -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    template = template or load_template()
    registry = FunctionRegistry(template)
    merge = OpenAPIMerge(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={"SupabaseJwt": HTTPBearer(bearerFormat="JWT")},
        security=[{"SupabaseJwt": []}],
        on_conflict="error",
    )
    for name in registry.names():
        spec = registry.spec(name)
        if not spec.routes:
            continue  # tasks and event-driven functions have no HTTP routes
        app = getattr(registry.load(spec), "app", None)
        if app is None or not hasattr(app, "get_openapi_schema"):
            continue
        merge.add_schema(app.get_openapi_schema(title=TITLE, version=VERSION))
    document: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    return _with_our_errors(document)


PUBLIC_PATHS = ("/api/health", "/api/openapi.json")
ERROR_SCHEMA = {
    "title": "ErrorResponse",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable error code, e.g. InvalidState"},
                "message": {"type": "string", "description": "What went wrong, in a sentence"},
                "details": {"description": "Extra facts, e.g. the reasons a plan was rejected"},
            },
        }
    },
}


def _with_our_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools describes validation failures as its 422 body; our handlers answer every error as
    `{"error": {...}}` (400 for bad input). Say so, and mark the public routes as needing no token."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorResponse"] = ERROR_SCHEMA
    error_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if operation.get("requestBody") or operation.get("parameters"):
                responses["400"] = {
                    "description": "The request is malformed or a field is missing",
                    **error_ref,
                }
            responses["default"] = {"description": "An error, with a stable code", **error_ref}
            if path in PUBLIC_PATHS:
                operation["security"] = []
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused not in json.dumps(document.get("paths", {})):
            schemas.pop(unused, None)
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    path = Path(argv[0]) if argv else DOCUMENT_PATH
    path.write_text(render(build_document()))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
