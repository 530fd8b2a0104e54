"""The offline planner: deterministic keyword matching (TF-IDF weighted) of the request's parts
against the catalog. It needs no network and no key; it plans simple chains well and says so
clearly when nothing in the catalog fits.

The request is cut into clauses ("I have a headache and runny nose" / "want a movie
recommendation"); each clause goes to the active agent whose name, tags, category and description
share the rarest words with it; consecutive clauses for the same agent merge into one step. Every step
after the first also receives the previous step's output through `{{step_N_output}}`.

Each step's input is shaped the way the agent's `example_input` shows (`job_input_for`): an object
with the example's keys when the example is a JSON object, plain text otherwise."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import PlanInvalid
from orchestrator.models import AgentMetadata, WorkflowPlan, WorkflowStep

_WORD = re.compile(r"[a-z0-9]+")
# Words that join clauses: a new clause starts after them.
_CLAUSE_BREAK = re.compile(
    r"[.;!?\n]+|,\s*(?:and\s+)?(?:then\s+)?|\s+(?:and\s+then|and\s+also|and|then|also|after\s+that|plus)\s+",
    re.IGNORECASE,
)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "than",
        "so",
        "to",
        "of",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "about",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "i",
        "me",
        "my",
        "mine",
        "we",
        "us",
        "our",
        "you",
        "your",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "when",
        "where",
        "why",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "do",
        "does",
        "did",
        "doing",
        "have",
        "has",
        "had",
        "having",
        "get",
        "got",
        "want",
        "wants",
        "wanted",
        "need",
        "needs",
        "like",
        "please",
        "also",
        "just",
        "some",
        "any",
        "all",
        "more",
        "most",
        "very",
        "really",
        "too",
        "give",
        "gives",
        "tell",
        "show",
        "make",
        "find",
        "help",
        "let",
        "lets",
        "s",
        "t",
        "d",
        "ll",
        "m",
        "re",
        "ve",
        "not",
        "no",
        "yes",
        "one",
    ]
)
# Catalog fields weigh differently: what an agent says it can do (name, tags, category) beats what its
# blurb mentions.
_NAME_WEIGHT = 3.0
_CAPABILITY_WEIGHT = 3.0  # tags and category (`AgentMetadata.capabilities`)
_DESCRIPTION_WEIGHT = 1.0
_MIN_SCORE = 1.0


def words(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1]


def _stem(word: str) -> str:
    # Light, predictable folding: plurals and common suffixes (recommendation/recommend, movies/movie).
    for suffix in ("ations", "ation", "ings", "ing", "ies", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            return base + "y" if suffix == "ies" else base
    return word


@dataclass(frozen=True)
class _AgentProfile:
    agent: AgentMetadata
    weights: dict[str, float]  # stemmed word -> field weight (the strongest field it appears in)


class OfflinePlanner:
    """Plans without a language model. Deterministic: same request and catalog, same plan."""

    def __init__(self, max_steps: int = 10) -> None:
        self.max_steps = max_steps

    def plan(
        self, user_message: str, catalog: list[AgentMetadata], feedback: list[str] | None = None
    ) -> WorkflowPlan:
        active = sorted((a for a in catalog if a.is_active), key=lambda a: a.id)
        profiles = [_profile(agent) for agent in active]
        idf = _idf(profiles)
        chosen: list[tuple[AgentMetadata, list[str]]] = []
        for clause in _clauses(user_message):
            agent = _best_agent(clause, profiles, idf)
            if agent is None:
                continue
            if chosen and chosen[-1][0].id == agent.id:
                chosen[-1][1].append(clause)
            else:
                chosen.append((agent, [clause]))
        if not chosen:
            raise PlanInvalid(
                "No agent in the catalog matches this request. Describe the task with words the agents' "
                "descriptions use, or add a suitable agent to the catalog.",
                details={"reasons": ["no agent in the catalog matches the request"]},
            )
        chosen = chosen[: self.max_steps]
        steps = []
        for number, (agent, clauses) in enumerate(chosen, start=1):
            request = " and ".join(clauses)
            text = (
                request
                if number == 1
                else f"{request}\n\nPrevious step's output: {{{{step_{number - 1}_output}}}}"
            )
            steps.append(
                WorkflowStep(
                    step_number=number,
                    agent_id=agent.id,
                    agent_name=agent.name,
                    description=f"{agent.name}: {request}",
                    input_data=job_input_for(agent, text),
                )
            )
        names = " → ".join(agent.name for agent, _ in chosen)
        return WorkflowPlan(
            reasoning=f"Offline planner (keyword matching over the catalog): {names}.", steps=steps
        )


# Names of the field that holds an agent's main text, most telling first.
TEXT_FIELD_NAMES = ("text", "query", "prompt", "input", "message", "content", "question", "request")


def job_input_for(agent: AgentMetadata, text: str) -> dict[str, Any] | str:
    """`text` as the agent takes its input. When its `example_input` is a JSON object: an object with
    the same keys, in the same order, the text in the string field that looks like the text field (one
    named as in `TEXT_FIELD_NAMES`, exactly, then as a part of the name such as `input_text` or
    `userQuery`, else the first string field) and the example's own values in the others (options such
    as a count). Otherwise (plain text, other JSON, no example, no string field): the text itself."""
    example = _json_object(agent.example_input)
    key = _text_field(example) if example else None
    if example is None or key is None:
        return text
    return {**example, key: text}


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text or not text.strip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _text_field(example: dict[str, Any]) -> str | None:
    strings = [key for key, value in example.items() if isinstance(value, str)]
    for name in TEXT_FIELD_NAMES:
        for key in strings:
            if key.lower() == name:
                return key
    for name in TEXT_FIELD_NAMES:
        for key in strings:
            if name in _name_parts(key):
                return key
    return strings[0] if strings else None


def _name_parts(key: str) -> list[str]:
    """`input_text`, `input-text`, `inputText` -> ["input", "text"]."""
    return re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key).lower())


def _clauses(message: str) -> list[str]:
    parts = (part.strip(" ,") for part in _CLAUSE_BREAK.split(message))
    return [part for part in parts if part and words(part)]


def _profile(agent: AgentMetadata) -> _AgentProfile:
    weights: dict[str, float] = {}
    fields = (
        (agent.name, _NAME_WEIGHT),
        (" ".join(agent.capabilities), _CAPABILITY_WEIGHT),
        (agent.description or "", _DESCRIPTION_WEIGHT),
    )
    for text, weight in fields:
        for word in words(text):
            weights[word] = max(weights.get(word, 0.0), weight)
    return _AgentProfile(agent=agent, weights=weights)


def _idf(profiles: list[_AgentProfile]) -> dict[str, float]:
    document_frequency = Counter(word for profile in profiles for word in profile.weights)
    total = len(profiles)
    return {word: math.log(1 + total / count) for word, count in document_frequency.items()}


def _best_agent(clause: str, profiles: list[_AgentProfile], idf: dict[str, float]) -> AgentMetadata | None:
    clause_words = set(words(clause))
    best: tuple[float, str] | None = None
    chosen: AgentMetadata | None = None
    for profile in profiles:
        score = sum(profile.weights.get(word, 0.0) * idf.get(word, 0.0) for word in clause_words)
        # Ties go to the agent with the smaller id: deterministic across runs.
        if score >= _MIN_SCORE and (best is None or score > best[0]):
            best, chosen = (score, profile.agent.id), profile.agent
    return chosen
