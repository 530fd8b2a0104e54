"""POST /api/workflows/create: plan a workflow from the person's request."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.idempotency import IdempotencyKeyHeader, idempotent_response
from orchestrator.observability import observed
from orchestrator.schemas.api import CreateWorkflowRequest, WorkflowView
from orchestrator.services.workflows import create_workflow

app = make_resolver()


@app.post(
    "/api/workflows/create",
    status_code=201,
    responses=api_responses(
        201,
        "The plan, priced: the workflow is planned",
        {
            422: "No plan fits the request or the budget (PlanInvalid; `details` lists every reason)",
            503: "The planner is unavailable (PlannerUnavailable)",
            504: "Planning did not finish in time (PlannerTimeout); nothing was stored",
        },
        idempotent=True,
    ),
)
def create(
    body: Annotated[CreateWorkflowRequest, Body()],
    deps: Annotated[Dependencies, Depends(get_dependencies)],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[WorkflowView]:
    user_id = current_user(app)
    return idempotent_response(
        app,
        operation="create",
        key=idempotency_key,
        user_id=user_id,
        request=body,
        settings=deps.settings,
        answer=lambda: json_response(create_workflow(deps, body, user_id), status=201),
    )


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
