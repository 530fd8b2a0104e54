"""Use cases on whole workflows: create (plan), approve, start or resume, cancel, read."""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from orchestrator.catalog import check_catalog
from orchestrator.dependencies import Dependencies
from orchestrator.engine import ExecutionInput, execution_name
from orchestrator.errors import (
    AgentJobFailed,
    AgentLostJob,
    InvalidState,
    OrchestratorError,
    PlanInvalid,
    RepayConsentRequired,
    WorkflowCancelled,
)
from orchestrator.models import (
    ACTIVE_STEP_STATUSES,
    CANCELLABLE_WORKFLOW_STATUSES,
    RESUMABLE_WORKFLOW_STATUSES,
    ErrorInfo,
    StepRecord,
    StepStatus,
    WorkflowRecord,
    WorkflowStatus,
)
from orchestrator.observability import logger
from orchestrator.schemas.api import ApproveRequest, CreateWorkflowRequest, WorkflowView
from orchestrator.services.loading import load_owned_workflow, load_workflow
from orchestrator.services.stopping import stop_workflow
from orchestrator.services.views import etag_matches, view_etag, view_of, workflow_view

# Steps that a resume runs again and must reset first (a succeeded step is never run or paid again;
# a pending one has nothing to reset).
_RERUNNABLE_STEP_STATUSES = frozenset(
    {StepStatus.FAILED, StepStatus.PAYMENT_TIMEOUT, StepStatus.CANCELLED} | ACTIVE_STEP_STATUSES
)


def create_workflow(deps: Dependencies, request: CreateWorkflowRequest, user_id: str) -> WorkflowView:
    # The planner pulls in more than the other routes need. Its deadline counts from here, so that
    # reading the catalog is inside it and the person has an answer well before the gateway's 30 s.
    from orchestrator.planner import plan_workflow, planning_clock

    with planning_clock():
        checked = check_catalog(
            deps.store.list_agents(active_only=True), url_template=deps.settings.agent_url_template
        )
        for left_out in checked.describe_left_out():
            logger.warning("agent left out of planning: %s", left_out)
        catalog = checked.hireable
        if not catalog:
            raise PlanInvalid(
                "There is no agent to plan with right now: the catalog has no agent that can be hired."
            )
        plan, total_cost = plan_workflow(
            deps.planner,
            request.user_message,
            catalog,
            max_steps=deps.settings.max_steps,
            budget_microalgo=request.budget_microalgo,
        )
    agents = {agent.id: agent for agent in catalog}
    workflow = WorkflowRecord(
        workflow_id=str(uuid.uuid4()),
        user_id=user_id,
        wallet_address=request.wallet_address,
        user_message=request.user_message,
        plan=plan,
        total_cost_microalgo=total_cost,
        budget_microalgo=request.budget_microalgo,
    )
    steps = [
        StepRecord(
            id=str(uuid.uuid4()),
            workflow_id=workflow.workflow_id,
            step_number=step.step_number,
            agent_id=step.agent_id,
            agent_name=agents[step.agent_id].name,
            price_microalgo=agents[step.agent_id].price,
        )
        for step in plan.steps
    ]
    deps.store.create_workflow(workflow, steps)
    deps.metrics.workflow_created()
    return workflow_view(workflow, steps, explorer_txn_url=deps.settings.explorer_txn_url)


def approve_workflow(deps: Dependencies, request: ApproveRequest, user_id: str) -> WorkflowView:
    workflow = load_owned_workflow(deps.store, request.workflow_id, user_id)
    budget = request.budget_microalgo if request.budget_microalgo is not None else workflow.budget_microalgo
    if budget is not None and workflow.total_cost_microalgo > budget:
        raise PlanInvalid(
            f"The plan costs {workflow.total_cost_microalgo} µAlgo, more than the budget of {budget} µAlgo.",
            details={"reasons": ["over budget"]},
        )
    updated = deps.store.update_workflow(
        workflow.workflow_id,
        expected={WorkflowStatus.PLANNED},
        changes={"status": WorkflowStatus.APPROVED, "budget_microalgo": budget},
    )
    if updated is None:
        raise InvalidState(f"Only a planned workflow can be approved; this one is {workflow.status.value}.")
    return view_of(deps, updated)


