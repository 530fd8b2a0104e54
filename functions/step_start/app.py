"""StartJob task (waitForTaskToken) and POST /api/workflows/step/start_job (re-quote an expired group)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestrator.adapters import get_dependencies
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas import StartJobTask, StepRequest, StepView
from orchestrator.services import steps

app = make_resolver()


@app.post(
    "/api/workflows/step/start_job",
    responses=api_responses(
        200,
        "The step, with the group to sign (a fresh one if every earlier one expired unpaid)",
        {
            404: "There is no such workflow or step, or it is another person's (NotFound)",
            409: "The step is not awaiting payment (InvalidState)",
            422: "The agent's new group breaks a payment safety rule (UnsafePaymentGroup)",
            502: "The agent could not be reached or answered out of protocol (AgentUnavailable, …)",
            503: "The chain could not be reached (ChainUnavailable)",
        },
    ),
)
def requote(body: Annotated[StepRequest, Body()]) -> Response[StepView]:
    return json_response(
        steps.requote(get_dependencies(), body.workflow_id, body.step_number, current_user(app))
    )


def start_job_task(payload: dict[str, Any]) -> None:
    steps.start_job(get_dependencies(), StartJobTask.model_validate(payload))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context, task=start_job_task)
