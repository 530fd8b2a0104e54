"""The five sample agents of the local stack: their records as the marketplace's `agents` table keeps
them, and the skill each runs. Their keys are derived from their slugs, so every local stack pays the
same addresses; each record's `example_output` is what its skill answers to its `example_input`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from devstack.agents.movies import recommend_movies
from devstack.agents.recipes import suggest_recipes
from devstack.agents.sentiment import analyze_sentiment
from devstack.agents.summarizer import summarize
from devstack.agents.symptoms import check_symptoms
from devstack.ledger.accounts import account_from_seed

# Where the sample agents' code would live on the marketplace (plausible, not a real repository).
REPO_OWNER = "0rca-network"


@cache
def agent_address(slug: str) -> str:
    # Deterministic dev keys (seed: sha256 of the slug): anyone can derive them, so they must never
    # hold real funds.
    return account_from_seed(hashlib.sha256(slug.encode()).digest()).address


@dataclass(frozen=True)
class SampleAgentSpec:
    """One sample agent: its marketplace record (`catalog_record`) and its skill (job input string ->
    JSON-able output). The slug is its `subdomain` and `repo_name`."""

    id: str
    slug: str
    name: str
    description: str
    category: str
    tags: list[str]
    price_microalgo: int
    app_id: int
    skill: Callable[[str], Any]
    data_input: str  # what input it expects, in words
    example_input: str
    example_output: str

    @property
    def agent_address(self) -> str:
        """Where its payments go."""
        return agent_address(self.slug)

    @property
    def capabilities(self) -> list[str]:
        """Its tags and its category, as `AgentMetadata.capabilities` gives them."""
        return [*self.tags, *([self.category] if self.category not in self.tags else [])]

    def catalog_record(
        self, *, price_microalgo: int | None = None, base_url: str | None = None
    ) -> dict[str, Any]:
        """The agent as a row of the marketplace's `agents` table (active), with the local `base_url`
        when given; `price_microalgo` overrides the spec's price (a free variant says 0)."""
        record: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "subdomain": self.slug,
            "status": "active",
            "agent_address": self.agent_address,
            "app_id": self.app_id,
            "price_microalgo": self.price_microalgo if price_microalgo is None else price_microalgo,
            "category": self.category,
            "tags": list(self.tags),
            "data_input": self.data_input,
            "example_input": self.example_input,
            "example_output": self.example_output,
            "repo_owner": REPO_OWNER,
            "repo_name": self.slug,
            "github_url": f"https://github.com/{REPO_OWNER}/{self.slug}",
        }
        if base_url is not None:
            record["base_url"] = base_url
        return record


def _answer(skill: Callable[[str], Any], example_input: str) -> str:
    """What the skill answers to the example input, as the marketplace's `example_output` text."""
    return json.dumps(skill(example_input), ensure_ascii=False)


_SAMPLE_NOTE = "Sample agent of the local stack: deterministic rules, no network."

_SYMPTOMS_EXAMPLE = json.dumps({"symptoms": "headache, runny nose"})
_MOVIES_EXAMPLE = "something funny to watch"
_SUMMARY_EXAMPLE = json.dumps(
    {
        "text": "The new library opened on Monday. Hundreds of readers came to see it. The library has a "
        "large reading room and a cafe. Many readers said the reading room is the best part of it.",
        "max_sentences": 2,
    }
)
_SENTIMENT_EXAMPLE = "I loved the film, but the ending was not good."
_RECIPES_EXAMPLE = "a quick vegetarian dinner with eggs and tomatoes"

