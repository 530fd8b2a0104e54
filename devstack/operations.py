"""What AWS does around the state machine, on the local stack: EventBridge's execution status events
and EventBridge Scheduler's runs, both read from template.yaml.

- The function whose `EventBridgeRule` matches `aws.states` "Step Functions Execution Status Change"
  (the reconcile function) receives the same event AWS would send, once per execution that ends with
  a status the rule names. moto emits no events, so a background thread polls `ListExecutions`.
- The function with a `ScheduleV2` (or `Schedule`) event (the sweep) runs every `sweep_seconds`,
  the local stack's `sweep_interval_seconds` (not the template's schedule expression).

Both reach the handlers through the same `FunctionRegistry` as the Lambda Invoke API. A failing
invocation is logged, as a dead-letter queue would keep it; the loop goes on.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from devstack.lambdas import FunctionError, FunctionRegistry
from devstack.template import LOCAL_ACCOUNT, LOCAL_REGION, Template

log = logging.getLogger(__name__)

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"


@dataclass(frozen=True)
class OperationsSpec:
    """Which functions template.yaml wires to execution status changes and to a schedule."""

    reconcile_function: str | None = None
    reconcile_statuses: frozenset[str] = field(default_factory=frozenset)
    sweep_function: str | None = None


def operations_spec(template: Template) -> OperationsSpec:
    reconcile: str | None = None
    statuses: frozenset[str] = frozenset()
    sweep: str | None = None
    for logical_id, resource in template.resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") == "EventBridgeRule":
                pattern = (event.get("Properties") or {}).get("Pattern") or {}
                if "aws.states" in (pattern.get("source") or []) and EXECUTION_STATUS_CHANGE in (
                    pattern.get("detail-type") or []
                ):
                    reconcile = logical_id
                    statuses = frozenset((pattern.get("detail") or {}).get("status") or [])
            elif event.get("Type") in ("ScheduleV2", "Schedule"):
                sweep = logical_id
    return OperationsSpec(reconcile_function=reconcile, reconcile_statuses=statuses, sweep_function=sweep)


def _epoch_millis(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else None


def execution_status_event(execution: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge event Step Functions sends when an execution's status changes (from a
    DescribeExecution answer)."""
    stopped = execution.get("stopDate")
    when = stopped if isinstance(stopped, datetime) else datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": LOCAL_ACCOUNT,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": LOCAL_REGION,
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution.get("stateMachineArn"),
            "name": execution.get("name"),
            "status": execution.get("status"),
            "startDate": _epoch_millis(execution.get("startDate")),
            "stopDate": _epoch_millis(stopped),
            "input": execution.get("input"),
            "output": execution.get("output"),
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if execution.get("output") is not None else None,
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        },
    }


class OperationsLoop:
    """A daemon thread: every `watch_seconds` deliver the ended executions' events to the reconcile
    function; every `sweep_seconds` run the sweep function. None turns either off."""

    def __init__(
        self,
        registry: FunctionRegistry,
        sfn_client: Any,
        state_machine_arn: str,
        spec: OperationsSpec,
        *,
        watch_seconds: float | None = 1.0,
        sweep_seconds: float | None = None,
        on_ended: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.registry = registry
        self.client = sfn_client
        self.state_machine_arn = state_machine_arn
        self.spec = spec
        self.watch_seconds = watch_seconds if spec.reconcile_function else None
        self.sweep_seconds = sweep_seconds if spec.sweep_function else None
        self.delivered: dict[str, Any] = {}  # execution arn → the reconcile function's answer
        self.on_ended = on_ended  # told of each ended execution (DescribeExecution), after reconcile
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one pass of each (the thread's work; tests call them directly) ---------------------------
    def deliver_ended_executions(self) -> list[str]:
        """Send one status event per newly ended execution; the arns delivered in this pass."""
        if not self.spec.reconcile_function:
            return []
        sent = []
        for status in sorted(self.spec.reconcile_statuses):
            pages = self.client.get_paginator("list_executions").paginate(
                stateMachineArn=self.state_machine_arn, statusFilter=status
            )
            for page in pages:
                for item in page.get("executions", []):
                    arn = item["executionArn"]
                    if arn in self.delivered:
                        continue
                    execution = self.client.describe_execution(executionArn=arn)
                    self.delivered[arn] = self._invoke(
                        self.spec.reconcile_function, execution_status_event(execution)
                    )
                    sent.append(arn)
                    if self.on_ended is not None:
                        try:
                            self.on_ended(execution)
                        except Exception:
                            log.warning("reporting the ended execution %s failed", arn, exc_info=True)
        return sent

    def run_sweep(self) -> Any:
        if not self.spec.sweep_function:
            return None
        return self._invoke(self.spec.sweep_function, {})

    def _invoke(self, function: str, event: dict[str, Any]) -> Any:
        try:
            return self.registry.invoke(function, event)
        except FunctionError as exc:
            log.warning("%s failed: %s: %s", function, exc.error_type, exc.message)
            return exc.payload()

    # --- the thread ---------------------------------------------------------------------------------
    def start(self) -> OperationsLoop:
        if self.watch_seconds is None and self.sweep_seconds is None:
            return self
        self._thread = threading.Thread(target=self._run, name="local-operations", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        import time

        next_watch = time.monotonic()
        next_sweep = time.monotonic() + (self.sweep_seconds or 0)
        while not self._stopped.is_set():
            now = time.monotonic()
            if self.watch_seconds is not None and now >= next_watch:
                self._safely(self.deliver_ended_executions)
                next_watch = time.monotonic() + self.watch_seconds
            if self.sweep_seconds is not None and now >= next_sweep:
                self._safely(self.run_sweep)
                next_sweep = time.monotonic() + self.sweep_seconds
            waits = [
                t for t, on in ((next_watch, self.watch_seconds), (next_sweep, self.sweep_seconds)) if on
            ]
            self._stopped.wait(max(0.05, min(waits) - time.monotonic()))

    @staticmethod
    def _safely(work: Any) -> None:
        try:
            work()
        except Exception:  # the mock went away at stop, a handler misbehaved: try again next time
            log.warning("local operations loop: %s failed", getattr(work, "__name__", work), exc_info=True)
