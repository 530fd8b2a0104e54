"""An agent's push (services/agent_push.accept_push) on fakes, beyond tests/unit/test_watch_job.py:
agents' job ids are unique only to each agent, so the token picks the step; a push about a job that
is not running makes nobody look."""

from __future__ import annotations

import pytest
from orchestrator.errors import AgentUnauthorized
from orchestrator.models import AgentMetadata, StepStatus
from orchestrator.schemas.api import AgentPush
from orchestrator.services.agent_push import AGENT_TOKEN_HEADER, accept_push

from tests.builders import World, hireable_agent
from tests.fakes import OfferTerms

COMPLETED = '{"result": "done", "status": "completed"}'


def push(w: World, token: str | None, job_id: str, job_output: str = COMPLETED) -> tuple[bool, bool]:
    receipt = accept_push(
        w.deps, token, AgentPush.model_validate({"job_id": job_id, "job_output": job_output})
    )
    assert receipt.job_id == job_id
    return receipt.completed, receipt.woke


def test_two_agents_with_the_same_job_id_are_told_apart_by_their_tokens(w: World) -> None:
    first, second = w.add_agents(
        hireable_agent(name="First", price=0), hireable_agent(name="Second", price=0)
    )
    w.store.set_agent_token(first.id, "first-secret")
    w.store.set_agent_token(second.id, "second-secret")
    ids = []
    for agent in (first, second):
        workflow = w.add_workflow([agent])
        w.agents.start_answers.append(OfferTerms(job_id="J7"))  # both number their jobs alike
        w.start_job(workflow.workflow_id)
        w.watch(workflow.workflow_id, token=f"look-{agent.name}")
        ids.append(workflow.workflow_id)
    w.agents.set_job("J7", "succeeded", "the output")
    w.engine.successes.clear()  # the StartJob tasks'

    assert push(w, "second-secret", "J7") == (True, True)

    assert [w.step(workflow_id).status for workflow_id in ids] == [StepStatus.RUNNING, StepStatus.SUCCEEDED]
    assert [token for token, _ in w.engine.successes] == ["look-Second"]
    assert [(call.agent_id, call.job_id) for call in w.agents.calls_of("job_status")][-1] == (second.id, "J7")


def test_a_completion_pushed_for_a_step_that_is_not_running_makes_nobody_look(
    w: World, paid_agent: AgentMetadata
) -> None:
    w.store.set_agent_token(paid_agent.id, "secret")
    workflow = w.add_workflow([paid_agent])
    step = w.offer(workflow.workflow_id)
    assert step.agent_job_id is not None
    assert push(w, "secret", step.agent_job_id) == (True, False)
    assert w.agents.looks == [] and w.engine.successes == []


def test_an_agent_without_a_stored_token_cannot_push(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([free_agent])
    w.start_job(workflow.workflow_id)
    job = w.step(workflow.workflow_id).agent_job_id
    assert job is not None
    with pytest.raises(AgentUnauthorized, match=AGENT_TOKEN_HEADER):
        push(w, "anything", job)