SAMPLE_AGENTS: list[SampleAgentSpec] = [
    SampleAgentSpec(
        id="fdaea355-4e90-5c89-9554-f8eaf5796416",
        slug="symptom-checker",
        name="Medical Diagnosis Agent",
        description=(
            "Matches described symptoms (e.g. headache, runny nose, fever) to likely common conditions "
            f"such as a cold, flu or migraine, with advice and a disclaimer. {_SAMPLE_NOTE} Not medical advice."
        ),
        category="Health",
        tags=[
            "symptoms",
            "diagnosis",
            "medical",
            "health",
            "headache",
            "fever",
            "cough",
            "nose",
            "throat",
            "pain",
            "sick",
            "illness",
            "doctor",
            "cold",
            "flu",
            "nausea",
        ],
        price_microalgo=500_000,
        app_id=1001,
        skill=check_symptoms,
        data_input='The symptoms in plain words, as JSON {"symptoms": "..."}.',
        example_input=_SYMPTOMS_EXAMPLE,
        example_output=_answer(check_symptoms, _SYMPTOMS_EXAMPLE),
    ),
    SampleAgentSpec(
        id="6b0fc80b-6add-5ee6-a759-d0400efd38e1",
        slug="movie-recommender",
        name="Movie Recommendation Agent",
        description=(
            "Recommends films from a bundled list by mood or genre; given a condition such as a cold "
            f"(e.g. a symptom checker's output) it picks comforting films and says why. {_SAMPLE_NOTE}"
        ),
        category="Entertainment",
        tags=[
            "movie",
            "movies",
            "film",
            "films",
            "recommendation",
            "recommend",
            "watch",
            "cinema",
            "entertainment",
            "genre",
            "comedy",
        ],
        price_microalgo=300_000,
        app_id=1002,
        skill=recommend_movies,
        data_input=(
            "Text: the mood or genre wanted, and/or a condition (a symptom checker's output, as it is)."
        ),
        example_input=_MOVIES_EXAMPLE,
        example_output=_answer(recommend_movies, _MOVIES_EXAMPLE),
    ),
    SampleAgentSpec(
        id="2a22e00c-9151-5fdc-86d6-3206f44f0fd3",
        slug="text-summarizer",
        name="Text Summarizer Agent",
        description=(
            "Summarizes text (or the text inside JSON) by picking its most representative sentences "
            f"and keywords; extractive, by word frequency. {_SAMPLE_NOTE}"
        ),
        category="Text",
        tags=["summary", "summarize", "summarise", "text", "shorten", "tl;dr", "digest", "keywords"],
        price_microalgo=200_000,
        app_id=1003,
        skill=summarize,
        data_input='JSON {"text": the text to summarize, "max_sentences": how many sentences to keep}.',
        example_input=_SUMMARY_EXAMPLE,
        example_output=_answer(summarize, _SUMMARY_EXAMPLE),
    ),
    SampleAgentSpec(
        id="c39f0c4d-aefc-5fd5-99f4-8aa8dda82b24",
        slug="sentiment-analyzer",
        name="Sentiment Analysis Agent",
        description=(
            "Labels text as positive, negative or neutral with a score from -1 to 1 and the words "
            f"that decided it; lexicon-based, with negation. {_SAMPLE_NOTE}"
        ),
        category="Analysis",
        tags=[
            "sentiment",
            "opinion",
            "mood",
            "tone",
            "review",
            "feedback",
            "emotion",
            "positive",
            "negative",
        ],
        price_microalgo=250_000,
        app_id=1004,
        skill=analyze_sentiment,
        data_input="The text to analyse, as plain text.",
        example_input=_SENTIMENT_EXAMPLE,
        example_output=_answer(analyze_sentiment, _SENTIMENT_EXAMPLE),
    ),
    SampleAgentSpec(
        id="e054eafb-5a93-5577-9f51-771ea5bb019f",
        slug="recipe-suggester",
        name="Recipe Suggestion Agent",
        description=(
            "Suggests simple recipes from a bundled list by ingredients and preferences (vegetarian, "
            f"quick, ...), and soothing food for a cold or an upset stomach. {_SAMPLE_NOTE}"
        ),
        category="Food",
        tags=["recipe", "recipes", "cook", "cooking", "food", "meal", "dinner", "ingredients", "eat"],
        price_microalgo=400_000,
        app_id=1005,
        skill=suggest_recipes,
        data_input=(
            "Text: the ingredients at hand and preferences (vegetarian, vegan, quick, ...), and/or a "
            "condition (a symptom checker's output, as it is)."
        ),
        example_input=_RECIPES_EXAMPLE,
        example_output=_answer(suggest_recipes, _RECIPES_EXAMPLE),
    ),
]
