"""Use cases on whole workflows (services/workflows) on fakes: create plans with the hireable agents
only, approve within the budget, start and resume from the first unfinished step (a paid job its
agent could not deliver runs again only with the person's consent, its receipt kept), cancel, read."""

from __future__ import annotations

import uuid

import pytest
from orchestrator.engine import ExecutionInput
from orchestrator.errors import EngineUnavailable, InvalidState, NotFound, PlanInvalid, RepayConsentRequired
from orchestrator.models import AgentMetadata, ErrorInfo, StepRecord, StepStatus, WorkflowStatus
from orchestrator.schemas.api import ApproveRequest, CreateWorkflowRequest
from orchestrator.services.workflows import (
    approve_workflow,
    cancel_workflow,
    create_workflow,
    get_workflow,
    paid_job_is_over,
    start_workflow,
)

from tests.builders import (
    OTHER_USER,
    PRICE,
    USER,
    WALLET,
    World,
    hireable_agent,
    job_record,
    receipt,
    step_record,
)
from tests.fakes import FixedPlanner


def create(w: World, message: str = "summarize then translate", budget: int | None = None) -> str:
    request = CreateWorkflowRequest(user_message=message, wallet_address=WALLET, budget_microalgo=budget)
    return create_workflow(w.deps, request, USER).workflow_id


# --- create -------------------------------------------------------------------------------------------


def test_create_plans_with_the_hireable_agents_and_stores_the_plan(
    w: World, paid_agent: AgentMetadata, free_agent: AgentMetadata
) -> None:
    unpayable = w.add_agents(hireable_agent(name="No app", app_id=None))[0]
    w.planner.steps = [(paid_agent.id, "{{user_message}}"), (free_agent.id, {"text": "{{step_1_output}}"})]

    workflow_id = create(w, budget=PRICE)

    [asked] = w.planner.calls
    assert sorted(asked.catalog_ids) == sorted(
        [paid_agent.id, free_agent.id]
    )  # not the one that cannot be paid
    assert unpayable.id not in asked.catalog_ids and asked.budget_microalgo == PRICE
    workflow = w.workflow(workflow_id)
    assert (workflow.status, workflow.user_id, workflow.wallet_address) == (
        WorkflowStatus.PLANNED,
        USER,
        WALLET,
    )
    assert (workflow.total_cost_microalgo, workflow.budget_microalgo, workflow.attempt) == (PRICE, PRICE, 0)
    assert [s.agent_name for s in workflow.plan.steps] == ["Summarizer", "Translator"]
    steps = w.store.list_steps(workflow_id)
    assert [(s.step_number, s.agent_id, s.agent_name, s.price_microalgo, s.status) for s in steps] == [
        (1, paid_agent.id, "Summarizer", PRICE, StepStatus.PENDING),
        (2, free_agent.id, "Translator", 0, StepStatus.PENDING),
    ]
    assert w.metrics.created == 1
    view = get_workflow(w.deps, workflow_id, USER)
    assert view.steps[0].input_preview == "summarize then translate"


def test_create_without_a_hireable_agent_refuses_before_planning(w: World) -> None:
    w.add_agents(
        hireable_agent(name="Paused", status="paused"), hireable_agent(name="No address", agent_address=None)
    )
    with pytest.raises(PlanInvalid, match="no agent to plan with"):
        create(w)
    assert w.planner.calls == [] and w.metrics.created == 0
    assert w.store.list_user_workflows(USER, limit=5) == []


def test_a_planner_that_finds_no_plan_stores_nothing(w: World, paid_agent: AgentMetadata) -> None:
    w.deps.planner = FixedPlanner(error=PlanInvalid("I cannot plan this.", details={"reasons": ["vague"]}))
    with pytest.raises(PlanInvalid, match="I cannot plan this"):
        create(w)
    assert w.store.list_user_workflows(USER, limit=5) == [] and w.metrics.created == 0


# --- approve ------------------------------------------------------------------------------------------


def planned(w: World, agent: AgentMetadata, budget: int | None = None) -> str:
    w.planner.steps = [(agent.id, "{{user_message}}")]
    return create(w, budget=budget)


