"""Step Functions on the local stack: moto's interpreter, in-process, running statemachine/.

The same `mock_aws` also serves the template's DynamoDB tables (the idempotency table) in-process.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

from devstack.logs import fail_state_errors, quiet_expected_failures
from devstack.template import LOCAL_ACCOUNT, LOCAL_REGION, Template

# moto executes definitions only when asked; Lambda calls pass through to our Invoke API.
MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "core": {"passthrough": {"services": ["lambda"]}},
}


_ATOMIC_WRITES_LOCK = threading.RLock()


def keep_stopped_executions_aborted() -> None:
    """As in AWS, a stopped execution stays ABORTED. moto's StopExecution while a task waits for its
    token (WatchJob does whenever a job runs) lets the waiting task fail afterwards with an error
    of moto's own (States.Runtime), and that error overwrote the stop: the execution ended FAILED."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    original = Environment.set_error
    if getattr(original, "_keeps_stopped", False):
        return

    def set_error(self: Any, error: Any) -> None:
        if isinstance(self._program_state, ProgramStopped):
            return
        original(self, error)

    set_error._keeps_stopped = True  # type: ignore[attr-defined]
    Environment.set_error = set_error  # type: ignore[method-assign]


def follow_catches_to_their_own_state() -> None:
    """As in AWS, a Catch whose `Next` is its own state re-enters it (WatchJob's timeout is the next
    look: one transition). moto takes "next state = this state" for "no Next chosen" and went on to
    the state's own `Next` (IsJobDone), a transition more per look than AWS bills."""
    from moto.stepfunctions.parser.asl.component.common.catch.catcher_decl import CatcherDecl
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

    if getattr(CatcherDecl._eval_body, "_marks_next", False):
        return
    catch_body = CatcherDecl._eval_body
    set_next = CommonStateField._set_next

    def caught(self: Any, env: Any) -> None:
        catch_body(self, env)
        if type(env.stack[-1]).__name__ == "CatcherOutcomeCaught":
            env.caught_next_state_name = self.next_decl.name

    def next_state(self: Any, env: Any) -> None:
        chosen = getattr(env, "caught_next_state_name", None)
        if chosen is not None:
            env.caught_next_state_name = None
            env.next_state_name = chosen
            return
        set_next(self, env)

    caught._marks_next = True  # type: ignore[attr-defined]
    CatcherDecl._eval_body = caught  # type: ignore[method-assign]
    CommonStateField._set_next = next_state  # type: ignore[method-assign]


def make_dynamodb_writes_atomic() -> None:
    """DynamoDB applies a conditional write atomically; moto's in-process backend checks the condition
    and writes in two steps with no lock, so two threads (the local stack serves requests at once) can
    both pass an `attribute_not_exists` condition, e.g. two submissions with one Idempotency-Key. One
    lock around moto's item writes gives the local stack DynamoDB's behaviour. Done once per process."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_orch_atomic_writes", False):
        return
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with _ATOMIC_WRITES_LOCK:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(original)(locked))
    DynamoDBBackend._orch_atomic_writes = True  # type: ignore[attr-defined]


class LocalStepFunctions:
    """Starts moto's mock, creates the template's state machine, and stops the mock again."""

    def __init__(self, template: Template, *, payment_timeout_seconds: int | None = None) -> None:
        self.template = template
        self.payment_timeout_seconds = payment_timeout_seconds
        self._mock: Any = None
        self.state_machine_arn = ""

    def start(self) -> str:
        from moto import mock_aws

        make_dynamodb_writes_atomic()
        keep_stopped_executions_aborted()
        follow_catches_to_their_own_state()
        self._mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[call-overload]
        self._mock.start()
        overrides = {}
        if self.payment_timeout_seconds is not None:
            overrides["PaymentTimeoutSeconds"] = self.payment_timeout_seconds
        definition = self.template.state_machine_definition(overrides)
        # moto logs every failure event at ERROR with the whole state's repr: not for the expected
        # ones (a look's timeout, a failed or cancelled workflow's Fail state, a domain error).
        quiet_expected_failures(fail_state_errors(definition))
        response = self.client().create_state_machine(
            name=self.template.state_machine.logical_id,
            definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/local-state-machine",
            type="STANDARD",
        )
        self.state_machine_arn = response["stateMachineArn"]
        return self.state_machine_arn

    def client(self) -> Any:
        import boto3

        return boto3.client("stepfunctions", region_name=LOCAL_REGION)

    def create_table(self, logical_id: str) -> str:
        """Create the template's `AWS::DynamoDB::Table` `logical_id` in the mock; named after its logical id."""
        import boto3

        spec = dynamodb_table_spec(self.template, logical_id)
        client = boto3.client("dynamodb", region_name=LOCAL_REGION)
        ttl = spec.pop("TimeToLiveSpecification", None)
        client.create_table(**spec)
        if ttl:
            client.update_time_to_live(TableName=spec["TableName"], TimeToLiveSpecification=ttl)
        return str(spec["TableName"])

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None


def dynamodb_table_spec(template: Template, logical_id: str) -> dict[str, Any]:
    """`create_table` arguments for one `AWS::DynamoDB::Table` of the template (keys, billing, TTL)."""
    resource = template.resources.get(logical_id) or {}
    if resource.get("Type") != "AWS::DynamoDB::Table":
        raise ValueError(f"the template declares no AWS::DynamoDB::Table {logical_id}")
    props = resource.get("Properties") or {}
    spec: dict[str, Any] = {
        "TableName": props.get("TableName", logical_id),
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        spec["TimeToLiveSpecification"] = {
            "AttributeName": ttl["AttributeName"],
            "Enabled": bool(ttl["Enabled"]),
        }
    return spec
