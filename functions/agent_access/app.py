"""POST /api/agent/access: an agent's push (after a verified payment, and when its job completed)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.http import api_responses, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas.api import PUSH_MAX_BODY_BYTES, AgentPush, PushReceipt
from orchestrator.services.agent_push import AGENT_TOKEN_HEADER, accept_push

app = make_resolver(max_body_bytes=PUSH_MAX_BODY_BYTES)

AgentTokenHeader = Annotated[
    str | None,
    Header(
        alias=AGENT_TOKEN_HEADER,
        max_length=512,
        description="The agent's secret, as the marketplace stores it (agents.agent_token)",
    ),
]


@app.post(
    "/api/agent/access",
    responses=api_responses(
        200,
        "The push was taken; a completed job was looked at and, if it ended well, its workflow went on",
        {401: "No agent token, or not the token of the job's agent (AgentUnauthorized)"},
        signed_in=False,
    ),
)
def agent_access(
    body: Annotated[AgentPush, Body()],
    deps: Annotated[Dependencies, Depends(get_dependencies)],
    agent_token: AgentTokenHeader = None,
) -> Response[PushReceipt]:
    return json_response(accept_push(deps, agent_token, body))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
