"""How soon the workflow page sees a change in the store, and what an idle page costs: long polling
on the local stack, beside the page's earlier interval polling.

    .venv/bin/python bench/page_updates.py [--changes 10] [--idle-seconds 60] [--pages 5] [--seed 1]

One local stack (the HTTP API routed from template.yaml, the real get_workflow handler, SQLite).
Two clients watch the same workflow at the same time, each as a page would:

* long poll (the page now, src/poller.ts): GET /api/workflows/{id}?wait=20 with If-None-Match of the
  last ETag; again at once after an answer, at most once per 5 s while answers say "unchanged";
* interval (the page before): a plain GET 1 s after the last, backing off by 1.5x to 5 s while
  nothing changes, back to 1 s after a change.

`--pages` more long-polling clients hold requests on other workflows meanwhile (other open pages).

Changes: the workflow is changed in the store (its budget) `--changes` times, at random moments 1 to
3 s apart (so at every phase of the handler's 0.5 s re-read). A change's delay is from the moment the
store write returned to the moment the client holds the answer that shows it. Idle: nothing changes
for `--idle-seconds`; the requests each client sent meanwhile, per minute.

Prints the median and max delay and the idle requests per minute of each client, and the load
average. A benchmark prints figures; nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

from orchestrator.dependencies import get_dependencies  # noqa: E402
from orchestrator.models import (  # noqa: E402
    PlannedStep,
    StepRecord,
    WorkflowPlan,
    WorkflowRecord,
    WorkflowStatus,
)

from devstack.agents import SAMPLE_AGENTS  # noqa: E402
from devstack.auth import DEV_USER_EMAIL, DEV_USER_ID  # noqa: E402
from devstack.stack import LocalStack, StackConfig  # noqa: E402

# The page's rules (frontend/src/poller.ts, frontend/src/pages/workflow.ts).
LONG_POLL_SECONDS = 20
MIN_GAP_SECONDS = 0.2
MIN_IDLE_GAP_SECONDS = 5.0
# The page's earlier interval polling.
INTERVAL_FIRST, INTERVAL_MAX, INTERVAL_FACTOR = 1.0, 5.0, 1.5


class Watcher(threading.Thread):
    """A page watching a workflow: every request sent (when), every budget it saw (when first)."""

    def __init__(self, api_url: str, token: str, workflow_id: str, *, long_poll: bool) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(
            base_url=api_url, timeout=LONG_POLL_SECONDS + 15, headers={"Authorization": f"Bearer {token}"}
        )
        self.path = f"/api/workflows/{workflow_id}"
        self.long_poll = long_poll
        self.sent: list[float] = []
        self.seen: dict[Any, float] = {}  # budget shown -> when first held
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        etag: str | None = None
        delay = INTERVAL_FIRST
        while not self.stop.is_set():
            started = time.monotonic()
            self.sent.append(started)
            asking = self.long_poll and etag is not None
            try:
                response = self.client.get(
                    self.path,
                    params={"wait": LONG_POLL_SECONDS} if asking else None,
                    headers={"If-None-Match": etag} if asking and etag else None,
                )
            except httpx.HTTPError:
                if self.stop.is_set():
                    return
                self.errors += 1
                self.stop.wait(1.0)
                continue
            held_at = time.monotonic()
            changed = False
            if response.status_code == 200:
                budget = response.json()["budget_microalgo"]
                changed = budget not in self.seen
                self.seen.setdefault(budget, held_at)
                new_version = response.headers.get("etag") != etag
                etag = response.headers.get("etag")
                changed = changed or new_version
            elif response.status_code != 304:
                self.errors += 1
            if self.long_poll:
                gap = MIN_GAP_SECONDS if changed else MIN_IDLE_GAP_SECONDS
                self.stop.wait(max(0.0, gap - (held_at - started)))
            else:
                delay = INTERVAL_FIRST if changed else min(INTERVAL_MAX, delay * INTERVAL_FACTOR)
                self.stop.wait(delay)


def planned_workflow() -> str:
    """A planned workflow of the dev user, written to the store (nothing else changes it)."""
    workflow_id = str(uuid.uuid4())
    agent = SAMPLE_AGENTS[0]
    workflow = WorkflowRecord(
        workflow_id=workflow_id,
        user_id=DEV_USER_ID,
        wallet_address="DEV-WALLET",
        user_message="page updates benchmark",
        plan=WorkflowPlan(steps=[PlannedStep(step_number=1, agent_id=agent.id, input_data="x")]),
        status=WorkflowStatus.PLANNED,
        budget_microalgo=0,
    )
    step = StepRecord(id=str(uuid.uuid4()), workflow_id=workflow_id, step_number=1, agent_id=agent.id)
    get_dependencies().store.create_workflow(workflow, [step])
    return workflow_id


def change(workflow_id: str, budget: int) -> float:
    """Changes what the page shows (the budget); when the store write returned."""
    updated = get_dependencies().store.update_workflow(
        workflow_id, expected={WorkflowStatus.PLANNED}, changes={"budget_microalgo": budget}
    )
    assert updated is not None
    return time.monotonic()


def wait_until_seen(watchers: list[Watcher], budget: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(budget in w.seen for w in watchers):
        time.sleep(0.01)


def per_minute(sent: list[float], start: float, end: float) -> float:
    return sum(1 for at in sent if start <= at < end) * 60 / (end - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--pages", type=int, default=5, help="other open pages holding long polls")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory() as data_dir:
        config = StackConfig.ephemeral(Path(data_dir), persist_ledger=False, sweep_interval_seconds=None)
        with LocalStack(config) as stack:
            assert stack.issuer is not None
            token = stack.issuer.mint_token(DEV_USER_ID, DEV_USER_EMAIL)
            workflow_id = planned_workflow()
            long_poll = Watcher(stack.api_url, token, workflow_id, long_poll=True)
            interval = Watcher(stack.api_url, token, workflow_id, long_poll=False)
            others = [
                Watcher(stack.api_url, token, planned_workflow(), long_poll=True) for _ in range(args.pages)
            ]
            watchers = [long_poll, interval]
            for watcher in [*watchers, *others]:
                watcher.start()
            wait_until_seen(watchers, 0)

            delays: dict[str, list[float]] = {"long poll": [], "interval": []}
            for n in range(1, args.changes + 1):
                time.sleep(rng.uniform(1.0, 3.0))
                changed_at = change(workflow_id, n)
                wait_until_seen(watchers, n)
                delays["long poll"].append(long_poll.seen[n] - changed_at)
                delays["interval"].append(interval.seen[n] - changed_at)

            idle_start = time.monotonic()
            time.sleep(args.idle_seconds)
            idle_end = time.monotonic()
            for watcher in [*watchers, *others]:
                watcher.stop.set()

    print(
        f"page updates on the local stack: {args.changes} changes 1-3 s apart, then "
        f"{args.idle_seconds:g} s idle; {args.pages} other pages holding long polls"
    )
    print(f"{'client':<11} {'delay median':>13} {'delay max':>10} {'idle requests/min':>18} {'errors':>7}")
    for name, watcher in (("long poll", long_poll), ("interval", interval)):
        seen = delays[name]
        print(
            f"{name:<11} {statistics.median(seen):>11.2f} s {max(seen):>8.2f} s "
            f"{per_minute(watcher.sent, idle_start, idle_end):>18.1f} {watcher.errors:>7}"
        )
    others_rate = [per_minute(w.sent, idle_start, idle_end) for w in others]
    if others_rate:
        print(f"other pages: {statistics.median(others_rate):.1f} requests/min each (median)")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
