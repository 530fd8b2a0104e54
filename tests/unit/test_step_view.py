"""The plan as the person sees it before Approve: each step's `input_preview` says in plain words what
its agent will get (issue 10: `{{step_1_output}}` and `{{user_message}}` leaked onto the page)."""

from __future__ import annotations

from orchestrator.models import AgentMetadata, StepRecord, WorkflowRecord
from orchestrator.planner.offline import OfflinePlanner
from orchestrator.services.views import step_view

from devstack.agents import SAMPLE_AGENTS

CATALOG = [AgentMetadata.model_validate(spec.catalog_record()) for spec in SAMPLE_AGENTS]
WALLET = "A" * 58


def planned(user_message: str) -> tuple[WorkflowRecord, list[StepRecord]]:
    plan = OfflinePlanner().plan(user_message, CATALOG)
    workflow = WorkflowRecord(
        workflow_id="wf-1", user_id="u-1", wallet_address=WALLET, user_message=user_message, plan=plan
    )
    steps = [
        StepRecord(
            id=f"s-{s.step_number}", workflow_id="wf-1", step_number=s.step_number, agent_id=s.agent_id
        )
        for s in plan.steps
    ]
    return workflow, steps


def test_each_step_says_what_its_agent_will_get_in_plain_words() -> None:
    workflow, steps = planned("I have a headache and runny nose and want a movie recommendation")
    views = [step_view(workflow, step) for step in steps]
    assert [v.input_preview for v in views] == [
        "symptoms: I have a headache and runny nose",
        "want a movie recommendation\n\nPrevious step's output: the output of step 1 (Medical Diagnosis Agent)",
    ]
    assert views[1].input_data == "want a movie recommendation\n\nPrevious step's output: {{step_1_output}}"


def test_the_person_s_text_stands_in_for_user_message() -> None:
    workflow, steps = planned("Recommend a funny movie")
    workflow = workflow.model_copy(
        update={
            "plan": workflow.plan.model_copy(
                update={
                    "steps": [
                        workflow.plan.steps[0].model_copy(
                            update={"input_data": {"mood": "{{user_message}}", "count": 2}}
                        )
                    ]
                }
            )
        }
    )
    view = step_view(workflow, steps[0])
    assert view.input_preview == "mood: Recommend a funny movie\ncount: 2"
    assert view.model_dump(mode="json")["input_preview"] == view.input_preview
