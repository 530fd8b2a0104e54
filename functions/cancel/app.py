"""POST /api/workflows/cancel: stop a workflow cooperatively; it can be resumed later."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas.api import WorkflowRequest, WorkflowView
from orchestrator.services.workflows import cancel_workflow

app = make_resolver()


@app.post(
    "/api/workflows/cancel",
    responses=api_responses(
        200,
        "The workflow, cancelled (it can be resumed with start)",
        {
            404: "There is no such workflow, or it is another person's (NotFound)",
            409: "The workflow is not planned, approved or running (InvalidState)",
        },
    ),
)
def cancel(
    body: Annotated[WorkflowRequest, Body()], deps: Annotated[Dependencies, Depends(get_dependencies)]
) -> Response[WorkflowView]:
    return json_response(cancel_workflow(deps, body.workflow_id, current_user(app)))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
