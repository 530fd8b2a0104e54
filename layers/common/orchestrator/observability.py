"""Logs, traces and metrics: the Powertools singletons every function shares, the decorator that applies
them to a Lambda handler, and the metrics adapter the use cases emit through (they never import
Powertools).

- Logs are JSON (Powertools Logger) with the Lambda context and `correlation_id` = the workflow id
  whenever the event names one (API body or path, task payload, execution status event).
- Traces (Powertools Tracer, X-Ray) switch themselves off outside Lambda; `POWERTOOLS_TRACE_DISABLED`
  switches them off explicitly. Responses are never recorded (they hold job outputs). The libraries
  X-Ray traces (`TRACED_LIBRARIES`: boto3/botocore, httpx, requests, sqlite3) are patched when the code
  first imports them, not all at cold start: a function that never talks to AWS never imports
  botocore (X-Ray's `patch_all` at `Tracer()` would, and httpx, for every function).
- Metrics are CloudWatch EMF lines on stdout in the `AgentOrchestrator` namespace (dimension
  `service`). `POWERTOOLS_METRICS_DISABLED=true` (the local stack, the tests) emits nothing at all.
  Emitting a metric never raises.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from orchestrator.engine import execution_ref
from orchestrator.schemas.api import MAX_BODY_BYTES, JsonBodyError, read_json

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "orchestrator"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "AgentOrchestrator"

# Metric names: the dashboard and the alarms in template.yaml use the same strings.
WORKFLOWS_CREATED = "WorkflowsCreated"
WORKFLOWS_COMPLETED = "WorkflowsCompleted"
WORKFLOWS_FAILED = "WorkflowsFailed"  # dimension: reason (the workflow's error code)
STEP_LATENCY = "StepLatency"  # seconds from a step's start to its completion
PAYMENT_WAIT = "PaymentWait"  # seconds from a payment request to the confirmed payment
AGENT_ERRORS = "AgentErrors"  # dimensions: agent_id, error_code (of errors.AGENT_CAUSED_ERRORS)

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, auto_patch=False)  # see trace_libraries_when_imported
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# What `patch_all` would patch that the layer ships or the code may import: the X-Ray name of each
# library and the module whose import means the library is about to be used (every botocore client
# comes from a session: once botocore.session is imported, botocore.client is too, and bound).
TRACED_LIBRARIES: dict[str, str] = {
    "botocore": "botocore.session",  # boto3's clients (Step Functions, DynamoDB, SSM)
    "httpx": "httpx",  # the agents, Supabase's PostgREST
    "requests": "requests",
    "sqlite3": "sqlite3",
}


def trace_libraries_when_imported() -> None:
    """With tracing on, patch each of `TRACED_LIBRARIES` for X-Ray subsegments as soon as it is imported
    (at once if it already is): before any client of it exists, and only in the functions that use it.
    A library that cannot be patched is left untraced, never broken."""
    if tracer.disabled:
        return
    import wrapt  # X-Ray's own dependency, already imported with the Tracer

    for library, module in TRACED_LIBRARIES.items():
        wrapt.register_post_import_hook(functools.partial(_patch, library), module)


def _patch(library: str, _module: Any) -> None:
    try:
        tracer.patch([library])
    except Exception:
        logger.warning("X-Ray could not patch %s: its calls are not traced", library, exc_info=True)


trace_libraries_when_imported()


# --- correlation ---------------------------------------------------------------------------------


def workflow_id_of(event: Any) -> str | None:
    """The workflow an event is about, if it says: task payload, API body or path, execution event."""
    if not isinstance(event, dict):
        return None
    if isinstance(event.get("workflow_id"), str):  # a state-machine task payload
        return str(event["workflow_id"])
    detail = event.get("detail")
    if isinstance(detail, dict):  # an EventBridge "Step Functions Execution Status Change"
        return execution_ref(detail)[0]
    path = event.get("pathParameters") or {}
    if isinstance(path, dict):
        for key in ("id", "workflow_id", "workflowId"):
            if isinstance(path.get(key), str):
                return str(path[key])
    if "requestContext" in event and not event.get("isBase64Encoded"):
        return _json_field(event.get("body"), "workflow_id") or _json_field(event.get("body"), "workflowId")
    return None


def _json_field(text: Any, key: str) -> str | None:
    """A top-level string field of a JSON body, read within the body limits (size, nesting) of
    `orchestrator.schemas.read_json`; anything else (too large, too deep, not JSON) names no
    workflow. Never raises: the body is screened and refused by the route itself."""
    if not isinstance(text, str) or not text.startswith("{") or len(text) > MAX_BODY_BYTES:
        return None
    try:
        document = read_json(text)
    except JsonBodyError:
        return None
    value = document.get(key) if isinstance(document, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 64 and value.isprintable() else None


def set_correlation_id(workflow_id: str | None) -> None:
    """Every log line of this invocation carries the workflow id (and the trace is annotated with it).

    Kept per thread: the local stack runs many invocations at once in one process.
    """
    logger.thread_safe_remove_keys(["correlation_id"])
    if workflow_id:
        logger.thread_safe_append_keys(correlation_id=workflow_id)
    if workflow_id:
        with contextlib.suppress(Exception):  # no open segment (tests, local stack): nothing to annotate
            tracer.put_annotation(key="workflow_id", value=workflow_id)


# --- the handler decorator -------------------------------------------------------------------------

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


def observed(handler: HandlerT) -> HandlerT:
    """Logger context + correlation id, a trace segment, and the metrics flushed at the end.

    The same as stacking `@logger.inject_lambda_context`, `@tracer.capture_lambda_handler` and
    `@metrics.log_metrics(capture_cold_start_metric=True)`, except that disabled metrics print
    nothing (Powertools would still print single metrics and the cold start).
    """

    def correlated(event: Any, context: Any) -> Any:
        set_correlation_id(workflow_id_of(event))
        return handler(event, context)

    traced = tracer.capture_lambda_handler(correlated, capture_response=False)
    logged = logger.inject_lambda_context(traced, clear_state=True)

    @functools.wraps(handler)
    def lambda_handler(event: Any, context: Any) -> Any:
        try:
            # Without a context (a script calling the handler) there is no Lambda context to log.
            return logged(event, context) if context is not None else traced(event, context)
        finally:
            flush_metrics(context)

    return lambda_handler  # type: ignore[return-value]


_cold_start = True


def flush_metrics(context: Any = None) -> None:
    """Print the metrics gathered during this invocation as one EMF line (plus the cold start once)."""
    global _cold_start
    if is_metrics_disabled():
        metrics.clear_metrics()
        return
    try:
        if _cold_start and context is not None:
            _cold_start = False
            metrics.provider.add_cold_start_metric(context)
        if metrics.metric_set:
            metrics.flush_metrics()
    except Exception:
        logger.warning("metrics could not be published", exc_info=True)
        metrics.clear_metrics()


# --- the use cases' metrics ------------------------------------------------------------------------


class WorkflowMetrics(Protocol):
    """What the use cases report; implementations never raise."""

    def workflow_created(self) -> None: ...

    def workflow_completed(self) -> None: ...

    def workflow_failed(self, reason: str) -> None: ...

    def step_latency(self, seconds: float) -> None: ...

    def payment_wait(self, seconds: float) -> None: ...

    def agent_error(self, agent_id: str, error_code: str) -> None: ...


class EmfMetrics:
    """`WorkflowMetrics` as CloudWatch EMF through Powertools.

    Plain counters and timings join the invocation's metric set (flushed by `observed`); a metric
    with its own dimensions is printed at once, with the `service`-only dimension set as well so that
    alarms and the dashboard can use the total.
    """

    def workflow_created(self) -> None:
        self._add(WORKFLOWS_CREATED, MetricUnit.Count, 1)

    def workflow_completed(self) -> None:
        self._add(WORKFLOWS_COMPLETED, MetricUnit.Count, 1)

    def workflow_failed(self, reason: str) -> None:
        self._single(WORKFLOWS_FAILED, MetricUnit.Count, 1, [{"reason": reason}])

    def step_latency(self, seconds: float) -> None:
        self._add(STEP_LATENCY, MetricUnit.Seconds, seconds)

    def payment_wait(self, seconds: float) -> None:
        self._add(PAYMENT_WAIT, MetricUnit.Seconds, seconds)

    def agent_error(self, agent_id: str, error_code: str) -> None:
        self._single(
            AGENT_ERRORS,
            MetricUnit.Count,
            1,
            [{"agent_id": agent_id}, {"agent_id": agent_id, "error_code": error_code}],
        )

    @staticmethod
    def _add(name: str, unit: MetricUnit, value: float) -> None:
        if is_metrics_disabled():
            return
        try:
            # A clock that went backwards between two hosts must not make a negative duration.
            metrics.add_metric(
                name=name, unit=unit, value=max(0.0, value) if unit == MetricUnit.Seconds else value
            )
        except Exception:
            logger.warning("metric %s could not be recorded", name, exc_info=True)

    @staticmethod
    def _single(name: str, unit: MetricUnit, value: float, dimension_sets: list[dict[str, str]]) -> None:
        if is_metrics_disabled():
            return
        try:
            # A provider of its own: these dimensions must not leak into the invocation's metric set.
            emf = AmazonCloudWatchEMFProvider(
                namespace=NAMESPACE, service=SERVICE, metric_set={}, dimension_set={}, metadata_set={}
            )
            emf.add_metric(name=name, unit=unit, value=value)
            for dimensions in dimension_sets:
                emf.add_dimensions(service=SERVICE, **{k: v or "unknown" for k, v in dimensions.items()})
            emf.flush_metrics()
        except Exception:
            logger.warning("metric %s could not be recorded", name, exc_info=True)
