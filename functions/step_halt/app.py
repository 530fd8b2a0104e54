"""Halt task (the state machine's Catch branches): record a failure, payment timeout or cancellation."""

from typing import Any

from orchestrator.dependencies import TaskApp
from orchestrator.observability import observed
from orchestrator.schemas.tasks import HaltTask
from orchestrator.services import outcome

app = TaskApp()  # where the handler gets its Dependencies (tests override them there)


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return outcome.halt(app.dependencies(), HaltTask.model_validate(event)).model_dump(mode="json")
