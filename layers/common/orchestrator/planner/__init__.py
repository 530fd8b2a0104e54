"""The planner: turns a request into a validated, priced plan of catalog agents.

`plan_workflow` asks a `Planner` (OpenAI, or the offline catalog planner), validates the plan
against the catalog, and gives the planner one more try with the reasons when validation fails.
Both tries share one time budget: `plan_workflow` records when the planning began
(`planning_clock`), and a planner with a deadline counts from there (`planning_started`).

What the person reads is kept apart from what the planner and the operator need: the reasons a plan
was rejected go back to the planner (its second try) and to the logs; the error the person gets says
in a sentence what happened and what to do (a plan over their budget, a request that needs too many
steps, an answer that could not be used). When no agent fits (`NoAgentFits`), the error names the
agents closest to the request (`details.closest_agents`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

from orchestrator.amounts import format_algo
from orchestrator.errors import NoAgentFits, PlanInvalid
from orchestrator.models import AgentMetadata, PlannedStep, WorkflowPlan
from orchestrator.observability import logger
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
        self,
        user_message: str,
        catalog: list[AgentMetadata],
        feedback: list[str] | None = None,
        *,
        budget_microalgo: int | None = None,
    ) -> WorkflowPlan:
        """A plan for `user_message` from `catalog`; `feedback` lists why the previous plan was
        rejected; `budget_microalgo` is the most the person will pay for the whole plan (None: no
        limit given). Raises `NoAgentFits` when nothing in the catalog does what is asked, and
        `PlanInvalid` (a sentence for the person, the detail in `details.reasons`) when it has no plan."""
        ...


def validate_plan(
    plan: WorkflowPlan,
    catalog: list[AgentMetadata],
    *,
    max_steps: int = 10,
    budget_microalgo: int | None = None,
) -> list[str]:
    """Every reason the plan cannot run; empty when it can."""
    return [reason for _kind, reason in _problems(plan, catalog, max_steps, budget_microalgo)]


def _problems(
    plan: WorkflowPlan, catalog: list[AgentMetadata], max_steps: int, budget_microalgo: int | None
) -> list[tuple[str, str]]:
    """Each reason the plan cannot run with its kind: "budget" (it costs too much), "steps" (it has
    too many) or "invalid" (the planner got it wrong)."""
    reasons: list[tuple[str, str]] = []
    agents = {agent.id: agent for agent in catalog}
    if not plan.steps:
        reasons.append(("invalid", "The plan has no steps."))
    if len(plan.steps) > max_steps:
        reasons.append(("steps", f"The plan has {len(plan.steps)} steps; at most {max_steps} are allowed."))
    numbers = [step.step_number for step in plan.steps]
    if numbers != list(range(1, len(plan.steps) + 1)):
        reasons.append(("invalid", f"Steps must be numbered 1..{len(plan.steps)} in order; got {numbers}."))
    for step in plan.steps:
        agent = agents.get(step.agent_id)
        if agent is None:
            reasons.append(
                ("invalid", f"Step {step.step_number}: agent {step.agent_id!r} is not in the catalog.")
            )
        elif not agent.is_active:
            reasons.append(("invalid", f"Step {step.step_number}: agent {agent.name!r} is not active."))
        for ref in sorted(referenced_steps(step.input_data)):
            if ref >= step.step_number:
                reasons.append(
                    (
                        "invalid",
                        f"Step {step.step_number} refers to the output of step {ref}; "
                        "a step may only use the outputs of earlier steps.",
                    )
                )
            elif ref < 1:
                reasons.append(
                    ("invalid", f"Step {step.step_number} refers to step {ref}, which does not exist.")
                )
    cost = plan_cost(plan, catalog)
    if budget_microalgo is not None and cost > budget_microalgo:
        reasons.append(
            ("budget", f"The plan costs {cost} µAlgo, more than the budget of {budget_microalgo} µAlgo.")
        )
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
    the same time budget as the first try (a planner's PlannerTimeout ends the planning); a planner
    that finds no agent for the request ends it too, with the closest agents named."""
    with planning_clock():
        try:
            return _plan_with_feedback(
                planner, user_message, catalog, max_steps=max_steps, budget_microalgo=budget_microalgo
            )
        except NoAgentFits as exc:
            raise no_fit_error(user_message, catalog, exc) from exc


