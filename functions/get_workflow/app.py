"""GET /api/workflows/{id}: the workflow, its steps, payments to sign, receipts and outputs."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from orchestrator.adapters import get_dependencies
from orchestrator.http import current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas import WorkflowView
from orchestrator.services.workflows import get_workflow

app = make_resolver()


@app.get("/api/workflows/<workflow_id>")
def read(workflow_id: str) -> Response[WorkflowView]:
    return json_response(get_workflow(get_dependencies(), workflow_id, current_user(app)))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
