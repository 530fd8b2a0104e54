"""The sample text summarizer: extractive, by word frequency. It picks the sentences whose content
words are most frequent in the whole text and returns them in their original order."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from devstack.agents.inputs import parse_job_input
from devstack.agents.words import words

AGENT_NAME = "Text Summarizer Agent"
DEFAULT_SENTENCES = 3
MAX_SENTENCES = 10
MIN_SENTENCE_WORDS = 3  # shorter fragments (titles, labels) are kept only when nothing longer exists
KEYWORD_COUNT = 5

_STOPWORD_TEXT = """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not now
    of off on once only or other our ours out over own same she should so some such than that the their
    them then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours also may might must one get got"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def summarize(job_input: Any) -> dict[str, Any]:
    """Job input (text or JSON with text inside) -> the key sentences and keywords."""
    parsed = parse_job_input(job_input)
    sentences = _sentences(parsed.texts)
    limit = parsed.count_option(
        "max_sentences", "sentences", "count", default=DEFAULT_SENTENCES, maximum=MAX_SENTENCES
    )
    frequencies = Counter(w for w in words(" ".join(sentences)) if _is_content(w))
    ranked = sorted(
        range(len(sentences)),
        key=lambda i: (-_score(sentences[i], frequencies), i),
    )
    chosen = sorted(ranked[:limit])
    key_sentences = [sentences[i] for i in chosen]
    return {
        "sample_agent": True,
        "agent": AGENT_NAME,
        "summary": " ".join(_as_sentence(s) for s in key_sentences),
        "key_sentences": key_sentences,
        "keywords": [
            w for w, _ in sorted(frequencies.items(), key=lambda kv: (-kv[1], kv[0]))[:KEYWORD_COUNT]
        ],
        "sentence_count": len(sentences),
        "method": "Sample agent: extractive summary by word frequency; no text is generated.",
    }


def _sentences(texts: tuple[str, ...]) -> list[str]:
    # Repeated sentences (e.g. the same reason given for several items) count once.
    pieces = list(dict.fromkeys(s.strip() for text in texts for s in _SENTENCE_END.split(text) if s.strip()))
    long_enough = [s for s in pieces if len(words(s)) >= MIN_SENTENCE_WORDS]
    return long_enough or pieces


def _is_content(word: str) -> bool:
    return len(word) > 2 and word not in STOPWORDS


def _score(sentence: str, frequencies: Counter[str]) -> float:
    """Mean frequency of the sentence's content words (so long sentences do not win by length)."""
    content = [w for w in words(sentence) if _is_content(w)]
    if not content:
        return 0.0
    return sum(frequencies[w] for w in content) / len(content)


def _as_sentence(text: str) -> str:
    return text if text[-1] in ".!?" else text + "."
