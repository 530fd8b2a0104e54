"""template.yaml and statemachine/: consistent, and what the local stack routes (cfn-lint over the
template: tests/integration/test_template_lint.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from orchestrator.config import Settings
from werkzeug.test import Client

from devstack.apigw import HttpApiApp
from devstack.lambdas import FunctionRegistry
from devstack.template import PROJECT_ROOT, TEMPLATE_PATH, load_template

# What a task payload may carry: ids and counters (execution history is visible to operators).
ALLOWED_PAYLOAD_KEYS = {
    "workflow_id",
    "step_number",
    "attempt",
    "wait_seconds",
    "task_token",
    "reason",
    "error",
}


# API Gateway HTTP API cuts every integration at 30 s (its maximum) and answers 503 then, whatever
# the function does afterwards.
INTEGRATION_TIMEOUT_MS = 30_000
PLANNING_MARGIN_SECONDS = 3  # the create function reads the catalog before planning and stores after


def test_every_function_has_its_handler_and_routes_are_unique() -> None:
    template = load_template()
    assert template.functions, "the template declares no functions"
    for spec in template.functions.values():
        module, _, attr = spec.handler.rpartition(".")
        source = (spec.code_uri / f"{module}.py").read_text()
        assert f"def {attr}(" in source, f"{spec.logical_id}: no {attr} in {spec.code_uri}"
    keys = [route.route_key for route, _ in template.routes()]
    assert len(keys) == len(set(keys))
    for required in (
        "POST /api/workflows/create",
        "POST /api/workflows/approve",
        "POST /api/workflows/start",
        "POST /api/workflows/cancel",
        "GET /api/workflows/{id}",
        "POST /api/workflows/step/start_job",
        "POST /api/workflows/step/submit_payment",
        "POST /api/workflows/step/poll",
    ):
        assert required in keys


def _states(definition: dict[str, Any]) -> dict[str, Any]:
    return dict(definition["States"])


def test_state_machine_substitutions_resolve_to_template_functions() -> None:
    template = load_template()
    definition = template.state_machine_definition()
    arns = {spec.arn for spec in template.functions.values()}
    tasks = {n: s for n, s in _states(definition).items() if s["Type"] == "Task"}
    assert tasks
    for name, state in tasks.items():
        assert state["Parameters"]["FunctionName"] in arns, name
        assert state["Resource"].startswith("arn:aws:states:::lambda:invoke")
    start_job = _states(definition)["StartJob"]
    assert start_job["Resource"].endswith(".waitForTaskToken")
    assert start_job["TimeoutSeconds"] == template.parameter_default("PaymentTimeoutSeconds")


def test_state_machine_payloads_carry_ids_and_counters_only() -> None:
    definition = load_template().state_machine_definition()
    for name, state in _states(definition).items():
        payload = (state.get("Parameters") or {}).get("Payload")
        if payload is None:
            continue
        keys = {key.removesuffix(".$") for key in payload}
        assert keys <= ALLOWED_PAYLOAD_KEYS, f"{name} passes {keys - ALLOWED_PAYLOAD_KEYS}"


def test_state_machine_is_jsonpath_only_with_named_terminal_states() -> None:
    definition = load_template().state_machine_definition()
    text = json.dumps(definition)
    assert "JSONata" not in text and '"Assign"' not in text
    states = _states(definition)
    terminals = {n for n, s in states.items() if s["Type"] in ("Succeed", "Fail")}
    assert {"WorkflowCompleted", "WorkflowFailed", "PaymentTimeout", "WorkflowCancelled"} <= terminals
    # Every Next / Default / Catch target exists and every state is reachable from StartAt.
    targets: dict[str, set[str]] = {}
    for name, state in states.items():
        nxt = {state.get("Next"), state.get("Default")}
        nxt |= {c["Next"] for c in state.get("Choices", [])} | {c["Next"] for c in state.get("Catch", [])}
        targets[name] = {t for t in nxt if t}
        assert targets[name] <= set(states), f"{name} points to a missing state"
    seen, todo = set(), [definition["StartAt"]]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(targets[current])
    assert seen == set(states)


def test_state_machine_definition_parses_in_moto() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program, _ = AmazonStateLanguageParser.parse(json.dumps(load_template().state_machine_definition()))
    assert program is not None


def _client(template_path: Path) -> Client:
    return Client(HttpApiApp(FunctionRegistry(load_template(template_path))))


def test_removing_a_route_from_the_template_removes_it_from_the_local_stack(tmp_path: Path) -> None:
    doc = TEMPLATE_PATH.read_text()
    with_route = _client(TEMPLATE_PATH).post(
        "/api/workflows/cancel", data="not json", content_type="application/json"
    )
    # The route exists: the cancel handler itself refuses the malformed body.
    assert with_route.status_code == 400
    assert with_route.get_json()["error"]["code"] == "BadRequest"

    parsed = yaml.safe_load(doc.replace("!", "__tag__"))  # tags do not matter for this edit
    del parsed["Resources"]["CancelFunction"]["Properties"]["Events"]
    edited = tmp_path / "template.yaml"
    edited.write_text(yaml.safe_dump(parsed).replace("__tag__", "!"))
    # Point CodeUri, DefinitionUri at the real project files.
    (tmp_path / "functions").symlink_to(PROJECT_ROOT / "functions")
    (tmp_path / "statemachine").symlink_to(PROJECT_ROOT / "statemachine")
    without_route = _client(edited).post(
        "/api/workflows/cancel", data="not json", content_type="application/json"
    )
    assert without_route.status_code == 404
    assert without_route.get_json()["error"]["code"] == "RouteNotFound"


@pytest.mark.parametrize("method, path", [("GET", "/api/nothing"), ("DELETE", "/api/workflows/create")])
def test_unknown_routes_answer_json_errors(method: str, path: str) -> None:
    response = _client(TEMPLATE_PATH).open(path, method=method)
    assert response.status_code == 404
    assert response.get_json()["error"]["message"]


# --- time limits ---------------------------------------------------------------------------------


def _raw_template() -> dict[str, Any]:
    """template.yaml as written (short-form tags do not matter here), Globals included."""
    parsed = yaml.safe_load(TEMPLATE_PATH.read_text().replace("!", "__tag__"))
    assert isinstance(parsed, dict)
    return parsed


def _api_functions() -> dict[str, dict[str, Any]]:
    """The properties of every function that serves an HttpApi route."""
    resources = _raw_template()["Resources"]
    return {
        name: resource["Properties"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        and any(ev["Type"] == "HttpApi" for ev in (resource["Properties"].get("Events") or {}).values())
    }


def test_every_route_sets_the_30_s_integration_timeout_explicitly() -> None:
    functions = _api_functions()
    assert set(functions) == {fn.logical_id for _, fn in load_template().routes()}
    for name, props in functions.items():
        for event_name, event in props["Events"].items():
            if event["Type"] == "HttpApi":
                assert event["Properties"].get("TimeoutInMillis") == INTEGRATION_TIMEOUT_MS, (
                    name,
                    event_name,
                )


def test_every_api_function_ends_before_the_gateway_gives_up() -> None:
    default = _raw_template()["Globals"]["Function"]["Timeout"]
    for name, props in _api_functions().items():
        timeout = props.get("Timeout", default)
        assert timeout < INTEGRATION_TIMEOUT_MS / 1000, f"{name}: Timeout {timeout} s"


def test_the_create_function_outlasts_its_planning_deadline() -> None:
    create = _api_functions()["CreateFunction"]
    deadline = float(create["Environment"]["Variables"]["PLANNING_DEADLINE_SECONDS"])
    assert deadline == Settings().planning_deadline_seconds  # the local stack plans with the same
    assert create["Timeout"] >= deadline + PLANNING_MARGIN_SECONDS
    assert create["Timeout"] < INTEGRATION_TIMEOUT_MS / 1000
