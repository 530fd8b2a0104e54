"""The five sample agents of the local stack: what the catalog says about them and the skill each runs.
Their keys are derived from their slugs, so every local stack pays the same addresses."""

from __future__ import annotations

import hashlib
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


@cache
def agent_address(slug: str) -> str:
    # Deterministic dev keys (seed: sha256 of the slug): anyone can derive them, so they must never
    # hold real funds.
    return account_from_seed(hashlib.sha256(slug.encode()).digest()).address


@dataclass(frozen=True)
class SampleAgentSpec:
    """One sample agent: its catalog record and its skill (job input string -> JSON-able output)."""

    id: str
    slug: str
    name: str
    description: str
    capabilities: list[str]
    price_microalgo: int
    app_id: int
    skill: Callable[[str], Any]

    @property
    def address(self) -> str:
        return agent_address(self.slug)


_SAMPLE_NOTE = "Sample agent of the local stack: deterministic rules, no network."

SAMPLE_AGENTS: list[SampleAgentSpec] = [
    SampleAgentSpec(
        id="fdaea355-4e90-5c89-9554-f8eaf5796416",
        slug="symptom-checker",
        name="Medical Diagnosis Agent",
        description=(
            "Matches described symptoms (e.g. headache, runny nose, fever) to likely common conditions "
            f"such as a cold, flu or migraine, with advice and a disclaimer. {_SAMPLE_NOTE} Not medical advice."
        ),
        capabilities=[
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
    ),
    SampleAgentSpec(
        id="6b0fc80b-6add-5ee6-a759-d0400efd38e1",
        slug="movie-recommender",
        name="Movie Recommendation Agent",
        description=(
            "Recommends films from a bundled list by mood or genre; given a condition such as a cold "
            f"(e.g. a symptom checker's output) it picks comforting films and says why. {_SAMPLE_NOTE}"
        ),
        capabilities=[
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
    ),
    SampleAgentSpec(
        id="2a22e00c-9151-5fdc-86d6-3206f44f0fd3",
        slug="text-summarizer",
        name="Text Summarizer Agent",
        description=(
            "Summarizes text (or the text inside JSON) by picking its most representative sentences "
            f"and keywords; extractive, by word frequency. {_SAMPLE_NOTE}"
        ),
        capabilities=["summary", "summarize", "summarise", "text", "shorten", "tl;dr", "digest", "keywords"],
        price_microalgo=200_000,
        app_id=1003,
        skill=summarize,
    ),
    SampleAgentSpec(
        id="c39f0c4d-aefc-5fd5-99f4-8aa8dda82b24",
        slug="sentiment-analyzer",
        name="Sentiment Analysis Agent",
        description=(
            "Labels text as positive, negative or neutral with a score from -1 to 1 and the words "
            f"that decided it; lexicon-based, with negation. {_SAMPLE_NOTE}"
        ),
        capabilities=[
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
    ),
    SampleAgentSpec(
        id="e054eafb-5a93-5577-9f51-771ea5bb019f",
        slug="recipe-suggester",
        name="Recipe Suggestion Agent",
        description=(
            "Suggests simple recipes from a bundled list by ingredients and preferences (vegetarian, "
            f"quick, ...), and soothing food for a cold or an upset stomach. {_SAMPLE_NOTE}"
        ),
        capabilities=["recipe", "recipes", "cook", "cooking", "food", "meal", "dinner", "ingredients", "eat"],
        price_microalgo=400_000,
        app_id=1005,
        skill=suggest_recipes,
    ),
]
