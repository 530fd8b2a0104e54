"""Schedule: repair running workflows whose step is stuck past its deadline and whose execution ended."""

from typing import Any

from orchestrator.dependencies import TaskApp
from orchestrator.observability import logger, observed
from orchestrator.services.reconcile import sweep_stuck_workflows

app = TaskApp()  # where the handler gets its Dependencies (tests override them there)


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = sweep_stuck_workflows(app.dependencies())
    logger.info(
        "sweep done",
        extra={
            "checked": outcome.checked,
            "repaired": [r.workflow_id for r in outcome.repaired],
            "still_running": outcome.still_running,
            "unreachable": outcome.unreachable,
        },
    )
    return outcome.model_dump(mode="json")
