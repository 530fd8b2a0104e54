"""Domain errors. Each has a stable code (its class name, which is also the error name the state
machine sees when a task raises it) and an HTTP status for the API."""

from __future__ import annotations

from typing import Any, ClassVar


class OrchestratorError(Exception):
    """Base of every error a user or the state machine may see."""

    http_status: ClassVar[int] = 400

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @property
    def code(self) -> str:
        return type(self).__name__

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

    @property
    def code(self) -> str:
        return "PlanInvalid"


class PlannerUnavailable(OrchestratorError):
    http_status = 503


class PlannerTimeout(OrchestratorError):
    """Planning did not finish within its deadline (well inside API Gateway's 30 s); nothing was stored."""

    http_status = 504


class StoreUnavailable(OrchestratorError):
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


# Errors an agent caused: the AgentErrors metric counts them per agent and code.
AGENT_ERRORS: tuple[type[OrchestratorError], ...] = (
    AgentUnavailable,
    AgentProtocolError,
    AgentRejected,
    AgentJobFailed,
    AgentLostJob,
    PollTimeout,
    UnsafePaymentGroup,
    PaymentRejectedByAgent,
)
AGENT_ERROR_CODES = frozenset(error.__name__ for error in AGENT_ERRORS)
