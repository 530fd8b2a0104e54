"""`orch demo` as a person runs it: a separate process, the whole stack in it, JSON out."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from algosdk import account

pytestmark = pytest.mark.e2e

ORCH = Path(sys.executable).parent / "orch"
HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
