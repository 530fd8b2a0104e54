"""The offline planner: deterministic keyword matching (TF-IDF weighted) of the request's parts
against the catalog. It needs no network and no key; it plans simple chains well and says so
clearly when nothing in the catalog fits.

Reading a request:

1. The text the person gives to work on (the review to summarise, the symptoms after "Check my
   symptoms:") is *content*: what follows a colon after a task ("... tell me its sentiment: The pasta
   was cold ..."), the sentences after a task that points at them ("Summarize the following text.
   ..."), and quoted text. Content is never cut into clauses nor matched against agents; it goes,
   whole, to the tasks it belongs to. A later sentence that starts with "Then", "Also", "After that",
   ... is a new task again.
2. The rest is cut into clauses ("I have a headache and runny nose" / "want a movie
   recommendation"); a clause goes to the active agent whose name, tags, category and description
   share the rarest words with it.
3. A clause that matches no agent is part of a neighbouring task, never dropped: a list goes on
   ("chicken, rice and garlic"), a mood goes with the task that wants a mood ("I feel sad and lonely;
   recommend a movie"), words before the first task go to it. Each step's text is the person's own
   words, as they wrote them, from its first clause to its last.
4. Consecutive clauses for the same agent make one step. A step after the first also receives the
   previous step's output through `{{step_N_output}}`, unless it works on content of its own (two
   tasks on one review are siblings, not a chain).

Each step's input is shaped the way the agent's `example_input` shows (`job_input_for`): an object
with the example's keys when the example is a JSON object, plain text otherwise; an agent whose
`data_input` says it takes "the text" (to summarise, to analyse, ...) gets the content alone, without
the instruction around it."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import NoAgentFits
from orchestrator.models import AgentMetadata, PlannedStep, WorkflowPlan

_WORD = re.compile(r"[a-z0-9]+")
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

# Where sentences end (a full stop before a space or the end, not inside "3.5"), and how clauses join
# inside one: a semicolon, words that start a next task ("and then", "also"), or a list ("," "and").
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n+")
_BREAK = re.compile(
    r"(?P<strong>\s*;\s*)"
    r"|(?P<sequence>\s*,?\s*\b(?:and\s+then|and\s+also|and\s+after\s+that|after\s+that|afterwards|then|also|plus)\b[\s,]*)"
    r"|(?P<weak>\s*,\s*(?:and\s+)?|\s+and\s+)",
    re.IGNORECASE,
)
# A sentence that starts like this is a new task, even after content.
_NEXT_TASK = re.compile(
    r"\s*(?:and\s+then|then|also|after\s+that|afterwards|finally|next|plus|and\s+also)\b", re.IGNORECASE
)
_COLON = re.compile(r":(?=\s)")
_SENTENCE_GAP = re.compile(r"[.!?\s]*")
_QUOTED = re.compile(r"\"([^\"]+)\"|\u201c([^\u201d]+)\u201d")
_POINTER = re.compile(r"\b(?:this|these|the\s+following|below)\b", re.IGNORECASE)
_MASK = "\x00"  # stands for quoted characters while the request is cut (never in a request)
# An agent that takes "the text" to work on (summarise, analyse, translate, ...) gets the content alone.
_TAKES_TEXT = re.compile(r"\bthe\s+text\b", re.IGNORECASE)
# Words that say how someone feels: they belong with a task that wants a mood.
_MOOD_WORDS = frozenset(
    [
        "sad",
        "lonely",
        "happy",
        "bored",
        "down",
        "blue",
        "depressed",
        "anxious",
        "stressed",
        "tired",
        "grumpy",
        "upset",
        "miserable",
        "cheerful",
        "gloomy",
        "romantic",
        "nostalgic",
        "scared",
        "nervous",
        "angry",
        "excited",
        "heartbroken",
        "homesick",
        "cheer",
        "melancholy",
        "low",
        "unhappy",
        "worried",
    ]
)
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_COUNTED = re.compile(r"\b(\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")[\s-]+([a-z]+)", re.IGNORECASE)


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
    about: frozenset[str]  # every word of its record, what input it takes included


@dataclass(frozen=True)
class _Unit:
    """One clause of the request: where it is, in which sentence, and what joins it to the one before."""

    start: int
    end: int
    sentence: int
    joined_by: str  # "start", "sentence", "strong", "sequence" or "weak"


@dataclass(frozen=True)
class _Content:
    """Text given to work on (`start`..`end`), and the part of the request whose tasks it is for."""

    start: int
    end: int
    for_start: int
    for_end: int


@dataclass
class _Step:
    agent: AgentMetadata
    units: list[int]  # the indexes of its units, in the request's order


class OfflinePlanner:
    """Plans without a language model. Deterministic: same request and catalog, same plan."""

    def __init__(self, max_steps: int = 10) -> None:
        self.max_steps = max_steps

    def plan(
        self,
        user_message: str,
        catalog: list[AgentMetadata],
        feedback: list[str] | None = None,
        *,
        budget_microalgo: int | None = None,
    ) -> WorkflowPlan:
        active = sorted((a for a in catalog if a.is_active), key=lambda a: a.id)
        profiles = [_profile(agent) for agent in active]
        idf = _idf(profiles)
        reader = _Reader(user_message, profiles, idf)
        chosen = reader.steps()[: self.max_steps]
        if not chosen:
            raise NoAgentFits(
                "No agent in the catalog matches this request.",
                details={"reasons": ["no agent in the catalog matches the request"]},
            )
        steps = []
        for number, planned in enumerate(chosen, start=1):
            agent = planned.agent
            request = reader.text(planned)
            content = reader.content_for(planned)
            takes_text = _takes_text(agent)
            if content and takes_text:
                text = content
            elif content:
                text = f"{request}: {content}" if request else content
            else:
                text = request
            if number > 1 and not (content and takes_text):
                text = f"{text}\n\nPrevious step's output: {{{{step_{number - 1}_output}}}}"
            steps.append(
                PlannedStep(
                    step_number=number,
                    agent_id=agent.id,
                    agent_name=agent.name,
                    description=f"{agent.name}: {request}",
                    input_data=job_input_for(agent, text, request=request),
                )
            )
        names = " → ".join(planned.agent.name for planned in chosen)
        return WorkflowPlan(
            reasoning=f"Offline planner (keyword matching over the catalog): {names}.", steps=steps
        )


class _Reader:
    """One request read against one catalog: its content, its clauses, and the steps they make."""

    def __init__(self, message: str, profiles: list[_AgentProfile], idf: dict[str, float]) -> None:
        self.message = message
        self.profiles = profiles
        self.idf = idf
        # Quoted text is masked while the request is cut: its full stops and "and"s are not breaks.
        self.masked = _QUOTED.sub(
            lambda m: m.group(0)[0] + _MASK * (len(m.group(0)) - 2) + m.group(0)[-1], message
        )
        self.content = self._find_content()
        regions = (
            [(0, self.content.start), (self.content.end, len(message))]
            if self.content
            else [(0, len(message))]
        )
        self.units: list[_Unit] = []
        sentence = 0
        for start, end in regions:
            sentence = self._cut(start, end, sentence) + 1
        self.agents = [self._best_agent(unit) for unit in self.units]

    # --- cutting the request ----------------------------------------------------------------

    def _sentences(self, start: int, end: int) -> list[tuple[int, int]]:
        spans, position = [], start
        for match in _SENTENCE_END.finditer(self.masked, start, end):
            spans.append((position, match.start()))
            position = match.end()
        spans.append((position, end))
        return [(s, e) for s, e in spans if self.masked[s:e].strip()]

    def _cut(self, start: int, end: int, sentence: int) -> int:
        """Cut `start`..`end` into units (appended); the number of the last sentence."""
        for number, (s_start, s_end) in enumerate(self._sentences(start, end), start=sentence):
            sentence = number
            joined_by, position = ("start" if not self.units else "sentence"), s_start
            for match in _BREAK.finditer(self.masked, s_start, s_end):
                self._add(position, match.start(), number, joined_by)
                joined_by = match.lastgroup or "weak"
                position = match.end()
            self._add(position, s_end, number, joined_by)
        return sentence

    def _add(self, start: int, end: int, sentence: int, joined_by: str) -> None:
        piece = self.masked[start:end]
        start += len(piece) - len(piece.lstrip(" \t,:-"))
        end -= len(piece) - len(piece.rstrip(" \t,:-"))
        piece = self.masked[start:end]
        if not (words(piece) or _MASK in piece):
            return
        if self.units and joined_by == "start":
            joined_by = "sentence"
        self.units.append(_Unit(start, end, sentence, joined_by))

    def _find_content(self) -> _Content | None:
        """The text the person gives to work on: after a colon that follows a task, or after a
        sentence whose task takes a text and points at it ("Summarize the following text.")."""
        colon = _COLON.search(self.masked)
        if colon is not None:
            sentence_start = max(
                (m.end() for m in _SENTENCE_END.finditer(self.masked, 0, colon.start())), default=0
            )
            if self._has_task(sentence_start, colon.start()):
                return _Content(colon.end(), self._content_end(colon.end()), sentence_start, colon.start())
        for s_start, s_end in self._sentences(0, len(self.masked)):
            rest = _SENTENCE_GAP.match(self.masked, s_end).end()  # type: ignore[union-attr]
            if rest >= len(self.masked) or not _POINTER.search(self.masked, s_start, s_end):
                continue
            if self._has_task(s_start, s_end, text_agents_only=True):
                end = self._content_end(rest)
                if end > rest:
                    return _Content(rest, end, s_start, s_end)
        return None

    def _content_end(self, start: int) -> int:
        """Content runs to the end, or to a later sentence that starts a new task ("Then recommend a
        movie", not "Then everyone left")."""
        for match in _SENTENCE_END.finditer(self.masked, start):
            if _NEXT_TASK.match(self.masked, match.end()):
                following = _SENTENCE_END.search(self.masked, match.end())
                if self._has_task(match.end(), following.start() if following else len(self.masked)):
                    return match.start() if self.masked[match.start()] == "\n" else match.end()
        return len(self.masked)

    def _has_task(self, start: int, end: int, *, text_agents_only: bool = False) -> bool:
        for match in re.finditer(r"[^;,]+", self.masked[start:end]):
            agent = self._agent_for(match.group(0))
            if agent is not None and (not text_agents_only or _takes_text(agent)):
                return True
        return False

    # --- matching clauses to agents -----------------------------------------------------------

    def _agent_for(self, text: str) -> AgentMetadata | None:
        clause_words = set(words(text))
        best: float | None = None
        chosen: AgentMetadata | None = None
        for profile in self.profiles:  # sorted by id: ties go to the smaller id
            score = sum(profile.weights.get(word, 0.0) * self.idf.get(word, 0.0) for word in clause_words)
            if score >= _MIN_SCORE and (best is None or score > best):
                best, chosen = score, profile.agent
        return chosen

    def _best_agent(self, unit: _Unit) -> AgentMetadata | None:
        return self._agent_for(self.masked[unit.start : unit.end])

    def _affinity(self, first: int, last: int, agent: AgentMetadata) -> float:
        """How much units `first`..`last` read like what `agent` takes (its whole record, moods too)."""
        text = self.masked[self.units[first].start : self.units[last].end]
        raw = set(_WORD.findall(text.lower()))
        found = set(words(text)) | ({"mood"} if raw & _MOOD_WORDS else set())
        profile = next(p for p in self.profiles if p.agent.id == agent.id)
        return sum(self.idf.get(word, 1.0) for word in found & profile.about)

    # --- steps --------------------------------------------------------------------------------

    def steps(self) -> list[_Step]:
        owners = self._owners()
        steps: list[_Step] = []
        step_of: dict[int, int] = {}  # task unit -> its step
        for index, agent in enumerate(self.agents):
            if agent is None:
                continue
            if not (steps and steps[-1].agent.id == agent.id):
                steps.append(_Step(agent=agent, units=[]))
            step_of[index] = len(steps) - 1
        for index, owner in enumerate(owners):
            if owner is not None:
                steps[step_of[owner]].units.append(index)
        return steps

    def _owners(self) -> list[int | None]:
        """For each unit, the task unit it belongs to: itself when it matches an agent, else a
        task's nearby (see the module's docstring); None only when no unit matches."""
        owners: list[int | None] = [i if agent is not None else None for i, agent in enumerate(self.agents)]
        index = 0
        while index < len(owners):
            if owners[index] is not None:
                index += 1
                continue
            last = index
            while last + 1 < len(owners) and owners[last + 1] is None:
                last += 1
            owner = self._attach(index, last)
            for free in range(index, last + 1):
                owners[free] = owner
            index = last + 1
        return owners

    def _attach(self, first: int, last: int) -> int | None:
        """The task that units `first`..`last` (which match no agent) belong to: the neighbour whose
        agent takes what they say (a mood, ...), or a task further away whose agent takes it when no
        neighbour's does; else by how they join: a list goes on, words before a task in the same
        sentence lead up to it, anything else goes on with the task before."""
        before = first - 1 if first > 0 else None
        after = last + 1 if last + 1 < len(self.units) else None
        if before is None or after is None:
            return before if after is None else after
        fits = {
            task: self._affinity(first, last, agent)
            for task, agent in enumerate(self.agents)
            if agent is not None
        }
        best = max(fits.values())
        if best > 0 and max(fits[before], fits[after]) < best:
            return min((task for task, fit in fits.items() if fit == best), key=lambda t: abs(t - first))
        if fits[before] != fits[after]:
            return before if fits[before] > fits[after] else after
        run_start, run_end = self.units[first], self.units[last]
        if run_start.joined_by == "weak" and run_start.sentence == self.units[before].sentence:
            return before  # a list goes on: "chicken, rice and garlic"
        if self.units[after].sentence == run_end.sentence and self.units[after].joined_by != "sequence":
            return after  # "I feel sad and lonely; recommend a movie"
        return before

    # --- what each step gets ------------------------------------------------------------------

    def text(self, step: _Step) -> str:
        """The person's own words for this step: from its first unit to its last, as written; a part
        that is apart from the rest (a mood said elsewhere) joins it after a semicolon."""
        return "; ".join(self.message[start:end].strip() for start, end in self._runs(step))

    def _runs(self, step: _Step) -> list[tuple[int, int]]:
        runs: list[tuple[int, int]] = []
        previous: int | None = None
        content_start = self.content.start if self.content else None
        for index in step.units:
            unit = self.units[index]
            across = (
                previous is not None
                and content_start is not None
                and self.units[previous].end <= content_start < unit.start
            )
            if previous is not None and index == previous + 1 and not across:
                runs[-1] = (runs[-1][0], unit.end)
            else:
                runs.append((unit.start, unit.end))
            previous = index
        return runs

    def content_for(self, step: _Step) -> str:
        """The content this step works on: the request's content when one of the step's clauses is
        in the part it is for, and the text quoted in the step's own words."""
        pieces = []
        content = self.content
        if content is not None and any(
            content.for_start <= self.units[i].start < content.for_end for i in step.units
        ):
            pieces.append(_unquoted(self.message[content.start : content.end].strip()))
        if _takes_text(step.agent):
            for start, end in self._runs(step):
                pieces.extend(
                    (m.group(1) or m.group(2)).strip() for m in _QUOTED.finditer(self.message, start, end)
                )
        return "\n\n".join(piece for piece in pieces if piece)


def _unquoted(text: str) -> str:
    """The text inside the quotes when the whole text is one quotation."""
    whole = _QUOTED.fullmatch(text)
    return (whole.group(1) or whole.group(2)).strip() if whole else text


def _takes_text(agent: AgentMetadata) -> bool:
    """Whether the agent works on a text it is given (its `data_input` says "the text ...")."""
    return bool(_TAKES_TEXT.search(agent.data_input or ""))


# Names of the field that holds an agent's main text, most telling first.
TEXT_FIELD_NAMES = ("text", "query", "prompt", "input", "message", "content", "question", "request")


def job_input_for(agent: AgentMetadata, text: str, *, request: str = "") -> dict[str, Any] | str:
    """`text` as the agent takes its input. When its `example_input` is a JSON object: an object with
    the same keys, in the same order, the text in the string field that looks like the text field (one
    named as in `TEXT_FIELD_NAMES`, exactly, then as a part of the name such as `input_text` or
    `userQuery`, else the first string field) and the example's own values in the others (options such
    as a count), except a whole-number option that the person's `request` names ("in 3 sentences" sets
    `max_sentences`). Otherwise (plain text, other JSON, no example, no string field): the text itself."""
    example = _json_object(agent.example_input)
    key = _text_field(example) if example else None
    if example is None or key is None:
        return text
    return {**example, **_counts_asked(example, request), key: text}


def _counts_asked(example: dict[str, Any], request: str) -> dict[str, int]:
    """Whole-number options of the example that the request gives a number for: "3 sentences" or
    "two sentences" for `max_sentences`."""
    asked: dict[str, int] = {}
    for key, value in example.items():
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        parts = {part.rstrip("s") for part in _name_parts(key)}
        for match in _COUNTED.finditer(request):
            number, noun = match.group(1).lower(), match.group(2).lower().rstrip("s")
            if noun in parts:
                asked[key] = int(number) if number.isdigit() else _NUMBER_WORDS[number]
                break
    return asked


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
    about = frozenset(weights) | frozenset(words(f"{agent.data_input or ''} {agent.example_input or ''}"))
    return _AgentProfile(agent=agent, weights=weights, about=about)


def _idf(profiles: list[_AgentProfile]) -> dict[str, float]:
    document_frequency = Counter(word for profile in profiles for word in profile.weights)
    total = len(profiles)
    return {word: math.log(1 + total / count) for word, count in document_frequency.items()}


# --- the agents closest to a request that none fits -------------------------------------------------


def closest_agents(user_message: str, catalog: list[AgentMetadata], limit: int = 3) -> list[AgentMetadata]:
    """The active agents most like the request, best first (at most `limit`): by the rarest words
    they share with it (name, tags, category, description, what input they take), then by how many
    letter triples of its words their record has (so that "summery" still finds the summarizer),
    then by name."""
    active = [a for a in catalog if a.is_active]
    profiles = [_profile(agent) for agent in active]
    idf = _idf(profiles)
    asked = set(words(user_message))
    asked_triples = _triples(asked)

    def rank(profile: _AgentProfile) -> tuple[float, float, str]:
        shared = sum(profile.weights.get(w, 1.0) * idf.get(w, 1.0) for w in asked & profile.about)
        triples = _triples(profile.about)
        overlap = len(asked_triples & triples) / len(asked_triples | triples) if asked_triples else 0.0
        return (-shared, -overlap, profile.agent.name.lower())

    return [profile.agent for profile in sorted(profiles, key=rank)[:limit]]


def _triples(found: set[str] | frozenset[str]) -> set[str]:
    return {word[i : i + 3] for word in found for i in range(max(1, len(word) - 2))}
