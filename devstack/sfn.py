"""Step Functions on the local stack: moto's interpreter, in-process, running statemachine/."""

from __future__ import annotations

import json
from typing import Any

from devstack.template import LOCAL_ACCOUNT, LOCAL_REGION, Template

# moto executes definitions only when asked; Lambda calls pass through to our Invoke API.
MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "core": {"passthrough": {"services": ["lambda"]}},
}


class LocalStepFunctions:
    """Starts moto's mock, creates the template's state machine, and stops the mock again."""

    def __init__(self, template: Template, *, payment_timeout_seconds: int | None = None) -> None:
        self.template = template
        self.payment_timeout_seconds = payment_timeout_seconds
        self._mock: Any = None
        self.state_machine_arn = ""

    def start(self) -> str:
        from moto import mock_aws

        self._mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[call-overload]
        self._mock.start()
        overrides = {}
        if self.payment_timeout_seconds is not None:
            overrides["PaymentTimeoutSeconds"] = self.payment_timeout_seconds
        definition = self.template.state_machine_definition(overrides)
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

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
