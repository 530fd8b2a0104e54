"""Step input templating: `{{step_N_output}}`, `{{step_N_output.path}}` and `{{user_message}}`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from orchestrator.errors import StepInputError
from orchestrator.templating import input_preview, referenced_steps, render_job_input, resolve_input

USER_MESSAGE = "I have a headache and want a movie"
DIAGNOSIS = {
    "condition": "cold",
    "advice": ["rest", "fluids"],
    "confidence": 0.8,
    "detail": {"severity": "mild"},
}


def test_whole_value_reference_returns_the_output_itself() -> None:
    resolved = resolve_input("{{step_1_output}}", {1: DIAGNOSIS}, USER_MESSAGE)
    assert resolved == DIAGNOSIS
    assert isinstance(resolved, dict)


def test_whole_value_reference_tolerates_surrounding_and_inner_whitespace() -> None:
    assert resolve_input("  {{ step_2_output }}\n", {2: [1, 2]}, USER_MESSAGE) == [1, 2]


@pytest.mark.parametrize("output", [0, False, "", [], 3.5])
def test_whole_value_reference_keeps_falsy_and_scalar_outputs(output: Any) -> None:
    resolved = resolve_input("{{step_1_output}}", {1: output}, USER_MESSAGE)
    assert resolved == output
    assert type(resolved) is type(output)


def test_string_output_embedded_in_text_is_inserted_as_is() -> None:
    resolved = resolve_input("Diagnosis: {{step_1_output}}. Pick a film.", {1: 'a "cold"'}, USER_MESSAGE)
    assert resolved == 'Diagnosis: a "cold". Pick a film.'


def test_dict_output_embedded_in_text_is_inserted_as_json() -> None:
    output = {"condition": "grippe", "note": "très fatigué"}
    resolved = resolve_input("Based on {{step_1_output}}", {1: output}, USER_MESSAGE)
    assert resolved == 'Based on {"condition": "grippe", "note": "très fatigué"}'
    assert json.loads(resolved.removeprefix("Based on ")) == output


def test_several_references_in_one_text_are_all_replaced() -> None:
    resolved = resolve_input(
        "{{user_message}} | {{step_1_output.condition}} | {{step_2_output}} | {{step_1_output.confidence}}",
        {1: DIAGNOSIS, 2: ["Paddington"]},
        USER_MESSAGE,
    )
    assert resolved == f'{USER_MESSAGE} | cold | ["Paddington"] | 0.8'


def test_path_steps_into_dicts() -> None:
    assert resolve_input("{{step_1_output.condition}}", {1: DIAGNOSIS}, USER_MESSAGE) == "cold"
    assert resolve_input("{{step_1_output.detail.severity}}", {1: DIAGNOSIS}, USER_MESSAGE) == "mild"
    assert resolve_input("{{step_1_output.detail}}", {1: DIAGNOSIS}, USER_MESSAGE) == {"severity": "mild"}


def test_path_steps_into_lists_by_index() -> None:
    assert resolve_input("{{step_1_output.advice.1}}", {1: DIAGNOSIS}, USER_MESSAGE) == "fluids"
    assert resolve_input("{{step_3_output.0.title}}", {3: [{"title": "Up"}]}, USER_MESSAGE) == "Up"


def test_path_steps_into_json_given_as_text() -> None:
    outputs = {1: json.dumps(DIAGNOSIS)}
    assert resolve_input("{{step_1_output.condition}}", outputs, USER_MESSAGE) == "cold"
    assert resolve_input("{{step_1_output.advice.0}}", outputs, USER_MESSAGE) == "rest"
    nested_text = {1: {"result": json.dumps({"genre": "comedy"})}}
    assert resolve_input("{{step_1_output.result.genre}}", nested_text, USER_MESSAGE) == "comedy"


def test_path_names_may_hold_dashes_and_underscores() -> None:
    outputs = {1: {"top-pick": {"movie_title": "Amélie"}}}
    assert resolve_input("{{step_1_output.top-pick.movie_title}}", outputs, USER_MESSAGE) == "Amélie"


def test_user_message_is_replaced_whole_and_embedded() -> None:
    assert resolve_input("{{user_message}}", {}, USER_MESSAGE) == USER_MESSAGE
    assert resolve_input("Request: {{ user_message }}!", {}, USER_MESSAGE) == f"Request: {USER_MESSAGE}!"


def test_nested_dict_and_list_inputs_are_resolved_everywhere() -> None:
    input_data = {
        "symptoms": "{{step_1_output.condition}}",
        "context": {"asked": "{{user_message}}", "all": ["{{step_1_output.advice}}", "n={{step_2_output}}"]},
        "count": 3,
        "flag": None,
    }
    resolved = resolve_input(input_data, {1: DIAGNOSIS, 2: 5}, USER_MESSAGE)
    assert resolved == {
        "symptoms": "cold",
        "context": {"asked": USER_MESSAGE, "all": [["rest", "fluids"], "n=5"]},
        "count": 3,
        "flag": None,
    }
    assert input_data["symptoms"] == "{{step_1_output.condition}}"  # the input is not modified


def test_text_without_references_is_unchanged() -> None:
    text = "Use {single braces} and {{ not_a_reference }} and {{step_x_output}}"
    assert resolve_input(text, {}, USER_MESSAGE) == text
    assert resolve_input(7, {}, USER_MESSAGE) == 7


def test_reference_to_a_step_without_output_raises_step_input_error() -> None:
    with pytest.raises(StepInputError) as caught:
        resolve_input("Use {{step_2_output}}", {1: "x"}, USER_MESSAGE)
    assert "step 2" in caught.value.message
    assert caught.value.code == "StepInputError"


def test_reference_to_a_none_output_raises_step_input_error() -> None:
    with pytest.raises(StepInputError):
        resolve_input("{{step_1_output}}", {1: None}, USER_MESSAGE)


def test_missing_reference_deep_inside_a_structure_raises() -> None:
    with pytest.raises(StepInputError):
        resolve_input({"a": [{"b": "{{step_4_output}}"}]}, {1: "x"}, USER_MESSAGE)


@pytest.mark.parametrize(
    ("reference", "named_path"),
    [
        ("{{step_1_output.diagnosis}}", "step_1_output.diagnosis"),
        ("{{step_1_output.detail.grade}}", "step_1_output.detail.grade"),
        ("{{step_1_output.advice.2}}", "step_1_output.advice.2"),
        ("{{step_1_output.advice.first}}", "step_1_output.advice.first"),
        ("{{step_1_output.condition.name}}", "step_1_output.condition.name"),
        ("text {{step_1_output.nope.deeper}}", "step_1_output.nope,"),
    ],
)
def test_missing_path_raises_step_input_error_naming_the_path(reference: str, named_path: str) -> None:
    with pytest.raises(StepInputError) as caught:
        resolve_input(reference, {1: DIAGNOSIS}, USER_MESSAGE)
    assert named_path in caught.value.message


def test_path_into_text_that_is_not_json_raises() -> None:
    with pytest.raises(StepInputError) as caught:
        resolve_input("{{step_1_output.condition}}", {1: "just words"}, USER_MESSAGE)
    assert "step_1_output.condition" in caught.value.message


def test_referenced_steps_finds_references_in_nested_structures() -> None:
    input_data = {
        "a": "{{step_1_output}}",
        "b": ["x", {"c": "see {{step_3_output.field.0}} and {{ step_12_output }}"}],
        "d": "{{user_message}}",
        "e": 5,
        "f": ["{{step_1_output.again}}"],
    }
    assert referenced_steps(input_data) == {1, 3, 12}


@pytest.mark.parametrize("input_data", ["no references", "{{user_message}}", {}, [], 7, None, {"k": 1}])
def test_referenced_steps_is_empty_without_step_references(input_data: Any) -> None:
    assert referenced_steps(input_data) == set()


def test_render_job_input_sends_text_as_is_and_anything_else_as_json() -> None:
    assert render_job_input("hello {world}") == "hello {world}"
    assert render_job_input({"note": "très", "n": [1, 2]}) == '{"note": "très", "n": [1, 2]}'
    assert render_job_input([1, "a"]) == '[1, "a"]'
    assert render_job_input(3) == "3"
    assert render_job_input(None) == "null"


def test_resolved_then_rendered_input_is_the_job_input_string() -> None:
    resolved = resolve_input({"condition": "{{step_1_output.condition}}"}, {1: DIAGNOSIS}, USER_MESSAGE)
    assert render_job_input(resolved) == '{"condition": "cold"}'


# --- input_preview: what the agent will get, in plain words ----------------------------------------

NAMES = {1: "Medical Diagnosis Agent", 2: "Movie Recommendation Agent"}


@pytest.mark.parametrize(
    ("input_data", "expected"),
    [
        ("{{user_message}}", USER_MESSAGE),
        ("{{ step_1_output }}", "the output of step 1 (Medical Diagnosis Agent)"),
        (
            "want a movie\n\nPrevious step's output: {{step_1_output}}",
            "want a movie\n\nPrevious step's output: the output of step 1 (Medical Diagnosis Agent)",
        ),
        (
            "Films for {{step_1_output.detail.severity}} {{step_1_output.condition}}",
            'Films for the "detail.severity" of the output of step 1 (Medical Diagnosis Agent) '
            'the "condition" of the output of step 1 (Medical Diagnosis Agent)',
        ),
        ({"symptoms": "I have a headache"}, "symptoms: I have a headache"),
        (
            {"text": "{{step_2_output}}", "max_sentences": 2},
            "text: the output of step 2 (Movie Recommendation Agent)\nmax sentences: 2",
        ),
        ({"tags": ["a", "{{user_message}}"], "on": True}, f"tags: a, {USER_MESSAGE}\non: true"),
        ("{{step_7_output}}", "the output of step 7"),  # no name known: the step alone
        ("Use {{ something_else }} here", "Use something_else here"),  # never braces
        ("", ""),
        ({}, ""),
    ],
)
def test_input_preview_names_every_reference_in_plain_words(input_data: Any, expected: str) -> None:
    preview = input_preview(input_data, USER_MESSAGE, NAMES)
    assert preview == expected
    assert "{{" not in preview and "}}" not in preview
