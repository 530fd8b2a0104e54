"""An agent's push (POST /api/agent/access), the contract the marketplace's SDK already follows: after
a verified payment and again when the job completed, the agent POSTs the job's id (and its output)
with its own secret in `X-Agent-Token`.

The token is checked against the agent's stored `agent_token` for the job named; the pushed output
and access token are never taken: a completion makes the orchestrator look at the job itself (with
its own access token, job_watch.look_and_wake) and, when it ended well, complete the waiting WatchJob
task at once instead of at its next scheduled look. Repeats and replays change nothing.
"""

from __future__ import annotations

import hmac

from orchestrator.dependencies import Dependencies
from orchestrator.errors import AgentUnauthorized
from orchestrator.models import StepRecord, StepStatus
from orchestrator.schemas.api import AgentPush, PushReceipt
from orchestrator.services import job_watch
from orchestrator.services.loading import load_workflow

AGENT_TOKEN_HEADER = "X-Agent-Token"


def accept_push(deps: Dependencies, agent_token: str | None, push: AgentPush) -> PushReceipt:
    if not agent_token:
        raise AgentUnauthorized(f"A push needs the agent's token in the {AGENT_TOKEN_HEADER} header.")
    step = _pushed_step(deps, agent_token, push.job_id)
    if step is None:
        raise AgentUnauthorized(
            f"The {AGENT_TOKEN_HEADER} does not belong to the agent of job {push.job_id}."
        )
    woke = False
    if push.completed and step.status == StepStatus.RUNNING:
        woke = job_watch.look_and_wake(deps, load_workflow(deps.store, step.workflow_id), step)
    return PushReceipt(job_id=push.job_id, completed=push.completed, woke=woke)


def _pushed_step(deps: Dependencies, agent_token: str, agent_job_id: str) -> StepRecord | None:
    """The step of the job, when the token is its agent's. Agents' job ids are unique only to each
    agent, so every step with that id is a candidate; the token picks one."""
    for step in deps.store.steps_for_agent_job(agent_job_id):
        stored = deps.store.get_agent_token(step.agent_id)
        if stored and hmac.compare_digest(stored.encode(), agent_token.encode()):
            return step
    return None
