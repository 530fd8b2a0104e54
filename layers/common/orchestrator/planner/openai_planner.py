"""The LLM planner: OpenAI chat completions with structured outputs (a strict JSON schema generated
from pydantic models), so the answer is always a plan-shaped object. The model is shown the active
agents as the marketplace keeps them (`LISTED_FIELDS`) and told to write each step's input the way the
agent's `data_input`/`example_input` show. Works with any OpenAI-compatible endpoint
(OPENAI_BASE_URL).

Time: API Gateway cuts every request at 30 s, so one planning has a deadline
(PLANNING_DEADLINE_SECONDS, 24 s) that every model call shares, the retry with the validation's
feedback included (`plan_workflow` starts the clock). Each call waits at most the time left; 408, 409,
429, 5xx and connection errors are retried (at most `max_retries` times, with the SDK's backoff and
server-directed waits) only while the deadline leaves room. A model that does not answer in time is
504 `PlannerTimeout`; one that keeps failing is 503 `PlannerUnavailable`.

Errors speak to the person ("The planner did not answer within 24 seconds. ..."); what an operator
needs (the HTTP status, OpenAI's own message, the validation error of an answer that is not a plan)
goes to the logs, and the reasons for a rejected answer go back to the model on its second try."""

from __future__ import annotations

import json
import math
import random
import time
from typing import Any

from openai.lib._pydantic import to_strict_json_schema
from pydantic import ConfigDict, Field, ValidationError

from orchestrator.amounts import format_algo
from orchestrator.errors import (
    NoAgentFits,
    OrchestratorError,
    PlanInvalid,
    PlannerTimeout,
    PlannerUnavailable,
)
from orchestrator.models import AgentMetadata, OrchestratorModel, PlannedStep, WorkflowPlan
from orchestrator.observability import logger
from orchestrator.planner import planning_started


class PlannedStepAnswer(OrchestratorModel):
    """One step as the model answers it. Strict structured outputs allow no free-form objects, so
    the step's input travels as a string (text, or a JSON object's text)."""

    model_config = ConfigDict(extra="forbid")

    step_number: int = Field(description="1 for the first step, then 2, 3, ...")
    agent_id: str = Field(description="The exact id of a catalog agent")
    description: str = Field(description="What this step does for the user, in one sentence")
    input_data: str = Field(
        description=(
            "The agent's job input, shaped as its data_input and example_input show: a JSON object "
            "written as text with the example's keys, or plain text; may use {{step_N_output}}"
        )
    )


class PlanAnswer(OrchestratorModel):
    model_config = ConfigDict(extra="forbid")

    reasoning: str = Field(description="Why these agents, in this order")
    steps: list[PlannedStepAnswer]


# The strict JSON schema OpenAI enforces, generated from the pydantic models above.
PLAN_SCHEMA: dict[str, Any] = to_strict_json_schema(PlanAnswer)

SYSTEM_PROMPT = """You plan workflows for a marketplace of paid AI agents.
Pick the shortest sequence of agents from the catalog below that fulfils the user's request.
Each agent in the catalog says what it does ("name", "description", "category", "tags"), what it
costs ("price_microalgo") and how it is called: "data_input" says in words what input it expects,
"example_input" is an input it accepts and "example_output" what it answered to that input.
Rules:
- Use only agents from the catalog, by their exact "id".
- Number steps 1, 2, 3, ... in order; at most {max_steps} steps.
- "input_data" is the job input the agent receives: write it the way the agent's "data_input"
  describes and its "example_input" shows. When "example_input" is a JSON object, write a JSON
  object (as text) with the same keys and this request's values; when it is plain text (or absent),
  write plain text.
- Give each step the WHOLE part of the request meant for it, in the person's own words: the full
  text to summarise or analyse (never only the instruction, such as "Summarize this review"), every
  symptom and how the person feels (their mood), every ingredient and preference. Do not shorten,
  paraphrase or leave out any of it. An agent that works on a text (its "data_input" says "the
  text") gets that text alone, without the instruction around it.
- A step may use the output of an EARLIER step by writing {{{{step_N_output}}}} (or
  {{{{step_N_output.field}}}} for a field of a JSON output; "example_output" shows an agent's
  fields); {{{{user_message}}}} is the user's request.
- Never refer to the same or a later step. Prefer cheaper agents when two fit equally well.
- The plan's cost is the sum of its agents' "price_microalgo" (1 ALGO = 1000000 microalgo). {budget}
- If no agent in the catalog can do what is asked, answer with no steps and say in "reasoning" what
  is missing.
Catalog (JSON):
{catalog}"""

