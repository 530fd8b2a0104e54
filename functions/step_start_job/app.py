"""The StartJob task (waitForTaskToken) and POST /api/workflows/step/start_job, which starts the job
again with a fresh group when every group offered for the step expired unpaid."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas.api import StepRequest, StepView
from orchestrator.schemas.tasks import StartJobTask
from orchestrator.services import start_job

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
def start_job_again(
    body: Annotated[StepRequest, Body()], deps: Annotated[Dependencies, Depends(get_dependencies)]
) -> Response[StepView]:
    return json_response(
        start_job.start_job_again(deps, body.workflow_id, body.step_number, current_user(app))
    )


def start_job_task(payload: dict[str, Any], deps: Dependencies) -> None:
    start_job.start_job(deps, StartJobTask.model_validate(payload))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context, task=start_job_task)
