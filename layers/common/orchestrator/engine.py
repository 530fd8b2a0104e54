"""The workflow engine: AWS Step Functions (moto's interpreter on the local stack)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Any, Protocol

from orchestrator.errors import EngineUnavailable
from orchestrator.models import OrchestratorModel

_EXECUTION_NAME = re.compile(r"^wf-(?P<workflow_id>.+)-(?P<attempt>\d+)$")


def execution_name(workflow_id: str, attempt: int) -> str:
    """An execution is named after its workflow and attempt, so operators find it in the console."""
    return f"wf-{workflow_id}-{attempt}"


def parse_execution_name(name: str) -> tuple[str, int] | None:
    """(workflow id, attempt) of an execution named by `execution_name`, else None."""
    named = _EXECUTION_NAME.match(name)
    return (named.group("workflow_id"), int(named.group("attempt"))) if named else None


def execution_ref(detail: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """(workflow id, attempt) of an execution as a status-change event describes it: from its input
    (an `ExecutionInput`), else from its name."""
    workflow_id: str | None = None
    attempt: int | None = None
    text = detail.get("input")
    data: Any = None
    if isinstance(text, str):
        with contextlib.suppress(ValueError):
            data = json.loads(text)
    if isinstance(data, dict):
        if isinstance(data.get("workflow_id"), str) and data["workflow_id"]:
            workflow_id = data["workflow_id"]
        if isinstance(data.get("attempt"), int) and not isinstance(data["attempt"], bool):
            attempt = data["attempt"]
    named = parse_execution_name(str(detail.get("name") or ""))
    if named is not None:
        workflow_id = workflow_id or named[0]
        attempt = named[1] if attempt is None else attempt
    return workflow_id, attempt


class ExecutionInput(OrchestratorModel):
    """What an execution starts with: ids and counters only, never inputs, outputs or secrets."""

    workflow_id: str
    start_step: int
    attempt: int


class ExecutionDescription(OrchestratorModel):
    """What Step Functions says about one execution (DescribeExecution)."""

    execution_arn: str
    name: str = ""
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE
    input: str | None = None
    error: str | None = None
    cause: str | None = None


# The IAM action each Engine method needs: tests/unit/test_template_iam.py grants every function in
# template.yaml exactly the actions of the engine methods its code calls (a method needs a line here).
IAM_ACTIONS: dict[str, str] = {
    "start_execution": "states:StartExecution",
    "send_task_success": "states:SendTaskSuccess",
    "send_task_failure": "states:SendTaskFailure",
    "describe_execution": "states:DescribeExecution",
}


class Engine(Protocol):
    def start_execution(self, name: str, execution_input: ExecutionInput) -> str: ...

    def send_task_success(self, task_token: str, output: dict[str, Any]) -> bool: ...

    def send_task_failure(self, task_token: str, error: str, cause: str) -> bool: ...

    def describe_execution(self, execution_arn: str) -> ExecutionDescription | None:
        """None when the execution does not exist (any more)."""
        ...


class StepFunctionsEngine:
    def __init__(self, state_machine_arn: str | None, region: str) -> None:
        self.state_machine_arn = state_machine_arn
        self.region = region
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # heavy; only the functions that talk to Step Functions pay for it

            self._client = boto3.client("stepfunctions", region_name=self.region)
        return self._client

    def start_execution(self, name: str, execution_input: ExecutionInput) -> str:
        if not self.state_machine_arn:
            # Only the start function is given the state machine's ARN (see template.yaml).
            raise EngineUnavailable("The workflow engine is not configured (STATE_MACHINE_ARN is not set).")
        try:
            response = self.client.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=name,
                input=execution_input.model_dump_json(),
            )
        except Exception as exc:  # botocore errors and connection errors alike
            raise EngineUnavailable(f"The workflow engine could not start the execution: {exc}") from exc
        return str(response["executionArn"])

    def send_task_success(self, task_token: str, output: dict[str, Any]) -> bool:
        """False when the task no longer waits (timed out, already completed)."""
        return self._callback(
            lambda: self.client.send_task_success(taskToken=task_token, output=json.dumps(output))
        )

    def send_task_failure(self, task_token: str, error: str, cause: str) -> bool:
        return self._callback(
            lambda: self.client.send_task_failure(taskToken=task_token, error=error, cause=cause[:32000])
        )

    def describe_execution(self, execution_arn: str) -> ExecutionDescription | None:
        from botocore.exceptions import ClientError

        try:
            response = self.client.describe_execution(executionArn=execution_arn)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ExecutionDoesNotExist":
                return None
            raise EngineUnavailable(f"The workflow engine could not describe the execution: {code}") from exc
        except Exception as exc:  # connection errors
            raise EngineUnavailable(f"The workflow engine could not describe the execution: {exc}") from exc
        return ExecutionDescription(
            execution_arn=str(response["executionArn"]),
            name=str(response.get("name") or ""),
            status=str(response["status"]),
            input=response.get("input"),
            error=response.get("error"),
            cause=response.get("cause"),
        )

    def _callback(self, call: Any) -> bool:
        from botocore.exceptions import ClientError

        try:
            call()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}:
                return False
            raise EngineUnavailable(f"The workflow engine did not accept the callback: {code}") from exc
        return True
