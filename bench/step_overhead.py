"""Per-step overhead of the orchestrator beside a replay of the seed's browser loop, on one local stack
(the same sample agents and dev ledger), with the agents' push on and off; and what each workflow
costs in Step Functions state transitions.

    .venv/bin/python bench/step_overhead.py [--lengths 0 3.5 9.5 21.5] [--runs 1]

Overhead of a step = from the moment the agent's job ended (the sample agent's own clock) until the
person can act on what follows: the next step's payment request exists, or, for the last step, the
workflow's final output. The person's signing is not in it (it comes after).

* ours: a two-step workflow through the HTTP API (create, approve, start, pay each step when asked),
  the real handlers and state machine definition under moto, the deployed poll schedule
  (template.yaml); times read from the store (the next step's `started_at`, the workflow's
  `updated_at` when it completed).
* the seed: its page's loop, replayed against the same agents: start_job, pay, submit_payment, first
  poll 2 s after the payment, then every 3 s; the next step 1 s after success. The replay calls the
  agents directly (the seed went through its own API routes, a little slower), so it favours the seed.

Prints one row per job length and mode, the ratio, the transitions and their cost per workflow, and
the load average. A benchmark prints figures; nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

from orchestrator.dependencies import get_dependencies  # noqa: E402
from orchestrator.models import AgentMetadata  # noqa: E402

from devstack.agents import SAMPLE_AGENTS, AgentBehaviour, SampleAgentServer  # noqa: E402
from devstack.auth import DEV_USER_EMAIL, DEV_USER_ID  # noqa: E402
from devstack.stack import AGENT_PUSH_PATH, LocalStack, StackConfig  # noqa: E402
from devstack.wallet import DevWallet  # noqa: E402
from tests.fakes import FixedPlanner  # noqa: E402

TRANSITION_USD = 0.025 / 1000  # Step Functions Standard
SEED_FIRST_POLL, SEED_POLL_EVERY, SEED_NEXT_STEP = 2.0, 3.0, 1.0
FIRST, SECOND = SAMPLE_AGENTS[0], SAMPLE_AGENTS[1]


@dataclasses.dataclass
class Run:
    overheads: list[float]  # per step, seconds
    transitions: int = 0
    lambda_calls: int = 0


class Bench:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        account = stack.dev_accounts[0]
        self.wallet = DevWallet(account.address, account.private_key, stack.algod_url)
        assert stack.issuer is not None
        token = stack.issuer.mint_token(DEV_USER_ID, DEV_USER_EMAIL, 3600)
        self.api = httpx.Client(
            base_url=stack.api_url, timeout=60, headers={"Authorization": f"Bearer {token}"}
        )
        self.agents: dict[tuple[float, bool], list[SampleAgentServer]] = {}

    def agents_for(self, seconds: float, push: bool) -> list[SampleAgentServer]:
        """Two sample agents whose jobs take `seconds`, pushing or not."""
        key = (seconds, push)
        if key not in self.agents:
            servers = []
            for spec in (FIRST, SECOND):
                agent_id = str(uuid.uuid4())
                server = SampleAgentServer(
                    dataclasses.replace(spec, id=agent_id),
                    algod_url=self.stack.algod_url,
                    indexer_url=self.stack.indexer_url,
                    behaviour=AgentBehaviour(job_seconds=seconds, push=push),
                ).start()
                store = get_dependencies().store
                store.upsert_agents([AgentMetadata.model_validate(server.catalog_entry())])
                agent_token = secrets.token_urlsafe(24)
                store.set_agent_token(agent_id, agent_token)
                server.push_to(f"{self.stack.api_url}{AGENT_PUSH_PATH}", agent_token)
                servers.append(server)
            self.agents[key] = servers
        return self.agents[key]

    # --- ours -------------------------------------------------------------------------------------
    def ours(self, seconds: float, push: bool) -> Run:
        servers = self.agents_for(seconds, push)
        with self.stack.overrides(planner=FixedPlanner([(s.spec.id, "some text") for s in servers])):
            created = self.api.post(
                "/api/workflows/create", json={"userMessage": "bench", "walletAddress": self.wallet.address}
            )
        created.raise_for_status()
        workflow_id = created.json()["workflow_id"]
        self.api.post("/api/workflows/approve", json={"workflowId": workflow_id}).raise_for_status()
        self.api.post("/api/workflows/start", json={"workflowId": workflow_id}).raise_for_status()
        for step_number in (1, 2):
            step = self._wait(
                workflow_id, lambda w, n=step_number: w["steps"][n - 1]["status"] == "awaiting_payment"
            )
            sent = self.wallet.pay(step["steps"][step_number - 1]["unsigned_group_txns"])
            self.api.post(
                "/api/workflows/step/submit_payment",
                json={"workflowId": workflow_id, "stepNumber": step_number, "txnIds": sent.txn_ids},
            ).raise_for_status()
        done = self._wait(
            workflow_id, lambda w: w["status"] in ("completed", "failed", "cancelled"), timeout=120
        )
        assert done["status"] == "completed", done
        store = get_dependencies().store
        steps = store.list_steps(workflow_id)
        workflow = store.get_workflow(workflow_id)
        assert workflow is not None
        ended = [_job_end(server, step.agent_job_id) for server, step in zip(servers, steps, strict=True)]
        next_offer = steps[1].started_at
        assert next_offer is not None
        run = Run(
            overheads=[
                (next_offer - ended[0]).total_seconds(),
                (workflow.updated_at - ended[1]).total_seconds(),
            ]
        )
        run.transitions, run.lambda_calls = self._history(workflow.execution_arn)
        return run

    def _wait(self, workflow_id: str, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            workflow = self.api.get(f"/api/workflows/{workflow_id}").json()
            if predicate(workflow):
                return dict(workflow)
            if time.monotonic() > deadline:
                raise TimeoutError(f"workflow {workflow_id}: {workflow['status']}")
            time.sleep(0.05)

    def _history(self, execution_arn: str | None) -> tuple[int, int]:
        """(state transitions, Lambda invocations) of the execution, as AWS bills them: one transition
        per state entered, including a task re-entered after its timeout."""
        assert self.stack.sfn is not None and execution_arn
        client = self.stack.sfn.client()
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = client.get_execution_history(
                executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {})
            )
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
        calls = sum(1 for e in events if e["type"] in ("TaskScheduled", "LambdaFunctionScheduled"))
        return entered, calls

    # --- the seed's page loop, replayed ------------------------------------------------------------
    def seed(self, seconds: float) -> Run:
        servers = self.agents_for(seconds, False)
        overheads: list[float] = []
        http = httpx.Client(timeout=30)
        try:
            next_offer: datetime | None = None
            job_ended: datetime | None = None
            for index, server in enumerate(servers):
                started = http.post(
                    f"{server.base_url}/start_job",
                    json={"sender_address": self.wallet.address, "job_input": "some text"},
                ).json()
                if index == 1:
                    next_offer = datetime.now(UTC)
                    assert job_ended is not None
                    overheads.append((next_offer - job_ended).total_seconds())
                sent = self.wallet.pay(started["unsigned_group_txns"])
                while True:  # the agent's indexer may not show the payment yet (402): ask again
                    answer = http.post(
                        f"{server.base_url}/submit_payment",
                        json={"job_id": started["job_id"], "txid": sent.txn_ids},
                    )
                    if answer.status_code != 402:
                        break
                    time.sleep(0.25)
                paid = answer.json()
                time.sleep(SEED_FIRST_POLL)
                while True:
                    job = http.get(
                        f"{server.base_url}/job/{started['job_id']}",
                        params={"access_token": paid["access_token"]},
                    ).json()
                    if job["status"] in ("succeeded", "failed"):
                        noticed = datetime.now(UTC)
                        break
                    time.sleep(SEED_POLL_EVERY)
                job_ended = _job_end(server, started["job_id"])
                if index == len(servers) - 1:
                    overheads.append((noticed - job_ended).total_seconds())
                else:
                    time.sleep(SEED_NEXT_STEP)
        finally:
            http.close()
        return Run(overheads=overheads)


def _job_end(server: SampleAgentServer, job_id: str | None) -> datetime:
    job = server.app.jobs.get(job_id or "")
    assert job is not None and job.completed_at is not None, job_id
    return job.completed_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[0.0, 3.5, 9.5, 21.5])
    parser.add_argument("--runs", type=int, default=1, help="workflows per job length and mode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        # Deployed defaults (poll schedule from template.yaml); a quick dev ledger, no sweep.
        config = StackConfig.ephemeral(
            Path(data_dir),
            block_time=0.25,
            indexer_lag_seconds=0.5,
            persist_ledger=False,
            sweep_interval_seconds=None,
        )
        with LocalStack(config) as stack:
            bench = Bench(stack)
            print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(
                f"{'job s':>6} {'seed s/step':>12} {'push s/step':>12} {'ratio':>6} {'no-push s/step':>15} "
                f"{'ratio':>6} {'transitions push/no-push':>25} {'cost/workflow (no push)':>24}"
            )
            for seconds in args.lengths:
                seed = [o for _ in range(args.runs) for o in bench.seed(seconds).overheads]
                pushed_runs = [bench.ours(seconds, True) for _ in range(args.runs)]
                polled_runs = [bench.ours(seconds, False) for _ in range(args.runs)]
                pushed = [o for r in pushed_runs for o in r.overheads]
                polled = [o for r in polled_runs for o in r.overheads]
                s, p, q = statistics.mean(seed), statistics.mean(pushed), statistics.mean(polled)
                t_push = statistics.mean(r.transitions for r in pushed_runs)
                t_poll = statistics.mean(r.transitions for r in polled_runs)
                print(
                    f"{seconds:6.1f} {s:12.2f} {p:12.2f} {p / s:6.2f} {q:15.2f} {q / s:6.2f} "
                    f"{t_push:12.0f} / {t_poll:<10.0f} ${t_poll * TRANSITION_USD:.6f}",
                    flush=True,
                )
                print(
                    f"       per step: seed {_shown(seed)}; push {_shown(pushed)}; no push {_shown(polled)}; "
                    f"Lambda calls push/no-push {statistics.mean(r.lambda_calls for r in pushed_runs):.0f}/"
                    f"{statistics.mean(r.lambda_calls for r in polled_runs):.0f}",
                    flush=True,
                )
            print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            for servers in bench.agents.values():
                for server in servers:
                    server.stop()
            bench.api.close()


def _shown(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
