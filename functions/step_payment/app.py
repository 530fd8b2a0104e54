"""POST /api/workflows/step/submit_payment: verify the confirmed payment and let the step run."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestrator.adapters import get_dependencies
from orchestrator.http import current_user, handle, json_response, make_resolver
from orchestrator.schemas import StepView, SubmitPaymentRequest
from orchestrator.services import steps

app = make_resolver()


@app.post("/api/workflows/step/submit_payment")
def submit_payment(body: Annotated[SubmitPaymentRequest, Body()]) -> Response[StepView]:
    view = steps.submit_payment(
        get_dependencies(), body.workflow_id, body.step_number, body.txn_ids, current_user(app)
    )
    return json_response(view)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
