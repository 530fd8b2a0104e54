"""The LLM planner: OpenAI chat completions with structured outputs (a strict JSON schema generated
from pydantic models), so the answer is always a plan-shaped object. The model is shown the active
agents as the marketplace keeps them (`LISTED_FIELDS`) and told to write each step's input the way the
agent's `data_input`/`example_input` show. Works with any OpenAI-compatible endpoint
(OPENAI_BASE_URL). The client retries 408/409/429/5xx and connection errors with exponential backoff
(honouring Retry-After) before the planner answers 503."""

from __future__ import annotations

import json
from typing import Any

from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.errors import PlanInvalid, PlannerUnavailable
from orchestrator.models import AgentMetadata, WorkflowPlan, WorkflowStep


class PlannedStepAnswer(BaseModel):
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


class PlanAnswer(BaseModel):
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
- A step may use the output of an EARLIER step by writing {{{{step_N_output}}}} (or
  {{{{step_N_output.field}}}} for a field of a JSON output; "example_output" shows an agent's
  fields); {{{{user_message}}}} is the user's request.
- Never refer to the same or a later step. Prefer cheaper agents when two fit equally well.
Catalog (JSON):
{catalog}"""

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


class OpenAIPlanner:
    def __init__(
        self,
        *,
        api_key: str,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        timeout_seconds: float = 30.0,
        max_steps: int = 10,
        http_client: Any = None,
    ) -> None:
        from openai import OpenAI  # heavy: only the create route pays for it

        self.model = model
        self.max_steps = max_steps
        self._client = OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_seconds,
            max_retries=2,
            http_client=http_client,
        )

    def plan(
        self, user_message: str, catalog: list[AgentMetadata], feedback: list[str] | None = None
    ) -> WorkflowPlan:
        import openai

        messages = self._messages(user_message, catalog, feedback)
        try:
            completion = self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=messages,
                temperature=0,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "workflow_plan", "strict": True, "schema": PLAN_SCHEMA},
                },
            )
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403):
                raise PlannerUnavailable(
                    f"The planning model refused our credentials (HTTP {exc.status_code}); "
                    "check OPENAI_API_KEY and OPENAI_BASE_URL."
                ) from exc
            raise PlannerUnavailable(
                f"The planning model answered HTTP {exc.status_code}; try again in a moment."
            ) from exc
        except openai.APIError as exc:
            raise PlannerUnavailable(
                f"The planning model could not be reached: {type(exc).__name__}."
            ) from exc
        if not completion.choices:
            raise PlannerUnavailable("The planning model returned no answer.")
        message = completion.choices[0].message
        if getattr(message, "refusal", None):
            reason = f"The planning model refused the request: {message.refusal}"
            raise PlanInvalid(reason, details={"reasons": [reason]})
        return _plan_from_json(message.content or "")

    def _messages(
        self, user_message: str, catalog: list[AgentMetadata], feedback: list[str] | None
    ) -> list[dict[str, str]]:
        listing = catalog_listing(catalog)
        system = SYSTEM_PROMPT.format(
            max_steps=self.max_steps, catalog=json.dumps(listing, ensure_ascii=False)
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


def _plan_from_json(content: str) -> WorkflowPlan:
    try:
        answer = PlanAnswer.model_validate_json(content)
        return WorkflowPlan(
            reasoning=answer.reasoning,
            steps=[
                WorkflowStep(
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
        raise PlanInvalid(reason, details={"reasons": [reason]}) from exc


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
