"""Plan validation, costing, the retry-with-feedback loop, and the offline catalog planner."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from orchestrator.errors import PlanInvalid
from orchestrator.models import AgentMetadata, WorkflowPlan, WorkflowStep
from orchestrator.planner import plan_cost, plan_workflow, validate_plan
from orchestrator.planner.offline import OfflinePlanner, job_input_for

from devstack.agents import SAMPLE_AGENTS

CATALOG = [
    AgentMetadata(id="a", name="Agent A", status="active", price_microalgo=100),
    AgentMetadata(id="b", name="Agent B", status="inactive", price_microalgo=200),
    AgentMetadata(id="c", name="Agent C", status="active", price_microalgo=300),
]


def step(number: int, agent_id: str, input_data: dict[str, Any] | str = "", name: str = "") -> WorkflowStep:
    return WorkflowStep(step_number=number, agent_id=agent_id, agent_name=name, input_data=input_data)


def plan(*steps: WorkflowStep) -> WorkflowPlan:
    return WorkflowPlan(reasoning="test", steps=list(steps))


GOOD_PLAN = plan(step(1, "a", "{{user_message}}"), step(2, "c", {"from": "{{step_1_output.x}}"}))


# --- validate_plan / plan_cost -----------------------------------------------------------------


def test_valid_plan_has_no_reasons() -> None:
    assert validate_plan(GOOD_PLAN, CATALOG) == []
    assert validate_plan(GOOD_PLAN, CATALOG, max_steps=2, budget_microalgo=400) == []  # both limits exact


def test_validation_lists_every_reason_at_once() -> None:
    bad = plan(
        step(1, "ghost", "{{step_1_output}}"),
        step(2, "b", {"x": ["{{step_3_output}}", "{{step_0_output}}"]}),
        step(4, "c", "fine"),
    )
    reasons = validate_plan(bad, CATALOG, max_steps=2, budget_microalgo=400)
    assert reasons == [
        "The plan has 3 steps; at most 2 are allowed.",
        "Steps must be numbered 1..3 in order; got [1, 2, 4].",
        "Step 1: agent 'ghost' is not in the catalog.",
        "Step 1 refers to the output of step 1; a step may only use the outputs of earlier steps.",
        "Step 2: agent 'Agent B' is not active.",
        "Step 2 refers to step 0, which does not exist.",
        "Step 2 refers to the output of step 3; a step may only use the outputs of earlier steps.",
        "The plan costs 500 µAlgo, more than the budget of 400 µAlgo.",
    ]


def test_empty_plan_is_invalid() -> None:
    assert validate_plan(plan(), CATALOG) == ["The plan has no steps."]


def test_steps_out_of_order_are_invalid() -> None:
    reasons = validate_plan(plan(step(2, "a"), step(1, "c")), CATALOG)
    assert reasons == ["Steps must be numbered 1..2 in order; got [2, 1]."]


def test_default_limit_is_ten_steps() -> None:
    assert validate_plan(plan(*(step(n, "a") for n in range(1, 11))), CATALOG) == []
    assert validate_plan(plan(*(step(n, "a") for n in range(1, 12))), CATALOG) == [
        "The plan has 11 steps; at most 10 are allowed."
    ]


def test_plan_over_budget_by_one_microalgo_is_invalid() -> None:
    assert validate_plan(GOOD_PLAN, CATALOG, budget_microalgo=399) == [
        "The plan costs 400 µAlgo, more than the budget of 399 µAlgo."
    ]


def test_plan_cost_sums_catalog_prices_and_counts_unknown_agents_as_free() -> None:
    assert plan_cost(GOOD_PLAN, CATALOG) == 400
    assert plan_cost(plan(step(1, "a"), step(2, "a"), step(3, "ghost")), CATALOG) == 200
    assert plan_cost(plan(), CATALOG) == 0


# --- plan_workflow -----------------------------------------------------------------------------


class ScriptedPlanner:
    """Answers each call with the next scripted plan (or raises the next scripted error)."""

    def __init__(self, *outcomes: WorkflowPlan | PlanInvalid) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, list[AgentMetadata], list[str] | None]] = []

    def plan(
        self, user_message: str, catalog: list[AgentMetadata], feedback: list[str] | None = None
    ) -> WorkflowPlan:
        self.calls.append((user_message, catalog, None if feedback is None else list(feedback)))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, PlanInvalid):
            raise outcome
        return outcome


def test_plan_workflow_returns_a_valid_plan_and_its_cost_after_one_call() -> None:
    planner = ScriptedPlanner(GOOD_PLAN)
    result, cost = plan_workflow(planner, "do it", CATALOG)
    assert cost == 400
    assert [s.agent_id for s in result.steps] == ["a", "c"]
    assert result.reasoning == "test"
    assert planner.calls == [("do it", CATALOG, None)]


def test_plan_workflow_fills_agent_names_from_the_catalog() -> None:
    named_wrong = plan(step(1, "a", "x", name="whatever the model said"), step(2, "c", "{{step_1_output}}"))
    result, _ = plan_workflow(ScriptedPlanner(named_wrong), "do it", CATALOG)
    assert [s.agent_name for s in result.steps] == ["Agent A", "Agent C"]
    assert [s.input_data for s in result.steps] == ["x", "{{step_1_output}}"]


def test_plan_workflow_retries_once_with_the_reasons_as_feedback() -> None:
    bad = plan(step(1, "b"), step(2, "ghost"))
    planner = ScriptedPlanner(bad, GOOD_PLAN)
    result, cost = plan_workflow(planner, "do it", CATALOG, budget_microalgo=1000)
    assert cost == 400
    assert [s.agent_id for s in result.steps] == ["a", "c"]
    assert [call[2] for call in planner.calls] == [
        None,
        ["Step 1: agent 'Agent B' is not active.", "Step 2: agent 'ghost' is not in the catalog."],
    ]


def test_plan_workflow_passes_limits_to_validation() -> None:
    planner = ScriptedPlanner(GOOD_PLAN, plan(step(1, "a")))
    result, cost = plan_workflow(planner, "do it", CATALOG, max_steps=1, budget_microalgo=150)
    assert (len(result.steps), cost) == (1, 100)
    assert planner.calls[1][2] == [
        "The plan has 2 steps; at most 1 are allowed.",
        "The plan costs 400 µAlgo, more than the budget of 150 µAlgo.",
    ]


def test_plan_workflow_raises_plan_invalid_with_the_reasons_after_two_bad_plans() -> None:
    planner = ScriptedPlanner(plan(step(1, "ghost")), plan(step(1, "b")), GOOD_PLAN)
    with pytest.raises(PlanInvalid) as caught:
        plan_workflow(planner, "do it", CATALOG)
    assert caught.value.details == {"reasons": ["Step 1: agent 'Agent B' is not active."]}
    assert "Step 1: agent 'Agent B' is not active." in caught.value.message
    assert len(planner.calls) == 2
    assert planner.calls[1][2] == ["Step 1: agent 'ghost' is not in the catalog."]


def test_plan_workflow_re_raises_the_planners_own_refusal_after_two() -> None:
    first = PlanInvalid("nothing fits", details={"reasons": ["no agent does taxes"]})
    second = PlanInvalid("still nothing fits")
    planner = ScriptedPlanner(first, second, GOOD_PLAN)
    with pytest.raises(PlanInvalid) as caught:
        plan_workflow(planner, "do my taxes", CATALOG)
    assert caught.value is second
    assert [call[2] for call in planner.calls] == [None, ["no agent does taxes"]]


def test_plan_workflow_feeds_back_a_refusal_message_when_it_has_no_reasons() -> None:
    planner = ScriptedPlanner(PlanInvalid("try other words"), GOOD_PLAN)
    _, cost = plan_workflow(planner, "do it", CATALOG)
    assert cost == 400
    assert planner.calls[1][2] == ["try other words"]


def test_plan_workflow_after_a_refusal_then_a_bad_plan_reports_the_bad_plans_reasons() -> None:
    planner = ScriptedPlanner(PlanInvalid("no"), plan(step(1, "ghost")))
    with pytest.raises(PlanInvalid) as caught:
        plan_workflow(planner, "do it", CATALOG)
    assert caught.value.details == {"reasons": ["Step 1: agent 'ghost' is not in the catalog."]}


# --- the offline planner on the sample catalog -------------------------------------------------

SAMPLE_CATALOG = [AgentMetadata.model_validate(s.catalog_record()) for s in SAMPLE_AGENTS]
SEED_REQUEST = "I have a headache and runny nose and want a movie recommendation"
BY_NAME = {agent.name: agent for agent in SAMPLE_CATALOG}


def test_offline_planner_plans_the_seed_request_as_diagnosis_then_movies() -> None:
    result = OfflinePlanner().plan(SEED_REQUEST, SAMPLE_CATALOG)
    assert [s.agent_name for s in result.steps] == ["Medical Diagnosis Agent", "Movie Recommendation Agent"]
    assert [s.agent_id for s in result.steps] == [
        BY_NAME["Medical Diagnosis Agent"].id,
        BY_NAME["Movie Recommendation Agent"].id,
    ]
    assert [s.step_number for s in result.steps] == [1, 2]
    # The symptom checker's example input is {"symptoms": ...}; the movie agent's is plain text.
    assert result.steps[0].input_data == {"symptoms": "I have a headache and runny nose"}
    second_input = result.steps[1].input_data
    assert isinstance(second_input, str)
    assert "{{step_1_output}}" in second_input
    assert "movie recommendation" in second_input
    assert validate_plan(result, SAMPLE_CATALOG) == []


def test_offline_plan_for_the_seed_passes_plan_workflow_with_its_price() -> None:
    result, cost = plan_workflow(OfflinePlanner(), SEED_REQUEST, SAMPLE_CATALOG)
    assert cost == 500_000 + 300_000
    assert len(result.steps) == 2


def test_offline_planner_is_deterministic_for_any_catalog_order() -> None:
    planner = OfflinePlanner()
    expected = planner.plan(SEED_REQUEST, SAMPLE_CATALOG)
    assert planner.plan(SEED_REQUEST, SAMPLE_CATALOG) == expected
    for order in itertools.permutations(SAMPLE_CATALOG):
        assert planner.plan(SEED_REQUEST, list(order)) == expected


def test_offline_planner_chains_another_pair_of_sample_agents() -> None:
    result = OfflinePlanner().plan("summarize this text and then tell me the sentiment", SAMPLE_CATALOG)
    assert [s.agent_name for s in result.steps] == ["Text Summarizer Agent", "Sentiment Analysis Agent"]


def test_offline_planner_raises_plan_invalid_when_nothing_matches() -> None:
    with pytest.raises(PlanInvalid) as caught:
        OfflinePlanner().plan("Book me a flight to Lisbon", SAMPLE_CATALOG)
    assert caught.value.details == {"reasons": ["no agent in the catalog matches the request"]}


def test_offline_planner_never_chooses_an_inactive_agent() -> None:
    movies_id = BY_NAME["Movie Recommendation Agent"].id
    catalog = [
        a.model_copy(update={"status": "active" if a.id != movies_id else "inactive"}) for a in SAMPLE_CATALOG
    ]
    result = OfflinePlanner().plan(SEED_REQUEST, catalog)
    assert [s.agent_name for s in result.steps] == ["Medical Diagnosis Agent"]
    with pytest.raises(PlanInvalid):
        OfflinePlanner().plan("I want a movie recommendation", catalog)


def test_offline_planner_with_only_inactive_agents_finds_nothing() -> None:
    catalog = [a.model_copy(update={"status": "inactive"}) for a in SAMPLE_CATALOG]
    with pytest.raises(PlanInvalid):
        OfflinePlanner().plan(SEED_REQUEST, catalog)


def test_offline_planner_keeps_at_most_max_steps() -> None:
    result = OfflinePlanner(max_steps=1).plan(SEED_REQUEST, SAMPLE_CATALOG)
    assert [s.agent_name for s in result.steps] == ["Medical Diagnosis Agent"]


@pytest.mark.parametrize("status", ["pending", "deploying", "inactive", "failed", "deleted"])
def test_offline_planner_plans_with_active_agents_only(status: str) -> None:
    movies_id = BY_NAME["Movie Recommendation Agent"].id
    movies = BY_NAME["Movie Recommendation Agent"].model_copy(update={"status": status})
    catalog = [movies if a.id == movies_id else a for a in SAMPLE_CATALOG]
    with pytest.raises(PlanInvalid):
        OfflinePlanner().plan("I want a movie recommendation", catalog)
    shouting = movies.model_copy(update={"status": " Active "})  # the marketplace's word, however cased
    result = OfflinePlanner().plan("I want a movie recommendation", [shouting])
    assert [s.agent_id for s in result.steps] == [movies_id]


def test_offline_planner_matches_tags_and_category_name_and_description() -> None:
    catalog = [
        AgentMetadata(id="t", name="Alpha", status="active", price_microalgo=1, tags="horoscope, stars"),
        AgentMetadata(id="c", name="Beta", status="active", price_microalgo=1, category="Translation"),
        AgentMetadata(id="n", name="Weather Agent", status="active", price_microalgo=1),
        AgentMetadata(
            id="d", name="Delta", status="active", price_microalgo=1, description="Writes limericks."
        ),
    ]
    for request, expected in [
        ("read my horoscope", "t"),  # a tag (tags given as the comma string are words too)
        ("a translation into French", "c"),  # the category
        ("the weather tomorrow", "n"),  # the name
        ("write limericks", "d"),  # the description
    ]:
        assert [s.agent_id for s in OfflinePlanner().plan(request, catalog).steps] == [expected], request


# --- shaping each step's input the way the agent takes it ---------------------------------------

TEXT = "I have a headache"


def agent_with(example_input: str | None) -> AgentMetadata:
    return AgentMetadata(id="x", name="X", status="active", price_microalgo=1, example_input=example_input)


@pytest.mark.parametrize(
    ("example_input", "expected"),
    [
        ('{"text": "Some text.", "max_sentences": 2}', {"text": TEXT, "max_sentences": 2}),
        ('{"language": "fr", "query": "weather"}', {"language": "fr", "query": TEXT}),
        ('{"prompt": "p", "input": "i"}', {"prompt": TEXT, "input": "i"}),  # prompt before input
        ('{"message": "m", "text": "t"}', {"message": "m", "text": TEXT}),  # text before message
        ('{"mode": "fast", "userQuery": "q"}', {"mode": "fast", "userQuery": TEXT}),
        ('{"lang": "en", "input_text": "x"}', {"lang": "en", "input_text": TEXT}),
        ('  {"Text": "x"}  ', {"Text": TEXT}),
        ('{"symptoms": "headache", "age": 30}', {"symptoms": TEXT, "age": 30}),  # the first string field
        (
            '{"count": 3, "text": ["not", "a string"], "topic": "cats"}',
            {"count": 3, "text": ["not", "a string"], "topic": TEXT},
        ),
    ],
)
def test_json_object_example_input_gives_an_object_with_the_same_keys(
    example_input: str, expected: dict[str, Any]
) -> None:
    shaped = job_input_for(agent_with(example_input), TEXT)
    assert shaped == expected
    assert isinstance(shaped, dict) and list(shaped) == list(expected)  # the example's keys, in order


@pytest.mark.parametrize(
    "example_input",
    [None, "", "headache, runny nose", '"a JSON string"', '["a", "list"]', "42", "{broken", "{}", '{"n": 3}'],
)
def test_example_input_that_is_not_a_json_object_with_text_gives_plain_text(
    example_input: str | None,
) -> None:
    assert job_input_for(agent_with(example_input), TEXT) == TEXT


def test_offline_steps_take_the_shape_of_each_agents_example_input() -> None:
    catalog = [
        AgentMetadata(
            id="ask",
            name="Question Agent",
            status="active",
            price_microalgo=1,
            tags=["question", "answer"],
            example_input='{"query": "What is Algorand?", "max_words": 50}',
        ),
        AgentMetadata(
            id="poem",
            name="Poem Agent",
            status="active",
            price_microalgo=1,
            tags=["poem", "verse"],
            example_input='{"style": "haiku", "topic": "rain"}',
        ),
        AgentMetadata(
            id="tone",
            name="Tone Agent",
            status="active",
            price_microalgo=1,
            tags=["sentiment"],
            example_input="I loved it",
        ),
    ]
    result = OfflinePlanner().plan("answer my question then write a poem, then the sentiment", catalog)
    assert [s.input_data for s in result.steps] == [
        {"query": "answer my question", "max_words": 50},
        {"style": "write a poem\n\nPrevious step's output: {{step_1_output}}", "topic": "rain"},
        "the sentiment\n\nPrevious step's output: {{step_2_output}}",
    ]
    assert validate_plan(result, catalog) == []
    assert (
        OfflinePlanner().plan("answer my question then write a poem, then the sentiment", catalog[::-1])
        == result
    )


def test_offline_plan_on_the_sample_catalog_shapes_the_summarizers_input_like_its_example() -> None:
    result = OfflinePlanner().plan("summarize this text and then tell me the sentiment", SAMPLE_CATALOG)
    summarizer = BY_NAME["Text Summarizer Agent"]
    assert json.loads(summarizer.example_input or "")["max_sentences"] == 2
    assert result.steps[0].input_data == {"text": "summarize this text", "max_sentences": 2}
    assert result.steps[1].input_data == "tell me the sentiment\n\nPrevious step's output: {{step_1_output}}"
