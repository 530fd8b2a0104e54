"""Advance task: the step succeeded; finish the workflow or move to the next step."""

from typing import Any

from orchestrator.dependencies import TaskApp
from orchestrator.observability import observed
from orchestrator.schemas.tasks import TaskRef
from orchestrator.services import outcome

app = TaskApp()  # where the handler gets its Dependencies (tests override them there)


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return outcome.advance(app.dependencies(), TaskRef.model_validate(event)).model_dump(mode="json")
