"""WatchJob task and POST /api/workflows/step/poll (one look at a step's job)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas.api import StepRequest, StepView
from orchestrator.schemas.tasks import WatchJobTask
from orchestrator.services import job_watch

app = make_resolver()


@app.post(
    "/api/workflows/step/poll",
    responses=api_responses(
        200,
        "The step, after one look at its job",
        {404: "There is no such workflow or step, or it is another person's (NotFound)"},
    ),
)
def poll(
    body: Annotated[StepRequest, Body()], deps: Annotated[Dependencies, Depends(get_dependencies)]
) -> Response[StepView]:
    return json_response(job_watch.poll_step(deps, body.workflow_id, body.step_number, current_user(app)))


def watch_job_task(payload: dict[str, Any], deps: Dependencies) -> None:
    job_watch.watch_job(deps, WatchJobTask.model_validate(payload))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context, task=watch_job_task)
