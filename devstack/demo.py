"""Drives one workflow through the HTTP API as the web page would: create, approve, start, pay each
step with a dev wallet, wait for the outcome."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from orchestrator.amounts import format_algo
from pydantic import BaseModel

from devstack.wallet import DevWallet

TERMINAL_WORKFLOW_STATUSES = {"completed", "failed", "cancelled"}


# --- what the terminal says (one sentence each; `orch up` reports ended workflows with them too) ----


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def receipts_of(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """Every payment receipt of a workflow view: each step's receipt and its earlier receipts."""
    receipts: list[dict[str, Any]] = []
    for step in workflow.get("steps") or []:
        receipts += [r for r in step.get("earlier_receipts") or [] if r]
        if step.get("receipt"):
            receipts.append(step["receipt"])
    return receipts


class Paid(BaseModel):
    """What the wallet paid for a workflow, from its receipts (confirmed on chain)."""

    amount_microalgo: int = 0  # the agents' prices paid
    fee_microalgo: int = 0  # the network fees of the groups the wallet sent
    transactions: int = 0

    @property
    def total_microalgo(self) -> int:
        return self.amount_microalgo + self.fee_microalgo

    @classmethod
    def of(cls, workflow: dict[str, Any]) -> Paid:
        receipts = receipts_of(workflow)
        return cls(
            amount_microalgo=sum(int(r.get("amount_microalgo") or 0) for r in receipts),
            fee_microalgo=sum(int(r.get("fee_microalgo") or 0) for r in receipts),
            transactions=sum(len(r.get("txn_ids") or []) for r in receipts),
        )


def paid_line(paid: Paid) -> str:
    """ "paid 0.802 ALGO (0.002 ALGO fees) in 4 transactions", or "nothing was paid"."""
    if not paid.transactions and not paid.total_microalgo:
        return "nothing was paid"
    return (
        f"paid {format_algo(paid.total_microalgo)} ({format_algo(paid.fee_microalgo)} fees) "
        f"in {_plural(paid.transactions, 'transaction')}"
    )


def _step_name(workflow: dict[str, Any], number: Any) -> str:
    for step in workflow.get("steps") or []:
        if step.get("step_number") == number:
            return f"step {number} ({step.get('agent_name')})"
    return f"step {number}"


def failure_lines(workflow: dict[str, Any]) -> list[str]:
    """One line per failure of a workflow view, in words: which step, which agent, the error's code
    and its sentence; the workflow's own error when no step names it (a cancelled run, a halt)."""
    lines = []
    for step in workflow.get("steps") or []:
        error = step.get("error")
        if error and step.get("status") in ("failed", "cancelled"):
            lines.append(
                f"{_step_name(workflow, step['step_number'])} {step['status']}: "
                f"{error.get('code')}: {error.get('message')}"
            )
    error = workflow.get("error")
    status = workflow.get("status")
    if error and not any(error.get("message") in line for line in lines):
        at = f" at {_step_name(workflow, workflow['current_step'])}" if workflow.get("current_step") else ""
        lines.append(f"workflow {status}{at}: {error.get('code')}: {error.get('message')}")
    elif not lines and status in ("failed", "cancelled"):
        lines.append(f"workflow {status}")
    return lines


def ended_line(workflow: dict[str, Any]) -> str:
    """`orch up`'s one line for a workflow whose run ended: its failures in words, and what was paid."""
    status = workflow.get("status")
    head = f"workflow {workflow.get('workflow_id')} {status}"
    details = "; ".join(line for line in failure_lines(workflow) if line != f"workflow {status}")
    return (
        f"{head}: {details} — {paid_line(Paid.of(workflow))}"
        if details
        else f"{head} — {paid_line(Paid.of(workflow))}"
    )


