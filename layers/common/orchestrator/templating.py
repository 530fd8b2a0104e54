"""Step input templating: `{{step_N_output}}`, `{{step_N_output.path}}` and `{{user_message}}`.

A string that is exactly one reference becomes the referenced value itself (an object stays an
object); a reference embedded in text is replaced by the value's text (JSON for non-strings).

`input_preview` says the same in plain words before anything ran: what an agent will get, with each
reference named ("the output of step 1 (Medical Diagnosis Agent)") and never template syntax."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from orchestrator.errors import StepInputError

_REFERENCE = re.compile(r"\{\{\s*(?:step_(\d+)_output((?:\.[A-Za-z0-9_\-]+)*)|(user_message))\s*\}\}")


def referenced_steps(input_data: Any) -> set[int]:
    """Every step number the input refers to, anywhere inside it."""
    found: set[int] = set()
    for text in _strings(input_data):
        found.update(int(match.group(1)) for match in _REFERENCE.finditer(text) if match.group(1))
    return found


def resolve_input(input_data: Any, outputs: dict[int, Any], user_message: str) -> Any:
    """The input with every reference replaced by the output it names."""
    if isinstance(input_data, str):
        return _resolve_text(input_data, outputs, user_message)
    if isinstance(input_data, dict):
        return {key: resolve_input(value, outputs, user_message) for key, value in input_data.items()}
    if isinstance(input_data, list):
        return [resolve_input(item, outputs, user_message) for item in input_data]
    return input_data


def render_job_input(resolved: Any) -> str:
    """The protocol sends one string: text as is, anything else as JSON."""
    return resolved if isinstance(resolved, str) else json.dumps(resolved, ensure_ascii=False)


def _resolve_text(text: str, outputs: dict[int, Any], user_message: str) -> Any:
    whole = _REFERENCE.fullmatch(text.strip())
    if whole:
        return _value(whole, outputs, user_message)
    return _REFERENCE.sub(lambda match: _as_text(_value(match, outputs, user_message)), text)


def _value(match: re.Match[str], outputs: dict[int, Any], user_message: str) -> Any:
    if match.group(3):
        return user_message
    step = int(match.group(1))
    if step not in outputs or outputs[step] is None:
        raise StepInputError(f"This step's input refers to the output of step {step}, which has no output.")
    value = outputs[step]
    path = [part for part in (match.group(2) or "").split(".") if part]
    for depth, key in enumerate(path):
        value = _step_into(value, key, step, path[: depth + 1])
    return value


def _step_into(value: Any, key: str, step: int, so_far: list[str]) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)  # agents often return JSON as text
    if isinstance(value, dict) and key in value:
        return value[key]
    if isinstance(value, list) and key.isdigit() and int(key) < len(value):
        return value[int(key)]
    raise StepInputError(
        f"This step's input refers to step_{step}_output.{'.'.join(so_far)}, which step {step}'s output does not have."
    )


def input_preview(input_data: Any, user_message: str, agent_names: dict[int, str]) -> str:
    """A planned input in plain words: `{{user_message}}` is the person's text, `{{step_N_output}}`
    is "the output of step N (<agent>)" (`agent_names` by step number), `{{step_N_output.path}}` is
    "the "path" of the output of step N (<agent>)"; an object is one "key: value" line per field
    (underscores read as spaces). Empty input, empty string."""
    if input_data is None or input_data == "" or input_data == {} or input_data == []:
        return ""
    return _preview(input_data, user_message, agent_names).strip()


def _preview(value: Any, user_message: str, agent_names: dict[int, str]) -> str:
    if isinstance(value, str):
        named = _REFERENCE.sub(lambda match: _reference_words(match, user_message, agent_names), value)
        return _LEFTOVER.sub(lambda match: match.group(1).strip(), named)
    if isinstance(value, dict):
        return "\n".join(
            f"{str(key).replace('_', ' ')}: {_preview(item, user_message, agent_names)}"
            for key, item in value.items()
        )
    if isinstance(value, list):
        return ", ".join(_preview(item, user_message, agent_names) for item in value)
    return json.dumps(value, ensure_ascii=False)


# Braces that look like a reference but are none of the known ones: their words are kept, not the braces.
_LEFTOVER = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def _reference_words(match: re.Match[str], user_message: str, agent_names: dict[int, str]) -> str:
    if match.group(3):
        return user_message
    step = int(match.group(1))
    name = agent_names.get(step)
    output = f"the output of step {step}" + (f" ({name})" if name else "")
    path = ".".join(part for part in (match.group(2) or "").split(".") if part)
    return f'the "{path}" of {output}' if path else output


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []
