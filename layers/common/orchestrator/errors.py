"""The error vocabulary: every error code the orchestrator writes is a class here.

A class's name is its `code`: the API's `{"error": {"code"}}`, the error name the state machine's
`ErrorEquals` and Fail states use (a task that raises it is reported with that name), the code stored
on a failed workflow or step, and the metrics' dimension (`WorkflowsFailed` reason, `AgentErrors`
error_code). Code compares codes through the classes (`PaymentTimeout.code`), never through a
literal: a literal is how a name and its use drift apart. Error names that are AWS's, not ours, are
the constants at the end.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OrchestratorError(Exception):
    """Base of every error a user or the state machine may see."""

    http_status: ClassVar[int] = 400
    # The class's name, set for each subclass (readable on the class and on an instance).
    code: ClassVar[str] = "OrchestratorError"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:  # a class that is answered as another one says so itself
            cls.code = cls.__name__

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


# --- request and state errors (API) -------------------------------------------------------


class BadRequest(OrchestratorError):
    http_status = 400


class UnsupportedMediaType(OrchestratorError):
    """The body is not sent as JSON (`Content-Type: application/json`, UTF-8)."""

    http_status = 415


class PayloadTooLarge(OrchestratorError):
    """The body is larger than a route takes."""

    http_status = 413


class UnknownFields(OrchestratorError):
    """The body has fields the route does not know; `details` names them."""

    http_status = 422


class Unauthorized(OrchestratorError):
    http_status = 401


class AgentUnauthorized(Unauthorized):
    """An agent's push without its token, or with one that matches no job of its: the same answer
    for both, so that the route tells nobody which job ids exist."""


class NotFound(OrchestratorError):
    http_status = 404


class InvalidState(OrchestratorError):
    """The workflow or step is not in a state that allows this action."""

    http_status = 409


class PlanInvalid(OrchestratorError):
    """The plan failed validation; `details` lists every reason."""

    http_status = 422


class NoAgentFits(PlanInvalid):
    """No agent in the catalog does what the request asks. Answered as `PlanInvalid` (its code), with
    `details.closest_agents` naming the agents nearest to the request; planning ends at once (asking
    again would not change the catalog)."""

    code = PlanInvalid.code


class PlannerUnavailable(OrchestratorError):
    http_status = 503


class PlannerTimeout(OrchestratorError):
    """Planning did not finish within its deadline (well inside API Gateway's 30 s); nothing was stored."""

    http_status = 504


class StoreUnavailable(OrchestratorError):
    http_status = 503


class EngineUnavailable(OrchestratorError):
    """Step Functions could not be reached, is not configured, or refused a call."""

    http_status = 503


# --- the HTTP edge: answers that are no use case's ------------------------------------------------


class RouteNotFound(OrchestratorError):
    """No route has this method and path (the resolver's answer, and the local gateway's)."""

    http_status = 404


class ServiceMisconfigured(OrchestratorError):
    """The function's configuration is incomplete or invalid; an operator has to fix it."""

    http_status = 503


class InternalError(OrchestratorError):
    """An unexpected exception in a handler (a bug): answered without its details."""

    http_status = 500


class InternalServerError(OrchestratorError):
    """The local stack's gateway: the function itself failed (it raised, or crashed) instead of
    answering. (API Gateway's own answer then is `{"message": "Internal Server Error"}`.)"""

    http_status = 500


# --- Idempotency-Key (orchestrator.idempotency) ----------------------------------------------------


class IdempotencyKeyReused(OrchestratorError):
    """The Idempotency-Key was already used for a request with another body."""

    http_status = 409


class IdempotencyInProgress(OrchestratorError):
    """A request with this Idempotency-Key is still being processed."""

    http_status = 409


class IdempotencyUnavailable(OrchestratorError):
    """The idempotency store could not be reached; nothing was done."""

    http_status = 503


# --- agent errors ---------------------------------------------------------------------------


class AgentUnavailable(OrchestratorError):
    """The agent could not be reached, or kept answering 5xx."""

    http_status = 502


class AgentProtocolError(OrchestratorError):
    """The agent answered, but not in the shape the agent protocol requires."""

    http_status = 502


class AgentRejected(OrchestratorError):
    """The agent answered a request with a 4xx error."""

    http_status = 502


class AgentJobFailed(OrchestratorError):
    """The agent reported the job as failed."""

    http_status = 502


class AgentLostJob(OrchestratorError):
    """The agent no longer knows a job that was paid for, and did not take the payment again."""

    http_status = 502


class RepayConsentRequired(OrchestratorError):
    """Resuming would run a paid step again as a new job, paid again: only with the person's consent."""

    http_status = 409


class PollTimeout(OrchestratorError):
    """The agent did not finish the job before the poll deadline."""

    http_status = 504


class StepInputError(OrchestratorError):
    """The step's input could not be resolved (e.g. a reference to a missing output)."""

    http_status = 422


# --- payment errors -------------------------------------------------------------------------


class UnsafePaymentGroup(OrchestratorError):
    """The agent's transaction group breaks a payment safety rule; `rule` names which."""

    http_status = 422

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message, details={"rule": rule})
        self.rule = rule


class PaymentMismatch(OrchestratorError):
    """The submitted transaction ids are not the ones offered for signing."""

    http_status = 422


class PaymentReplay(OrchestratorError):
    """A transaction id was already accepted as payment for another step."""

    http_status = 409


class PaymentNotConfirmed(OrchestratorError):
    """The payment is not (yet) confirmed on chain."""

    http_status = 409


class PaymentRejectedByAgent(OrchestratorError):
    """The agent kept refusing a payment that is confirmed on chain."""

    http_status = 502


class PaymentTimeout(OrchestratorError):
    """The person did not pay within the payment timeout."""

    http_status = 409


class ChainUnavailable(OrchestratorError):
    """algod or the indexer could not be reached."""

    http_status = 503


# --- workflow control -----------------------------------------------------------------------


class WorkflowCancelled(OrchestratorError):
    http_status = 409


class WorkflowSuperseded(OrchestratorError):
    """A task of an older execution ran after the workflow was resumed; it stops quietly."""

    http_status = 409


# --- how a workflow stopped (recorded on it, and the state machine's Fail states) ---------------------
# Never raised by an API route; their status is that of a workflow that stopped (as WorkflowCancelled).


class WorkflowFailed(OrchestratorError):
    """The state machine's Fail state after a failed step (the workflow's error says why), and the
    workflow's code when a Catch named no error."""

    http_status = 409


class ExecutionStopped(OrchestratorError):
    """The execution was stopped from outside the orchestrator (e.g. in the Step Functions console)."""

    http_status = 409


class ExecutionTimedOut(OrchestratorError):
    """The execution ran out of time (the state machine's own timeout)."""

    http_status = 409


class ExecutionFailed(OrchestratorError):
    """The execution failed where no Catch recorded why (e.g. the Halt task itself failed)."""

    http_status = 409


class ExecutionLost(OrchestratorError):
    """The execution is gone: it ended without a status change we saw, or the local stack restarted."""

    http_status = 409


# Errors an agent caused: the AgentErrors metric (observability.AGENT_ERRORS) counts them per agent
# and code.
AGENT_CAUSED_ERRORS: tuple[type[OrchestratorError], ...] = (
    AgentUnavailable,
    AgentProtocolError,
    AgentRejected,
    AgentJobFailed,
    AgentLostJob,
    PollTimeout,
    UnsafePaymentGroup,
    PaymentRejectedByAgent,
)
AGENT_CAUSED_ERROR_CODES = frozenset(error.code for error in AGENT_CAUSED_ERRORS)


# --- error names that are AWS's, not ours ----------------------------------------------------------
# Step Functions' own errors start with "States.", the Lambda service's (as a task state reports
# them) with "Lambda."; the state machine routes on the ones below.

STATES_PREFIX = "States."
LAMBDA_PREFIX = "Lambda."
STATES_ALL = "States.ALL"  # matches any error (a Catch's last resort)
STATES_TIMEOUT = "States.Timeout"  # a task ran past its TimeoutSeconds (the payment wait, a look)


def is_aws_error(name: str) -> bool:
    """Whether `name` is an error name Step Functions or Lambda defines (not one of our codes)."""
    return name.startswith((STATES_PREFIX, LAMBDA_PREFIX))
