"""Small word-level helpers shared by the sample skills: phrase search with word boundaries,
and the simple negation a rule-based skill needs ("no fever", "not good")."""

from __future__ import annotations

import re
from functools import cache

WORD = re.compile(r"[a-z][a-z'\-]*")
NEGATORS = frozenset({"no", "not", "without", "never", "don't", "dont", "isn't", "wasn't", "denies", "nor"})
_CLAUSE_BREAK = re.compile(r"[.,;:!?\n]| but | however ")
_NEGATION_WINDOW = 4  # words before a phrase that may negate it


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


@cache
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    # A phrase ending in "*" matches any word starting with it ("sneez*" finds sneezing, sneezes).
    if phrase.endswith("*"):
        return re.compile(r"\b" + re.escape(phrase[:-1]) + r"[a-z]*")
    return re.compile(r"\b" + re.escape(phrase) + r"\b")


def find_phrase(text: str, phrase: str, *, allow_negated: bool = False) -> bool:
    """Whether `phrase` occurs in lower-cased `text` as whole words (and, unless allowed, not negated)."""
    for match in _phrase_pattern(phrase).finditer(text):
        if allow_negated or not is_negated(text, match.start()):
            return True
    return False


def phrase_matches(text: str, phrase: str) -> list[str]:
    """The words in lower-cased `text` that `phrase` matches, not negated, in order."""
    return [m.group(0) for m in _phrase_pattern(phrase).finditer(text) if not is_negated(text, m.start())]


def is_negated(text: str, position: int) -> bool:
    """Whether a negating word precedes `position` closely within the same clause."""
    before = text[:position]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    clause = before[breaks[-1].end() :] if breaks else before
    return any(word in NEGATORS for word in words(clause)[-_NEGATION_WINDOW:])
