"""Drives one workflow through the HTTP API as the web page would: create, approve, start, pay each
step with a dev wallet, wait for the outcome."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import BaseModel

from devstack.wallet import DevWallet

TERMINAL_WORKFLOW_STATUSES = {"completed", "failed", "cancelled"}


class DemoStep(BaseModel):
    step_number: int
    agent_id: str
    agent_name: str
    status: str
    price_microalgo: int = 0
    txn_ids: list[str] = []
    confirmed_round: int | None = None
    output: Any = None
    error: dict[str, Any] | None = None


class DemoResult(BaseModel):
    workflow_id: str | None
    status: str
    reasoning: str = ""
    total_cost_microalgo: int = 0
    steps: list[DemoStep] = []
    final_output: Any = None
    error: dict[str, Any] | None = None
    elapsed_seconds: float = 0.0


class ApiError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"{status} {error.get('code')}: {error.get('message')}")
        self.status = status
        self.error = error


class WorkflowDriver:
    def __init__(
        self,
        api_url: str,
        wallet: DevWallet,
        *,
        say: Callable[[str], None] = lambda line: None,
        poll_seconds: float = 0.25,
        heartbeat_seconds: float = 5.0,
        token: str | None = None,
    ) -> None:
        # `token`: the person's access token, sent with every call (the API's JWT authorizer wants it).
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=api_url, timeout=60.0, headers=headers)
        self.wallet = wallet
        self.say = say
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._started = time.monotonic()

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.request(method, path, json=body)
        data = response.json()
        if response.status_code >= 400:
            raise ApiError(response.status_code, data.get("error", {}))
        return dict(data)

    def _log(self, line: str) -> None:
        self.say(f"[{time.monotonic() - self._started:6.1f}s] {line}")

    def run(self, message: str, *, timeout_seconds: float = 180.0) -> DemoResult:
        self._started = time.monotonic()
        try:
            workflow = self.call(
                "POST",
                "/api/workflows/create",
                {"user_message": message, "wallet_address": self.wallet.address},
            )
        except ApiError as exc:
            self._log(f"the request was refused: {exc}")
            return DemoResult(
                workflow_id=None, status="rejected", error=exc.error, elapsed_seconds=self._elapsed()
            )
        workflow_id = workflow["workflow_id"]
        self._log(f"planned workflow {workflow_id}: {workflow['reasoning']}")
        for step in workflow["steps"]:
            self._log(
                f"  step {step['step_number']}: {step['agent_name']} ({step['price_microalgo']} µAlgo), "
                f"{step['description']}"
            )
        self._log(f"  total cost: {workflow['total_cost_microalgo']} µAlgo")
        payments: dict[int, list[str]] = {}
        try:
            self.call("POST", "/api/workflows/approve", {"workflowId": workflow_id})
            self._log("approved")
            self.call("POST", "/api/workflows/start", {"workflowId": workflow_id})
            self._log("started")
            workflow = self._follow(workflow_id, payments, timeout_seconds)
        except ApiError as exc:
            self._log(f"stopped: {exc}")
            workflow = self.call("GET", f"/api/workflows/{workflow_id}")
        return self._result(workflow, payments)

    def _follow(
        self, workflow_id: str, payments: dict[int, list[str]], timeout_seconds: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_seconds
        seen: dict[int, str] = {}
        last_news = time.monotonic()
        while True:
            workflow = self.call("GET", f"/api/workflows/{workflow_id}")
            for step in workflow["steps"]:
                number, status = step["step_number"], step["status"]
                if seen.get(number) != status:
                    seen[number] = status
                    last_news = time.monotonic()
                    self._log(f"step {number} ({step['agent_name']}): {status.replace('_', ' ')}")
                if status == "awaiting_payment" and step["unsigned_group_txns"] and number not in payments:
                    self._pay(workflow_id, step, payments)
                    last_news = time.monotonic()
            if workflow["status"] in TERMINAL_WORKFLOW_STATUSES:
                self._log(f"workflow {workflow['status']}")
                return workflow
            if time.monotonic() > deadline:
                self._log(
                    f"gave up waiting after {timeout_seconds:.0f}s; the workflow is still {workflow['status']}"
                )
                return workflow
            if time.monotonic() - last_news > self.heartbeat_seconds:
                active = [s for s in workflow["steps"] if s["status"] not in ("pending", "succeeded")]
                doing = f"step {active[0]['step_number']} is {active[0]['status']}" if active else "waiting"
                self._log(f"still working: {doing}")
                last_news = time.monotonic()
            time.sleep(self.poll_seconds)

    def _pay(self, workflow_id: str, step: dict[str, Any], payments: dict[int, list[str]]) -> None:
        number = step["step_number"]
        self._log(f"step {number}: signing the payment group ({step['payment_required_microalgo']} µAlgo)")
        sent = self.wallet.pay(step["unsigned_group_txns"])
        payments[number] = sent.txn_ids
        self._log(
            f"step {number}: paid, txids {', '.join(sent.txn_ids)} confirmed in round {sent.confirmed_round}"
        )
        self.call(
            "POST",
            "/api/workflows/step/submit_payment",
            {"workflowId": workflow_id, "stepNumber": number, "txnIds": sent.txn_ids},
        )
        self._log(f"step {number}: payment accepted by the agent")

    def _elapsed(self) -> float:
        return round(time.monotonic() - self._started, 2)

    def _result(self, workflow: dict[str, Any], payments: dict[int, list[str]]) -> DemoResult:
        steps = []
        for step in workflow["steps"]:
            receipt = step.get("receipt") or {}
            steps.append(
                DemoStep(
                    step_number=step["step_number"],
                    agent_id=step["agent_id"],
                    agent_name=step["agent_name"],
                    status=step["status"],
                    price_microalgo=step["price_microalgo"],
                    txn_ids=receipt.get("txn_ids") or payments.get(step["step_number"], []),
                    confirmed_round=receipt.get("confirmed_round"),
                    output=step.get("output"),
                    error=step.get("error"),
                )
            )
        return DemoResult(
            workflow_id=workflow["workflow_id"],
            status=workflow["status"],
            reasoning=workflow.get("reasoning", ""),
            total_cost_microalgo=workflow["total_cost_microalgo"],
            steps=steps,
            final_output=workflow.get("final_output"),
            error=workflow.get("error"),
            elapsed_seconds=self._elapsed(),
        )
