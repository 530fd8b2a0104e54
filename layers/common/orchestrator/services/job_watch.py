"""Watching a running job: the WatchJob task (one look per state transition, woken early by an
agent's push), the API's poll, and what a lost, failed or never-ending paid job gets: its payment
handed over once more, then a named error with the receipt kept."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from typing import Any

from orchestrator.dependencies import Dependencies
from orchestrator.errors import (
    AgentJobFailed,
    AgentLostJob,
    AgentProtocolError,
    AgentRejected,
    AgentUnavailable,
    InvalidState,
    OrchestratorError,
    PollTimeout,
)
from orchestrator.models import (
    AgentMetadata,
    JobState,
    StepRecord,
    StepStatus,
    WorkflowRecord,
)
from orchestrator.schemas.api import StepView
from orchestrator.schemas.tasks import (
    WatchJobTask,
)
from orchestrator.services.loading import load_owned_workflow, load_step
from orchestrator.services.payment import redeliver_once
from orchestrator.services.step_state import (
    active_agent,
    job_watch,
    payments_for_current_job,
    running_workflow,
)
from orchestrator.services.views import step_view


def watch_job(deps: Dependencies, task: WatchJobTask) -> None:
    """Look at the agent's job once. The task completes at once when the job ended well or the next
    look is due at another interval than the state's timeout (`task.wait_seconds`); otherwise its
    token stays on the step, where the agent's push completes it (services/agent_push.py), and the
    state's timeout brings the next look."""
    workflow = running_workflow(deps, task)
    step = load_step(deps.store, task.workflow_id, task.step_number)
    settings = deps.settings
    now = deps.clock()
    changes: dict[str, Any] = {"task_token": task.task_token}
    if step.poll_deadline is None:
        changes["poll_deadline"] = now + timedelta(seconds=settings.poll_deadline_seconds)
    # The token is on the step before the look, so that a push arriving meanwhile finds it.
    registered = (
        deps.store.update_step(
            step.workflow_id, step.step_number, expected={StepStatus.RUNNING}, changes=changes
        )
        if step.status == StepStatus.RUNNING
        else None
    )
    if registered is None:
        current = load_step(deps.store, task.workflow_id, task.step_number)
        if current.status == StepStatus.SUCCEEDED:  # a push or the API's poll saw it end meanwhile
            deps.engine.send_task_success(task.task_token, job_watch(deps, succeeded=True))
            return
        raise InvalidState(f"Step {current.step_number} is {current.status.value}, not running.")
    finished = _poll_agent_once(deps, workflow, registered)
    if finished is not None and finished.status == StepStatus.SUCCEEDED:
        deps.engine.send_task_success(task.task_token, job_watch(deps, succeeded=True))
        return
    step = load_step(deps.store, step.workflow_id, step.step_number)
    assert step.poll_deadline is not None
    remaining = (step.poll_deadline - now).total_seconds()
    if remaining <= 0:
        _redeliver_once_at_deadline(deps, workflow, step)
        wait = settings.poll_schedule.wait_seconds(0)
    else:
        age = settings.poll_deadline_seconds - remaining
        wait = settings.poll_schedule.wait_seconds(age, remaining_seconds=remaining)
    if wait != task.wait_seconds:
        deps.engine.send_task_success(task.task_token, job_watch(deps, wait_seconds=wait))


def _redeliver_once_at_deadline(deps: Dependencies, workflow: WorkflowRecord, step: StepRecord) -> None:
    """A paid job that never ends (an agent restarted mid-job keeps it `running` for ever) is handed
    its payment once more, with a new deadline; then the step times out, its payment kept."""
    seconds = deps.settings.poll_deadline_seconds
    paid = payments_for_current_job(deps, step)
    refused = redeliver_once(
        deps, workflow, step, paid, poll_deadline=deps.clock() + timedelta(seconds=seconds)
    )
    if refused is not None:
        raise PollTimeout(f"The agent did not finish within {seconds} seconds{refused}.")


