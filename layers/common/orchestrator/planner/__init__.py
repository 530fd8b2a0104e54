"""The planner: turns a request into a validated, priced plan of catalog agents.

`plan_workflow` asks a `Planner` (OpenAI, or the offline catalog planner), validates the plan
against the catalog, and gives the planner one more try with the reasons when validation fails.
Both tries share one time budget: `plan_workflow` records when the planning began
(`planning_clock`), and a planner with a deadline counts from there (`planning_started`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

from orchestrator.errors import PlanInvalid
from orchestrator.models import AgentMetadata, WorkflowPlan, WorkflowStep
from orchestrator.templating import referenced_steps

if TYPE_CHECKING:
    from orchestrator.config import Settings


# When the planning under way in this context began (time.monotonic()); set by plan_workflow.
_planning_started: ContextVar[float | None] = ContextVar("planning_started", default=None)


def planning_started() -> float:
    """When the current planning began (`time.monotonic()`): where `planning_clock` started, so that
    a planner's deadline covers every try of one planning; outside one, now."""
    started = _planning_started.get()
    return time.monotonic() if started is None else started


@contextmanager
def planning_clock() -> Iterator[float]:
    """One planning's clock, started here unless one already runs (then that one is kept): every try
    inside counts against the same deadline. `plan_workflow` runs in one; a caller that starts it
    earlier (at the request's start) makes the deadline cover what it does before planning too."""
    running = _planning_started.get()
    if running is not None:
        yield running
        return
    started = time.monotonic()
    token = _planning_started.set(started)
    try:
        yield started
    finally:
        _planning_started.reset(token)


class Planner(Protocol):
    def plan(
        self, user_message: str, catalog: list[AgentMetadata], feedback: list[str] | None = None
    ) -> WorkflowPlan:
        """A plan for `user_message` from `catalog`; `feedback` lists why the previous plan was rejected."""
        ...


def validate_plan(
    plan: WorkflowPlan,
    catalog: list[AgentMetadata],
    *,
    max_steps: int = 10,
    budget_microalgo: int | None = None,
) -> list[str]:
    """Every reason the plan cannot run; empty when it can."""
    reasons: list[str] = []
    agents = {agent.id: agent for agent in catalog}
    if not plan.steps:
        reasons.append("The plan has no steps.")
    if len(plan.steps) > max_steps:
        reasons.append(f"The plan has {len(plan.steps)} steps; at most {max_steps} are allowed.")
    numbers = [step.step_number for step in plan.steps]
    if numbers != list(range(1, len(plan.steps) + 1)):
        reasons.append(f"Steps must be numbered 1..{len(plan.steps)} in order; got {numbers}.")
    for step in plan.steps:
        agent = agents.get(step.agent_id)
        if agent is None:
            reasons.append(f"Step {step.step_number}: agent {step.agent_id!r} is not in the catalog.")
        elif not agent.is_active:
            reasons.append(f"Step {step.step_number}: agent {agent.name!r} is not active.")
        for ref in sorted(referenced_steps(step.input_data)):
            if ref >= step.step_number:
                reasons.append(
                    f"Step {step.step_number} refers to the output of step {ref}; "
                    "a step may only use the outputs of earlier steps."
                )
            elif ref < 1:
                reasons.append(f"Step {step.step_number} refers to step {ref}, which does not exist.")
    cost = plan_cost(plan, catalog)
    if budget_microalgo is not None and cost > budget_microalgo:
        reasons.append(f"The plan costs {cost} µAlgo, more than the budget of {budget_microalgo} µAlgo.")
    return reasons


def plan_cost(plan: WorkflowPlan, catalog: list[AgentMetadata]) -> int:
    prices = {agent.id: agent.price for agent in catalog}
    return sum(prices.get(step.agent_id, 0) for step in plan.steps)


def plan_workflow(
    planner: Planner,
    user_message: str,
    catalog: list[AgentMetadata],
    *,
    max_steps: int = 10,
    budget_microalgo: int | None = None,
) -> tuple[WorkflowPlan, int]:
    """A valid plan and its cost. A rejected plan is retried once with the reasons fed back, within
    the same time budget as the first try (a planner's PlannerTimeout ends the planning)."""
    with planning_clock():
        return _plan_with_feedback(
            planner, user_message, catalog, max_steps=max_steps, budget_microalgo=budget_microalgo
        )


def _plan_with_feedback(
    planner: Planner,
    user_message: str,
    catalog: list[AgentMetadata],
    *,
    max_steps: int,
    budget_microalgo: int | None,
) -> tuple[WorkflowPlan, int]:
    feedback: list[str] | None = None
    reasons: list[str] = []
    refusal: PlanInvalid | None = None
    for _ in range(2):
        try:
            plan = planner.plan(user_message, catalog, feedback)
        except PlanInvalid as exc:  # the planner itself found no plan: its own words say why
            refusal = exc
            feedback = reasons = _reasons_of(exc)
            continue
        refusal = None
        reasons = validate_plan(plan, catalog, max_steps=max_steps, budget_microalgo=budget_microalgo)
        if not reasons:
            return _named(plan, catalog), plan_cost(plan, catalog)
        feedback = reasons
    if refusal is not None:
        raise refusal
    raise PlanInvalid(
        "The planner could not produce a valid plan: " + " ".join(reasons), details={"reasons": reasons}
    )


def _reasons_of(exc: PlanInvalid) -> list[str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    reasons = details.get("reasons")
    return [str(r) for r in reasons] if isinstance(reasons, list) and reasons else [exc.message]


def _named(plan: WorkflowPlan, catalog: list[AgentMetadata]) -> WorkflowPlan:
    """The plan with each step's agent name as the catalog spells it."""
    names = {agent.id: agent.name for agent in catalog}
    steps = [
        WorkflowStep(**{**step.model_dump(), "agent_name": names.get(step.agent_id, step.agent_name)})
        for step in plan.steps
    ]
    return WorkflowPlan(reasoning=plan.reasoning, steps=steps)


def planner_from_settings(settings: Settings) -> Planner:
    from orchestrator.secrets import resolve_secret

    api_key = resolve_secret(
        settings.openai_api_key, settings.openai_api_key_parameter, what="OpenAI API key"
    )
    if api_key:
        from orchestrator.planner.openai_planner import OpenAIPlanner

        return OpenAIPlanner(
            api_key=api_key,
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            timeout_seconds=settings.openai_timeout_seconds,
            deadline_seconds=settings.planning_deadline_seconds,
            max_steps=settings.max_steps,
        )
    from orchestrator.planner.offline import OfflinePlanner

    return OfflinePlanner(max_steps=settings.max_steps)
