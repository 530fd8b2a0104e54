"""The WatchJob task and agents' pushes as use cases (services/job_watch.watch_job, services/agent_push),
and a stopping run's Halt meeting a cancel and a resume (services/outcome.halt), on the fakes of
tests/fakes.py: the SQLite store on a temp file, an engine that records the callbacks, an agent that
answers what the test says, and a clock the test moves. No sockets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from orchestrator.dependencies import Dependencies
from orchestrator.errors import AgentUnauthorized
from orchestrator.models import StepRecord, StepStatus, WorkflowStatus
from orchestrator.schemas.api import AgentPush
from orchestrator.schemas.tasks import HaltTask
from orchestrator.services import outcome
from orchestrator.services.agent_push import accept_push
from orchestrator.services.workflows import cancel_workflow, start_workflow
from orchestrator.store.sqlite import SQLiteStore

from tests import builders
from tests.builders import USER, access_token_record, hireable_agent
from tests.fakes import T0, FakeAgents, MovingClock, RecordingEngine

AGENT_ID = "8d7c3b1a-0f5e-4c2d-9b8a-7e6f5d4c3b2a"
AGENT_JOB = "J1762754481290"
SECRET = "the-agents-secret"


@dataclass
class World:
    """The fakes (tests/builders.py `world`) and a running workflow whose one step's job runs."""

    fakes: builders.World
    workflow_id: str

    @property
    def deps(self) -> Dependencies:
        return self.fakes.deps

    @property
    def store(self) -> SQLiteStore:
        return self.fakes.store

    @property
    def engine(self) -> RecordingEngine:
        return self.fakes.engine

    @property
    def agents(self) -> FakeAgents:
        return self.fakes.agents

    @property
    def clock(self) -> MovingClock:
        return self.fakes.clock

    def step(self) -> StepRecord:
        return self.fakes.step(self.workflow_id)

    def watch(self, token: str, wait_seconds: int) -> None:
        self.fakes.watch(self.workflow_id, token=token, wait_seconds=wait_seconds)

    def job_is(self, status: str, output: Any = None) -> None:
        """What the agent says of its job from now on."""
        self.agents.set_job(AGENT_JOB, status, output)

    def looks(self) -> list[str | None]:
        """The access token of each look at the agent's job (every look is at the step's job)."""
        calls = self.agents.calls_of("job_status")
        assert all(call.job_id == AGENT_JOB for call in calls)
        return [call.access_token for call in calls]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    fakes = builders.world(tmp_path)
    agent = fakes.add_agents(hireable_agent(AGENT_ID, "Summarizer", price=1000))[0]
    fakes.store.set_agent_token(AGENT_ID, SECRET)
    workflow = fakes.add_workflow(
        [agent],
        step_status=StepStatus.RUNNING,
        step_fields={1: {"agent_job_id": AGENT_JOB, "input": "a text"}},
    )
    fakes.store.save_access_token(
        access_token_record(workflow.workflow_id, 1, AGENT_JOB, "our-access-token", agent_id=AGENT_ID)
    )
    fakes.agents.set_job(AGENT_JOB, "running")
    yield World(fakes, workflow.workflow_id)
    fakes.close()


def test_a_running_job_leaves_the_token_for_a_push_and_the_timeout_brings_the_next_look(world: World) -> None:
    world.watch("t1", wait_seconds=2)
    assert world.looks() == ["our-access-token"]
    assert world.engine.successes == []  # the state's 2 s timeout is the next look
    step = world.step()
    assert step.task_token == "t1" and step.status == StepStatus.RUNNING
    assert step.poll_deadline == T0 + timedelta(seconds=world.deps.settings.poll_deadline_seconds)


