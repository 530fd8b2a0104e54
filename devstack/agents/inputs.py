"""Reading a job input the way agents of the marketplace receive it: one string that may be plain
text, a JSON object with any keys, a JSON string holding JSON, or text with JSON embedded in it
(e.g. "Recommendations: {...}" after templating). Skills look at every string found inside."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Any

_MAX_DEPTH = 8  # JSON inside JSON strings inside JSON ...: enough for templated chains, bounded
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class JobInput:
    """What a skill sees of its input."""

    texts: tuple[str, ...]  # every plain-text fragment and JSON string value, in reading order
    objects: tuple[dict[str, Any], ...]  # every JSON object found, outer ones first

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    def first_value(self, *keys: str) -> Any:
        """The value of the first object (outer first) holding one of `keys`, else None."""
        for obj in self.objects:
            for key in keys:
                if key in obj:
                    return obj[key]
        return None

    def count_option(self, *keys: str, default: int, maximum: int) -> int:
        """A whole-number option such as {"count": 3}, clamped to 1..maximum."""
        value = self.first_value(*keys)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(1, min(maximum, value))
        return default


def parse_job_input(job_input: Any) -> JobInput:
    texts: list[str] = []
    objects: list[dict[str, Any]] = []
    _collect(job_input, texts, objects, depth=0)
    return JobInput(texts=tuple(texts), objects=tuple(objects))


def _collect(value: Any, texts: list[str], objects: list[dict[str, Any]], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        _collect_text(value, texts, objects, depth)
    elif isinstance(value, dict):
        objects.append(value)
        for item in value.values():
            _collect(item, texts, objects, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, texts, objects, depth + 1)
    # numbers, booleans and null carry no words


def _collect_text(text: str, texts: list[str], objects: list[dict[str, Any]], depth: int) -> None:
    stripped = text.strip()
    if not stripped:
        return
    whole = _parse_whole(stripped)
    if whole is not _NOT_JSON:
        _collect(whole, texts, objects, depth + 1)
        return
    # Plain text, possibly with JSON objects or arrays embedded: split it into both.
    position = 0
    plain_start = 0
    while position < len(stripped):
        if stripped[position] in "{[":
            try:
                embedded, end = _DECODER.raw_decode(stripped, position)
            except ValueError:
                position += 1
                continue
            if isinstance(embedded, dict | list):
                _append_text(stripped[plain_start:position], texts)
                _collect(embedded, texts, objects, depth + 1)
                position = plain_start = end
                continue
        position += 1
    _append_text(stripped[plain_start:], texts)


_NOT_JSON = object()


def _parse_whole(text: str) -> Any:
    """The JSON value the whole text encodes (a JSON string counts), or _NOT_JSON."""
    if text[0] not in '{["':
        return _NOT_JSON
    try:
        return json.loads(text)
    except ValueError:
        pass
    if text[0] in "{[":
        # Some agents print Python reprs ({'a': 'b'}); read those too, safely.
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return _NOT_JSON
        if isinstance(value, dict | list):
            return value
    return _NOT_JSON


def _append_text(fragment: str, texts: list[str]) -> None:
    fragment = fragment.strip()
    if fragment:
        texts.append(fragment)