def start_workflow(
    deps: Dependencies, workflow_id: str, user_id: str, *, repay_steps: Collection[int] = ()
) -> WorkflowView:
    """Start an approved workflow, or resume a failed or cancelled one at its first unfinished step.

    A paid step whose job the agent lost or failed runs again only as a new job, paid again, and
    only when the person names it in `repay_steps`; the earlier payment's receipt is kept."""
    workflow = load_owned_workflow(deps.store, workflow_id, user_id)
    if workflow.status not in {WorkflowStatus.APPROVED} | RESUMABLE_WORKFLOW_STATUSES:
        raise InvalidState(
            f"Only an approved, failed or cancelled workflow can be started; this one is {workflow.status.value}."
        )
    steps = deps.store.list_steps(workflow_id)
    start_step = next((s.step_number for s in steps if s.status != StepStatus.SUCCEEDED), None)
    if start_step is None:
        raise InvalidState("Every step of this workflow has already succeeded.")
    to_repay = [s for s in steps if s.step_number >= start_step and paid_job_is_over(s)]
    consented = set(repay_steps)
    without_consent = [s.step_number for s in to_repay if s.step_number not in consented]
    if without_consent:
        numbers = ", ".join(str(n) for n in without_consent)
        raise RepayConsentRequired(
            f"The agent could not deliver the paid job of step {numbers}. Resuming runs it as a new job "
            f"that must be paid again; the earlier payment's receipt is kept. To agree, start again "
            f"with repay_steps: [{numbers}].",
            details={"repay_steps": without_consent},
        )

    attempt = workflow.attempt + 1
    running = deps.store.update_workflow(
        workflow_id,
        expected={workflow.status},
        changes={
            "status": WorkflowStatus.RUNNING,
            "attempt": attempt,
            "current_step": start_step,
            "error": None,
        },
    )
    if running is None:
        raise InvalidState("The workflow changed while it was being started; reload it and try again.")
    for step in steps:
        if step.step_number >= start_step and step.status in _RERUNNABLE_STEP_STATUSES:
            _reset_for_rerun(deps, step)

    execution_input = ExecutionInput(workflow_id=workflow_id, start_step=start_step, attempt=attempt)
    try:
        arn = deps.engine.start_execution(execution_name(workflow_id, attempt), execution_input)
    except OrchestratorError as exc:
        if deps.store.update_workflow(
            workflow_id,
            expected={WorkflowStatus.RUNNING},
            changes={"status": WorkflowStatus.FAILED, "error": ErrorInfo(code=exc.code, message=exc.message)},
        ):
            deps.metrics.workflow_failed(exc.code)
        raise
    recorded = deps.store.update_workflow(
        workflow_id, expected={WorkflowStatus.RUNNING}, changes={"execution_arn": arn}
    )
    # A cancel may already have won; the view shows the workflow as it is now.
    return view_of(deps, recorded or load_workflow(deps.store, workflow_id))


# Errors after which the step's agent job is over: a rerun needs a new job.
_JOB_OVER_CODES = frozenset({AgentJobFailed.code, AgentLostJob.code})


def paid_job_is_over(step: StepRecord) -> bool:
    """Whether the step was paid for a job its agent could not deliver: running it again pays again."""
    return (
        step.status == StepStatus.FAILED
        and step.receipt is not None
        and step.error is not None
        and step.error.code in _JOB_OVER_CODES
    )


def _reset_for_rerun(deps: Dependencies, step: StepRecord) -> None:
    changes: dict[str, object] = {
        "status": StepStatus.PENDING,
        "error": None,
        "task_token": None,
        "poll_errors": 0,
        "poll_deadline": None,
        "completed_at": None,
    }
    # A job the agent failed or lost is over: the rerun starts a new one (a paid one only with the
    # person's consent, checked before). Any other job is kept so that a confirmed payment for it is
    # delivered or reused, never paid twice.
    if step.error is not None and step.error.code in _JOB_OVER_CODES:
        earlier = (
            [*step.earlier_receipts, step.receipt] if step.receipt is not None else step.earlier_receipts
        )
        changes.update(
            job_id=None,
            agent_job_id=None,
            unsigned_group_txns=[],
            txn_ids=[],
            last_valid_round=None,
            receipt=None,
            earlier_receipts=earlier,
            payment_redeliveries=0,
            output=None,
        )
    deps.store.update_step(step.workflow_id, step.step_number, expected={step.status}, changes=changes)


