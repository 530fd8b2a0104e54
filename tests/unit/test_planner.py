"""Plan validation, costing, the retry-with-feedback loop, and the offline catalog planner."""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

import pytest
from orchestrator.errors import NoAgentFits, PlanInvalid
from orchestrator.models import AgentMetadata, PlannedStep, WorkflowPlan
from orchestrator.planner import plan_cost, plan_workflow, validate_plan
from orchestrator.planner.offline import OfflinePlanner, closest_agents, job_input_for

from devstack.agents import SAMPLE_AGENTS

CATALOG = [
    AgentMetadata(id="a", name="Agent A", status="active", price_microalgo=100),
    AgentMetadata(id="b", name="Agent B", status="inactive", price_microalgo=200),
    AgentMetadata(id="c", name="Agent C", status="active", price_microalgo=300),
]


def step(number: int, agent_id: str, input_data: dict[str, Any] | str = "", name: str = "") -> PlannedStep:
    return PlannedStep(step_number=number, agent_id=agent_id, agent_name=name, input_data=input_data)


def plan(*steps: PlannedStep) -> WorkflowPlan:
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
        self.budgets: list[int | None] = []

    def plan(
        self,
        user_message: str,
        catalog: list[AgentMetadata],
        feedback: list[str] | None = None,
        *,
        budget_microalgo: int | None = None,
    ) -> WorkflowPlan:
        self.calls.append((user_message, catalog, None if feedback is None else list(feedback)))
        self.budgets.append(budget_microalgo)
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


COULD_NOT_USE = (
    "The planner's answer could not be used as a plan. Nothing was saved; try again, or put the "
    "request in other words."
)


