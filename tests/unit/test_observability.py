"""orchestrator.observability: EMF metrics (captured from stdout), JSON logs with the workflow as
correlation id, Tracer switched off outside Lambda, and every function's handler wrapped by it."""

from __future__ import annotations

import importlib.util
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from orchestrator import observability
from orchestrator.config import Settings
from orchestrator.dependencies import Dependencies, get_dependencies
from orchestrator.observability import EmfMetrics, logger, metrics, observed, workflow_id_of

from devstack.lambdas import FunctionRegistry, LambdaContext
from devstack.template import load_template


def emf_documents(text: str) -> list[dict[str, Any]]:
    docs = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [doc for doc in docs if "_aws" in doc]


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The JSON lines the shared Powertools logger writes during the test."""
    stream = io.StringIO()
    handler = logger.registered_handler
    monkeypatch.setattr(handler, "stream", stream)
    level = logger.log_level
    logger.setLevel("INFO")
    yield stream
    logger.setLevel(level)


def context(name: str = "TestFunction") -> LambdaContext:
    return LambdaContext(function_name=name, aws_request_id=str(uuid.uuid4()))


# --- metrics ---------------------------------------------------------------------------------------


def test_an_invocation_flushes_its_counters_and_timings_as_one_emf_document(
    metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = EmfMetrics()

    @observed
    def handler(event: dict[str, Any], ctx: Any) -> dict[str, bool]:
        sink.workflow_created()
        sink.step_latency(2.5)
        sink.step_latency(4.0)
        sink.payment_wait(31.0)
        assert capsys.readouterr().out == ""  # nothing is printed before the handler returns
        return {"ok": True}

    assert handler({"workflow_id": "wf-1"}, context()) == {"ok": True}
    docs = emf_documents(capsys.readouterr().out)
    flushed = [doc for doc in docs if "WorkflowsCreated" in doc]
    assert len(flushed) == 1
    doc = flushed[0]
    assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "AgentOrchestrator"
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    units = {m["Name"]: m["Unit"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"WorkflowsCreated": "Count", "StepLatency": "Seconds", "PaymentWait": "Seconds"}
    assert doc["StepLatency"] == [2.5, 4.0]
    assert doc["PaymentWait"] == [31.0]
    assert doc["service"] == "orchestrator"
    # Flushed means gone: the next invocation starts empty.
    assert metrics.metric_set == {}


def test_dimensioned_metrics_are_printed_at_once_with_the_total_dimension_set(
    metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    EmfMetrics().agent_error("agent-movies", "AgentJobFailed")
    (doc,) = emf_documents(capsys.readouterr().out)
    assert doc["AgentErrors"] == [1.0]
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["service"],
        ["service", "agent_id"],
        ["service", "agent_id", "error_code"],
    ]
    assert (doc["agent_id"], doc["error_code"], doc["service"]) == (
        "agent-movies",
        "AgentJobFailed",
        "orchestrator",
    )
    # Its dimensions did not leak into the invocation's shared metric set.
    assert metrics.dimension_set.get("agent_id") is None


def test_disabled_metrics_print_nothing_and_keep_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    sink = EmfMetrics()

    @observed
    def handler(event: dict[str, Any], ctx: Any) -> None:
        sink.workflow_completed()
        sink.workflow_failed("AgentJobFailed")
        sink.agent_error("agent-movies", "AgentUnavailable")

    handler({}, context())
    assert emf_documents(capsys.readouterr().out) == []
    assert metrics.metric_set == {}


def test_a_broken_metric_never_raises(metrics_on: None, capsys: pytest.CaptureFixture[str]) -> None:
    sink = EmfMetrics()
    sink.step_latency("soon")  # type: ignore[arg-type]
    sink.payment_wait(-3.0)  # a clock that went backwards: recorded as 0
    sink.agent_error("", "")
    out = capsys.readouterr().out
    (doc,) = emf_documents(out)
    assert (doc["agent_id"], doc["error_code"]) == ("unknown", "unknown")
    assert metrics.metric_set["PaymentWait"]["Value"] == [0.0]
    assert "StepLatency" not in metrics.metric_set


def test_the_first_invocation_reports_a_cold_start_once(
    metrics_on: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(observability, "_cold_start", True)

    @observed
    def handler(event: dict[str, Any], ctx: Any) -> None:
        return None

    handler({}, context("ColdFunction"))
    handler({}, context("ColdFunction"))
    cold = [doc for doc in emf_documents(capsys.readouterr().out) if "ColdStart" in doc]
    assert len(cold) == 1
    assert cold[0]["function_name"] == "ColdFunction"


# --- logs and correlation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"workflow_id": "wf-task", "step_number": 1, "attempt": 1}, "wf-task"),
        (
            {
                "routeKey": "POST /api/workflows/start",
                "requestContext": {},
                "body": '{"workflowId": "wf-camel"}',
            },
            "wf-camel",
        ),
        (
            {
                "routeKey": "GET /api/workflows/{id}",
                "requestContext": {},
                "pathParameters": {"id": "wf-path"},
            },
            "wf-path",
        ),
        (
            {
                "detail-type": "Step Functions Execution Status Change",
                "detail": {"input": '{"workflow_id": "wf-in"}'},
            },
            "wf-in",
        ),
        ({"detail-type": "x", "detail": {"name": "wf-0b5e-4c1d-9-2", "input": None}}, "0b5e-4c1d-9"),
        ({"routeKey": "POST /api/workflows/create", "requestContext": {}, "body": "not json"}, None),
        ({}, None),
    ],
)
def test_the_workflow_an_event_is_about(event: dict[str, Any], expected: str | None) -> None:
    assert workflow_id_of(event) == expected


def test_every_log_line_of_an_invocation_carries_the_workflow_and_the_lambda_context(
    log_lines: io.StringIO,
) -> None:
    @observed
    def handler(event: dict[str, Any], ctx: Any) -> None:
        logger.info("working on it")

    handler({"workflow_id": "wf-42", "step_number": 2, "attempt": 1}, context("StepPollFunction"))
    handler({"routeKey": "GET /api/health", "requestContext": {}}, context("HealthFunction"))
    first, second = (json.loads(line) for line in log_lines.getvalue().splitlines())
    assert first["message"] == "working on it"
    assert first["correlation_id"] == "wf-42"
    assert first["function_name"] == "StepPollFunction"
    assert first["service"] == "orchestrator"
    # The next invocation starts clean: no workflow leaks from the previous one.
    assert second["function_name"] == "HealthFunction"
    assert second.get("correlation_id") is None


# --- every function ----------------------------------------------------------------------------------


def _load_handler(spec: Any) -> Any:
    module_file, _, attr = spec.handler.rpartition(".")
    path = spec.code_uri / f"{module_file}.py"
    loader = importlib.util.spec_from_file_location(f"handler_check_{spec.logical_id}", path)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return getattr(module, attr)


def test_every_function_handler_loads_and_is_observed() -> None:
    template = load_template()
    assert {"ReconcileFunction", "SweepFunction"} <= set(template.functions)
    for spec in template.functions.values():
        handler = _load_handler(spec)
        assert callable(handler), spec.logical_id
        # functools.wraps in `observed` keeps the handler it wraps.
        assert getattr(handler, "__wrapped__", None) is not None, f"{spec.logical_id} is not @observed"


@pytest.fixture
def registry(tmp_path: Path) -> FunctionRegistry:
    """The template's functions, every one given a bundle on an empty SQLite store of its own."""
    loaded = FunctionRegistry(load_template())
    deps = Dependencies(Settings(store_backend="sqlite", sqlite_path=str(tmp_path / "orchestrator.sqlite3")))
    loaded.dependency_overrides[get_dependencies] = lambda: deps
    return loaded


