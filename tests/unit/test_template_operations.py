"""template.yaml's operations part: the reconcile rule, the sweep schedule, least-privilege policies,
alarms on the SNS topic, the dashboard, and what the local stack reads from them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from orchestrator import observability

from devstack.operations import OperationsSpec, operations_spec
from devstack.template import TEMPLATE_PATH, _CfnLoader, load_template


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE_PATH.read_text(), Loader=_CfnLoader)
    return loaded


def resources(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in doc["Resources"].items() if r["Type"] == kind}


def props(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(doc["Resources"][name]["Properties"])


def test_reconcile_rule_matches_ended_executions_of_the_workflow_state_machine_only(
    doc: dict[str, Any],
) -> None:
    events = props(doc, "ReconcileFunction")["Events"]
    (rule,) = events.values()
    assert rule["Type"] == "EventBridgeRule"
    pattern = rule["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": "WorkflowStateMachine"}]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    # Undeliverable events and failed invocations both land in the one queue the alarm watches.
    assert rule["Properties"]["DeadLetterConfig"] == {
        "Type": "SQS",
        "QueueLogicalId": "ReconcileDeadLetterQueue",
    }
    assert props(doc, "ReconcileFunction")["DeadLetterQueue"] == {
        "Type": "SQS",
        "TargetArn": {"Fn::GetAtt": ["ReconcileDeadLetterQueue", "Arn"]},
    }
    # It needs no Step Functions permission at all (the event carries the execution): only the store's secret.
    assert props(doc, "ReconcileFunction")["Policies"] == [{"Ref": "StoreSecretReadPolicy"}]


def test_sweep_runs_every_five_minutes_and_may_only_describe_this_machines_executions(
    doc: dict[str, Any],
) -> None:
    sweep = props(doc, "SweepFunction")
    (schedule,) = sweep["Events"].values()
    assert schedule["Type"] == "ScheduleV2"
    assert schedule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    store_secret, policy = sweep["Policies"]
    assert store_secret == {"Ref": "StoreSecretReadPolicy"}
    (statement,) = policy["Statement"]
    assert statement["Action"] == "states:DescribeExecution"
    resource = statement["Resource"]["Fn::Sub"]
    assert resource.endswith(":execution:${WorkflowStateMachine.Name}:*")
    assert "*" not in resource.removesuffix(":*")
    env = sweep["Environment"]["Variables"]
    assert env["PAYMENT_TIMEOUT_SECONDS"] == {"Ref": "PaymentTimeoutSeconds"}
    assert env["SWEEP_MARGIN_SECONDS"] == {"Ref": "SweepMarginSeconds"}


def test_functions_without_routes_stay_out_of_the_local_api() -> None:
    template = load_template()
    routed = {fn.logical_id for _, fn in template.routes()}
    assert {"ReconcileFunction", "SweepFunction"} <= set(template.functions)
    assert not {"ReconcileFunction", "SweepFunction"} & routed
    assert "HealthFunction" in routed


def test_the_local_stack_finds_the_reconcile_and_sweep_functions_in_the_template() -> None:
    assert operations_spec(load_template()) == OperationsSpec(
        reconcile_function="ReconcileFunction",
        reconcile_statuses=frozenset({"ABORTED", "TIMED_OUT", "FAILED"}),
        sweep_function="SweepFunction",
    )


def test_state_machine_alarms_watch_failed_timed_out_and_aborted_executions(doc: dict[str, Any]) -> None:
    alarms = resources(doc, "AWS::CloudWatch::Alarm")
    by_metric = {
        a["Properties"].get("MetricName"): a["Properties"]
        for a in alarms.values()
        if a["Properties"].get("Namespace") == "AWS/States"
    }
    assert set(by_metric) == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    for alarm in by_metric.values():
        assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "WorkflowStateMachine"}}]
        assert alarm["TreatMissingData"] == "notBreaching"
    assert by_metric["ExecutionsFailed"]["Threshold"] == {"Ref": "FailedExecutionsAlarmThreshold"}
    assert by_metric["ExecutionsAborted"]["Threshold"] == 1


def _errors_functions(alarm: dict[str, Any]) -> list[str]:
    names = []
    for metric in alarm["Properties"].get("Metrics") or []:
        stat = metric.get("MetricStat")
        if stat and stat["Metric"]["MetricName"] == "Errors":
            (dimension,) = stat["Metric"]["Dimensions"]
            names.append(dimension["Value"]["Ref"])
    return names


def test_every_function_errors_metric_is_in_exactly_one_alarm(doc: dict[str, Any]) -> None:
    functions = set(resources(doc, "AWS::Serverless::Function"))
    alarms = resources(doc, "AWS::CloudWatch::Alarm")
    watched = [name for alarm in alarms.values() for name in _errors_functions(alarm)]
    assert sorted(watched) == sorted(functions), "add a new function to one of the *FunctionErrorsAlarm"
    for name, alarm in alarms.items():
        metrics = alarm["Properties"].get("Metrics")
        if metrics:
            assert len(metrics) <= 11, f"{name}: an alarm's metric math takes at most 10 metrics"
            assert [m["Expression"] for m in metrics if m.get("ReturnData")] == ["SUM(METRICS())"]
    throttles = [a["Properties"] for a in alarms.values() if a["Properties"].get("MetricName") == "Throttles"]
    assert throttles and throttles[0]["Namespace"] == "AWS/Lambda" and "Dimensions" not in throttles[0]


def test_every_alarm_notifies_the_alarm_topic_and_the_email_is_optional(doc: dict[str, Any]) -> None:
    for name, alarm in resources(doc, "AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert "Runbook" in alarm["Properties"]["AlarmDescription"], name
    assert doc["Resources"]["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = doc["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert doc["Parameters"]["AlarmEmail"]["Default"] == ""


def test_the_dead_letter_queue_has_a_depth_alarm(doc: dict[str, Any]) -> None:
    alarm = props(doc, "ReconcileDeadLetterAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ReconcileDeadLetterQueue", "QueueName"]}}
    ]


def test_the_dashboard_is_valid_json_and_shows_the_custom_metrics(doc: dict[str, Any]) -> None:
    body = props(doc, "OperationsDashboard")["DashboardBody"]["Fn::Sub"]
    # CloudFormation fills ${…}; any value keeps the JSON valid.
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "X", body))
    text = json.dumps(dashboard)
    for name in (
        observability.WORKFLOWS_CREATED,
        observability.WORKFLOWS_COMPLETED,
        observability.WORKFLOWS_FAILED,
        observability.STEP_LATENCY,
        observability.PAYMENT_WAIT,
        observability.AGENT_ERRORS,
        "ExecutionsFailed",
        "ExecutionsAborted",
    ):
        assert name in text, name
    assert text.count(observability.NAMESPACE) >= 4
    alarm_widget = next(w for w in dashboard["widgets"] if w["type"] == "alarm")
    assert len(alarm_widget["properties"]["alarms"]) == len(resources(doc, "AWS::CloudWatch::Alarm"))


def test_functions_log_trace_and_count_in_the_namespace_the_code_uses(doc: dict[str, Any]) -> None:
    function_globals = doc["Globals"]["Function"]
    assert function_globals["Tracing"] == "Active"
    env = function_globals["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == observability.NAMESPACE == "AgentOrchestrator"
    assert env["POWERTOOLS_SERVICE_NAME"] == observability.SERVICE


def test_store_secret_is_readable_by_every_function_that_touches_the_store_and_the_key_only_by_create(
    doc: dict[str, Any],
) -> None:
    functions = {
        name: resource["Properties"]
        for name, resource in doc["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    storeless = {"HealthFunction", "OpenApiFunction"}
    for name, properties in functions.items():
        policies = properties.get("Policies", [])
        assert ({"Ref": "StoreSecretReadPolicy"} in policies) == (name not in storeless), name
        planner_key = any("PlannerSecretReadPolicy" in str(policy) for policy in policies)
        assert planner_key == (name == "CreateFunction"), name
    (statement,) = doc["Resources"]["StoreSecretReadPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "ssm:GetParameter"
    assert statement["Resource"]["Fn::Sub"].endswith(":parameter${SupabaseServiceRoleKeyParameter}")