def cancel_workflow(deps: Dependencies, workflow_id: str, user_id: str) -> WorkflowView:
    """Cooperative cancel: mark it cancelled, fail a waiting task token; running tasks see it and stop."""
    workflow = load_owned_workflow(deps.store, workflow_id, user_id)
    cancelled = WorkflowCancelled("The workflow was cancelled.")
    stopped = stop_workflow(
        deps,
        workflow_id,
        expected=CANCELLABLE_WORKFLOW_STATUSES,
        status=WorkflowStatus.CANCELLED,
        step_status=StepStatus.CANCELLED,
        error=ErrorInfo(code=cancelled.code, message=cancelled.message),
        # A step whose StartJob task is under way: the task's next change of it fails, so the
        # execution stops instead of waiting for a payment nobody will ask for.
        current_if_pending=True,
    )
    if stopped is None:
        raise InvalidState(f"A {workflow.status.value} workflow cannot be cancelled.")
    for step in stopped[1]:
        # The token of a step waiting for its payment, or for its job (WatchJob): the execution
        # stops now instead of at its next look.
        if step.task_token and step.status in {StepStatus.AWAITING_PAYMENT, StepStatus.RUNNING}:
            deps.engine.send_task_failure(step.task_token, cancelled.code, cancelled.message)
    return view_of(deps, stopped[0])


def get_workflow(deps: Dependencies, workflow_id: str, user_id: str) -> WorkflowView:
    return view_of(deps, load_owned_workflow(deps.store, workflow_id, user_id))


# A long poll (GET /api/workflows/{id}?wait=N with If-None-Match) waits at most this long: with the
# reads before and after, it ends near 20 s, well inside the function's 29 s Lambda timeout and API
# Gateway's 30 s. The store is read again every WATCH_INTERVAL_SECONDS while it waits, so a change
# is seen within that interval (plus one read).
MAX_WAIT_SECONDS = 20
WATCH_INTERVAL_SECONDS = 0.5


@dataclass(frozen=True)
class WorkflowVersion:
    """The workflow as the caller may see it now: its view and ETag; `view` is None when the
    caller's If-None-Match names the current version (not modified)."""

    view: WorkflowView | None
    etag: str

    @property
    def modified(self) -> bool:
        return self.view is not None


def watch_workflow(
    deps: Dependencies,
    workflow_id: str,
    user_id: str,
    *,
    if_none_match: str | None = None,
    wait_seconds: float = 0,
    interval_seconds: float = WATCH_INTERVAL_SECONDS,
) -> WorkflowVersion:
    """The workflow's view and version, as soon as it differs from the one the caller has.

    Without `if_none_match`, or when it names another version, the view now. When it names the
    current version, the store is read again every `interval_seconds` until the version changes
    (the new view) or `wait_seconds` (at most MAX_WAIT_SECONDS) have passed since the call began
    (not modified: `view` None). `*` matches any version and is answered "not modified" at once.
    Time is `deps.clock`, waiting `deps.sleep` (fakes in tests); the number of reads is bounded as
    well, so a clock that jumps back cannot stretch a wait."""
    started = deps.clock()
    view = get_workflow(deps, workflow_id, user_id)
    etag = view_etag(view)
    if if_none_match is None or not etag_matches(if_none_match, etag):
        return WorkflowVersion(view, etag)
    wait = min(max(wait_seconds, 0.0), MAX_WAIT_SECONDS)
    if if_none_match.strip() == "*" or wait <= 0:
        return WorkflowVersion(None, etag)
    deadline = started + timedelta(seconds=wait)
    for _ in range(math.ceil(wait / interval_seconds)):
        left = (deadline - deps.clock()).total_seconds()
        if left <= 0:
            break
        deps.sleep(min(interval_seconds, left))
        view = get_workflow(deps, workflow_id, user_id)
        etag = view_etag(view)
        if not etag_matches(if_none_match, etag):
            return WorkflowVersion(view, etag)
    return WorkflowVersion(None, etag)