def test_the_reconcile_and_sweep_handlers_answer_on_an_empty_store(registry: FunctionRegistry) -> None:
    event = {
        "version": "0",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {
            "executionArn": "arn:aws:states:us-east-1:123456789012:execution:WorkflowStateMachine:wf-abc-1",
            "name": "wf-abc-1",
            "status": "ABORTED",
            "input": '{"workflow_id": "abc", "start_step": 1, "attempt": 1}',
        },
    }
    assert registry.invoke("ReconcileFunction", event) == {
        "workflow_id": "abc",
        "action": "unchanged",
        "detail": "There is no such workflow.",
    }
    assert registry.invoke("SweepFunction", {}) == {
        "checked": 0,
        "repaired": [],
        "still_running": [],
        "unreachable": [],
    }


def test_concurrent_invocations_each_log_their_own_workflow(log_lines: io.StringIO) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    both_inside = threading.Barrier(2, timeout=5)

    @observed
    def handler(event: dict[str, Any], ctx: Any) -> None:
        both_inside.wait()  # both invocations have set their correlation id
        logger.info("polled", extra={"for": event["workflow_id"]})

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(handler, {"workflow_id": wf}, context()) for wf in ("wf-a", "wf-b")]
        for future in futures:
            future.result(timeout=10)
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert sorted((line["for"], line["correlation_id"]) for line in lines) == [
        ("wf-a", "wf-a"),
        ("wf-b", "wf-b"),
    ]