def test_a_look_at_another_interval_than_the_states_completes_with_the_new_one(world: World) -> None:
    world.watch("t1", wait_seconds=2)  # the first look sets the deadline: the job's age counts from here
    world.clock.now = T0 + timedelta(seconds=100)
    world.watch("t2", wait_seconds=2)
    assert world.engine.successes == [("t2", {"status": "working", "wait_seconds": 8})]
    world.clock.now = T0 + timedelta(seconds=101)
    world.watch("t3", wait_seconds=8)
    assert world.engine.successes == [("t2", {"status": "working", "wait_seconds": 8})]


def test_the_poll_deadline_is_looked_at_on_time(world: World) -> None:
    world.watch("t1", wait_seconds=2)
    deadline = world.step().poll_deadline
    assert deadline is not None
    world.clock.now = deadline - timedelta(seconds=0.5)
    world.watch("t2", wait_seconds=30)
    assert world.engine.successes == [("t2", {"status": "working", "wait_seconds": 1})]


def test_a_finished_job_completes_the_task_and_keeps_the_output(world: World) -> None:
    world.job_is("succeeded", "the summary")
    world.watch("t1", wait_seconds=2)
    assert world.engine.successes == [("t1", {"status": "succeeded", "wait_seconds": 2})]
    step = world.step()
    assert (step.status, step.output, step.task_token) == (StepStatus.SUCCEEDED, "the summary", None)


def test_a_step_a_push_finished_meanwhile_completes_without_a_look(world: World) -> None:
    world.store.update_step(
        world.workflow_id, 1, expected={StepStatus.RUNNING}, changes={"status": StepStatus.SUCCEEDED}
    )
    world.watch("t1", wait_seconds=2)
    assert world.looks() == []
    assert world.engine.successes == [("t1", {"status": "succeeded", "wait_seconds": 2})]


def push(world: World, token: str | None, **body: Any) -> Any:
    return accept_push(world.deps, token, AgentPush.model_validate({"job_id": AGENT_JOB, **body}))


COMPLETED = '{"result": "forged", "status": "completed"}'


def test_a_completion_push_looks_with_our_token_and_wakes_the_waiting_look(world: World) -> None:
    world.watch("t1", wait_seconds=2)
    world.job_is("succeeded", "the summary")
    receipt = push(world, SECRET, job_output=COMPLETED, access_token="pushed-token", extra="ignored")
    assert (receipt.completed, receipt.woke) == (True, True)
    assert world.looks()[-1] == "our-access-token"  # never the pushed one
    assert world.engine.successes == [("t1", {"status": "succeeded", "wait_seconds": 2})]
    assert world.step().output == "the summary"  # the job's, not the push's
    # A replay: the step has ended, nothing moves and nobody is asked.
    looks = len(world.looks())
    again = push(world, SECRET, job_output=COMPLETED)
    assert (again.completed, again.woke) == (True, False)
    assert len(world.looks()) == looks and len(world.engine.successes) == 1


def test_a_completion_pushed_before_the_job_ended_wakes_nothing(world: World) -> None:
    world.watch("t1", wait_seconds=2)
    receipt = push(world, SECRET, job_output=COMPLETED)
    assert receipt.woke is False and world.engine.successes == []
    assert world.step().status == StepStatus.RUNNING


def test_the_payment_push_is_taken_without_a_look(world: World) -> None:
    world.watch("t1", wait_seconds=2)
    looks = len(world.looks())
    receipt = push(world, SECRET, job_output="")
    assert (receipt.completed, receipt.woke) == (False, False)
    assert len(world.looks()) == looks


def test_a_wake_for_a_look_that_timed_out_meanwhile_is_harmless(world: World) -> None:
    world.watch("t1", wait_seconds=2)
    world.engine.expired.add("t1")
    world.job_is("succeeded", "done")
    assert push(world, SECRET, job_output=COMPLETED).woke is False
    # The next look (a new token) finds the step ended and completes at once.
    world.watch("t2", wait_seconds=2)
    assert world.engine.successes == [("t2", {"status": "succeeded", "wait_seconds": 2})]


