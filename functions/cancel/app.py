"""POST /api/workflows/cancel: stop a workflow cooperatively; it can be resumed later."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestrator.adapters import get_dependencies
from orchestrator.http import current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas import WorkflowRequest, WorkflowView
from orchestrator.services.workflows import cancel_workflow

app = make_resolver()


@app.post("/api/workflows/cancel")
def cancel(body: Annotated[WorkflowRequest, Body()]) -> Response[WorkflowView]:
    return json_response(cancel_workflow(get_dependencies(), body.workflow_id, current_user(app)))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
