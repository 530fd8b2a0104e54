"""Request and response shapes of the HTTP API, and how a request body is read (the state machine's
task payloads are in `orchestrator.schemas.tasks`).

Bodies accept the seed's camelCase (`workflowId`, `stepNumber`, `walletAddress`, `txnIds`, …) as well
as snake_case; a field given under two of its names, an unknown field, a value of the wrong JSON type
(`"1"` or `true` for a number) or out of range is refused before anything is done. Responses are
snake_case.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from orchestrator.models import ErrorInfo, OrchestratorModel, PaymentReceipt, StepStatus, WorkflowStatus

# --- limits of a request -----------------------------------------------------------------------

MAX_BODY_BYTES = 64 * 1024  # a request body, as sent (the largest valid one is about 25 KB)
MAX_JSON_DEPTH = 32  # nesting of arrays and objects in a body
MAX_USER_MESSAGE_CHARS = 4000
MAX_MICROALGO = 2**63 - 1  # budgets and amounts: Postgres bigint, Algorand uint64 within int64
MAX_STEP_NUMBER = 50
MAX_TXN_IDS = 16  # an Algorand group holds at most 16 transactions
MAX_REPAY_STEPS = 10

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
ADDRESS_PATTERN = r"^[A-Z2-7]{58}$"  # base32 of a 32-byte key and its 4-byte checksum, no padding
TXID_PATTERN = r"^[A-Z2-7]{52}$"  # base32 of a 32-byte hash, no padding
# Control characters other than tab, line feed and carriage return (C0, DEL, C1).
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
USER_MESSAGE_PATTERN = f"^[^{_CONTROL}]*$"

_UUID = re.compile(UUID_PATTERN)


class JsonBodyError(ValueError):
    """A request body that is not one JSON document within the limits; the message says why."""


# A string token (with its escapes; unterminated runs to the end) or a bracket, without backtracking.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"?|[\[\]{}]', re.DOTALL)


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `text` nests arrays and objects deeper than `limit`, found without parsing it (brackets
    inside strings do not count); it stops at the first bracket past the limit."""
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        char = text[token.start()]
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise JsonBodyError(f"The request body is not valid JSON ({name} is not a JSON number).")


def _refuse_repeated_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonBodyError(f"The request body names {_shown(key)} twice.")
        result[key] = value
    return result