@pytest.mark.parametrize("token", [None, "", "wrong", SECRET + "x"])
def test_pushes_without_the_agents_token_are_refused(world: World, token: str | None) -> None:
    with pytest.raises(AgentUnauthorized):
        push(world, token, job_output=COMPLETED)


def test_a_push_for_a_job_nobody_ran_is_refused_like_a_wrong_token(world: World) -> None:
    with pytest.raises(AgentUnauthorized) as refused:
        accept_push(world.deps, SECRET, AgentPush.model_validate({"job_id": 1762754481291}))
    with pytest.raises(AgentUnauthorized) as wrong:
        push(world, "wrong")
    assert type(refused.value) is type(wrong.value)


def test_cancel_fails_the_waiting_look_at_once(world: World) -> None:
    world.watch("t1", wait_seconds=2)
    cancel_workflow(world.deps, world.workflow_id, USER)
    assert world.engine.failures == [("t1", "WorkflowCancelled")]


class ResumedAfterHaltReads:
    """The store, except that once Halt has read the step, the person cancels (when `cancel`) and
    resumes the workflow before Halt writes: the race a resume clicked at once can win."""

    def __init__(self, world: World, *, cancel: bool) -> None:
        self._store, self._world, self._cancel, self._done = world.store, world, cancel, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def get_step(self, workflow_id: str, step_number: int) -> StepRecord | None:
        read = self._store.get_step(workflow_id, step_number)
        if not self._done:
            self._done = True
            if self._cancel:
                cancel_workflow(self._world.deps, workflow_id, USER)
            start_workflow(self._world.deps, workflow_id, USER)
        return read


def halt(world: World, reason: str) -> None:
    """The first run's Halt of step 1, as the state machine's Catch sends it."""
    task = HaltTask(
        workflow_id=world.workflow_id,
        step_number=1,
        attempt=1,
        reason=reason,
        error={"Error": "AgentJobFailed", "Cause": "the agent failed"},
    )
    outcome.halt(world.deps, task)


def halt_racing_a_resume(world: World, reason: str, *, cancel_first: bool) -> None:
    world.deps.__dict__["store"] = ResumedAfterHaltReads(world, cancel=cancel_first)
    try:
        halt(world, reason)
    finally:
        world.deps.__dict__["store"] = world.store


def test_the_halt_of_a_cancelled_run_leaves_the_resumed_run_alone(world: World) -> None:
    cancel_workflow(world.deps, world.workflow_id, USER)
    halt_racing_a_resume(world, "cancelled", cancel_first=False)
    workflow = world.store.get_workflow(world.workflow_id)
    assert workflow is not None
    assert (workflow.status, workflow.attempt) == (WorkflowStatus.RUNNING, 2)
    assert world.step().status == StepStatus.PENDING  # ready for the new run's StartJob
    assert [started.attempt for started in world.engine.started] == [2]


def test_the_halt_of_a_failed_run_leaves_a_run_resumed_meanwhile_alone(world: World) -> None:
    halt_racing_a_resume(world, "failed", cancel_first=True)
    workflow = world.store.get_workflow(world.workflow_id)
    assert workflow is not None
    assert (workflow.status, workflow.attempt, workflow.error) == (WorkflowStatus.RUNNING, 2, None)
    assert world.step().status == StepStatus.PENDING and world.step().error is None


def test_the_halt_of_a_failed_run_records_the_failure(world: World) -> None:
    halt(world, "failed")
    workflow = world.store.get_workflow(world.workflow_id)
    assert workflow is not None and workflow.status == WorkflowStatus.FAILED
    assert world.step().status == StepStatus.FAILED
    error = world.step().error
    assert error is not None and error.code == "AgentJobFailed"


def test_cancel_stops_a_step_whose_start_is_under_way(world: World) -> None:
    world.store.update_step(
        world.workflow_id, 1, expected={StepStatus.RUNNING}, changes={"status": StepStatus.PENDING}
    )
    cancel_workflow(world.deps, world.workflow_id, USER)
    assert world.step().status == StepStatus.CANCELLED
