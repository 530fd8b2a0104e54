"""POST /api/workflows/approve: the person accepts the plan and its cost."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas.api import ApproveRequest, WorkflowView
from orchestrator.services.workflows import approve_workflow

app = make_resolver()


@app.post(
    "/api/workflows/approve",
    responses=api_responses(
        200,
        "The workflow, approved",
        {
            404: "There is no such workflow, or it is another person's (NotFound)",
            409: "The workflow is not planned (InvalidState)",
            422: "The plan costs more than the budget (PlanInvalid)",
        },
    ),
)
def approve(
    body: Annotated[ApproveRequest, Body()], deps: Annotated[Dependencies, Depends(get_dependencies)]
) -> Response[WorkflowView]:
    return json_response(approve_workflow(deps, body, current_user(app)))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
