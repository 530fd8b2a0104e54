"""Watching a running job (services/job_watch) on fakes: the WatchJob task's looks follow the poll
schedule as the clock moves and tell the engine only when the interval changes; a paid job that is
lost, failed or never ends is handed its payment once more, then ends with a named error and its
receipt kept; the API's poll and an agent's push wake the waiting task; hiccups are tolerated a few
times in a row."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from orchestrator.agents import JobStatusResponse
from orchestrator.errors import (
    AgentJobFailed,
    AgentLostJob,
    AgentProtocolError,
    AgentRejected,
    AgentUnavailable,
    InvalidState,
    NotFound,
    PollTimeout,
    WorkflowCancelled,
    WorkflowSuperseded,
)
from orchestrator.models import AgentMetadata, JobState, StepStatus, WorkflowStatus
from orchestrator.polling import PollSchedule
from orchestrator.schemas.tasks import WatchJobTask
from orchestrator.services.job_watch import look_and_wake, poll_step, watch_job
from orchestrator.services.workflows import cancel_workflow

from tests.builders import OTHER_USER, USER, World
from tests.fakes import agent_rejected, agent_unavailable


def running_free_job(w: World, agent: AgentMetadata) -> str:
    workflow = w.add_workflow([agent])
    w.start_job(workflow.workflow_id)
    assert w.step(workflow.workflow_id).status == StepStatus.RUNNING
    w.engine.successes.clear()
    return workflow.workflow_id


def running_paid_job(w: World, agent: AgentMetadata) -> str:
    workflow = w.add_workflow([agent])
    w.offer(workflow.workflow_id)
    w.pay(workflow.workflow_id)
    assert w.step(workflow.workflow_id).status == StepStatus.RUNNING
    assert w.money_moved() == (2, 2)
    w.engine.successes.clear()
    return workflow.workflow_id


def agent_job(w: World, workflow_id: str) -> str:
    job = w.step(workflow_id).agent_job_id
    assert job is not None
    return job


def told(w: World, token: str) -> list[dict[str, Any]]:
    return [output for t, output in w.engine.successes if t == token]


# --- the schedule ---------------------------------------------------------------------------------


def test_the_looks_follow_the_poll_schedule_and_the_engine_hears_only_of_a_new_interval(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow_id = running_free_job(w, free_agent)
    schedule = PollSchedule()
    started = w.clock.now
    wait, looks, changes = 2, 0, []  # StartJob completed with the schedule's first interval
    while (w.clock.now - started).total_seconds() < 400:
        told_before = len(w.engine.successes)
        w.watch(workflow_id, token=f"look-{looks}", wait_seconds=wait)
        looks += 1
        if len(w.engine.successes) > told_before:
            token, output = w.engine.successes[-1]
            assert (token, output["status"]) == (f"look-{looks - 1}", "working")
            age = (w.clock.now - started).total_seconds()
            assert output["wait_seconds"] == schedule.wait_seconds(age) != wait
            changes.append((age, output["wait_seconds"]))
            wait = output["wait_seconds"]
            continue  # the state machine looks again at once, with the new timeout
        w.clock.advance(wait)  # the state's timeout brings the next look

    assert [new for _, new in changes] == [4, 8, 16, 30]  # doubling after the first minute, up to the cap
    assert [age for age, _ in changes] == [60, 80, 160, 304]
    assert len(w.engine.successes) == 4 and w.engine.failures == []
    # 30 looks in the first minute (every 2 s), then 4 at 4 s, 9 at 8 s, 8 at 16 s and 3 at 30 s, and
    # one more at each change (the task completes and the state looks again at once).
    assert looks == 30 + 4 + 9 + 8 + 3 + 4 * 2 and len(w.agents.looks) == looks
    assert w.step(workflow_id).status == StepStatus.RUNNING


def test_the_first_look_sets_the_deadline_and_leaves_the_token_for_a_push(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = running_paid_job(w, paid_agent)
    w.watch(workflow_id, token="look-1", wait_seconds=2)
    step = w.step(workflow_id)
    assert step.poll_deadline is not None
    assert (step.poll_deadline - w.clock.now).total_seconds() == w.settings.poll_deadline_seconds
    assert step.task_token == "look-1" and w.engine.successes == []
    assert w.agents.looks == [w.store.get_access_token(workflow_id, 1, agent_job(w, workflow_id))]


def test_a_finished_job_completes_the_look_and_reports_the_steps_latency(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = running_paid_job(w, paid_agent)
    started_at = w.step(workflow_id).started_at
    assert started_at is not None
    w.clock.advance(75)
    w.agents.set_job(agent_job(w, workflow_id), "succeeded", {"summary": "short"})
    w.watch(workflow_id, token="look-1")
    assert told(w, "look-1") == [{"status": "succeeded", "wait_seconds": 2}]
    step = w.step(workflow_id)
    assert (step.status, step.output, step.completed_at) == (
        StepStatus.SUCCEEDED,
        {"summary": "short"},
        w.clock.now,
    )
    assert w.metrics.step_latencies == [(w.clock.now - started_at).total_seconds()]
    assert w.jobs(workflow_id)[0].state == JobState.SUCCEEDED and w.money_moved() == (2, 2)


# --- deadlines --------------------------------------------------------------------------------------


def past_the_deadline(w: World, workflow_id: str) -> None:
    deadline = w.step(workflow_id).poll_deadline
    assert deadline is not None
    w.clock.now = deadline + timedelta(seconds=1)


def test_a_paid_job_that_never_ends_gets_its_payment_once_more_then_times_out_keeping_the_receipt(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = running_paid_job(w, paid_agent)
    paid = w.step(workflow_id).txn_ids
    w.watch(workflow_id, token="look-1", wait_seconds=30)
    past_the_deadline(w, workflow_id)

    w.watch(workflow_id, token="look-2", wait_seconds=30)

    step = w.step(workflow_id)
    assert step.payment_redeliveries == 1 and step.status == StepStatus.RUNNING
    assert step.poll_deadline is not None
    assert (step.poll_deadline - w.clock.now).total_seconds() == w.settings.poll_deadline_seconds
    assert [s.txids for s in w.agents.submissions] == [tuple(paid), tuple(paid)]
    assert told(w, "look-2") == [{"status": "working", "wait_seconds": 2}]  # a new deadline: looks start over
    past_the_deadline(w, workflow_id)

    with pytest.raises(
        PollTimeout, match=f"did not finish within {w.settings.poll_deadline_seconds} seconds\\.$"
    ):
        w.watch(workflow_id, token="look-3", wait_seconds=2)

    assert len(w.agents.submissions) == 2  # once more, never a loop
    assert w.step(workflow_id).receipt is not None
    assert sorted(p.txid for p in w.payments(workflow_id)) == sorted(paid) and len(w.chain.confirmed) == 2
    # The state machine's Catch halts the run: failed, the payment kept for a resume.
    w.halt(workflow_id, 1, "failed", error="PollTimeout", cause="did not finish")
    halted = w.step(workflow_id)
    assert halted.status == StepStatus.FAILED and halted.receipt is not None
    assert w.metrics.agent_errors == [(paid_agent.id, "PollTimeout")] and w.metrics.failed == ["PollTimeout"]


def test_a_never_ending_job_whose_agent_refuses_the_payment_again_times_out_at_once(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = running_paid_job(w, paid_agent)
    w.watch(workflow_id, token="look-1")
    past_the_deadline(w, workflow_id)
    w.agents.payment_answers.append(agent_rejected(402, "no such payment"))
    with pytest.raises(PollTimeout, match=r"handing it the payment again did not help .*no such payment"):
        w.watch(workflow_id, token="look-2")
    assert w.step(workflow_id).payment_redeliveries == 1 and len(w.payments(workflow_id)) == 2


def test_a_free_job_that_never_ends_times_out_at_its_deadline(w: World, free_agent: AgentMetadata) -> None:
    workflow_id = running_free_job(w, free_agent)
    w.watch(workflow_id, token="look-1")
    past_the_deadline(w, workflow_id)
    with pytest.raises(PollTimeout):
        w.watch(workflow_id, token="look-2")
    assert w.agents.submissions == [] and w.step(workflow_id).payment_redeliveries == 0


# --- lost and failed jobs ---------------------------------------------------------------------------


def test_a_paid_job_the_agent_lost_gets_its_payment_again_and_the_job_goes_on(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = running_paid_job(w, paid_agent)
    w.agents.forget_job(agent_job(w, workflow_id))

    w.watch(workflow_id, token="look-1")  # 404: handed the payment again, which runs the job again

    step = w.step(workflow_id)
    assert step.status == StepStatus.RUNNING and step.payment_redeliveries == 1 and step.error is None
    assert len(w.agents.submissions) == 2 and len(w.payments(workflow_id)) == 2
    w.agents.set_job(agent_job(w, workflow_id), "succeeded", "at last")
    w.watch(workflow_id, token="look-2")
    assert w.step(workflow_id).output == "at last"


def test_a_paid_job_lost_twice_ends_with_agent_lost_job_naming_the_receipt(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = running_paid_job(w, paid_agent)
    step = w.step(workflow_id)
    w.agents.forget_job(agent_job(w, workflow_id))
    w.watch(workflow_id, token="look-1")
    w.agents.forget_job(agent_job(w, workflow_id))

    with pytest.raises(AgentLostJob) as lost:
        w.watch(workflow_id, token="look-2")

    message = lost.value.message
    assert message.startswith(f"Summarizer no longer knows job {step.agent_job_id} (")
    assert (
        f"The payment for step 1 is confirmed and kept (transactions {', '.join(step.txn_ids)}, round"
        in message
    )
    assert "(repay_steps: [1])" in message and ".." not in message
    assert lost.value.details == {"receipt_txn_ids": step.txn_ids}
    assert (
        len(w.agents.submissions) == 2 and len(w.payments(workflow_id)) == 2 and len(w.chain.confirmed) == 2
    )


def test_a_lost_paid_job_whose_agent_refuses_the_payment_again_says_so(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = running_paid_job(w, paid_agent)
    w.agents.forget_job(agent_job(w, workflow_id))
    w.agents.payment_answers.append(agent_unavailable(may_have_reached_agent=True))
    with pytest.raises(AgentLostJob, match="handing it the payment again did not help"):
        w.watch(workflow_id, token="look-1")


def test_a_lost_free_job_is_agent_lost_job_without_a_receipt(w: World, free_agent: AgentMetadata) -> None:
    workflow_id = running_free_job(w, free_agent)
    w.agents.forget_job(agent_job(w, workflow_id))
    with pytest.raises(AgentLostJob) as lost:
        w.watch(workflow_id, token="look-1")
    assert lost.value.details is None and "payment" not in lost.value.message
    assert w.agents.submissions == []


@pytest.mark.parametrize(
    "output, said",
    [
        ("out of memory.", "reported the job as failed: out of memory."),
        ({"error": "bad"}, '{"error": "bad"}'),
    ],
)
def test_a_paid_job_that_failed_twice_ends_with_agent_job_failed(
    w: World, paid_agent: AgentMetadata, output: Any, said: str
) -> None:
    workflow_id = running_paid_job(w, paid_agent)
    job = agent_job(w, workflow_id)
    w.agents.set_job(job, "failed", output)
    w.watch(workflow_id, token="look-1")  # handed the payment again: the agent runs it again
    assert w.step(workflow_id).payment_redeliveries == 1 and len(w.agents.submissions) == 2
    w.agents.set_job(job, "error", output)  # a foreign agent's word for failed

    with pytest.raises(AgentJobFailed) as failed:
        w.watch(workflow_id, token="look-2")

    assert said in failed.value.message and ".." not in failed.value.message
    assert failed.value.details == {"receipt_txn_ids": w.step(workflow_id).txn_ids}
    assert len(w.payments(workflow_id)) == 2 and len(w.chain.confirmed) == 2


def test_a_failed_free_job_fails_at_once(w: World, free_agent: AgentMetadata) -> None:
    workflow_id = running_free_job(w, free_agent)
    w.agents.set_job(agent_job(w, workflow_id), "failed", "x" * 900)
    with pytest.raises(AgentJobFailed) as failed:
        w.watch(workflow_id, token="look-1")
    assert "x" * 500 in failed.value.message and "x" * 501 not in failed.value.message


# --- hiccups ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hiccup", [agent_unavailable(), AgentProtocolError("not JSON")], ids=["unreachable", "garbled"]
)
def test_hiccups_are_tolerated_a_few_times_in_a_row(
    w: World, free_agent: AgentMetadata, hiccup: AgentUnavailable | AgentProtocolError
) -> None:
    workflow_id = running_free_job(w, free_agent)
    job = agent_job(w, workflow_id)
    w.agents.script_job(job, hiccup, hiccup, "running")
    w.watch(workflow_id, token="look-1")
    w.watch(workflow_id, token="look-2")
    assert w.step(workflow_id).poll_errors == 2
    assert w.metrics.agent_errors == [(free_agent.id, hiccup.code)] * 2
    w.watch(workflow_id, token="look-3")  # an answer again: the count starts over
    assert w.step(workflow_id).poll_errors == 0

    w.agents.script_job(job, hiccup)
    for look in range(w.settings.poll_max_errors - 1):
        w.watch(workflow_id, token=f"again-{look}")
    with pytest.raises(type(hiccup)):
        w.watch(workflow_id, token="the-last-straw")
    assert w.step(workflow_id).poll_errors == w.settings.poll_max_errors
    assert len(w.metrics.agent_errors) == 2 + w.settings.poll_max_errors - 1  # the halt counts the last


def test_an_agent_refusing_the_look_other_than_404_fails_the_look(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow_id = running_free_job(w, free_agent)
    w.agents.script_job(agent_job(w, workflow_id), agent_rejected(401, "bad access token"))
    with pytest.raises(AgentRejected, match="401"):
        w.watch(workflow_id, token="look-1")
    assert w.step(workflow_id).status == StepStatus.RUNNING


def test_an_agent_refusing_a_look_without_a_status_code_fails_the_look(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow_id = running_free_job(w, free_agent)
    w.agents.script_job(agent_job(w, workflow_id), AgentRejected("refused"))
    with pytest.raises(AgentRejected):
        w.watch(workflow_id, token="look-1")


# --- what a look may not do ---------------------------------------------------------------------------


def test_a_look_at_a_step_that_is_not_running_is_refused_unless_it_succeeded(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow_id = running_free_job(w, free_agent)
    w.put_step(workflow_id, 1, StepStatus.FAILED)
    with pytest.raises(InvalidState, match="is failed, not running"):
        w.watch(workflow_id, token="look-1")
    w.put_step(workflow_id, 1, StepStatus.SUCCEEDED)
    w.watch(workflow_id, token="look-2")
    assert told(w, "look-2") == [{"status": "succeeded", "wait_seconds": 2}]
    assert w.agents.looks == []


def test_a_look_of_a_superseded_or_cancelled_run_stops(w: World, free_agent: AgentMetadata) -> None:
    workflow_id = running_free_job(w, free_agent)
    task = WatchJobTask(workflow_id=workflow_id, step_number=1, attempt=1, task_token="old", wait_seconds=2)
    w.put_workflow(workflow_id, WorkflowStatus.RUNNING, attempt=2)
    with pytest.raises(WorkflowSuperseded, match="attempt 1 was superseded by attempt 2"):
        watch_job(w.deps, task)
    w.put_workflow(workflow_id, WorkflowStatus.CANCELLED, attempt=1)
    with pytest.raises(WorkflowCancelled):
        watch_job(w.deps, task)
    w.put_workflow(workflow_id, WorkflowStatus.COMPLETED)
    with pytest.raises(InvalidState, match="is completed, not running"):
        watch_job(w.deps, task)
    assert w.agents.looks == [] and w.step(workflow_id).task_token is None


def test_a_step_cancelled_while_the_agent_answered_is_not_marked_succeeded(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = running_paid_job(w, paid_agent)
    job = agent_job(w, workflow_id)
    answer = w.agents.job_status

    def answer_after_a_cancel(
        agent: AgentMetadata, *, job_id: str, access_token: str | None
    ) -> JobStatusResponse:
        cancel_workflow(w.deps, workflow_id, USER)  # the person cancels while the agent answers
        return answer(agent, job_id=job_id, access_token=access_token)

    w.agents.set_job(job, "succeeded", "too late")
    w.agents.job_status = answer_after_a_cancel  # type: ignore[method-assign]
    w.watch(workflow_id, token="look-1")
    step = w.step(workflow_id)
    assert (step.status, step.output) == (StepStatus.CANCELLED, None)
    assert w.metrics.step_latencies == [] and w.jobs(workflow_id)[0].state != JobState.SUCCEEDED
    assert told(w, "look-1") == []
    assert w.engine.failures == [("look-1", "WorkflowCancelled")]


# --- the API's poll and the agent's push --------------------------------------------------------------


def test_the_apis_poll_looks_once_and_wakes_the_waiting_look_when_the_job_ended(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = running_paid_job(w, paid_agent)
    w.watch(workflow_id, token="look-1")
    assert poll_step(w.deps, workflow_id, 1, USER).status == StepStatus.RUNNING
    w.agents.set_job(agent_job(w, workflow_id), "succeeded", "the summary")

    view = poll_step(w.deps, workflow_id, 1, USER)

    assert (view.status, view.output) == (StepStatus.SUCCEEDED, "the summary")
    assert told(w, "look-1") == [{"status": "succeeded", "wait_seconds": 2}]
    assert len(w.agents.looks) == 3


def test_the_apis_poll_of_a_step_that_is_not_running_asks_nobody(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    w.offer(workflow.workflow_id)
    assert poll_step(w.deps, workflow.workflow_id, 1, USER).status == StepStatus.AWAITING_PAYMENT
    assert w.agents.looks == []
    with pytest.raises(NotFound):
        poll_step(w.deps, workflow.workflow_id, 1, OTHER_USER)
    with pytest.raises(NotFound):
        poll_step(w.deps, workflow.workflow_id, 3, USER)


@pytest.mark.parametrize(
    "answer",
    [agent_unavailable(), agent_rejected(404), JobStatusResponse(status="failed", output="boom")],
    ids=["unreachable", "lost", "failed"],
)
def test_the_apis_poll_leaves_failures_to_the_state_machines_own_look(
    w: World, paid_agent: AgentMetadata, answer: Any
) -> None:
    workflow_id = running_paid_job(w, paid_agent)
    w.watch(workflow_id, token="look-1")
    before = w.step(workflow_id)
    w.agents.script_job(agent_job(w, workflow_id), answer)

    assert poll_step(w.deps, workflow_id, 1, USER).status == StepStatus.RUNNING

    after = w.step(workflow_id)
    assert (after.poll_errors, after.payment_redeliveries, after.error) == (0, 0, None)
    assert after.updated_at == before.updated_at
    assert len(w.agents.submissions) == 1 and w.engine.successes == [] and w.metrics.agent_errors == []
    assert w.money_moved() == (2, 2)


def test_a_look_from_outside_without_a_waiting_token_wakes_nothing(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = running_paid_job(w, paid_agent)  # StartJob's token is spent; no look waits yet
    w.agents.set_job(agent_job(w, workflow_id), "succeeded", "done")
    step = w.step(workflow_id)
    assert step.task_token is None
    assert look_and_wake(w.deps, w.workflow(workflow_id), step) is False
    assert w.step(workflow_id).status == StepStatus.SUCCEEDED and w.engine.successes == []
