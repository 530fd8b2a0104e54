"""Finding how the person feels in a job input: a symptom checker's output passed along (as a
JSON object or JSON text under any key), symptoms described in words, or a condition named."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from devstack.agents.inputs import JobInput, parse_job_input
from devstack.agents.symptoms import check_symptoms
from devstack.agents.words import find_phrase, phrase_matches

# Conditions people name in plain words ("I have the flu"), checked in this order.
CONDITION_WORDS: tuple[str, ...] = (
    "migraine",
    "headache",
    "food poisoning",
    "cold",
    "flu",
    "influenza",
    "allerg*",
    "reflux",
    "heartburn",
    "nausea",
    "fever",
    "sick",
    "ill",
    "unwell",
)


def find_condition(parsed: JobInput) -> tuple[str | None, str]:
    """The condition (lower case, or None) and the person's own text: every string of the input
    except those inside a symptom checker's output, whose advice is not a request."""
    texts = Counter(parsed.texts)
    condition: str | None = None
    for obj in parsed.objects:
        if "condition" not in obj:
            continue
        value = obj["condition"]
        if isinstance(value, dict):
            value = value.get("condition")
        # A condition given as JSON text is found again among the parsed objects.
        if isinstance(value, str) and value.strip() and not parse_job_input(value).objects:
            name = value.strip().lower()
            if condition is None and name != "unknown":
                condition = name
        texts -= Counter(parse_job_input(obj).texts)
    own_text = "\n".join(texts.elements()).lower()
    if condition is None:
        checked = check_symptoms(own_text)
        if checked["condition"] != "unknown":
            condition = str(checked["condition"])
    if condition is None:
        condition = _named_condition(own_text)
    return condition, own_text


def _named_condition(text: str) -> str | None:
    for phrase in CONDITION_WORDS:
        found = phrase_matches(text, phrase)
        if found:
            return found[0]
    return None


@dataclass(frozen=True)
class ConditionFit:
    """What suits a condition: the tags to prefer, the tags to leave out, and why."""

    wanted: frozenset[str]
    avoided: frozenset[str]
    reason: str


# Words in a condition's name -> what suits it; the first entry with a matching word wins.
ConditionTable = tuple[tuple[tuple[str, ...], ConditionFit], ...]


def fit_for(condition: str, table: ConditionTable) -> ConditionFit | None:
    for phrases, fit in table:
        if any(find_phrase(condition, p, allow_negated=True) for p in phrases):
            return fit
    return None


def tags_in(text: str, words: Mapping[str, tuple[str, ...]]) -> set[str]:
    """The tags (keys of `words`) one of whose phrases `text` uses, not negated."""
    return {tag for tag, phrases in words.items() if any(find_phrase(text, p) for p in phrases)}
