"""GET /api/workflows?limit=&cursor=: the caller's workflows, newest first, a page at a time."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas.api import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, WorkflowList
from orchestrator.services.catalog_view import MAX_CURSOR_CHARS, list_workflows

app = make_resolver()

LimitQuery = Annotated[
    int,
    Query(ge=1, le=MAX_LIST_LIMIT, description=f"How many workflows a page holds (1 to {MAX_LIST_LIMIT})"),
]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_CHARS,
        description="The next_cursor of the previous page (opaque); without it, the first page",
    ),
]


@app.get(
    "/api/workflows",
    responses=api_responses(
        200,
        "A page of the caller's workflows, newest first, and the cursor of the next one",
        {
            400: f"`limit` is not an integer from 1 to {MAX_LIST_LIMIT}, or `cursor` is not one this "
            "API gave out (BadRequest; `details` names the parameter)"
        },
        body=False,
    ),
)
def workflows(
    deps: Annotated[Dependencies, Depends(get_dependencies)],
    limit: LimitQuery = DEFAULT_LIST_LIMIT,
    cursor: CursorQuery = None,
) -> Response[WorkflowList]:
    return json_response(list_workflows(deps, current_user(app), limit=limit, cursor=cursor))


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
