"""The sample movie recommender: picks from a small bundled list of real films by mood and genre
words, and by how the person feels when a symptom checker's output (or symptoms) come along."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devstack.agents.conditions import ConditionFit, ConditionTable, find_condition, fit_for, tags_in
from devstack.agents.inputs import parse_job_input

AGENT_NAME = "Movie Recommendation Agent"
DEFAULT_COUNT = 3
MAX_COUNT = 5


@dataclass(frozen=True)
class Film:
    title: str
    year: int
    genre: str
    tags: frozenset[str]
    blurb: str


def _film(title: str, year: int, genre: str, tags: str, blurb: str) -> Film:
    return Film(title, year, genre, frozenset(tags.split()), blurb)


FILMS: tuple[Film, ...] = (
    _film(
        "Paddington 2",
        2017,
        "family comedy",
        "comfort feel-good funny family gentle crowd-pleaser",
        "A kind, gentle comedy about a bear who sees the best in everyone.",
    ),
    _film(
        "The Princess Bride",
        1987,
        "adventure comedy",
        "comfort feel-good funny adventure romance fantasy crowd-pleaser",
        "A storybook adventure told to a boy home sick in bed.",
    ),
    _film(
        "Ferris Bueller's Day Off",
        1986,
        "comedy",
        "funny feel-good comfort",
        "A cheerful day out by a teenager who fakes being sick.",
    ),
    _film(
        "My Neighbor Totoro",
        1988,
        "animation",
        "comfort calm gentle family animation fantasy",
        "A slow, warm animated film about two sisters and a forest spirit.",
    ),
    _film(
        "Amélie",
        2001,
        "romantic comedy",
        "feel-good romance funny quirky gentle",
        "A shy Parisian secretly makes the people around her happier.",
    ),
    _film(
        "Toy Story",
        1995,
        "animation",
        "comfort family funny animation feel-good crowd-pleaser",
        "Toys come alive in a funny, big-hearted animated classic.",
    ),
    _film(
        "Groundhog Day",
        1993,
        "comedy",
        "funny feel-good romance fantasy",
        "A grumpy weatherman relives the same day until he gets it right.",
    ),
    _film(
        "The Grand Budapest Hotel",
        2014,
        "comedy",
        "funny quirky adventure",
        "A brisk, stylish caper around a grand mountain hotel.",
    ),
    _film(
        "Chef",
        2014,
        "comedy drama",
        "feel-good comfort food gentle",
        "A chef starts over with a food truck and his son.",
    ),
    _film(
        "Raiders of the Lost Ark",
        1981,
        "action adventure",
        "adventure action exciting classic crowd-pleaser",
        "Indiana Jones races rivals to a legendary relic.",
    ),
    _film(
        "Jurassic Park",
        1993,
        "adventure sci-fi",
        "adventure sci-fi exciting intense crowd-pleaser",
        "Dinosaurs return in a theme park that goes badly wrong.",
    ),
    _film(
        "The Lord of the Rings: The Fellowship of the Ring",
        2001,
        "fantasy adventure",
        "fantasy adventure epic",
        "The first step of an epic quest across Middle-earth.",
    ),
    _film(
        "Mad Max: Fury Road",
        2015,
        "action",
        "action intense exciting",
        "One long, loud, spectacular desert chase.",
    ),
    _film(
        "Die Hard",
        1988,
        "action thriller",
        "action thriller intense exciting",
        "A cop takes on robbers in a locked-down skyscraper.",
    ),
    _film(
        "Inception",
        2010,
        "sci-fi thriller",
        "sci-fi thriller mind-bending intense",
        "A heist that takes place inside dreams within dreams.",
    ),
    _film(
        "Arrival",
        2016,
        "sci-fi drama",
        "sci-fi thoughtful drama calm",
        "A linguist learns to talk with visitors from elsewhere.",
    ),
    _film(
        "The Shawshank Redemption",
        1994,
        "drama",
        "drama uplifting thoughtful classic",
        "Hope and friendship over decades in prison.",
    ),
    _film(
        "Spirited Away",
        2001,
        "animation fantasy",
        "animation fantasy magical gentle family",
        "A girl finds her courage in a world of spirits.",
    ),
    _film(
        "Get Out",
        2017,
        "horror thriller",
        "scary horror thriller intense",
        "A weekend visit to the in-laws turns sinister.",
    ),
    _film(
        "The Shining",
        1980,
        "horror",
        "scary horror intense classic",
        "A winter caretaker slowly loses his mind in an empty hotel.",
    ),
    _film(
        "Alien",
        1979,
        "sci-fi horror",
        "scary horror sci-fi intense classic",
        "A space crew is hunted by a creature aboard their own ship.",
    ),
    _film(
        "Knives Out",
        2019,
        "mystery comedy",
        "mystery funny crowd-pleaser",
        "A witty whodunit in a family of suspects.",
    ),
    _film(
        "When Harry Met Sally...",
        1989,
        "romantic comedy",
        "romance funny feel-good",
        "Two friends spend years arguing about whether men and women can be friends.",
    ),
    _film(
        "Before Sunrise",
        1995,
        "romance drama",
        "romance calm thoughtful drama gentle",
        "Two strangers talk their way through one night in Vienna.",
    ),
    _film(
        "The Secret Life of Walter Mitty",
        2013,
        "adventure comedy",
        "adventure feel-good uplifting",
        "A daydreamer finally sets off on a real adventure.",
    ),
    _film(
        "Little Miss Sunshine",
        2006,
        "comedy drama",
        "funny feel-good drama",
        "A chaotic family road trip to a children's pageant.",
    ),
    _film(
        "Interstellar",
        2014,
        "sci-fi",
        "sci-fi epic thoughtful",
        "Explorers travel through a wormhole to save humanity.",
    ),
    _film(
        "Casablanca",
        1942,
        "romance drama",
        "romance drama classic",
        "Love and sacrifice in a wartime Moroccan café.",
    ),
)

# Words a person uses -> the tag they mean.
MOOD_WORDS: dict[str, tuple[str, ...]] = {
    "funny": (
        "funny",
        "comedy",
        "comedies",
        "laugh*",
        "hilarious",
        "humor*",
        "humour*",
        "lighthearted",
        "light-hearted",
    ),
    "comfort": ("comfort*", "cozy", "cosy", "easy watching"),
    "feel-good": ("feel-good", "feel good", "happy", "cheer*", "sad", "uplift*"),
    "action": ("action", "explosive", "fight*"),
    "adventure": ("adventure*", "quest", "journey"),
    "scary": ("scary", "horror", "spooky", "frighten*", "creepy"),
    "romance": ("romance", "romantic", "love story", "date night"),
    "sci-fi": ("sci-fi", "scifi", "science fiction", "space", "futuristic"),
    "mystery": ("mystery", "mysteries", "whodunit", "detective"),
    "thriller": ("thriller*", "suspense*", "tense"),
    "animation": ("animat*", "cartoon*", "anime"),
    "family": ("family", "kids", "children"),
    "calm": ("calm", "relax*", "quiet", "chill", "slow"),
    "thoughtful": ("thoughtful", "deep", "thought-provoking", "smart"),
    "fantasy": ("fantasy", "magic*"),
    "drama": ("drama", "dramas", "emotional"),
    "epic": ("epic",),
    "classic": ("classic*", "old movie", "old film"),
    "food": ("food", "cooking"),
}


_RECOVERING = ConditionFit(
    frozenset({"comfort", "feel-good", "gentle", "funny"}),
    frozenset({"intense", "scary"}),
    "comforting and easy to follow while you rest",
)
_HEAD_PAIN = ConditionFit(
    frozenset({"calm", "gentle", "comfort"}),
    frozenset({"intense", "scary", "action", "exciting"}),
    "calm and gentle, without loud or frantic scenes; keep the screen dim and the volume low",
)
# Words in a condition's name -> the kind of film that suits.
CONDITION_MOODS: ConditionTable = (
    (("migraine", "headache"), _HEAD_PAIN),
    (
        (
            "cold",
            "flu",
            "influenza",
            "allerg*",
            "poisoning",
            "reflux",
            "heartburn",
            "nausea",
            "fever",
            "sick",
            "ill",
            "unwell",
        ),
        _RECOVERING,
    ),
)


def recommend_movies(job_input: Any) -> dict[str, Any]:
    """Job input (mood/genre text, symptoms, or a symptom checker's output) -> films and why."""
    parsed = parse_job_input(job_input)
    condition, own_text = find_condition(parsed)
    requested = tags_in(own_text, MOOD_WORDS)
    condition_mood = fit_for(condition, CONDITION_MOODS) if condition else None
    films = _rank(requested, condition_mood)[
        : parsed.count_option("count", "limit", "n", default=DEFAULT_COUNT, maximum=MAX_COUNT)
    ]
    return {
        "sample_agent": True,
        "agent": AGENT_NAME,
        "recommendations": [
            {
                "title": f.title,
                "year": f.year,
                "genre": f.genre,
                "why": _why(f, requested, condition, condition_mood),
            }
            for f in films
        ],
        "based_on": {
            "condition": condition,
            "moods": sorted(requested),
            "note": "Sample agent: picks from a small bundled list of films; no online lookup.",
        },
    }


def _rank(requested: set[str], condition_mood: ConditionFit | None) -> list[Film]:
    avoided = (condition_mood.avoided - requested) if condition_mood else frozenset()
    wanted = condition_mood.wanted if condition_mood else frozenset()
    if not requested and not wanted:
        requested = {"crowd-pleaser"}
    scored = [
        # What the person asks for comes first; the condition orders the rest.
        (-(10 * len(f.tags & requested) + len(f.tags & wanted)), order, f)
        for order, f in enumerate(FILMS)
        if not f.tags & avoided
    ]
    scored.sort(key=lambda item: item[:2])
    return [f for *_, f in scored]


def _why(film: Film, requested: set[str], condition: str | None, mood: ConditionFit | None) -> str:
    reasons = [film.blurb]
    matched = sorted(film.tags & requested)
    if matched:
        reasons.append(f"Matches what you asked for: {', '.join(matched)}.")
    if condition and mood:
        reasons.append(f"Chosen for your {condition}: {mood.reason}.")
    elif not matched:
        reasons.append("A widely loved pick when no mood or genre is given.")
    return " ".join(reasons)
