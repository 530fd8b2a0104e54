"""POST /api/workflows/step/submit_payment: verify the confirmed payment and let the step run."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.http import api_responses, current_user, handle, json_response, make_resolver
from orchestrator.idempotency import IdempotencyKeyHeader, idempotent_response
from orchestrator.observability import observed
from orchestrator.schemas.api import StepView, SubmitPaymentRequest
from orchestrator.services import payment

app = make_resolver()


@app.post(
    "/api/workflows/step/submit_payment",
    responses=api_responses(
        200,
        "The step, paid: the payment is verified on chain and handed to the agent",
        {
            404: "There is no such workflow or step, or it is another person's (NotFound)",
            409: "The step is not awaiting payment (InvalidState), the payment is not confirmed yet "
            "(PaymentNotConfirmed), a transaction already paid for another step (PaymentReplay)",
            422: "The transaction ids are not the ones offered for the step (PaymentMismatch)",
            502: "The agent could not be reached or kept refusing the payment (PaymentRejectedByAgent, …)",
            503: "The chain could not be reached (ChainUnavailable)",
        },
        idempotent=True,
    ),
)
def submit_payment(
    body: Annotated[SubmitPaymentRequest, Body()],
    deps: Annotated[Dependencies, Depends(get_dependencies)],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[StepView]:
    user_id = current_user(app)

    def pay() -> Response[StepView]:
        return json_response(
            payment.submit_payment(deps, body.workflow_id, body.step_number, body.txn_ids, user_id)
        )

    return idempotent_response(
        app,
        operation="submit_payment",
        key=idempotency_key,
        user_id=user_id,
        request=body,
        answer=pay,
        settings=deps.settings,
    )


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