def read_json(text: str, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The JSON document in a request body, read within the limits (size, depth, numbers Python can
    hold), or `JsonBodyError`. Nothing else escapes: no RecursionError, whatever the input."""
    if len(text) > max_bytes:
        raise JsonBodyError(f"The request body is larger than {max_bytes} bytes.")
    if json_depth_exceeds(text):
        raise JsonBodyError(f"The request body nests arrays or objects deeper than {MAX_JSON_DEPTH} levels.")
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_refuse_repeated_names)
    except JsonBodyError:
        raise
    except json.JSONDecodeError as exc:
        raise JsonBodyError(f"The request body is not valid JSON ({exc.msg} at {exc.pos}).") from exc
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise JsonBodyError(
            "The request body is not valid JSON that can be read (a number is too long)."
        ) from exc


def _shown(name: str, limit: int = 64) -> str:
    """A client-supplied name, quoted and cut short, for an error message."""
    return json.dumps(name if len(name) <= limit else name[:limit] + "…")


# --- HTTP request bodies ------------------------------------------------------------------------


def _alias(*names: str) -> Any:
    return AliasChoices(*names)


def _names(field_alias: Any) -> list[str]:
    if isinstance(field_alias, AliasChoices):
        return [choice for choice in field_alias.choices if isinstance(choice, str)]
    return [field_alias] if isinstance(field_alias, str) else []


class _Body(OrchestratorModel):
    """A request body: strict JSON types, each field under one of its names, no unknown fields."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _each_field_once(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                given = [key for key in _names(field.validation_alias) or [name] if key in data]
                if len(given) > 1:
                    raise ValueError(f"{name} is given twice ({', '.join(given)}); send it once")
        return data


WorkflowId = Annotated[
    str,
    Field(
        pattern=UUID_PATTERN,
        min_length=36,
        max_length=36,
        description="The workflow's id (a UUID, as `create` answered it)",
        validation_alias=_alias("workflow_id", "workflowId"),
    ),
]
StepNumber = Annotated[
    StrictInt,
    Field(
        ge=1,
        le=MAX_STEP_NUMBER,
        description="The step, counted from 1",
        validation_alias=_alias("step_number", "stepNumber"),
    ),
]
# `lt` 2**63, not `le` 2**63 - 1: the OpenAPI document's numbers pass through floats, 2**63 exactly.
Microalgo = Annotated[StrictInt, Field(ge=0, lt=MAX_MICROALGO + 1)]


def _lowercase_uuid(value: str | None) -> str | None:
    """Ids are stored as Postgres prints UUIDs: lowercase."""
    return value.lower() if value is not None else None


class CreateWorkflowRequest(_Body):
    user_message: str = Field(
        min_length=1,
        max_length=MAX_USER_MESSAGE_CHARS,
        pattern=USER_MESSAGE_PATTERN,
        description=(
            f"What the person wants, in plain language: 1 to {MAX_USER_MESSAGE_CHARS} characters, no "
            "control characters other than tab and newline"
        ),
        validation_alias=_alias("user_message", "userMessage", "message", "request"),
    )
    wallet_address: str = Field(
        min_length=58,
        max_length=58,
        pattern=ADDRESS_PATTERN,
        description="The Algorand address that pays each step (checksum verified)",
        validation_alias=_alias("wallet_address", "walletAddress"),
    )
    budget_microalgo: Microalgo | None = Field(
        default=None,
        description="The most the plan may cost, in µAlgo",
        validation_alias=_alias("budget_microalgo", "budgetMicroalgo"),
    )

    @field_validator("user_message")
    @classmethod
    def _message_has_text(cls, value: str) -> str:
        text = value.strip()
        if not text:
            raise ValueError("must not be empty or only whitespace")
        return text

    @field_validator("wallet_address")
    @classmethod
    def _address_checksum(cls, value: str) -> str:
        from algosdk.encoding import is_valid_address  # only this route reads addresses

        if not is_valid_address(value):
            raise ValueError("is not a valid Algorand address (its checksum does not match)")
        return value


class WorkflowRequest(_Body):
    workflow_id: WorkflowId

    _normalized = field_validator("workflow_id")(_lowercase_uuid)


class ApproveRequest(WorkflowRequest):
    budget_microalgo: Microalgo | None = Field(
        default=None,
        description="The most the plan may cost, in µAlgo (default: the budget given at create)",
        validation_alias=_alias("budget_microalgo", "budgetMicroalgo"),
    )


class StartRequest(WorkflowRequest):
    repay_steps: list[Annotated[StrictInt, Field(ge=1, le=MAX_STEP_NUMBER)]] = Field(
        default_factory=list,
        max_length=MAX_REPAY_STEPS,
        description=(
            "Steps whose paid job the agent could not deliver and that the person agrees to pay for "
            f"again as a new job (at most {MAX_REPAY_STEPS}, each once); see RepayConsentRequired"
        ),
        validation_alias=_alias("repay_steps", "repaySteps"),
        json_schema_extra={"uniqueItems": True},
    )

    @field_validator("repay_steps")
    @classmethod
    def _each_step_once(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("names a step more than once")
        return value


class StepRequest(WorkflowRequest):
    step_number: StepNumber
    step_result_id: str | None = Field(
        default=None,
        pattern=UUID_PATTERN,
        min_length=36,
        max_length=36,
        description=(
            "Accepted for the seed's clients and not needed: workflow_id and step_number name the step"
        ),
        validation_alias=_alias("step_result_id", "stepResultId"),
    )

    _normalized_step_result_id = field_validator("step_result_id")(_lowercase_uuid)


class SubmitPaymentRequest(StepRequest):
    txn_ids: list[Annotated[str, Field(min_length=52, max_length=52, pattern=TXID_PATTERN)]] = Field(
        min_length=1,
        max_length=MAX_TXN_IDS,
        description="The ids of the signed group's transactions, as offered for the step (each once)",
        validation_alias=_alias("txn_ids", "txnIds", "txid", "txIds", "txids"),
        json_schema_extra={"uniqueItems": True},
    )

    @field_validator("txn_ids", mode="before")
    @classmethod
    def _one_txid_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("txn_ids")
    @classmethod
    def _each_txid_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names a transaction more than once")
        return value


def workflow_id_in_path(value: str) -> str | None:
    """The workflow id of a path (`/api/workflows/{id}`) as stored, or None when it cannot be one."""
    return value.lower() if _UUID.match(value) else None


# --- error answers (documented in the OpenAPI document) ---------------------------------------------


class ErrorDetail(OrchestratorModel):
    code: str = Field(description="Stable error code, e.g. InvalidState")
    message: str = Field(description="What went wrong, in a sentence")
    details: Any = Field(default=None, description="Extra facts, e.g. each invalid field and why")


class ErrorResponse(OrchestratorModel):
    """Every error the handlers answer."""

    error: ErrorDetail


class GatewayMessage(OrchestratorModel):
    """API Gateway's own answers, before or instead of a handler: 401 `{"message":"Unauthorized"}`
    from the JWT authorizer, 413 for a body over its limit, 503/504 when the integration fails."""

    message: str


# --- views (responses) ------------------------------------------------------------------------------


class StepView(OrchestratorModel):
    step_number: int
    agent_id: str
    agent_name: str
    description: str
    input_data: dict[str, Any] | str
    input_preview: str = Field(
        default="",
        description="What the agent will get, in plain words: the planned input with the person's "
        "text in place of {{user_message}} and 'the output of step N (agent)' in place of "
        "{{step_N_output}}; never template syntax (empty when the input is)",
    )
    status: StepStatus
    price_microalgo: int
    resolved_input: str | None = None
    job_id: str | None = None
    unsigned_group_txns: list[str] = Field(default_factory=list)
    txn_ids: list[str] = Field(default_factory=list)
    payment_required_microalgo: int = 0
    last_valid_round: int | None = None
    receipt: PaymentReceipt | None = None
    # Payments kept for earlier jobs of this step that the agent could not deliver.
    earlier_receipts: list[PaymentReceipt] = Field(default_factory=list)
    output: Any = None
    error: ErrorInfo | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class WorkflowView(OrchestratorModel):
    workflow_id: str
    status: WorkflowStatus
    user_message: str
    wallet_address: str
    reasoning: str
    current_step: int
    total_cost_microalgo: int
    budget_microalgo: int | None
    attempt: int
    steps: list[StepView]
    final_output: Any = None
    error: ErrorInfo | None = None
    created_at: datetime
    updated_at: datetime
    total_paid_microalgo: int = Field(
        default=0,
        description="What the wallet has paid for this workflow: amounts and network fees of every "
        "receipt, earlier receipts included",
    )
    explorer_txn_url: str | None = Field(
        default=None,
        description="A link to a transaction on the network's block explorer, with `{txid}` to fill "
        "in (e.g. https://lora.algokit.io/testnet/transaction/{txid}); null where there is none "
        "(the local stack)",
    )


class FundsView(OrchestratorModel):
    """Whether the workflow's wallet can pay the plan: its balance, Algorand's minimum balance, and
    what the plan costs with network fees (GET /api/workflows/{id}/funds). The balance fields and
    `can_pay` are null when the chain could not be read; `message` then says so."""

    wallet_address: str
    network: str = Field(description="The Algorand network the payments go to (localnet, testnet, …)")
    balance_microalgo: int | None = Field(description="What the wallet holds now")
    min_balance_microalgo: int | None = Field(
        description="What must stay in the wallet: Algorand's minimum balance for this account"
    )
    spendable_microalgo: int | None = Field(description="Balance minus minimum balance (never below 0)")
    agents_microalgo: int = Field(description="The agents' prices of every step of the plan")
    fees_microalgo: int = Field(description="The network fees of every step's payment group")
    total_microalgo: int = Field(description="agents_microalgo + fees_microalgo")
    still_to_pay_microalgo: int = Field(
        description="What the steps not paid yet cost, with their fees (what the wallet must cover)"
    )
    can_pay: bool | None = Field(description="Whether the spendable balance covers still_to_pay_microalgo")
    shortfall_microalgo: int | None = Field(description="How much more the wallet needs (0 when it can pay)")
    message: str = Field(description="The above in a sentence, with what to do when the wallet is short")


class AgentCard(OrchestratorModel):
    """An agent of the catalog as people see it (GET /api/agents): never its secrets."""

    id: str
    name: str
    description: str | None
    price_microalgo: int = Field(description="What one job costs, without network fees")
    tags: list[str]
    data_input: str | None = Field(description="What input the agent wants, in words")
    example_input: str | None


class AgentList(OrchestratorModel):
    agents: list[AgentCard] = Field(description="The active agents, sorted by name")


DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100


class WorkflowSummary(OrchestratorModel):
    """One of the caller's workflows in a list (GET /api/workflows)."""

    workflow_id: str
    status: WorkflowStatus
    user_message: str
    created_at: datetime
    updated_at: datetime
    total_cost_microalgo: int
    current_step: int
    step_count: int


class WorkflowList(OrchestratorModel):
    workflows: list[WorkflowSummary] = Field(description="The caller's workflows, newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


# --- agents' pushes (POST /api/agent/access) ----------------------------------------------------

PUSH_MAX_BODY_BYTES = 1024 * 1024  # a push carries the job's whole output, which is not read


class AgentPush(OrchestratorModel):
    """What an agent built with the marketplace's SDK POSTs after a verified payment and when its job
    completed. Liberal: extra fields are ignored and ids may be numbers; the pushed output and token
    are never stored or trusted (the orchestrator looks at the job with its own access token)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    job_id: str = Field(
        min_length=1, max_length=128, description="The agent's own job id, e.g. J1762754481290"
    )
    agent_id: str | None = Field(default=None, max_length=128)
    user_id: str | None = Field(default=None, max_length=255)
    wallet_address: str | None = Field(default=None, max_length=128)
    job_input_hash: str | None = Field(default=None, max_length=128)
    access_token: str | None = Field(default=None, description="Ignored: the orchestrator uses its own")
    job_output: Any = Field(
        default=None,
        description='Empty after the payment; on completion a JSON string {"result", "status": "completed"}',
    )

    @property
    def completed(self) -> bool:
        """Whether this push says the job ended (the SDK sends an empty output after the payment)."""
        return self.job_output not in (None, "", {}, [])


class PushReceipt(OrchestratorModel):
    job_id: str
    completed: bool = Field(description="Whether the push said the job ended")
    woke: bool = Field(description="Whether it woke the workflow waiting for the job (its output read back)")
