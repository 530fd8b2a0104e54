"""The sample symptom checker: rule-based matching of reported symptoms to a few common conditions.

Honest by construction: it only says which listed condition shares the most of the symptoms it
recognised, how large that share is, and always carries a disclaimer. It is a sample, not advice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devstack.agents.inputs import parse_job_input
from devstack.agents.words import find_phrase

AGENT_NAME = "Medical Diagnosis Agent"
DISCLAIMER = (
    "Sample agent of the local stack; this is not medical advice. See a doctor if symptoms are severe, "
    "last more than a few days, or keep getting worse."
)

# Canonical symptom -> phrases that report it ("*" ends a word prefix).
SYMPTOM_PHRASES: dict[str, tuple[str, ...]] = {
    "headache": ("headache*", "head ache", "head hurts", "head is pounding", "head pain", "pain in my head"),
    "runny nose": ("runny nose", "running nose", "nose is running", "nose running", "runny"),
    "stuffy nose": ("stuffy nose", "blocked nose", "congest*", "stuffed up", "nasal congestion"),
    "sneezing": ("sneez*",),
    "sore throat": ("sore throat", "throat hurts", "scratchy throat", "throat is sore", "painful throat"),
    "cough": ("cough*",),
    "fever": ("fever*", "high temperature", "temperature", "febrile"),
    "chills": ("chill*", "shiver*"),
    "body aches": ("body ache*", "muscle ache*", "aching", "achy", "sore muscles", "muscle pain"),
    "fatigue": ("fatigue*", "tired*", "exhaust*", "weakness", "weak", "no energy"),
    "nausea": ("nause*", "queasy", "feel sick", "feeling sick", "sick to my stomach"),
    "vomiting": ("vomit*", "throwing up", "threw up", "throw up"),
    "diarrhea": ("diarrh*", "loose stool*"),
    "stomach cramps": (
        "stomach cramp*",
        "stomach ache*",
        "stomachache*",
        "stomach pain",
        "abdominal pain",
        "belly pain",
        "tummy ache*",
        "cramp*",
    ),
    "light sensitivity": (
        "sensitivity to light",
        "sensitive to light",
        "light sensitiv*",
        "photophobia",
        "bright light*",
    ),
    "visual aura": ("aura", "visual disturbance*", "seeing spots", "zigzag*", "flashing lights"),
    "throbbing pain": ("throbbing", "pulsing", "pounding", "one side of my head", "one side of the head"),
    "itchy eyes": (
        "itchy eyes",
        "watery eyes",
        "eyes are itchy",
        "eyes are watering",
        "itchy nose",
        "red eyes",
    ),
    "neck tension": (
        "neck pain",
        "stiff neck",
        "tight neck",
        "tense shoulders",
        "shoulder tension",
        "stress*",
        "tension",
    ),
    "heartburn": (
        "heartburn",
        "burning chest",
        "chest burning",
        "acid reflux",
        "reflux",
        "sour taste",
        "indigestion",
    ),
}

# Signs that need a clinician now, whatever the rules below say.
RED_FLAGS: dict[str, tuple[str, ...]] = {
    "chest pain": ("chest pain", "pain in my chest", "chest tightness"),
    "difficulty breathing": (
        "difficulty breathing",
        "shortness of breath",
        "short of breath",
        "can't breathe",
        "cannot breathe",
        "trouble breathing",
    ),
    "confusion": ("confus*", "disoriented"),
    "fainting": ("fainted", "fainting", "passed out", "unconscious"),
    "blood": ("blood in", "coughing up blood", "bloody", "bleeding"),
    "worst headache of my life": ("worst headache",),
}


@dataclass(frozen=True)
class Condition:
    name: str
    symptoms: dict[str, int]  # canonical symptom -> weight: 2 for the telling ones, 1 for the shared ones
    advice: tuple[str, ...]
    see_doctor_if: str


# Most common first: ties go to the more common condition.
CONDITIONS: tuple[Condition, ...] = (
    Condition(
        "common cold",
        {"runny nose": 2, "stuffy nose": 2, "sore throat": 2, "sneezing": 1, "cough": 1, "headache": 1},
        (
            "Rest and drink plenty of fluids.",
            "Saline spray or steam can ease a blocked nose.",
            "Paracetamol or ibuprofen can help with aches.",
        ),
        "symptoms last more than 10 days or you get a high fever",
    ),
    Condition(
        "tension headache",
        {"headache": 2, "neck tension": 2},
        (
            "Take regular breaks from screens and stretch your neck and shoulders.",
            "Drink water and rest.",
            "Over-the-counter pain relief can help.",
        ),
        "headaches become frequent or stronger over time",
    ),
    Condition(
        "flu (influenza)",
        {"fever": 2, "chills": 2, "body aches": 2, "fatigue": 1, "cough": 1, "headache": 1, "sore throat": 1},
        (
            "Rest at home and drink plenty of fluids.",
            "Paracetamol or ibuprofen can lower fever and ease aches.",
            "Stay away from others while you have a fever.",
        ),
        "you have trouble breathing, chest pain, or the fever lasts more than 3 days",
    ),
    Condition(
        "seasonal allergies",
        {"itchy eyes": 2, "sneezing": 2, "runny nose": 1, "stuffy nose": 1},
        (
            "Avoid known triggers such as pollen or dust.",
            "Antihistamines from a pharmacy can help.",
            "Rinse your nose with saline.",
        ),
        "you wheeze or the symptoms stop you from sleeping",
    ),
    Condition(
        "food poisoning",
        {"vomiting": 2, "diarrhea": 2, "stomach cramps": 2, "nausea": 1, "fever": 1},
        (
            "Sip water or oral rehydration solution often.",
            "Eat bland food once you can keep it down.",
            "Rest.",
        ),
        "you cannot keep fluids down, see blood, or it lasts more than 2 days",
    ),
    Condition(
        "migraine",
        {"throbbing pain": 2, "light sensitivity": 2, "visual aura": 2, "nausea": 1, "headache": 1},
        (
            "Rest in a quiet, dark room.",
            "Drink water; a cold compress on the forehead may help.",
            "Take your usual pain relief early in the attack.",
        ),
        "the headache is sudden and severe, follows a head injury, or comes with weakness or confusion",
    ),
    Condition(
        "acid reflux",
        {"heartburn": 2, "nausea": 1, "cough": 1},
        (
            "Eat smaller meals and avoid lying down right after eating.",
            "Cut down on spicy, fatty food, coffee and alcohol.",
            "An antacid from a pharmacy can help.",
        ),
        "it happens more than twice a week or swallowing hurts",
    ),
)


def check_symptoms(job_input: Any) -> dict[str, Any]:
    """Job input (text or JSON) -> the most likely listed condition, with advice and a disclaimer."""
    text = parse_job_input(job_input).text.lower()
    reported = [
        name for name, phrases in SYMPTOM_PHRASES.items() if any(find_phrase(text, p) for p in phrases)
    ]
    red_flags = [name for name, phrases in RED_FLAGS.items() if any(find_phrase(text, p) for p in phrases)]
    ranked = _rank(reported)
    total = sum(score for _, _, score in ranked)
    result: dict[str, Any] = {"sample_agent": True, "agent": AGENT_NAME}
    if not ranked:
        result.update(
            condition="unknown",
            confidence=0.0,
            matched_symptoms=[],
            reported_symptoms=reported,
            advice=["Describe symptoms such as headache, fever, cough, runny nose, nausea or stomach pain."],
            alternatives=[],
        )
    else:
        best, matched, score = ranked[0]
        result.update(
            condition=best.name,
            confidence=_confidence(score, total),
            matched_symptoms=matched,
            reported_symptoms=reported,
            advice=[*best.advice, f"See a doctor if {best.see_doctor_if}."],
            alternatives=[
                {"condition": other.name, "confidence": _confidence(other_score, total)}
                for other, _, other_score in ranked[1:3]
            ],
        )
    result["urgent"] = bool(red_flags)
    if red_flags:
        result["red_flags"] = red_flags
        result["advice"] = [
            f"Seek medical care now: you mention {', '.join(red_flags)}.",
            *result["advice"],
        ]
    result["disclaimer"] = DISCLAIMER
    return result


def _rank(reported: list[str]) -> list[tuple[Condition, list[str], int]]:
    """Conditions sharing reported symptoms with their weighted score: best first, ties to the commoner."""
    scored = []
    for order, condition in enumerate(CONDITIONS):
        matched = [symptom for symptom in condition.symptoms if symptom in reported]
        if matched:
            score = sum(condition.symptoms[symptom] for symptom in matched)
            scored.append((-score, order, condition, matched))
    scored.sort(key=lambda item: item[:2])
    return [(condition, matched, -negative) for negative, _, condition, matched in scored]


# Weight kept back for conditions this sample does not know, so a single symptom never looks certain.
_UNLISTED_WEIGHT = 2


def _confidence(score: int, total: int) -> float:
    """This condition's share of the weighted matches (in the same order as the ranking)."""
    return round(score / (total + _UNLISTED_WEIGHT), 2)
