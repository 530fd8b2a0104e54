"""GET /api/workflows/{id}: the workflow, its steps, payments to sign, receipts and outputs."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from orchestrator.adapters import get_dependencies
from orchestrator.errors import NotFound
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas import WorkflowView, workflow_id_in_path
from orchestrator.services.workflows import get_workflow

app = make_resolver()


@app.get(
    "/api/workflows/<workflow_id>",
    responses=api_responses(
        200,
        "The workflow and its steps",
        {404: "There is no such workflow, or it is another person's (NotFound)"},
        body=False,
    ),
)
def read(workflow_id: str) -> Response[WorkflowView]:
    user_id = current_user(app)
    stored_id = workflow_id_in_path(workflow_id)
    if stored_id is None:  # not a UUID: no workflow has it (the page stops asking, as for any 404)
        raise NotFound(f"There is no workflow with id {workflow_id[:64]}.")
    return json_response(get_workflow(get_dependencies(), stored_id, user_id))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