def _plan_with_feedback(
    planner: Planner,
    user_message: str,
    catalog: list[AgentMetadata],
    *,
    max_steps: int,
    budget_microalgo: int | None,
) -> tuple[WorkflowPlan, int]:
    feedback: list[str] | None = None
    problems: list[tuple[str, str]] = []
    refusal: PlanInvalid | None = None
    plan: WorkflowPlan | None = None
    for _ in range(2):
        try:
            plan = planner.plan(user_message, catalog, feedback, budget_microalgo=budget_microalgo)
        except NoAgentFits:
            raise
        except PlanInvalid as exc:  # the planner itself found no plan: its detail says why
            refusal = exc
            feedback = _reasons_of(exc)
            continue
        refusal = None
        problems = _problems(plan, catalog, max_steps, budget_microalgo)
        if not problems:
            return _named(plan, catalog), plan_cost(plan, catalog)
        feedback = [reason for _kind, reason in problems]
    if refusal is not None:
        # The person reads the planner's sentence; the detail it gave (a model's own words, a
        # validation error) is for the logs.
        logger.warning("planning failed: the planner gave no plan", extra={"reasons": _reasons_of(refusal)})
        raise PlanInvalid(refusal.message)
    assert plan is not None
    reasons = [reason for _kind, reason in problems]
    logger.warning("planning failed: the plan was rejected twice", extra={"reasons": reasons})
    raise _rejected(plan, catalog, problems, max_steps=max_steps, budget_microalgo=budget_microalgo)


def _rejected(
    plan: WorkflowPlan,
    catalog: list[AgentMetadata],
    problems: list[tuple[str, str]],
    *,
    max_steps: int,
    budget_microalgo: int | None,
) -> PlanInvalid:
    """The error for a plan rejected twice, in the person's words: over their budget, too many steps,
    or an answer the planner got wrong (whose detail only the logs keep)."""
    kinds = {kind for kind, _reason in problems}
    if "invalid" in kinds:
        return PlanInvalid(
            "The planner's answer could not be used as a plan. Nothing was saved; try again, or put "
            "the request in other words."
        )
    reasons = [reason for _kind, reason in problems]
    if "budget" in kinds and budget_microalgo is not None:
        cost = plan_cost(plan, catalog)
        return PlanInvalid(
            f"The plan the planner found costs {format_algo(cost)}, more than your budget of "
            f"{format_algo(budget_microalgo)}. Raise the budget, or ask for less.",
            details={"reasons": reasons, "cost_microalgo": cost, "budget_microalgo": budget_microalgo},
        )
    return PlanInvalid(
        f"This request needs more than {max_steps} steps, the most a workflow may have. Ask for fewer "
        "things at once.",
        details={"reasons": reasons, "max_steps": max_steps},
    )


def _reasons_of(exc: PlanInvalid) -> list[str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    reasons = details.get("reasons")
    return [str(r) for r in reasons] if isinstance(reasons, list) and reasons else [exc.message]


def no_fit_error(user_message: str, catalog: list[AgentMetadata], exc: PlanInvalid) -> NoAgentFits:
    """The answer when no agent does what is asked: the agents closest to the request, named in the
    message and listed in `details.closest_agents` ({id, name, description}); what the planner said
    goes to the logs."""
    from orchestrator.planner.offline import closest_agents

    logger.info("no agent fits the request", extra={"reasons": _reasons_of(exc)})
    closest = closest_agents(user_message, catalog, limit=3)
    names = [agent.name for agent in closest]
    if not names:
        message = "No agent in the catalog can do this."
    else:
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        message = (
            f"No agent in the catalog can do this. The closest {'is' if len(names) == 1 else 'are'} "
            f"{listed}: ask for what {'it does' if len(names) == 1 else 'one of them does'}, in its words, "
            "or see the list of agents."
        )
    return NoAgentFits(
        message,
        details={
            "closest_agents": [
                {"id": agent.id, "name": agent.name, "description": agent.description} for agent in closest
            ]
        },
    )


def _named(plan: WorkflowPlan, catalog: list[AgentMetadata]) -> WorkflowPlan:
    """The plan with each step's agent name as the catalog spells it."""
    names = {agent.id: agent.name for agent in catalog}
    steps = [
        PlannedStep(**{**step.model_dump(), "agent_name": names.get(step.agent_id, step.agent_name)})
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
