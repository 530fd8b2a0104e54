"""Least privilege in template.yaml: each function may do what its code does, nothing more."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from devstack.template import TEMPLATE_PATH, _CfnLoader

# What the services call on task tokens (services/*.py).
TASK_TOKEN_ACTIONS = {
    "StepStartJobFunction": {"states:SendTaskSuccess"},  # free agents, resumed paid steps, skipped steps
    "StepPaymentFunction": {"states:SendTaskSuccess", "states:SendTaskFailure"},
    "CancelFunction": {"states:SendTaskFailure"},  # a waiting token is failed with WorkflowCancelled
    "StepPollFunction": {"states:SendTaskSuccess"},  # WatchJob completes; the API's poll wakes it
    "AgentAccessFunction": {"states:SendTaskSuccess"},  # a pushed completion wakes WatchJob
}
IDEMPOTENT_FUNCTIONS = {"CreateFunction", "StartFunction", "StepPaymentFunction"}


@pytest.fixture(scope="module")
def functions() -> dict[str, dict[str, Any]]:
    doc: dict[str, Any] = yaml.load(TEMPLATE_PATH.read_text(), Loader=_CfnLoader)
    return {
        name: resource["Properties"]
        for name, resource in doc["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _statement_actions(properties: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for policy in properties.get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            listed = statement["Action"]
            actions |= {listed} if isinstance(listed, str) else set(listed)
    return actions


def test_task_token_actions_are_exactly_what_each_function_calls(
    functions: dict[str, dict[str, Any]],
) -> None:
    for name, properties in functions.items():
        granted = {a for a in _statement_actions(properties) if a.startswith("states:SendTask")}
        assert granted == TASK_TOKEN_ACTIONS.get(name, set()), name


def test_only_the_idempotent_routes_reach_the_idempotency_table(functions: dict[str, dict[str, Any]]) -> None:
    for name, properties in functions.items():
        uses_policy = {"Ref": "IdempotencyTablePolicy"} in properties.get("Policies", [])
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        assert uses_policy == (name in IDEMPOTENT_FUNCTIONS), name
        assert ("IDEMPOTENCY_TABLE" in variables) == (name in IDEMPOTENT_FUNCTIONS), name
        assert not any(a.startswith("dynamodb:") for a in _statement_actions(properties)), name
