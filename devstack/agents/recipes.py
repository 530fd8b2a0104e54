"""The sample recipe suggester: picks from a small bundled list of simple recipes by the ingredients
and preferences mentioned, and by how the person feels (a symptom checker's output or symptoms)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devstack.agents.conditions import ConditionFit, ConditionTable, find_condition, fit_for, tags_in
from devstack.agents.inputs import parse_job_input
from devstack.agents.words import find_phrase

AGENT_NAME = "Recipe Suggestion Agent"
DEFAULT_COUNT = 2
MAX_COUNT = 5


@dataclass(frozen=True)
class Recipe:
    name: str
    minutes: int
    ingredients: tuple[str, ...]
    steps: tuple[str, ...]
    tags: frozenset[str]


def _recipe(name: str, minutes: int, ingredients: str, steps: tuple[str, ...], tags: str) -> Recipe:
    return Recipe(
        name, minutes, tuple(i.strip() for i in ingredients.split(",")), steps, frozenset(tags.split())
    )


RECIPES: tuple[Recipe, ...] = (
    _recipe(
        "Chicken noodle soup",
        40,
        "chicken, noodles, carrot, celery, onion, garlic, stock",
        (
            "Soften the chopped onion, carrot, celery and garlic in a pot.",
            "Add stock and the chicken; simmer 25 minutes.",
            "Shred the chicken, add the noodles and cook until tender.",
        ),
        "comfort warm soup recovering crowd-pleaser",
    ),
    _recipe(
        "Ginger, lemon and honey tea",
        10,
        "ginger, lemon, honey, water",
        ("Simmer sliced ginger in water for 5 minutes.", "Add lemon juice and honey to taste."),
        "warm drink soothing recovering vegetarian quick gentle",
    ),
    _recipe(
        "Plain rice with banana and toast",
        20,
        "rice, banana, bread",
        (
            "Cook the rice in plenty of water and drain.",
            "Serve small portions with toast and a sliced banana.",
        ),
        "bland gentle stomach vegetarian",
    ),
    _recipe(
        "Banana oat porridge",
        10,
        "oats, milk, banana, honey, cinnamon",
        ("Simmer the oats in milk, stirring, for 5 minutes.", "Top with sliced banana, honey and cinnamon."),
        "breakfast comfort warm gentle vegetarian quick",
    ),
    _recipe(
        "Tomato soup",
        30,
        "tomato, onion, garlic, stock, olive oil",
        (
            "Soften the onion and garlic in olive oil.",
            "Add chopped tomatoes and stock; simmer 20 minutes.",
            "Blend until smooth and season.",
        ),
        "comfort warm soup vegetarian recovering",
    ),
    _recipe(
        "Vegetable omelette",
        15,
        "egg, spinach, tomato, onion, cheese",
        (
            "Soften the onion, then wilt the spinach.",
            "Pour in the beaten eggs, add tomato and cheese, and fold.",
        ),
        "quick breakfast vegetarian",
    ),
    _recipe(
        "Spaghetti aglio e olio",
        15,
        "spaghetti, garlic, olive oil, chili flakes, parsley",
        (
            "Boil the spaghetti.",
            "Warm sliced garlic and chili flakes gently in olive oil.",
            "Toss with the pasta and parsley.",
        ),
        "quick pasta vegetarian vegan spicy crowd-pleaser",
    ),
    _recipe(
        "Chickpea curry",
        35,
        "chickpeas, tomato, onion, garlic, ginger, curry powder, coconut milk, rice",
        (
            "Fry the onion, garlic, ginger and curry powder.",
            "Add tomatoes, chickpeas and coconut milk; simmer 20 minutes.",
            "Serve with rice.",
        ),
        "vegan vegetarian spicy warm",
    ),
    _recipe(
        "Greek salad",
        10,
        "tomato, cucumber, red onion, feta, olives, olive oil",
        ("Chop the vegetables.", "Top with feta and olives; dress with olive oil."),
        "light no-cook vegetarian quick",
    ),
    _recipe(
        "Tofu and vegetable stir-fry",
        20,
        "tofu, broccoli, bell pepper, soy sauce, garlic, ginger, rice",
        (
            "Brown the tofu cubes in a hot pan.",
            "Stir-fry the vegetables with garlic and ginger.",
            "Add soy sauce and the tofu; serve with rice.",
        ),
        "vegan vegetarian quick",
    ),
    _recipe(
        "Pancakes",
        20,
        "flour, milk, egg, butter, sugar",
        (
            "Whisk flour, milk, eggs and sugar into a batter.",
            "Cook ladlefuls in a buttered pan until golden on both sides.",
        ),
        "breakfast sweet vegetarian crowd-pleaser",
    ),
)

# Words a person uses -> the tag they mean.
PREFERENCE_WORDS: dict[str, tuple[str, ...]] = {
    "vegetarian": ("vegetarian", "veggie", "no meat"),
    "vegan": ("vegan", "plant-based", "plant based"),
    "quick": ("quick*", "fast", "easy", "simple"),
    "breakfast": ("breakfast", "morning", "brunch"),
    "spicy": ("spicy", "hot and spicy", "curry"),
    "light": ("light", "salad", "healthy"),
    "sweet": ("sweet", "dessert"),
    "soup": ("soup*",),
    "comfort": ("comfort*", "cozy", "cosy", "hearty"),
    "warm": ("warm", "hot meal"),
    "drink": ("drink", "tea"),
}


# Words in a condition's name -> the kind of food that suits.
CONDITION_DIETS: ConditionTable = (
    (
        ("poisoning", "nausea", "stomach"),
        ConditionFit(
            frozenset({"bland", "gentle", "stomach"}),
            frozenset({"spicy", "sweet"}),
            "bland and easy on the stomach; eat small portions",
        ),
    ),
    (
        ("reflux", "heartburn"),
        ConditionFit(frozenset({"gentle", "bland"}), frozenset({"spicy"}), "mild, not spicy or fatty"),
    ),
    (
        ("cold", "flu", "influenza", "fever", "sick", "ill", "unwell", "allerg*"),
        ConditionFit(
            frozenset({"recovering", "warm", "soothing", "soup"}),
            frozenset(),
            "warm and soothing while you recover; drink plenty too",
        ),
    ),
    (
        ("migraine", "headache"),
        ConditionFit(
            frozenset({"gentle", "quick", "drink"}),
            frozenset({"spicy"}),
            "little effort to make; drinking enough water helps with headaches",
        ),
    ),
)


def suggest_recipes(job_input: Any) -> dict[str, Any]:
    """Job input (ingredients, preferences, symptoms or a symptom checker's output) -> recipes and why."""
    parsed = parse_job_input(job_input)
    condition, own_text = find_condition(parsed)
    diet = fit_for(condition, CONDITION_DIETS) if condition else None
    have = _ingredients_mentioned(own_text)
    preferences = tags_in(own_text, PREFERENCE_WORDS)
    chosen = _rank(have, preferences, diet)[
        : parsed.count_option("count", "limit", "n", default=DEFAULT_COUNT, maximum=MAX_COUNT)
    ]
    return {
        "sample_agent": True,
        "agent": AGENT_NAME,
        "recipes": [
            {
                "name": r.name,
                "minutes": r.minutes,
                "ingredients": list(r.ingredients),
                "steps": list(r.steps),
                "why": _why(r, have, preferences, condition, diet),
            }
            for r in chosen
        ],
        "based_on": {
            "condition": condition,
            "ingredients": sorted(have),
            "preferences": sorted(preferences),
            "note": "Sample agent: picks from a small bundled list of recipes; no online lookup.",
        },
    }


def _ingredients_mentioned(text: str) -> set[str]:
    known = {ingredient for recipe in RECIPES for ingredient in recipe.ingredients}
    # "tomato" also finds "tomatoes", "egg" finds "eggs".
    return {
        i for i in known if find_phrase(text, i) or find_phrase(text, i + "s") or find_phrase(text, i + "es")
    }


def _rank(have: set[str], preferences: set[str], diet: ConditionFit | None) -> list[Recipe]:
    avoided = (diet.avoided - preferences) if diet else frozenset()
    wanted = diet.wanted if diet else frozenset()
    if not have and not preferences and not wanted:
        preferences = {"crowd-pleaser"}
    scored = [
        # Ingredients at hand count most, then stated preferences, then what suits the condition.
        (
            -(10 * len(have & set(r.ingredients)) + 5 * len(r.tags & preferences) + len(r.tags & wanted)),
            order,
            r,
        )
        for order, r in enumerate(RECIPES)
        if not r.tags & avoided
        and ("vegan" not in preferences or "vegan" in r.tags)
        and ("vegetarian" not in preferences or "vegetarian" in r.tags)
    ]
    scored.sort(key=lambda item: item[:2])
    return [r for *_, r in scored]


def _why(
    recipe: Recipe, have: set[str], preferences: set[str], condition: str | None, diet: ConditionFit | None
) -> str:
    reasons = []
    used = [i for i in recipe.ingredients if i in have]
    if used:
        reasons.append(f"Uses what you mentioned: {', '.join(used)}.")
    matched = sorted(recipe.tags & preferences)
    if matched:
        reasons.append(f"Fits your wish for: {', '.join(matched)}.")
    if condition and diet:
        reasons.append(f"Suits your {condition}: {diet.reason}.")
    if not reasons:
        reasons.append("A simple, widely liked dish when nothing in particular is asked for.")
    return " ".join(reasons)
