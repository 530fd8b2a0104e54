"""The LLM planner: OpenAI chat completions with structured outputs (a strict JSON schema), so the
answer is always a plan-shaped object. Works with any OpenAI-compatible endpoint (OPENAI_BASE_URL)."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.errors import PlanInvalid, PlannerUnavailable
from orchestrator.models import AgentMetadata, WorkflowPlan, WorkflowStep

# Strict structured outputs need every property required and no free-form objects, so a step's
# input travels as a string (text, or a JSON object's text).
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reasoning", "steps"],
    "properties": {
        "reasoning": {"type": "string"},
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["step_number", "agent_id", "description", "input_data"],
                "properties": {
                    "step_number": {"type": "integer"},
                    "agent_id": {"type": "string"},
                    "description": {"type": "string"},
                    "input_data": {"type": "string"},
                },
            },
        },
    },
}

SYSTEM_PROMPT = """You plan workflows for a marketplace of paid AI agents.
Pick the shortest sequence of agents from the catalog below that fulfils the user's request.
Rules:
- Use only agents from the catalog, by their exact "id".
- Number steps 1, 2, 3, ... in order; at most {max_steps} steps.
- "input_data" is the text (or a JSON object written as text) the agent receives.
- A step may use the output of an EARLIER step by writing {{{{step_N_output}}}} (or
  {{{{step_N_output.field}}}} for a field of a JSON output); {{{{user_message}}}} is the user's request.
- Never refer to the same or a later step. Prefer cheaper agents when two fit equally well.
Catalog (JSON):
{catalog}"""


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
        listing = [
            {
                "id": agent.id,
                "name": agent.name,
                "description": agent.description,
                "capabilities": agent.capabilities,
                "price_microalgo": agent.price_microalgo,
            }
            for agent in catalog
            if agent.is_active
        ]
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
        raw = json.loads(content)
        steps = [
            WorkflowStep(
                step_number=int(step["step_number"]),
                agent_id=str(step["agent_id"]),
                description=str(step.get("description", "")),
                input_data=_input_value(str(step.get("input_data", ""))),
            )
            for step in raw["steps"]
        ]
        return WorkflowPlan(reasoning=str(raw.get("reasoning", "")), steps=steps)
    except (ValueError, KeyError, TypeError) as exc:
        reason = f"The planning model's answer is not a plan: {type(exc).__name__}."
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
