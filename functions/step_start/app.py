"""StartJob task (waitForTaskToken) and POST /api/workflows/step/start_job (re-quote an expired group)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestrator.adapters import get_dependencies
from orchestrator.http import current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas import StartJobTask, StepRequest, StepView
from orchestrator.services import steps

app = make_resolver()


@app.post("/api/workflows/step/start_job")
def requote(body: Annotated[StepRequest, Body()]) -> Response[StepView]:
    return json_response(
        steps.requote(get_dependencies(), body.workflow_id, body.step_number, current_user(app))
    )


def start_job_task(payload: dict[str, Any]) -> None:
    steps.start_job(get_dependencies(), StartJobTask.model_validate(payload))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context, task=start_job_task)
