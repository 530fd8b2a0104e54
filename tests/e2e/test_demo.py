"""`orch demo` as a person runs it: a separate process, the whole stack in it, JSON or text out.

Runs where money moves watch the dev ledger while the demo runs (its indexer and algod, on ports
given to the demo): what the output says was paid is what the ledger shows left the wallet."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from algosdk import account

from devstack.ledger import dev_accounts
from tests.ledger_watch import TransactionWatch

pytestmark = pytest.mark.e2e

WALLET = dev_accounts(1)[0].address  # the demo pays with the first dev account
# What a library's own text looks like on a terminal: none of it may reach the demo's output.
LIBRARY_NOISE = re.compile(r"moto\.|Exception=|Traceback|<moto|aws_lambda_powertools|is in use by another")
LOG_LINE = re.compile(r"^(error|warning|critical): ")  # devstack/logs.py's terminal lines
PAID = re.compile(r"^paid ([0-9.]+) ALGO \(([0-9.]+) ALGO fees\) in (\d+) transactions?$", re.MULTILINE)

ORCH = Path(sys.executable).parent / "orch"
HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LedgerWatch(TransactionWatch):
    """The wallet's transactions on the demo's dev indexer (the ledger goes away with the demo)."""

    def __init__(self, indexer_port: int) -> None:
        url = f"http://127.0.0.1:{indexer_port}/v2/accounts/{WALLET}/transactions"

        def sent_by_the_wallet() -> dict[str, list[dict[str, Any]]]:
            found = httpx.get(url, timeout=2).json().get("transactions", [])
            return {WALLET: [t for t in found if t.get("sender") == WALLET]}

        super().__init__(sent_by_the_wallet)

    def spent(self) -> tuple[int, int, int]:
        """(amounts + fees, fees, transactions) the wallet sent, as the ledger recorded them."""
        txns = self.found(WALLET)
        fees = sum(int(t["fee"]) for t in txns)
        amounts = sum(int((t.get("payment-transaction") or {}).get("amount", 0)) for t in txns)
        return amounts + fees, fees, len(txns)


def microalgo(algo: str) -> int:
    return int(Decimal(algo) * 1_000_000)


def run_demo_text(*args: str, timeout: float = 120) -> tuple[int, str]:
    """The demo as a person sees it in a terminal: stdout and stderr together."""
    result = subprocess.run(
        [str(ORCH), "demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return result.returncode, result.stdout


def run_watched(*args: str) -> tuple[int, str, LedgerWatch]:
    """`orch demo` in text with the ledger on known ports (the indexer without lag, so that the watch
    sees the last payment before the demo stops the ledger)."""
    algod_port, indexer_port = free_port(), free_port()
    with LedgerWatch(indexer_port) as watch:
        code, output = run_demo_text(
            "--algod-port", str(algod_port), "--indexer-port", str(indexer_port), "--indexer-lag", "0", *args
        )
        time.sleep(0.3)
    return code, output, watch


def assert_quiet(output: str) -> None:
    """No library text, and no log line at all: a failed or cancelled run is an outcome the demo
    reports in its own words (a log line would say it twice), not an error of the stack."""
    noisy = [line for line in output.splitlines() if LIBRARY_NOISE.search(line) or LOG_LINE.match(line)]
    assert not noisy, noisy


def run_demo(*args: str, timeout: float = 120) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    result = subprocess.run(
        [str(ORCH), "demo", "--json", *args], capture_output=True, text=True, timeout=timeout
    )
    elapsed = time.monotonic() - started
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout), elapsed


def test_demo_completes_the_seed_example() -> None:
    code, result, elapsed = run_demo()
    assert code == 0, result
    assert result["status"] == "completed"
    names = [s["agent_name"] for s in result["steps"]]
    assert names == ["Medical Diagnosis Agent", "Movie Recommendation Agent"]
    for step in result["steps"]:
        assert step["status"] == "succeeded" and step["txn_ids"] and step["error"] is None
        assert step["confirmed_round"] > 0
    assert "cold" in json.dumps(result["steps"][0]["output"]).lower()
    assert result["final_output"] == result["steps"][1]["output"]
    assert result["total_cost_microalgo"] == sum(s["price_microalgo"] for s in result["steps"])
    assert elapsed < 60  # generous: the figure that matters is printed by bench/


def test_demo_with_a_catalog_of_foreign_agents(tmp_path: Path) -> None:
    algod_port, indexer_port, agent_port = free_port(), free_port(), free_port()
    _, receiver = account.generate_account()
    agent = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "foreign_agent.py"),
            "--port",
            str(agent_port),
            "--algod",
            f"http://127.0.0.1:{algod_port}",
            "--address",
            receiver,
            "--app-id",
            "4242",
            "--price",
            "250000",
        ],
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{agent_port}/job/0", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the foreign agent did not start"
                time.sleep(0.1)
        catalog = tmp_path / "catalog.json"
        catalog.write_text(
            json.dumps(
                [
                    {
                        "id": "3c1e7f0a-94d2-4b6e-8a51-2f7d9c0b6e44",
                        "name": "Verse Writer",
                        "description": "Writes a short poem about any topic.",
                        "subdomain": "verse-writer",
                        "status": "active",
                        "category": "Writing",
                        "tags": ["poem", "poetry", "verse", "write"],
                        "data_input": "A topic to write a poem about",
                        "example_input": "the sea at night",
                        "example_output": "Dark water hums...",
                        "price_microalgo": 250000,
                        "agent_address": receiver,
                        "app_id": 4242,
                        "repo_owner": "someone",
                        "repo_name": "verse-writer",
                        "github_url": "https://github.com/someone/verse-writer",
                        "created_at": "2025-11-20T10:00:00Z",
                        "base_url": f"http://127.0.0.1:{agent_port}",
                    }
                ]
            )
        )
        code, result, _ = run_demo(
            "--catalog",
            str(catalog),
            "--message",
            "write a poem about rain",
            "--algod-port",
            str(algod_port),
            "--indexer-port",
            str(indexer_port),
        )
    finally:
        agent.terminate()
        agent.wait(timeout=10)
    assert code == 0, result
    assert result["status"] == "completed"
    assert result["steps"][0]["agent_id"] == "3c1e7f0a-94d2-4b6e-8a51-2f7d9c0b6e44"
    assert len(result["steps"][0]["txn_ids"]) == 2
    assert "verse" in result["final_output"]


def test_demo_reports_a_request_nobody_can_serve() -> None:
    code, result, _ = run_demo("--message", "qwzx vbnm plokij")
    assert code != 0
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "PlanInvalid"


def test_demo_names_the_planner_and_prints_what_the_ledger_shows_was_paid() -> None:
    code, output, watch = run_watched()
    assert code == 0, output
    assert_quiet(output)
    assert (
        "planner: offline (keyword matching over the catalog; set OPENAI_API_KEY to plan with OpenAI)"
        in output
    )
    (paid,) = PAID.findall(output)
    total, fees, count = watch.spent()
    assert count == 4  # two steps, each a payment and an app call
    assert (microalgo(paid[0]), microalgo(paid[1]), int(paid[2])) == (total, fees, count)
    assert total == 800_000 + fees and fees > 0
    assert "total cost" not in output


def test_a_failed_run_says_which_step_and_agent_failed_in_one_line() -> None:
    code, output, watch = run_watched("--fail-agent", "movie-recommender")
    assert code == 1, output
    assert_quiet(output)
    failures = [
        line
        for line in output.splitlines()
        if line.startswith("step 2 (Movie Recommendation Agent) failed: ")
    ]
    assert len(failures) == 1, output
    assert failures[0].startswith("step 2 (Movie Recommendation Agent) failed: AgentJobFailed: ")
    assert ".." not in failures[0]  # the agent's sentence and ours, one full stop each
    assert "workflow " in output and ": failed" in output
    (paid,) = PAID.findall(output)
    total, fees, count = watch.spent()
    assert count == 4  # both steps were paid before the second agent's job failed
    assert (microalgo(paid[0]), microalgo(paid[1]), int(paid[2])) == (total, fees, count)


def test_a_run_cancelled_before_any_payment_prints_no_cost() -> None:
    code, output, watch = run_watched("--cancel-at-step", "1")
    assert code == 1, output
    assert_quiet(output)
    assert "step 1 (Medical Diagnosis Agent) cancelled: WorkflowCancelled: " in output
    assert "planner: offline" in output
    assert not PAID.findall(output)
    assert output.count("nothing was paid") == 1
    assert watch.reads > 0 and watch.spent() == (0, 0, 0)


def test_a_run_cancelled_after_a_payment_prints_only_that_payment() -> None:
    code, output, watch = run_watched("--cancel-at-step", "2")
    assert code == 1, output
    assert_quiet(output)
    assert "step 2 (Movie Recommendation Agent) cancelled: WorkflowCancelled: " in output
    (paid,) = PAID.findall(output)
    total, fees, count = watch.spent()
    assert count == 2
    assert (microalgo(paid[0]), microalgo(paid[1]), int(paid[2])) == (total, fees, count)
    assert total == 500_000 + fees


def test_the_json_outcome_carries_the_planner_the_payments_and_the_funds_check() -> None:
    code, result, _ = run_demo("--cancel-at-step", "2")
    assert code == 1
    assert result["status"] == "cancelled"
    assert result["planner"].startswith("offline")
    assert result["paid"]["transactions"] == 2 and result["paid"]["amount_microalgo"] == 500_000
    (failure,) = result["failures"]
    assert failure.startswith("step 2 (Movie Recommendation Agent) cancelled: WorkflowCancelled: ")


def test_a_wallet_that_cannot_pay_stops_the_demo_before_approving_and_nothing_moves() -> None:
    # 0.5 ALGO in each dev account: less than the seed example's 0.8 ALGO plus fees and the minimum
    # balance, so the funds check says no before anything is approved or paid.
    code, output, watch = run_watched("--dev-funds", "0.5")
    assert code == 1, output
    assert_quiet(output)
    assert "The wallet cannot pay this plan, so the demo stops before approving it." in output
    assert "you need " in output  # the funds route's sentence, with what is missing
    assert "nothing was paid" in output and not PAID.findall(output)
    assert "signing the payment group" not in output
    assert watch.reads > 0 and watch.spent() == (0, 0, 0)
