"""GET /api/openapi.json: the API's OpenAPI document (generated from the handlers by
`python -m devstack.openapi`; a test keeps it in step with them)."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response
from orchestrator.http import handle, make_resolver
from orchestrator.observability import observed

app = make_resolver()
DOCUMENT = Path(__file__).with_name("openapi.json")


@cache
def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT.read_text())
    return loaded


@app.get("/api/openapi.json", include_in_schema=False)
def openapi_document() -> Response[dict[str, Any]]:
    return Response(
        status_code=200,
        content_type="application/json",
        body=_document(),
        headers={"Cache-Control": "public, max-age=300"},
    )


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