def test_plan_workflow_after_two_bad_plans_tells_the_person_and_logs_the_reasons(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Changed in issue 10: the reasons (an agent "not in the catalog", ...) went into the person's
    # message; now they go back to the planner and to the logs, and the person reads a sentence.
    planner = ScriptedPlanner(plan(step(1, "ghost")), plan(step(1, "b")), GOOD_PLAN)
    with caplog.at_level(logging.WARNING), pytest.raises(PlanInvalid) as caught:
        plan_workflow(planner, "do it", CATALOG)
    assert caught.value.code == "PlanInvalid"
    assert caught.value.message == COULD_NOT_USE
    assert caught.value.details is None
    assert len(planner.calls) == 2
    assert planner.calls[1][2] == ["Step 1: agent 'ghost' is not in the catalog."]
    [logged] = [r for r in caplog.records if r.getMessage() == "planning failed: the plan was rejected twice"]
    assert logged.reasons == ["Step 1: agent 'Agent B' is not active."]  # type: ignore[attr-defined]


def test_plan_workflow_after_two_refusals_answers_with_the_planners_sentence_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = PlanInvalid("nothing fits", details={"reasons": ["no agent does taxes"]})
    second = PlanInvalid(
        "still nothing fits", details={"reasons": ["Invalid JSON: expected value at line 1"]}
    )
    planner = ScriptedPlanner(first, second, GOOD_PLAN)
    with caplog.at_level(logging.WARNING), pytest.raises(PlanInvalid) as caught:
        plan_workflow(planner, "do my taxes", CATALOG)
    assert (caught.value.message, caught.value.details) == ("still nothing fits", None)
    assert [call[2] for call in planner.calls] == [None, ["no agent does taxes"]]
    [logged] = [r for r in caplog.records if r.getMessage() == "planning failed: the planner gave no plan"]
    assert logged.reasons == ["Invalid JSON: expected value at line 1"]  # type: ignore[attr-defined]


def test_plan_workflow_feeds_back_a_refusal_message_when_it_has_no_reasons() -> None:
    planner = ScriptedPlanner(PlanInvalid("try other words"), GOOD_PLAN)
    _, cost = plan_workflow(planner, "do it", CATALOG)
    assert cost == 400
    assert planner.calls[1][2] == ["try other words"]


def test_plan_workflow_after_a_refusal_then_a_bad_plan_answers_for_the_bad_plan() -> None:
    planner = ScriptedPlanner(PlanInvalid("no"), plan(step(1, "ghost")))
    with pytest.raises(PlanInvalid) as caught:
        plan_workflow(planner, "do it", CATALOG)
    assert (caught.value.message, caught.value.details) == (COULD_NOT_USE, None)


def test_plan_workflow_hands_the_budget_to_the_planner_on_every_try() -> None:
    planner = ScriptedPlanner(plan(step(1, "ghost")), GOOD_PLAN)
    plan_workflow(planner, "do it", CATALOG, budget_microalgo=1000)
    assert planner.budgets == [1000, 1000]
    unlimited = ScriptedPlanner(GOOD_PLAN)
    plan_workflow(unlimited, "do it", CATALOG)
    assert unlimited.budgets == [None]


def test_a_plan_over_the_budget_twice_says_so_in_algo() -> None:
    planner = ScriptedPlanner(GOOD_PLAN, GOOD_PLAN)
    with pytest.raises(PlanInvalid) as caught:
        plan_workflow(planner, "do it", CATALOG, budget_microalgo=250)
    assert caught.value.message == (
        "The plan the planner found costs 0.0004 ALGO, more than your budget of 0.00025 ALGO. "
        "Raise the budget, or ask for less."
    )
    assert caught.value.details == {
        "reasons": ["The plan costs 400 µAlgo, more than the budget of 250 µAlgo."],
        "cost_microalgo": 400,
        "budget_microalgo": 250,
    }


def test_a_plan_with_too_many_steps_twice_says_to_ask_for_less() -> None:
    planner = ScriptedPlanner(GOOD_PLAN, GOOD_PLAN)
    with pytest.raises(PlanInvalid) as caught:
        plan_workflow(planner, "do it", CATALOG, max_steps=1)
    assert caught.value.message == (
        "This request needs more than 1 steps, the most a workflow may have. Ask for fewer things at once."
    )
    assert caught.value.details == {
        "reasons": ["The plan has 2 steps; at most 1 are allowed."],
        "max_steps": 1,
    }


# --- no agent fits: the closest ones are named -------------------------------------------------


def test_no_fit_ends_planning_at_once_and_names_the_closest_agents() -> None:
    planner = ScriptedPlanner(NoAgentFits("none", details={"reasons": ["the model: nothing does taxes"]}))
    with pytest.raises(NoAgentFits) as caught:
        plan_workflow(planner, "file my tax return and tell me its mood in a summary", SAMPLE_CATALOG)
    assert len(planner.calls) == 1  # asking again would not change the catalog
    error = caught.value
    assert error.code == "PlanInvalid" and error.http_status == 422
    closest = error.details["closest_agents"]
    assert [agent["name"] for agent in closest] == [
        "Text Summarizer Agent",
        "Sentiment Analysis Agent",
        "Movie Recommendation Agent",
    ]
    assert closest[0] == {
        "id": BY_NAME["Text Summarizer Agent"].id,
        "name": "Text Summarizer Agent",
        "description": BY_NAME["Text Summarizer Agent"].description,
    }
    assert set(error.details) == {"closest_agents"}  # what the planner said is for the logs
    assert error.message == (
        "No agent in the catalog can do this. The closest are Text Summarizer Agent, Sentiment Analysis "
        "Agent and Movie Recommendation Agent: ask for what one of them does, in its words, or see the "
        "list of agents."
    )
    assert error.to_dict()["code"] == "PlanInvalid"


def test_the_offline_no_fit_names_the_closest_agents_through_plan_workflow() -> None:
    with pytest.raises(NoAgentFits) as caught:
        plan_workflow(OfflinePlanner(), "Book me a flight to Lisbon", SAMPLE_CATALOG)
    closest = caught.value.details["closest_agents"]
    assert len(closest) == 3
    assert all(agent["name"] in caught.value.message for agent in closest)


def test_closest_agents_with_one_agent_and_with_inactive_ones() -> None:
    only = [BY_NAME["Recipe Suggestion Agent"]]
    assert closest_agents("fly me to the moon", only) == only
    inactive = [a.model_copy(update={"status": "inactive"}) for a in SAMPLE_CATALOG]
    assert closest_agents("a movie", [*inactive, *only]) == only
    with pytest.raises(NoAgentFits) as caught:
        plan_workflow(OfflinePlanner(), "fly me to the moon", only)
    assert caught.value.message.startswith(
        "No agent in the catalog can do this. The closest is Recipe Suggestion Agent: ask for what it does"
    )


def test_closest_agents_ranks_by_shared_words_then_by_letters() -> None:
    assert closest_agents("I want a film", SAMPLE_CATALOG, limit=1) == [BY_NAME["Movie Recommendation Agent"]]
    # "summery" shares no word with any record; its letters are closest to the summarizer's.
    assert closest_agents("a summery", SAMPLE_CATALOG, limit=1) == [BY_NAME["Text Summarizer Agent"]]


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


# --- keeping every part of the request (issue 10) -----------------------------------------------

REVIEW = (
    "The pasta was cold, the waiter ignored us for twenty minutes, and the dessert was the only good part."
)


def inputs(request: str) -> list[tuple[str, dict[str, Any] | str]]:
    return [(s.agent_name, s.input_data) for s in OfflinePlanner().plan(request, SAMPLE_CATALOG).steps]


def test_the_text_after_a_colon_goes_whole_to_each_task_before_it() -> None:
    # The old planner sent "Summarize this review" to the summarizer and a cut clause to the sentiment agent.
    assert inputs(f"Summarize this review and tell me its sentiment: {REVIEW}") == [
        ("Text Summarizer Agent", {"text": REVIEW, "max_sentences": 2}),
        ("Sentiment Analysis Agent", REVIEW),  # a sibling on the same text: no chain
    ]


def test_an_agent_that_does_not_take_a_text_gets_the_instruction_with_the_content() -> None:
    assert inputs(
        "Check my symptoms: sore throat, a mild fever and a blocked nose. Then recommend a film."
    ) == [
        (
            "Medical Diagnosis Agent",
            {"symptoms": "Check my symptoms: sore throat, a mild fever and a blocked nose."},
        ),
        ("Movie Recommendation Agent", "recommend a film\n\nPrevious step's output: {{step_1_output}}"),
    ]


def test_a_mood_stays_with_the_movie_it_is_for() -> None:
    assert inputs("I feel sad and lonely; recommend a movie to cheer me up") == [
        ("Movie Recommendation Agent", "I feel sad and lonely; recommend a movie to cheer me up")
    ]
    # Said after the symptoms, the mood still goes to the movie agent, not the symptom checker.
    assert inputs(
        "I have a fever and a cough and I feel really down. Can you check my symptoms and recommend a film?"
    ) == [
        ("Medical Diagnosis Agent", {"symptoms": "I have a fever and a cough; Can you check my symptoms"}),
        (
            "Movie Recommendation Agent",
            "I feel really down; recommend a film\n\nPrevious step's output: {{step_1_output}}",
        ),
    ]


def test_every_ingredient_of_a_list_is_kept() -> None:
    assert inputs("What can I cook with chicken, rice and garlic?") == [
        ("Recipe Suggestion Agent", "What can I cook with chicken, rice and garlic")
    ]


def test_quoted_text_is_the_text_and_is_not_cut() -> None:
    assert inputs('Is this positive or negative? "Worst airline ever, lost my bag. And nobody cares."') == [
        ("Sentiment Analysis Agent", "Worst airline ever, lost my bag. And nobody cares.")
    ]


def test_a_sentence_pointing_at_the_text_below_takes_it_and_a_count_sets_the_option() -> None:
    text = "The council met on Tuesday. It agreed to build a park. Work starts in May and ends in June."
    assert inputs(f"Summarize the following text in three sentences.\n{text}") == [
        ("Text Summarizer Agent", {"text": text, "max_sentences": 3})
    ]
    assert inputs(f"Summarize this in 1 sentence: {text}") == [
        ("Text Summarizer Agent", {"text": text, "max_sentences": 1})
    ]


def test_a_colon_after_no_task_is_not_content() -> None:
    assert inputs("Here is my day: I have a headache and want a movie recommendation") == [
        ("Medical Diagnosis Agent", {"symptoms": "Here is my day: I have a headache"}),
        (
            "Movie Recommendation Agent",
            "want a movie recommendation\n\nPrevious step's output: {{step_1_output}}",
        ),
    ]


def test_content_ends_only_at_a_sentence_that_starts_a_new_task() -> None:
    assert inputs(
        "Summarize this text: The meeting ran long. Then everyone left. Then recommend a movie."
    ) == [
        ("Text Summarizer Agent", {"text": "The meeting ran long. Then everyone left.", "max_sentences": 2}),
        ("Movie Recommendation Agent", "recommend a movie\n\nPrevious step's output: {{step_1_output}}"),
    ]
