"""The sample sentiment analyzer: a small word lexicon with negation ("not good") and intensifiers
("very good"). The score is the mean polarity of the opinion words found, from -1 to 1."""

from __future__ import annotations

from typing import Any

from devstack.agents.inputs import parse_job_input
from devstack.agents.words import NEGATORS, words

AGENT_NAME = "Sentiment Analysis Agent"
NEUTRAL_BAND = 0.1  # |score| below this is neutral

# Opinion words grouped by polarity, from -1 (very negative) to 1 (very positive).
_LEXICON_GROUPS: dict[float, str] = {
    0.9: "excellent amazing awesome wonderful fantastic brilliant perfect",
    0.8: "great love loved best beautiful delightful",
    0.7: "lovely happy",
    0.6: "good enjoy enjoyed glad fun cheerful uplifting helpful satisfied pleased",
    0.5: "nice pleasant funny kind comforting recommend recommended",
    0.4: "like liked better warm hope thanks thank",
    0.3: "gentle calm fast easy fine well",
    -0.2: "hard",
    -0.3: "slow scary",
    -0.4: "problem tired expensive difficult",
    -0.5: "worse dislike boring wrong pain sick ill worried afraid",
    -0.6: "bad sad annoying annoyed poor broken fail failed failure upset",
    -0.7: "angry disappointing disappointed ugly unhappy frustrating frustrated",
    -0.8: "hate hated miserable useless",
    -0.9: "terrible awful horrible worst",
}
LEXICON: dict[str, float] = {
    word: value for value, group in _LEXICON_GROUPS.items() for word in group.split()
}
INTENSIFIERS: dict[str, float] = {
    "extremely": 1.8,
    "incredibly": 1.7,
    "very": 1.5,
    "super": 1.5,
    "really": 1.4,
    "so": 1.3,
    "quite": 1.2,
    "somewhat": 0.7,
    "slightly": 0.6,
    "barely": 0.5,
}
_NEGATION_REACH = 3  # a negator flips opinion words up to this many words after it


def analyze_sentiment(job_input: Any) -> dict[str, Any]:
    """Job input (text or JSON with text inside) -> label, score and the words that decided it."""
    tokens = words(parse_job_input(job_input).text)
    polarities: list[float] = []
    positive: list[str] = []
    negative: list[str] = []
    for index, token in enumerate(tokens):
        if token not in LEXICON:
            continue
        polarity = LEXICON[token]
        previous = tokens[max(0, index - _NEGATION_REACH) : index]
        if index > 0 and tokens[index - 1] in INTENSIFIERS:
            polarity *= INTENSIFIERS[tokens[index - 1]]
        negated = any(word in NEGATORS for word in previous)
        if negated:
            polarity *= -0.5  # "not good" is mildly bad, not the opposite of "good"
        polarity = max(-1.0, min(1.0, polarity))
        polarities.append(polarity)
        phrase = f"not {token}" if negated else token
        (positive if polarity > 0 else negative).append(phrase)
    score = round(sum(polarities) / len(polarities), 2) if polarities else 0.0
    return {
        "sample_agent": True,
        "agent": AGENT_NAME,
        "label": _label(score),
        "score": score,
        "positive_words": positive,
        "negative_words": negative,
        "words_analyzed": len(tokens),
        "method": "Sample agent: word lexicon with negation and intensifiers.",
    }


def _label(score: float) -> str:
    if score >= NEUTRAL_BAND:
        return "positive"
    if score <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"