def test_approve_keeps_the_budget_given_at_create_unless_given_again(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = planned(w, paid_agent, budget=2 * PRICE)
    view = approve_workflow(w.deps, ApproveRequest(workflow_id=workflow_id), USER)
    assert (view.status, view.budget_microalgo) == (WorkflowStatus.APPROVED, 2 * PRICE)
    again = planned(w, paid_agent)
    assert (
        approve_workflow(
            w.deps, ApproveRequest(workflow_id=again, budget_microalgo=PRICE), USER
        ).budget_microalgo
        == PRICE
    )


def test_approve_refuses_a_plan_over_the_budget_a_second_approval_and_another_persons(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = planned(w, paid_agent)
    with pytest.raises(PlanInvalid, match="more than the budget") as over:
        approve_workflow(w.deps, ApproveRequest(workflow_id=workflow_id, budget_microalgo=PRICE - 1), USER)
    assert over.value.details == {"reasons": ["over budget"]}
    assert w.workflow(workflow_id).status == WorkflowStatus.PLANNED
    with pytest.raises(NotFound):
        approve_workflow(w.deps, ApproveRequest(workflow_id=workflow_id), OTHER_USER)
    approve_workflow(w.deps, ApproveRequest(workflow_id=workflow_id), USER)
    with pytest.raises(InvalidState, match="this one is approved"):
        approve_workflow(w.deps, ApproveRequest(workflow_id=workflow_id), USER)


# --- start and resume ---------------------------------------------------------------------------------


def test_start_runs_an_approved_workflow_from_its_first_step(w: World, paid_agent: AgentMetadata) -> None:
    workflow_id = planned(w, paid_agent)
    approve_workflow(w.deps, ApproveRequest(workflow_id=workflow_id), USER)

    view = start_workflow(w.deps, workflow_id, USER)

    assert (view.status, view.attempt, view.current_step) == (WorkflowStatus.RUNNING, 1, 1)
    assert w.engine.started == [ExecutionInput(workflow_id=workflow_id, start_step=1, attempt=1)]
    assert w.engine.start_names == [f"wf-{workflow_id}-1"]
    assert (
        w.workflow(workflow_id).execution_arn
        == f"arn:aws:states:us-east-1:000000000000:execution:workflow:wf-{workflow_id}-1"
    )


@pytest.mark.parametrize("status", [WorkflowStatus.PLANNED, WorkflowStatus.RUNNING, WorkflowStatus.COMPLETED])
def test_only_an_approved_failed_or_cancelled_workflow_is_started(
    w: World, paid_agent: AgentMetadata, status: WorkflowStatus
) -> None:
    workflow = w.add_workflow([paid_agent], status=status)
    with pytest.raises(InvalidState, match=f"this one is {status.value}"):
        start_workflow(w.deps, workflow.workflow_id, USER)
    with pytest.raises(NotFound):
        start_workflow(w.deps, workflow.workflow_id, OTHER_USER)
    assert w.engine.started == []


def test_a_workflow_whose_every_step_succeeded_is_not_started_again(
    w: World, free_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([free_agent], status=WorkflowStatus.FAILED, step_status=StepStatus.SUCCEEDED)
    with pytest.raises(InvalidState, match="Every step of this workflow has already succeeded"):
        start_workflow(w.deps, workflow.workflow_id, USER)


def test_a_resume_starts_at_the_first_unfinished_step_and_keeps_its_job(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent, paid_agent])
    w.offer(workflow.workflow_id, 1)
    w.pay(workflow.workflow_id, 1)
    w.finish(workflow.workflow_id, 1, output="one")
    w.put_workflow(workflow.workflow_id, WorkflowStatus.RUNNING, current_step=2)
    offered = w.offer(workflow.workflow_id, 2, token="start-2")
    w.halt(workflow.workflow_id, 2, "payment_timeout", error="States.Timeout")

    view = start_workflow(w.deps, workflow.workflow_id, USER)

    assert (view.status, view.attempt, view.current_step, view.error) == (WorkflowStatus.RUNNING, 2, 2, None)
    assert w.engine.started[-1] == ExecutionInput(workflow_id=workflow.workflow_id, start_step=2, attempt=2)
    first, second = w.store.list_steps(workflow.workflow_id)
    assert (first.status, first.output) == (StepStatus.SUCCEEDED, "one")  # never run or paid again
    assert (second.status, second.error, second.task_token, second.poll_deadline) == (
        StepStatus.PENDING,
        None,
        None,
        None,
    )
    # Its offer is kept: a payment for it, even late, is delivered rather than asked for again.
    assert (second.job_id, second.txn_ids) == (offered.job_id, offered.txn_ids)
    assert w.money_moved() == (2, 2)  # step 1's payment only


def lost_paid_step(w: World, agent: AgentMetadata) -> str:
    """A failed workflow whose only step was paid for a job its agent lost."""
    paid = receipt(PRICE, 2000, txn_ids=["A" * 52, "B" * 52])
    lost = ErrorInfo(code="AgentLostJob", message="the agent lost the job")
    workflow_id = str(uuid.uuid4())
    job = job_record(workflow_id, 1, "J1", agent_id=agent.id, txn_ids=paid.txn_ids)
    workflow = w.add_workflow(
        [agent],
        workflow_id=workflow_id,
        status=WorkflowStatus.FAILED,
        step_fields={
            1: {
                "status": StepStatus.FAILED,
                "receipt": paid,
                "error": lost,
                "agent_job_id": "J1",
                "txn_ids": paid.txn_ids,
                "payment_redeliveries": 1,
                "output": "partial",
                "earlier_receipts": [receipt(PRICE, 2000, txn_ids=["C" * 52])],
            }
        },
    )
    w.store.record_job(job)  # the step points at its job row once the row exists
    w.put_step(workflow.workflow_id, 1, StepStatus.FAILED, job_id=job.job_id)
    return workflow.workflow_id


def test_a_paid_job_its_agent_could_not_deliver_runs_again_only_with_consent(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id = lost_paid_step(w, paid_agent)
    before = w.step(workflow_id)
    assert paid_job_is_over(before)

    with pytest.raises(RepayConsentRequired, match="repay_steps: \\[1\\]") as refused:
        start_workflow(w.deps, workflow_id, USER)
    assert refused.value.details == {"repay_steps": [1]}
    with pytest.raises(RepayConsentRequired):
        start_workflow(w.deps, workflow_id, USER, repay_steps=[2])
    assert w.engine.started == [] and w.step(workflow_id) == before

    start_workflow(w.deps, workflow_id, USER, repay_steps=[1])

    step = w.step(workflow_id)
    assert (step.status, step.job_id, step.agent_job_id, step.txn_ids, step.receipt) == (
        StepStatus.PENDING,
        None,
        None,
        [],
        None,
    )
    assert step.earlier_receipts == [*before.earlier_receipts, before.receipt]  # every receipt kept
    assert (step.payment_redeliveries, step.output, step.error) == (0, None, None)
    assert w.engine.started == [ExecutionInput(workflow_id=workflow_id, start_step=1, attempt=2)]


def test_paid_job_is_over_only_for_a_failed_paid_step_whose_agent_lost_or_failed_it() -> None:
    paid = receipt(PRICE)
    base = step_record("w", 1, "a", status=StepStatus.FAILED, receipt=paid)
    lost = ErrorInfo(code="AgentJobFailed", message="failed")
    assert paid_job_is_over(base.model_copy(update={"error": lost}))
    assert not paid_job_is_over(base)  # no error
    assert not paid_job_is_over(base.model_copy(update={"error": lost, "receipt": None}))  # never paid
    assert not paid_job_is_over(
        base.model_copy(update={"error": ErrorInfo(code="PollTimeout", message="slow")})
    )
    assert not paid_job_is_over(base.model_copy(update={"error": lost, "status": StepStatus.RUNNING}))


def test_an_engine_that_cannot_start_the_execution_fails_the_workflow(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent], status=WorkflowStatus.APPROVED, attempt=0)
    w.engine.start_error = EngineUnavailable("The workflow engine could not start the execution: throttled")
    with pytest.raises(EngineUnavailable):
        start_workflow(w.deps, workflow.workflow_id, USER)
    failed = w.workflow(workflow.workflow_id)
    assert failed.status == WorkflowStatus.FAILED and failed.error is not None
    assert (failed.error.code, failed.attempt) == ("EngineUnavailable", 1)
    assert w.metrics.failed == ["EngineUnavailable"]
    # Resumable: the next start is attempt 2.
    w.engine.start_error = None
    assert start_workflow(w.deps, workflow.workflow_id, USER).attempt == 2


def test_an_engine_failure_after_a_cancel_won_counts_nothing(
    w: World, paid_agent: AgentMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = w.add_workflow([paid_agent], status=WorkflowStatus.APPROVED, attempt=0)

    def cancelled_then_refused(name: str, execution_input: ExecutionInput) -> str:
        cancel_workflow(w.deps, workflow.workflow_id, USER)
        raise EngineUnavailable("throttled")

    monkeypatch.setattr(w.engine, "start_execution", cancelled_then_refused)
    with pytest.raises(EngineUnavailable):
        start_workflow(w.deps, workflow.workflow_id, USER)
    assert w.workflow(workflow.workflow_id).status == WorkflowStatus.CANCELLED and w.metrics.failed == []


def test_a_workflow_started_twice_at_once_starts_one_execution(
    w: World, paid_agent: AgentMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = w.add_workflow([paid_agent], status=WorkflowStatus.APPROVED, attempt=0)
    list_steps = w.store.list_steps
    others: list[str] = []

    def another_start_meanwhile(workflow_id: str) -> list[StepRecord]:
        steps = list_steps(workflow_id)
        if not others:
            others.append("the other start")
            start_workflow(w.deps, workflow_id, USER)
        return steps

    monkeypatch.setattr(w.store, "list_steps", another_start_meanwhile)
    with pytest.raises(InvalidState, match="changed while it was being started"):
        start_workflow(w.deps, workflow.workflow_id, USER)
    assert len(w.engine.started) == 1 and w.workflow(workflow.workflow_id).attempt == 1


def test_a_cancel_that_wins_before_the_execution_is_recorded_is_what_the_start_answers(
    w: World, paid_agent: AgentMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = w.add_workflow([paid_agent], status=WorkflowStatus.APPROVED, attempt=0)
    start = w.engine.start_execution

    def cancelled_meanwhile(name: str, execution_input: ExecutionInput) -> str:
        arn = start(name, execution_input)
        cancel_workflow(w.deps, workflow.workflow_id, USER)
        return arn

    monkeypatch.setattr(w.engine, "start_execution", cancelled_meanwhile)
    view = start_workflow(w.deps, workflow.workflow_id, USER)
    assert view.status == WorkflowStatus.CANCELLED and w.workflow(workflow.workflow_id).execution_arn is None


# --- cancel and read ------------------------------------------------------------------------------------


def test_cancel_stops_the_run_and_fails_the_tokens_that_wait(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent, paid_agent])
    w.offer(workflow.workflow_id, 1, token="start-1")

    view = cancel_workflow(w.deps, workflow.workflow_id, USER)

    assert view.status == WorkflowStatus.CANCELLED and view.error is not None
    assert view.error.code == "WorkflowCancelled"
    assert [s.status for s in view.steps] == [StepStatus.CANCELLED, StepStatus.PENDING]
    assert w.engine.failures == [("start-1", "WorkflowCancelled")]
    assert w.step(workflow.workflow_id).task_token is None


def test_cancel_stops_a_pending_current_step_and_nothing_waits(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([free_agent, free_agent])
    view = cancel_workflow(w.deps, workflow.workflow_id, USER)
    assert [s.status for s in view.steps] == [StepStatus.CANCELLED, StepStatus.PENDING]
    assert w.engine.failures == []


def test_a_finished_or_another_persons_workflow_is_not_cancelled(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([free_agent], status=WorkflowStatus.COMPLETED, step_status=StepStatus.SUCCEEDED)
    with pytest.raises(InvalidState, match="A completed workflow cannot be cancelled"):
        cancel_workflow(w.deps, workflow.workflow_id, USER)
    with pytest.raises(NotFound):
        cancel_workflow(w.deps, workflow.workflow_id, OTHER_USER)
    assert w.workflow(workflow.workflow_id).status == WorkflowStatus.COMPLETED


def test_get_shows_a_workflow_to_its_owner_only(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    w.offer(workflow.workflow_id)
    view = get_workflow(w.deps, workflow.workflow_id, USER)
    assert view.workflow_id == workflow.workflow_id and view.steps[0].status == StepStatus.AWAITING_PAYMENT
    assert view.steps[0].unsigned_group_txns == w.step(workflow.workflow_id).unsigned_group_txns
    assert view.explorer_txn_url == w.settings.explorer_txn_url
    for user in (OTHER_USER, ""):
        with pytest.raises(NotFound):
            get_workflow(w.deps, workflow.workflow_id, user)


def test_a_long_poll_whose_reads_are_slow_ends_at_its_deadline(w: World, paid_agent: AgentMetadata) -> None:
    from orchestrator.services.views import view_etag
    from orchestrator.services.workflows import watch_workflow

    workflow = w.add_workflow([paid_agent])
    etag = view_etag(get_workflow(w.deps, workflow.workflow_id, USER))

    def slow_sleep(seconds: float) -> None:  # each wait and read takes thrice as long
        w.clock.advance(3 * seconds)

    w.deps.sleep = slow_sleep
    found = watch_workflow(w.deps, workflow.workflow_id, USER, if_none_match=etag, wait_seconds=3)
    assert found.view is None and found.etag == etag
    assert w.clock.elapsed == pytest.approx(3 * 0.5 * 2)  # two waits of half a second, then past the deadline
