"""Agents' pushes (POST /api/agent/access) on the local stack: the real handlers, the real state
machine definition under moto, sample agents that push as the marketplace's SDK does.

The stack looks at a running job only every 20 s here, so a step that ends within seconds of its
job can only have been woken by the agent's push."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from orchestrator.dependencies import get_dependencies
from orchestrator.models import WorkflowStatus

from devstack.agents import AgentBehaviour
from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, StackOverrides, running_harness, sample

pytestmark = [pytest.mark.integration]

LOOK_EVERY = 20  # POLL_FAST_SECONDS = POLL_MAX_SECONDS: the schedule's looks are this far apart
JOB_SECONDS = 1.0
SUMMARIZER = sample("text-summarizer")
SENTIMENT = sample("sentiment-analyzer")
PUSH_PATH = "/api/agent/access"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_harness(
        tmp_path_factory.mktemp("push"),
        agent_job_seconds=JOB_SECONDS,
        poll_fast_seconds=LOOK_EVERY,
        poll_max_seconds=LOOK_EVERY,
    ) as harness:
        yield harness


def push(harness: Harness, body: dict[str, object], token: str | None) -> httpx.Response:
    headers = {} if token is None else {"X-Agent-Token": token}
    return httpx.post(f"{harness.stack.api_url}{PUSH_PATH}", json=body, headers=headers, timeout=30)


def completion(job_id: object, **extra: object) -> dict[str, object]:
    return {
        "job_id": job_id,
        "agent_id": "whatever-the-agent-calls-itself",
        "access_token": "not-used",
        "job_output": json.dumps({"result": "forged", "status": "completed"}),
        **extra,
    }


def test_a_pushed_completion_moves_the_workflow_on_at_once(
    harness: Harness, overrides: StackOverrides
) -> None:
    overrides.use(
        planner=FixedPlanner(
            [(SUMMARIZER.id, "The pasta was cold. The staff was kind."), (SENTIMENT.id, "{{step_1_output}}")]
        )
    )
    pushes_before = {s.spec.id: s.pushes_sent for s in harness.stack.agent_servers}
    workflow_id = harness.create_and_start()
    for step_number in (1, 2):
        assert harness.pay_step(workflow_id, step_number).status_code == 200
        paid_at = time.monotonic()
        # Noticed long before the schedule's next look (LOOK_EVERY s after the first).
        harness.wait_for_step(workflow_id, step_number, "succeeded", timeout=LOOK_EVERY / 2)
        assert time.monotonic() - paid_at < LOOK_EVERY / 2
    done = harness.wait_until_done(workflow_id, timeout=LOOK_EVERY / 2)
    assert done["status"] == "completed", done
    # The outputs are the jobs' (read back with the orchestrator's access token), never a push's.
    assert "pasta" in json.dumps(done["steps"][0]["output"]).lower()
    assert "forged" not in json.dumps(done)
    # Each agent pushed twice (payment verified, job completed) and was paid exactly once.
    for spec in (SUMMARIZER, SENTIMENT):
        server = next(s for s in harness.stack.agent_servers if s.spec.id == spec.id)
        deadline = time.monotonic() + 5
        while server.pushes_sent < pushes_before[spec.id] + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.pushes_sent == pushes_before[spec.id] + 2
        assert harness.payments_on_chain(spec.agent_address) == [(spec.agent_address, spec.price_microalgo)]

    # A replayed completion changes nothing.
    store = get_dependencies().store
    agent_job_id = store.get_step(workflow_id, 1).agent_job_id  # type: ignore[union-attr]
    replayed = push(harness, completion(agent_job_id), store.get_agent_token(SUMMARIZER.id))
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {"job_id": agent_job_id, "completed": True, "woke": False}
    assert harness.workflow(workflow_id)["steps"] == done["steps"]


def test_pushes_without_the_agents_token_are_refused_alike(harness: Harness) -> None:
    token = get_dependencies().store.get_agent_token(SUMMARIZER.id)
    assert token
    store = get_dependencies().store
    # A job the summarizer really ran (the first test's): its id alone opens nothing.
    known_job = next(
        step.agent_job_id
        for workflow_id in store.list_workflow_ids(status=WorkflowStatus.COMPLETED)
        for step in store.list_steps(workflow_id)
        if step.agent_id == SUMMARIZER.id and step.agent_job_id
    )
    for body, sent_token in (
        (completion("J1762754481290"), None),  # no token
        (completion("J1762754481290"), ""),  # empty token
        (completion("J1762754481290"), token),  # a job nobody ran
        (completion(1762754481290), token),  # a number for an id: read as text, still nobody's
        (completion(known_job), "not-the-token"),
        (completion(known_job), get_dependencies().store.get_agent_token(SENTIMENT.id)),  # another agent's
    ):
        refused = push(harness, body, sent_token)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "AgentUnauthorized"


def test_a_push_before_the_job_ended_wakes_nothing_and_cancel_stops_at_once(
    harness: Harness, overrides: StackOverrides
) -> None:
    slow = harness.add_agent(
        "text-summarizer", "5c7d0a6e-1f2b-4c3d-8e9f-0a1b2c3d4e5f", AgentBehaviour(job_seconds=60, push=False)
    )
    get_dependencies().store.set_agent_token(slow, "slow-agent-secret")
    overrides.use(planner=FixedPlanner([(slow, "a text")]))
    workflow_id = harness.create_and_start()
    assert harness.pay_step(workflow_id, 1).status_code == 200
    harness.wait_for_step(workflow_id, 1, "running")
    time.sleep(0.5)  # the first look has left its token on the step
    agent_job_id = get_dependencies().store.get_step(workflow_id, 1).agent_job_id  # type: ignore[union-attr]
    # A completion pushed while the job still runs: the look says running, so nothing moves.
    early = push(harness, completion(agent_job_id, extra_field=[1, 2, 3]), "slow-agent-secret")
    assert early.status_code == 200, early.text
    assert early.json()["woke"] is False
    assert harness.workflow(workflow_id)["steps"][0]["status"] == "running"
    # Cancel fails the waiting look's token: the execution stops now, not at the next look.
    cancelled_at = time.monotonic()
    assert harness.post("/api/workflows/cancel", {"workflowId": workflow_id}).status_code == 200
    ended = harness.wait_until_done(workflow_id, timeout=LOOK_EVERY / 2)
    assert ended["status"] == "cancelled"
    assert time.monotonic() - cancelled_at < LOOK_EVERY / 2


def test_a_push_may_carry_a_large_output(harness: Harness) -> None:
    token = get_dependencies().store.get_agent_token(SUMMARIZER.id)
    big = completion("J1", job_output=json.dumps({"result": "x" * 300_000, "status": "completed"}))
    answered = push(harness, big, token)
    # Read (not 413) and refused only because no step has that job.
    assert answered.status_code == 401, answered.text
    assert answered.json()["error"]["code"] == "AgentUnauthorized"
