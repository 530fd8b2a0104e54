"""The API's OpenAPI document, generated from the handlers: each routed function of `template.yaml`
contributes its resolver's schema (Powertools builds it from the routes' pydantic annotations), and
Powertools' OpenAPIMerge joins them. The result is committed as `functions/openapi/openapi.json`,
which the `openapi` function serves; a test fails when it drifts from the handlers.

    .venv/bin/python -m devstack.openapi          # rewrite functions/openapi/openapi.json
"""

from __future__ import annotations

import json
import re
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
    "person's Algorand wallet, and follow it to its final output. Every route but /api/health and "
    "/api/openapi.json needs a Supabase access token (`Authorization: Bearer <token>`); API Gateway "
    'answers a missing or invalid one with 401 `{"message":"Unauthorized"}`. Request bodies are '
    "JSON (`Content-Type: application/json`, UTF-8, at most 64 KB, nesting at most 32 levels), "
    "snake_case or the seed's camelCase names; unknown fields are refused. Errors are "
    '`{"error": {"code", "message", "details"?}}` with a stable code.'
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
    return _as_served(document, template)


# Powertools' own validation answers: our handlers answer every error as {"error": {...}} instead.
POWERTOOLS_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def _as_served(document: dict[str, Any], template: Template) -> dict[str, Any]:
    """What the handlers declare (`orchestrator.http.api_responses`), less what Powertools adds that
    they never answer (its 422 validation body, a body for an answer that has none), and each route's security as template.yaml sets it:
    routes without an authorizer need no token."""
    open_paths = {_shape(route.path) for route, _ in template.routes() if route.authorizer is None}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.get("responses", {})
            for status, answer in list(responses.items()):
                if any(name in json.dumps(answer) for name in POWERTOOLS_SCHEMAS):
                    del responses[status]
                elif answer.get("content") == {}:
                    del answer["content"]  # an answer without a body (304)
            if _shape(path) in open_paths:
                operation["security"] = []
    _integral_bounds(document)
    schemas = document.get("components", {}).get("schemas", {})
    used = json.dumps({k: v for k, v in document.items() if k != "components"})
    for unused in POWERTOOLS_SCHEMAS:
        if f'"#/components/schemas/{unused}"' not in used:
            schemas.pop(unused, None)
    return document


_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def _integral_bounds(node: Any) -> None:
    """Powertools' OpenAPI models hold bounds as floats (`50.0`, `9.223372036854776e+18`): write whole
    ones as integers again (exact for the bounds we use: small numbers and 2**63)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _BOUNDS and isinstance(value, float) and value.is_integer():
                node[key] = int(value)
            else:
                _integral_bounds(value)
    elif isinstance(node, list):
        for item in node:
            _integral_bounds(item)


def _shape(path: str) -> str:
    """/api/workflows/{id} and /api/workflows/{workflow_id} are the same route."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    path = Path(argv[0]) if argv else DOCUMENT_PATH
    path.write_text(render(build_document()))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
