"""GET /api/workflows/{id}: the workflow, its steps, payments to sign, receipts and outputs.

Answers carry an ETag (the version of what the body shows). With `If-None-Match` naming the current
version and `?wait=N`, the answer waits up to N seconds for another version (a long poll): 200 with
it as soon as it exists, else 304 with the same ETag and no body."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.errors import NotFound
from orchestrator.http import api_responses, current_user, handle, make_resolver
from orchestrator.observability import observed
from orchestrator.schemas.api import WorkflowView, workflow_id_in_path
from orchestrator.services.workflows import MAX_WAIT_SECONDS, WorkflowVersion, watch_workflow

app = make_resolver()

WaitQuery = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_WAIT_SECONDS,
        description=(
            f"Seconds (0 to {MAX_WAIT_SECONDS}) to wait for a version other than the one If-None-Match "
            "names: the answer comes as soon as the workflow changes (200), or after this long (304)."
        ),
    ),
]
IfNoneMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        max_length=1024,
        description="The ETag of the version the caller has: 304 while it is still the current one.",
    ),
]

_VERSION_HEADERS: dict[str, Any] = {
    "ETag": {
        "description": "The version of what the body shows (a strong validator)",
        "schema": {"type": "string"},
    },
    "Cache-Control": {"description": "no-store", "schema": {"type": "string"}},
}
_RESPONSES = api_responses(
    200,
    "The workflow and its steps",
    {
        400: f"`wait` is not an integer from 0 to {MAX_WAIT_SECONDS}, or If-None-Match is longer than "
        "1024 characters (BadRequest; `details` names the parameter and why)",
        404: "There is no such workflow, or it is another person's (NotFound)",
    },
    body=False,
)
# The body's model is named here, not as the return type: Powertools would hold the 304 (no body)
# to it too.
_RESPONSES[200]["headers"] = _VERSION_HEADERS
_RESPONSES[200]["content"] = {"application/json": {"model": WorkflowView}}
_RESPONSES[304] = {
    "description": "Not modified: If-None-Match names the current version, and it did not change "
    "within `wait` seconds (no body)",
    "headers": _VERSION_HEADERS,
    "content": {},
}


def _versioned(found: WorkflowVersion) -> Response[Any]:
    # Each person's own payment data: never stored by a browser or a shared cache.
    headers = {"ETag": found.etag, "Cache-Control": "no-store"}
    if found.view is None:
        return Response(status_code=304, headers=headers)
    body = found.view.model_dump(mode="json")
    return Response(status_code=200, content_type="application/json", body=body, headers=headers)


@app.get("/api/workflows/<workflow_id>", responses=_RESPONSES)
def read(
    workflow_id: str,
    deps: Annotated[Dependencies, Depends(get_dependencies)],
    wait: WaitQuery = 0,
    if_none_match: IfNoneMatchHeader = None,
) -> Response[Any]:
    user_id = current_user(app)
    stored_id = workflow_id_in_path(workflow_id)
    if stored_id is None:  # not a UUID: no workflow has it (the page stops asking, as for any 404)
        raise NotFound(f"There is no workflow with id {workflow_id[:64]}.")
    found = watch_workflow(deps, stored_id, user_id, if_none_match=if_none_match, wait_seconds=wait)
    return _versioned(found)


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
