"""EventBridge: a workflow execution ended ABORTED, TIMED_OUT or FAILED; fail its workflow if it still runs."""

from typing import Any

from orchestrator.dependencies import TaskApp
from orchestrator.observability import logger, observed
from orchestrator.services.reconcile import ExecutionEnded, reconcile_execution

app = TaskApp()  # where the handler gets its Dependencies (tests override them there)


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = reconcile_execution(app.dependencies(), ExecutionEnded.from_event(event))
    logger.info("execution reconciled", extra=outcome.model_dump(mode="json"))
    return outcome.model_dump(mode="json")
