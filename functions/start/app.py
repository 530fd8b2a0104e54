"""POST /api/workflows/start: start an approved workflow, or resume a failed or cancelled one."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.idempotency import IdempotencyKeyHeader, idempotent_response
from orchestrator.observability import observed
from orchestrator.schemas.api import StartRequest, WorkflowView
from orchestrator.services.workflows import start_workflow

app = make_resolver()


@app.post(
    "/api/workflows/start",
    status_code=202,
    responses=api_responses(
        202,
        "The workflow, running: its execution has started",
        {
            404: "There is no such workflow, or it is another person's (NotFound)",
            409: "The workflow is not approved, failed or cancelled, or every step succeeded "
            "(InvalidState); a paid step would be paid again and is not in repay_steps "
            "(RepayConsentRequired; `details.repay_steps`)",
        },
        idempotent=True,
    ),
)
def start(
    body: Annotated[StartRequest, Body()],
    deps: Annotated[Dependencies, Depends(get_dependencies)],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[WorkflowView]:
    user_id = current_user(app)
    return idempotent_response(
        app,
        operation="start",
        key=idempotency_key,
        user_id=user_id,
        request=body,
        settings=deps.settings,
        answer=lambda: json_response(
            start_workflow(deps, body.workflow_id, user_id, repay_steps=body.repay_steps),
            status=202,
        ),
    )


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
