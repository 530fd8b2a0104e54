"""GET /api/agents: the agents a plan can hire (active ones), by name: what each does, its price and
what input it wants. Never an agent's secrets."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas.api import AgentList
from orchestrator.services.catalog_view import list_agents

app = make_resolver()


@app.get("/api/agents", responses=api_responses(200, "The active agents, sorted by name", body=False))
def agents(deps: Annotated[Dependencies, Depends(get_dependencies)]) -> Response[AgentList]:
    current_user(app)  # signed-in people only, as every route of the API
    return json_response(list_agents(deps))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