NO_BUDGET = "The person gave no budget."
BUDGET = (
    "The person's budget is {microalgo} microalgo ({algo}) for the whole plan: its cost must not "
    "exceed it. When everything asked cannot fit, plan what matters most within it and say in "
    '"reasoning" what was left out.'
)


def budget_rule(budget_microalgo: int | None) -> str:
    """The prompt's sentence about the person's budget."""
    if budget_microalgo is None:
        return NO_BUDGET
    return BUDGET.format(microalgo=budget_microalgo, algo=format_algo(budget_microalgo))


# What the model is shown of each agent: the marketplace's own columns, as the seed's planner read them.
LISTED_FIELDS = (
    "id",
    "name",
    "description",
    "category",
    "tags",
    "price_microalgo",
    "data_input",
    "example_input",
    "example_output",
)


def catalog_listing(catalog: list[AgentMetadata]) -> list[dict[str, Any]]:
    """The active agents as the model sees them: `LISTED_FIELDS` of each, in catalog order."""
    return [{field: getattr(agent, field) for field in LISTED_FIELDS} for agent in catalog if agent.is_active]


# What the person reads when the planning model cannot help (the detail is logged).
UNAVAILABLE = "The planner is busy or unavailable right now. Nothing was saved; try again in a minute."
MISCONFIGURED = (
    "The planner is not available: it is misconfigured on our side and an operator has been told. "
    "Nothing was saved; try again later."
)
NOT_A_PLAN = (
    "The planner's answer could not be used as a plan. Nothing was saved; try again, or put the "
    "request in other words."
)

# Retries, as the OpenAI SDK does them (its own retries are off: they cannot see the deadline).
MIN_TRY_SECONDS = 0.5  # a call is not started with less time left than this
_INITIAL_RETRY_DELAY, _MAX_RETRY_DELAY, _MAX_RETRY_AFTER = 0.5, 8.0, 120.0


class OpenAIPlanner:
    def __init__(
        self,
        *,
        api_key: str,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        timeout_seconds: float = 30.0,
        deadline_seconds: float = 24.0,
        max_retries: int = 2,
        max_steps: int = 10,
        http_client: Any = None,
    ) -> None:
        from openai import OpenAI  # heavy: only the create route pays for it

        self.model = model
        self.max_steps = max_steps
        self.timeout_seconds = timeout_seconds  # one call waits at most this (and never past the deadline)
        self.deadline_seconds = deadline_seconds  # one whole planning, every call and retry included
        self.max_retries = max_retries
        self._client = OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_seconds,
            max_retries=0,
            http_client=http_client,
        )

    def plan(
        self,
        user_message: str,
        catalog: list[AgentMetadata],
        feedback: list[str] | None = None,
        *,
        budget_microalgo: int | None = None,
    ) -> WorkflowPlan:
        deadline = planning_started() + self.deadline_seconds
        messages = self._messages(user_message, catalog, feedback, budget_microalgo)
        completion = self._complete(messages, deadline)
        if not completion.choices:
            logger.warning("the planning model answered without choices", extra={"model": self.model})
            raise PlannerUnavailable(UNAVAILABLE)
        message = completion.choices[0].message
        if getattr(message, "refusal", None):
            reason = f"The planning model refused the request: {message.refusal}"
            raise PlanInvalid(
                "The planner would not plan this request. Nothing was saved; put it in other words.",
                details={"reasons": [reason]},
            )
        plan = _plan_from_json(message.content or "")
        if not plan.steps:
            raise NoAgentFits(
                "No agent in the catalog can do this.",
                details={"reasons": [plan.reasoning or "The planning model answered with no steps."]},
            )
        return plan

    def _complete(self, messages: list[dict[str, str]], deadline: float) -> Any:
        """The model's completion, tried again after a passing failure while the deadline allows."""
        import openai

        retries = 0
        while True:
            left = deadline - time.monotonic()
            if left < MIN_TRY_SECONDS:
                raise self._took_too_long()
            try:
                return self._client.chat.completions.create(  # type: ignore[call-overload]
                    model=self.model,
                    messages=messages,
                    temperature=0,
                    response_format={
                        "type": "json_schema",
                        "json_schema": {"name": "workflow_plan", "strict": True, "schema": PLAN_SCHEMA},
                    },
                    timeout=min(self.timeout_seconds, left),
                    extra_headers={"x-stainless-retry-count": str(retries)},  # as the SDK's own retries say
                )
            except openai.APIError as exc:
                wait = _retry_wait(exc, retries) if retries < self.max_retries else None
                if wait is None or time.monotonic() + wait + MIN_TRY_SECONDS > deadline:
                    raise self._failure(exc) from exc
                time.sleep(wait)
                retries += 1

    def _took_too_long(self) -> PlannerTimeout:
        logger.warning(
            "the planning model did not answer in time",
            extra={"model": self.model, "deadline_seconds": self.deadline_seconds},
        )
        return PlannerTimeout(
            f"Planning took too long: the planner did not answer within {self.deadline_seconds:g} "
            f"second{'' if self.deadline_seconds == 1 else 's'}. Nothing was saved; try again in a minute."
        )

    def _failure(self, exc: Exception) -> OrchestratorError:
        """The person's error for a call that failed for good; the detail goes to the logs."""
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return self._took_too_long()
        detail: dict[str, Any] = {
            "model": self.model,
            "error_type": type(exc).__name__,
            "error_message": str(exc),
        }
        if isinstance(exc, openai.APIStatusError):
            detail["status_code"] = exc.status_code
            if exc.status_code in (401, 403):
                logger.error(
                    "the planning model refused our credentials: check OPENAI_API_KEY and OPENAI_BASE_URL",
                    extra=detail,
                )
                return PlannerUnavailable(MISCONFIGURED)
        logger.warning("the planning model failed", extra=detail)
        return PlannerUnavailable(UNAVAILABLE)

    def _messages(
        self,
        user_message: str,
        catalog: list[AgentMetadata],
        feedback: list[str] | None,
        budget_microalgo: int | None = None,
    ) -> list[dict[str, str]]:
        listing = catalog_listing(catalog)
        system = SYSTEM_PROMPT.format(
            max_steps=self.max_steps,
            budget=budget_rule(budget_microalgo),
            catalog=json.dumps(listing, ensure_ascii=False),
        )
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user_message}]
        if feedback:
            messages.append(
                {
                    "role": "user",
                    "content": "Your previous plan was rejected for these reasons:\n- "
                    + "\n- ".join(feedback)
                    + "\nReturn a corrected plan.",
                }
            )
        return messages


