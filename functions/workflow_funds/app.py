"""GET /api/workflows/{id}/funds: whether the workflow's wallet can pay its plan: the balance, Algorand's
minimum balance, the plan's total with network fees, and a sentence saying what to do when short."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.errors import NotFound
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas.api import FundsView, workflow_id_in_path
from orchestrator.services.funds import workflow_funds

app = make_resolver()


@app.get(
    "/api/workflows/<workflow_id>/funds",
    responses=api_responses(
        200,
        "The wallet's balance and the plan's cost; when the chain cannot be read, the balance fields "
        "and can_pay are null and the message says so",
        {404: "There is no such workflow, or it is another person's (NotFound)"},
        body=False,
    ),
)
def funds(workflow_id: str, deps: Annotated[Dependencies, Depends(get_dependencies)]) -> Response[FundsView]:
    user_id = current_user(app)
    stored_id = workflow_id_in_path(workflow_id)
    if stored_id is None:  # not a UUID: no workflow has it
        raise NotFound(f"There is no workflow with id {workflow_id[:64]}.")
    return json_response(workflow_funds(deps, stored_id, user_id))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
