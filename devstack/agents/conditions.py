"""Finding how the person feels in a job input: a symptom checker's output passed along (as a
JSON object or JSON text under any key), symptoms described in words, or a condition named."""

from __future__ import annotations

from collections import Counter

from devstack.agents.inputs import JobInput, parse_job_input
from devstack.agents.symptoms import check_symptoms
from devstack.agents.words import phrase_matches

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