def _poll_agent_once(
    deps: Dependencies, workflow: WorkflowRecord, step: StepRecord, *, by_engine: bool = True
) -> StepRecord | None:
    """The step as the look left it when the job finished well (succeeded); None while it works. The
    state machine's own look (`by_engine`) decides what a failure means: it counts errors, hands a
    lost or failed paid job its payment again, or raises. Other looks change nothing on failure."""
    agent = active_agent(deps, step.agent_id)
    assert step.agent_job_id is not None
    token = deps.store.get_access_token(step.workflow_id, step.step_number, step.agent_job_id)
    try:
        status = deps.agents.job_status(agent, job_id=step.agent_job_id, access_token=token or None)
    except AgentRejected as exc:
        if not isinstance(exc.details, dict) or exc.details.get("status_code") != 404:
            raise
        if by_engine:
            _redeliver_or_fail(deps, workflow, step, agent, lost=True, detail=exc.message)
        return None
    except (AgentUnavailable, AgentProtocolError) as exc:
        if not by_engine:
            return None
        # A hiccup while the job runs is tolerated a few times in a row before the step fails.
        errors = step.poll_errors + 1
        updated = deps.store.update_step(
            step.workflow_id, step.step_number, expected={StepStatus.RUNNING}, changes={"poll_errors": errors}
        )
        if updated is None or errors >= deps.settings.poll_max_errors:
            raise  # the halt task counts the error that fails the step
        deps.metrics.agent_error(agent.id, exc.code)
        return None
    if status.status == "succeeded":
        completed_at = deps.clock()
        updated = deps.store.update_step(
            step.workflow_id,
            step.step_number,
            expected={StepStatus.RUNNING},
            changes={
                "status": StepStatus.SUCCEEDED,
                "output": status.output,
                "completed_at": completed_at,
                "task_token": None,
            },
        )
        if updated is not None:
            if step.job_id is not None:
                deps.store.update_job(step.job_id, {"state": JobState.SUCCEEDED})
            if step.started_at is not None:
                deps.metrics.step_latency((completed_at - step.started_at).total_seconds())
        return updated or load_step(deps.store, step.workflow_id, step.step_number)
    if status.status == "failed":
        if by_engine:
            detail = status.output if isinstance(status.output, str) else json.dumps(status.output)
            _redeliver_or_fail(deps, workflow, step, agent, lost=False, detail=detail[:500])
        return None
    if step.poll_errors:
        deps.store.update_step(
            step.workflow_id, step.step_number, expected={StepStatus.RUNNING}, changes={"poll_errors": 0}
        )
    return None


def _redeliver_or_fail(
    deps: Dependencies,
    workflow: WorkflowRecord,
    step: StepRecord,
    agent: AgentMetadata,
    *,
    lost: bool,
    detail: str,
) -> None:
    """A paid job the agent lost or failed: hand it the same payment for the same job once more
    (agents built with the marketplace's SDK run the job again on a repeated submit); if that does
    not help, the step ends with a named error and keeps its receipt. Never a loop."""
    paid = payments_for_current_job(deps, step)
    what = (
        f"no longer knows job {step.agent_job_id} ({detail})"
        if lost
        else f"reported the job as failed: {detail}"
    )
    error_type = AgentLostJob if lost else AgentJobFailed
    refused = redeliver_once(deps, workflow, step, paid)
    if refused is None:
        return  # the agent took the payment again: keep polling the same job
    what += refused
    # The agent's own words may end a sentence already: one full stop, not two.
    said = f"{agent.name} {what}".rstrip(". ") + "."
    if not paid:
        raise error_type(said)
    raise error_type(
        f"{said} The payment for step {step.step_number} is confirmed and kept "
        f"(transactions {', '.join(p.txid for p in paid)}, round {max(p.confirmed_round for p in paid)}). "
        f"Resuming runs step {step.step_number} as a new job that is paid again, only if you agree "
        f"(repay_steps: [{step.step_number}]).",
        details={"receipt_txn_ids": [p.txid for p in paid]},
    )


def poll_step(deps: Dependencies, workflow_id: str, step_number: int, user_id: str) -> StepView:
    """The API's poll: the step as stored, after one look at the agent if its job is running."""
    workflow = load_owned_workflow(deps.store, workflow_id, user_id)
    step = load_step(deps.store, workflow_id, step_number)
    if step.status == StepStatus.RUNNING and step.agent_job_id:
        look_and_wake(deps, workflow, step)
        step = load_step(deps.store, workflow_id, step_number)
    return step_view(workflow, step)


def look_and_wake(deps: Dependencies, workflow: WorkflowRecord, step: StepRecord) -> bool:
    """One look at a running job from outside the state machine (the API's poll, an agent's push).
    When the job ended well, the waiting WatchJob task is completed now instead of at its next look;
    True if this call woke it. Failures are left to the state machine's own look."""
    token = step.task_token
    finished: StepRecord | None = None
    with contextlib.suppress(OrchestratorError):
        finished = _poll_agent_once(deps, workflow, step, by_engine=False)
    if finished is None or finished.status != StepStatus.SUCCEEDED or not token:
        return False
    return deps.engine.send_task_success(token, job_watch(deps, succeeded=True))
