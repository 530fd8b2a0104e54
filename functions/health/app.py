"""GET /api/health: liveness, for load balancers and the local stack's readiness check."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from orchestrator.http import api_responses, handle, make_resolver
from orchestrator.observability import observed

app = make_resolver()


@app.get("/api/health", responses=api_responses(200, "The API is up", body=False, signed_in=False))
def health() -> Response[dict[str, str]]:
    return Response(status_code=200, content_type="application/json", body={"status": "ok"})


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
