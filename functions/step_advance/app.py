"""Advance task: the step succeeded; finish the workflow or move to the next step."""

from typing import Any

from orchestrator.adapters import get_dependencies
from orchestrator.observability import observed
from orchestrator.schemas import TaskRef
from orchestrator.services import steps


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.advance(get_dependencies(), TaskRef.model_validate(event)).model_dump(mode="json")