def funds_lines(funds: dict[str, Any]) -> list[str]:
    """What `GET /api/workflows/{id}/funds` says before approving: the figures, then its sentence."""
    figures = (
        f"the plan costs {format_algo(funds['total_microalgo'])} with network fees "
        f"({format_algo(funds['agents_microalgo'])} for the agents + {format_algo(funds['fees_microalgo'])} fees)"
    )
    if funds.get("balance_microalgo") is not None:
        figures = (
            f"wallet {funds['wallet_address']} holds {format_algo(funds['balance_microalgo'])} "
            f"({format_algo(funds['min_balance_microalgo'] or 0)} must stay as the minimum balance, "
            f"{format_algo(funds['spendable_microalgo'] or 0)} can be spent); {figures}"
        )
    return [figures, str(funds.get("message") or "")]


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
    planner: str = ""  # which planner planned it (orch demo's banner)
    total_cost_microalgo: int = 0
    funds: dict[str, Any] | None = None  # GET /api/workflows/{id}/funds before approving
    paid: Paid = Paid()  # from the receipts
    stopped: str | None = None  # why the demo stopped before approving, in a sentence
    failures: list[str] = []  # failure_lines of the outcome
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

    def run(
        self, message: str, *, timeout_seconds: float = 180.0, cancel_at_step: int | None = None
    ) -> DemoResult:
        """Plan, check the wallet can pay, approve, start, pay each step; `cancel_at_step`: cancel the
        workflow when that step asks for payment (before paying it), as a person pressing Cancel."""
        self._started = time.monotonic()
        try:
            workflow = self.call(
                "POST",
                "/api/workflows/create",
                {"user_message": message, "wallet_address": self.wallet.address},
            )
        except ApiError as exc:
            self._log(f"the request was refused: {exc.error.get('code')}: {exc.error.get('message')}")
            return DemoResult(
                workflow_id=None, status="rejected", error=exc.error, elapsed_seconds=self._elapsed()
            )
        workflow_id = workflow["workflow_id"]
        self._log(f"planned workflow {workflow_id}: {workflow['reasoning']}")
        for step in workflow["steps"]:
            self._log(
                f"  step {step['step_number']}: {step['agent_name']} ({format_algo(step['price_microalgo'])}), "
                f"{step['description']}"
            )
        self._log(f"  the agents' prices: {format_algo(workflow['total_cost_microalgo'])}")
        funds = self._funds(workflow_id)
        if funds is not None and funds.get("can_pay") is False:
            stopped = "The wallet cannot pay this plan, so the demo stops before approving it."
            self._log(stopped)
            result = self._result(workflow, {})
            return result.model_copy(update={"funds": funds, "stopped": stopped})
        payments: dict[int, list[str]] = {}
        try:
            self.call("POST", "/api/workflows/approve", {"workflowId": workflow_id})
            self._log("approved")
            self.call("POST", "/api/workflows/start", {"workflowId": workflow_id})
            self._log("started")
            workflow = self._follow(workflow_id, payments, timeout_seconds, cancel_at_step)
        except ApiError as exc:
            self._log(f"stopped: {exc.error.get('code')}: {exc.error.get('message')}")
            workflow = self.call("GET", f"/api/workflows/{workflow_id}")
        return self._result(workflow, payments).model_copy(update={"funds": funds})

    def _funds(self, workflow_id: str) -> dict[str, Any] | None:
        """GET /api/workflows/{id}/funds, said in words; None if the API cannot tell."""
        try:
            funds = self.call("GET", f"/api/workflows/{workflow_id}/funds")
        except ApiError as exc:
            self._log(
                f"the wallet's funds could not be checked: {exc.error.get('code')}: {exc.error.get('message')}"
            )
            return None
        for line in funds_lines(funds):
            if line:
                self._log(line)
        return funds

    def _follow(
        self,
        workflow_id: str,
        payments: dict[int, list[str]],
        timeout_seconds: float,
        cancel_at_step: int | None = None,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_seconds
        seen: dict[int, str] = {}
        last_news = time.monotonic()
        cancelled = False
        while True:
            workflow = self.call("GET", f"/api/workflows/{workflow_id}")
            for step in workflow["steps"]:
                number, status = step["step_number"], step["status"]
                if seen.get(number) != status:
                    seen[number] = status
                    last_news = time.monotonic()
                    said = f"step {number} ({step['agent_name']}): {status.replace('_', ' ')}"
                    if status == "failed" and step.get("error"):
                        said += f": {step['error'].get('code')}: {step['error'].get('message')}"
                    self._log(said)
                waiting = status == "awaiting_payment" and step["unsigned_group_txns"]
                if waiting and number == cancel_at_step and not cancelled:
                    self._log(f"step {number}: cancelling instead of paying (--cancel-at-step {number})")
                    self.call("POST", "/api/workflows/cancel", {"workflowId": workflow_id})
                    cancelled = True
                elif waiting and number not in payments and not cancelled:
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
        self._log(
            f"step {number}: signing the payment group ({format_algo(step['payment_required_microalgo'])})"
        )
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
            paid=Paid.of(workflow),
            failures=failure_lines(workflow),
            steps=steps,
            final_output=workflow.get("final_output"),
            error=workflow.get("error"),
            elapsed_seconds=self._elapsed(),
        )
