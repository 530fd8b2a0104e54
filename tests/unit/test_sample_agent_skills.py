"""The sample agents' skills and catalog: pure, deterministic logic."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from algosdk import account, encoding
from nacl.signing import SigningKey
from orchestrator.catalog import payment_problems
from orchestrator.models import AgentMetadata

from devstack.agents import SAMPLE_AGENTS, SampleAgentSpec
from devstack.agents.inputs import parse_job_input
from devstack.agents.movies import FILMS, recommend_movies
from devstack.agents.recipes import RECIPES, suggest_recipes
from devstack.agents.sentiment import analyze_sentiment
from devstack.agents.summarizer import summarize
from devstack.agents.symptoms import check_symptoms
from devstack.ledger.accounts import account_from_seed


def spec(slug: str) -> SampleAgentSpec:
    return next(s for s in SAMPLE_AGENTS if s.slug == slug)


def titles(output: dict[str, Any]) -> list[str]:
    return [r["title"] for r in output["recommendations"]]


# --- reading job inputs -----------------------------------------------------------------------------
def test_plain_text_is_one_fragment() -> None:
    parsed = parse_job_input("headache, runny nose")
    assert parsed.texts == ("headache, runny nose",)
    assert parsed.objects == ()


def test_json_object_strings_are_found_at_any_depth() -> None:
    parsed = parse_job_input(json.dumps({"a": {"b": ["x", {"c": "y"}]}, "n": 3, "ok": True}))
    assert parsed.texts == ("x", "y")
    assert [sorted(o) for o in parsed.objects] == [["a", "n", "ok"], ["b"], ["c"]]


def test_json_inside_json_strings_is_unwrapped() -> None:
    inner = json.dumps({"condition": "common cold"})
    parsed = parse_job_input(json.dumps(json.dumps({"wrapped": inner})))
    assert {"condition": "common cold"} in parsed.objects
    assert parsed.texts == ("common cold",)


def test_json_embedded_in_text_is_read_with_the_text_around_it() -> None:
    parsed = parse_job_input('Recommendations: {"title": "Paddington 2"} thanks')
    assert parsed.texts == ("Recommendations:", "Paddington 2", "thanks")
    assert parsed.objects == ({"title": "Paddington 2"},)


def test_python_repr_of_a_dict_is_read_too() -> None:
    parsed = parse_job_input("{'symptoms': 'fever'}")
    assert parsed.texts == ("fever",)


def test_broken_json_is_plain_text() -> None:
    assert parse_job_input('{"symptoms": "fever"').texts == ('{"symptoms": "fever"',)


def test_count_option_is_clamped() -> None:
    assert parse_job_input('{"count": 99}').count_option("count", default=3, maximum=5) == 5
    assert parse_job_input('{"count": 0}').count_option("count", default=3, maximum=5) == 1
    assert parse_job_input('{"count": true}').count_option("count", default=3, maximum=5) == 3


# --- symptom checker --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "job_input",
    [
        "headache, runny nose",
        json.dumps({"symptoms": "headache, runny nose"}),
        json.dumps("headache, runny nose"),
    ],
)
def test_headache_and_runny_nose_is_a_common_cold(job_input: str) -> None:
    result = check_symptoms(job_input)
    assert result["condition"] == "common cold"
    assert result["matched_symptoms"] == ["runny nose", "headache"]
    assert 0 < result["confidence"] < 1
    assert result["sample_agent"] is True
    assert "not medical advice" in result["disclaimer"]
    assert any("See a doctor" in line for line in result["advice"])
    assert result["urgent"] is False


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ("fever, chills, body aches and a cough", "flu (influenza)"),
        ("throbbing headache, bright lights hurt, nausea", "migraine"),
        ("headache and a stiff neck after work", "tension headache"),
        ("sneezing all day and itchy eyes", "seasonal allergies"),
        ("nausea, vomiting and diarrhea since dinner", "food poisoning"),
        ("heartburn after meals", "acid reflux"),
    ],
)
def test_symptoms_point_to_the_matching_condition(text: str, condition: str) -> None:
    assert check_symptoms(text)["condition"] == condition


def test_alternatives_rank_below_the_answer() -> None:
    result = check_symptoms("headache, runny nose")
    assert result["alternatives"]
    assert all(a["confidence"] <= result["confidence"] for a in result["alternatives"])


def test_negated_symptoms_do_not_count() -> None:
    result = check_symptoms("I have a headache but no fever and no runny nose")
    assert result["reported_symptoms"] == ["headache"]
    assert result["condition"] == "tension headache"


def test_unrecognised_input_says_so_instead_of_guessing() -> None:
    result = check_symptoms("what is the weather like?")
    assert result["condition"] == "unknown"
    assert result["confidence"] == 0.0
    assert result["matched_symptoms"] == []


def test_red_flags_are_marked_urgent() -> None:
    result = check_symptoms("cough and shortness of breath")
    assert result["urgent"] is True
    assert result["red_flags"] == ["difficulty breathing"]
    assert result["advice"][0].startswith("Seek medical care now")


# --- movie recommender ------------------------------------------------------------------------------
def test_movies_for_a_cold_from_the_symptom_checker_are_comforting() -> None:
    cold = check_symptoms("headache, runny nose")
    result = recommend_movies(json.dumps({"condition": cold}))
    assert result["based_on"]["condition"] == "common cold"
    assert len(result["recommendations"]) == 3
    by_title = {f.title: f for f in FILMS}
    for rec in result["recommendations"]:
        film = by_title[rec["title"]]
        assert (rec["year"], rec["genre"]) == (film.year, film.genre)
        assert film.tags & {"comfort", "feel-good"}
        assert not film.tags & {"intense", "scary"}
        assert "common cold" in rec["why"] and "comforting" in rec["why"]
    assert result["sample_agent"] is True


@pytest.mark.parametrize(
    "wrap",
    [
        lambda cold: json.dumps({"condition": json.dumps(cold)}),  # the output as JSON text under a key
        lambda cold: json.dumps(cold),  # the output itself
        lambda cold: "Step 1 said: " + json.dumps(cold),  # embedded in a sentence
    ],
)
def test_movies_find_the_condition_however_it_is_passed(wrap: Callable[[dict[str, Any]], str]) -> None:
    cold = check_symptoms("headache, runny nose")
    direct = recommend_movies(json.dumps({"condition": cold}))
    result = recommend_movies(wrap(cold))
    assert result["based_on"]["condition"] == "common cold"
    assert titles(result) == titles(direct)


def test_symptom_checker_advice_is_not_read_as_a_mood() -> None:
    cold = check_symptoms("headache, runny nose")
    assert recommend_movies(json.dumps({"condition": cold}))["based_on"]["moods"] == []


def test_movies_for_a_migraine_are_calm() -> None:
    result = recommend_movies("I have a migraine, what can I watch?")
    assert result["based_on"]["condition"] == "migraine"
    for title in titles(result):
        film = next(f for f in FILMS if f.title == title)
        assert not film.tags & {"intense", "scary", "action", "exciting"}


@pytest.mark.parametrize(
    ("job_input", "tag"),
    [
        ('{"mood": "funny"}', "funny"),
        ("something with adventure", "adventure"),
        ("a scary horror night", "scary"),
        ("romantic film for date night", "romance"),
    ],
)
def test_movies_follow_the_mood_asked_for(job_input: str, tag: str) -> None:
    result = recommend_movies(job_input)
    assert tag in result["based_on"]["moods"]
    for title in titles(result):
        assert tag in next(f for f in FILMS if f.title == title).tags


def test_asked_for_genre_wins_over_the_condition_default() -> None:
    result = recommend_movies("I have the flu but want action")
    assert result["based_on"]["condition"] == "flu"
    assert titles(result)[0] == "Raiders of the Lost Ark"  # action, and not intense


def test_movies_without_any_hint_are_crowd_pleasers_and_count_is_honoured() -> None:
    assert len(titles(recommend_movies(""))) == 3
    assert len(titles(recommend_movies('{"count": 5}'))) == 5


# --- summarizer ---------------------------------------------------------------------------------------
ARTICLE = (
    "The cat sat on the mat. Dogs are loyal animals. The cat likes the mat because the mat is warm. "
    "Birds fly south in winter. A warm mat makes a happy cat."
)


def test_summary_keeps_the_most_representative_sentences_in_order() -> None:
    result = summarize(ARTICLE)
    assert result["key_sentences"] == [
        "The cat sat on the mat.",
        "The cat likes the mat because the mat is warm.",
        "A warm mat makes a happy cat.",
    ]
    assert result["summary"] == " ".join(result["key_sentences"])
    assert result["keywords"][:2] == ["mat", "cat"]
    assert result["sentence_count"] == 5


def test_summary_length_option_and_json_input() -> None:
    result = summarize(json.dumps({"text": ARTICLE, "max_sentences": 1}))
    assert result["key_sentences"] == ["The cat likes the mat because the mat is warm."]


def test_summary_of_another_agents_output_drops_repeats() -> None:
    movies = recommend_movies(json.dumps({"condition": check_symptoms("headache, runny nose")}))
    result = summarize("Recommendations: " + json.dumps(movies))
    assert len(set(result["key_sentences"])) == len(result["key_sentences"])
    assert result["summary"]


def test_summary_of_nothing_is_empty() -> None:
    result = summarize("")
    assert result["summary"] == "" and result["key_sentences"] == []


# --- sentiment ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love this, it is great", "positive"),
        ("terrible service and boring food", "negative"),
        ("This is not good at all", "negative"),
        ("The train leaves at noon", "neutral"),
        (json.dumps({"review": "absolutely wonderful stay"}), "positive"),
    ],
)
def test_sentiment_labels(text: str, label: str) -> None:
    assert analyze_sentiment(text)["label"] == label


def test_negation_and_intensifiers_change_the_score() -> None:
    good = analyze_sentiment("good")["score"]
    assert analyze_sentiment("very good")["score"] > good
    negated = analyze_sentiment("not good")
    assert negated["score"] < 0
    assert negated["negative_words"] == ["not good"]


# --- recipes ------------------------------------------------------------------------------------------
def test_recipes_for_a_cold_are_warm_and_soothing() -> None:
    result = suggest_recipes(json.dumps({"condition": check_symptoms("headache, runny nose")}))
    assert [r["name"] for r in result["recipes"]] == ["Chicken noodle soup", "Ginger, lemon and honey tea"]
    assert all("common cold" in r["why"] for r in result["recipes"])


def test_recipes_use_the_ingredients_mentioned() -> None:
    result = suggest_recipes("I have eggs, spinach and cheese")
    assert result["recipes"][0]["name"] == "Vegetable omelette"
    assert result["based_on"]["ingredients"] == ["cheese", "egg", "spinach"]


def test_recipes_respect_vegan_and_upset_stomach() -> None:
    vegan = suggest_recipes("something quick and vegan")
    assert vegan["recipes"] and all("vegan" in r["why"] for r in vegan["recipes"])
    stomach = suggest_recipes(json.dumps({"symptoms": "nausea and vomiting", "count": 5}))
    assert stomach["based_on"]["condition"] == "food poisoning"
    assert stomach["recipes"][0]["name"] == "Plain rice with banana and toast"
    spicy = {r.name for r in RECIPES if "spicy" in r.tags}
    assert len(stomach["recipes"]) == 5
    assert not spicy & {r["name"] for r in stomach["recipes"]}


# --- the catalog ------------------------------------------------------------------------------------
def test_sample_catalog_is_consistent() -> None:
    assert len(SAMPLE_AGENTS) == 5
    assert len({s.id for s in SAMPLE_AGENTS}) == 5
    assert len({s.slug for s in SAMPLE_AGENTS}) == 5
    assert len({s.app_id for s in SAMPLE_AGENTS}) == 5
    assert len({s.agent_address for s in SAMPLE_AGENTS}) == 5
    for s in SAMPLE_AGENTS:
        assert 200_000 <= s.price_microalgo <= 2_000_000
        assert "Sample agent" in s.description
        assert s.tags and s.category and s.data_input and s.example_input
        assert s.capabilities == [*s.tags, s.category]
        agent = AgentMetadata.model_validate(s.catalog_record(base_url="http://127.0.0.1:1"))
        assert agent.is_active
        assert payment_problems(agent, url_template=None) == []
        assert agent.capabilities == s.capabilities
    assert spec("symptom-checker").name == "Medical Diagnosis Agent"
    assert spec("movie-recommender").name == "Movie Recommendation Agent"


def test_sample_records_are_shaped_as_the_marketplaces_agents_rows() -> None:
    checker = spec("symptom-checker")
    assert checker.catalog_record() == {
        "id": checker.id,
        "name": "Medical Diagnosis Agent",
        "description": checker.description,
        "subdomain": "symptom-checker",
        "status": "active",
        "agent_address": checker.agent_address,
        "app_id": 1001,
        "price_microalgo": 500_000,
        "category": "Health",
        "tags": checker.tags,
        "data_input": checker.data_input,
        "example_input": '{"symptoms": "headache, runny nose"}',
        "example_output": checker.example_output,
        "repo_owner": "0rca-network",
        "repo_name": "symptom-checker",
        "github_url": "https://github.com/0rca-network/symptom-checker",
    }
    free = checker.catalog_record(price_microalgo=0, base_url="http://127.0.0.1:5001")
    assert (free["price_microalgo"], free["base_url"]) == (0, "http://127.0.0.1:5001")
    # Every field is one the catalog reads: nothing is dropped on the way in.
    assert set(free) <= set(AgentMetadata.model_fields)


@pytest.mark.parametrize("slug", [s.slug for s in SAMPLE_AGENTS])
def test_each_example_output_is_what_the_skill_answers_to_the_example_input(slug: str) -> None:
    s = spec(slug)
    assert json.loads(s.example_output) == s.skill(s.example_input)


def test_agent_address_is_derived_from_a_key_seeded_by_the_slug() -> None:
    checker = spec("symptom-checker")
    seed = hashlib.sha256(b"symptom-checker").digest()
    assert checker.agent_address == encoding.encode_address(bytes(SigningKey(seed).verify_key))
    assert account.address_from_private_key(account_from_seed(seed).private_key) == checker.agent_address
    # Same slug, same address (a test's variant of an agent is paid at the same place).
    variant = dataclasses.replace(checker, id="another-id", price_microalgo=0)
    assert variant.agent_address == checker.agent_address
    assert dataclasses.replace(checker, slug="other").agent_address != checker.agent_address


@pytest.mark.parametrize("slug", [s.slug for s in SAMPLE_AGENTS])
def test_every_skill_accepts_any_input_shape_and_is_deterministic(slug: str) -> None:
    skill = spec(slug).skill
    for job_input in ["", "hello", '{"x": 1}', '"quoted"', "[1, 2]", '{"a": {"b": "headache"}}', "{broken"]:
        first = skill(job_input)
        assert json.loads(json.dumps(first)) == first
        assert skill(job_input) == first
        assert first["sample_agent"] is True