def _retry_wait(exc: Exception, retries: int) -> float | None:
    """Seconds to wait before trying again after `exc`, or None when it is not worth another try:
    the OpenAI SDK's rules (timeouts, connection errors, 408, 409, 429 and 5xx, unless the server says
    `x-should-retry: false`; its Retry-After up to two minutes, else exponential backoff with jitter)."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        headers = exc.response.headers
        retry_after = _retry_after(headers)
        if retry_after is not None and retry_after > _MAX_RETRY_AFTER:
            return None
        should = headers.get("x-should-retry")
        if should == "false" or (
            should != "true" and exc.status_code not in (408, 409, 429) and exc.status_code < 500
        ):
            return None
        if retry_after is not None and retry_after > 0:
            return retry_after
    elif not isinstance(exc, openai.APIConnectionError):  # timeouts are connection errors too
        return None
    return min(_INITIAL_RETRY_DELAY * 2.0**retries, _MAX_RETRY_DELAY) * (1 - 0.25 * random.random())


def _retry_after(headers: Any) -> float | None:
    """The server's Retry-After in seconds (`retry-after-ms`, or `retry-after` in seconds)."""
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            value = float(headers.get(header))
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            return value / divisor
        return math.inf
    return None


def _plan_from_json(content: str) -> WorkflowPlan:
    try:
        answer = PlanAnswer.model_validate_json(content)
        return WorkflowPlan(
            reasoning=answer.reasoning,
            steps=[
                PlannedStep(
                    step_number=step.step_number,
                    agent_id=step.agent_id,
                    description=step.description,
                    input_data=_input_value(step.input_data),
                )
                for step in answer.steps
            ],
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        problem = f"{where}: {first['msg']}" if where else first["msg"]
        reason = f"The planning model's answer is not a plan: {problem}."
        raise PlanInvalid(NOT_A_PLAN, details={"reasons": [reason]}) from exc


def _input_value(text: str) -> dict[str, Any] | str:
    """A JSON object written as text becomes the object; anything else stays text."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except ValueError:
            return text
        if isinstance(value, dict):
            return value
    return text
