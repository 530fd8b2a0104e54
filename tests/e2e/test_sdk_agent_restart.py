"""An SDK agent (orca-agent-sdk, unmodified) killed mid-job and started again: the step ends paid
exactly once.

The SDK runs a paid job in a thread of the agent's process and records it `running` in its SQLite
db. When the process dies (SIGKILL) and starts again on the same port and db, the job row stays
`running` for ever: nothing runs it any more. At the poll deadline the orchestrator hands the same
payment to the same job once more (`submit_payment`, same txids): the SDK verifies them on chain
again, issues a second access token and runs the job again, and the workflow completes. Never a
second payment.

The stack runs in process (`devstack.stack.LocalStack`, as `tests/stack_helpers.py` does), since
`orch up` has no option for the poll deadline; its dev ledger listens on ports chosen before the
agent starts (the agent needs their URLs). The agent serves run_agent.py's `slow` handler, alone in
the catalog (a one-step plan by the offline planner), paid with a dev wallet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from orchestrator.dependencies import get_dependencies

from devstack.sdk_agents import SdkAgentProcess
from devstack.stack import LocalStack, StackConfig
from tests.sdk_stack import (
    BLOCK_TIME,
    ECHO_MESSAGE,
    INDEXER_LAG,
    NEEDS_SDK_AGENTS,
    TERMINAL,
    LedgerPorts,
    assert_one_job_paid_twice,
    assert_paid_once,
    assert_receipt,
    create_and_start,
    echo_agent,
    running_agents,
    shown,
    submit_payment,
    write_catalog,
)
from tests.stack_helpers import Harness

pytestmark = [pytest.mark.e2e, NEEDS_SDK_AGENTS]

SLOW_SECONDS = 3.0  # how long each run of the job takes at the agent
POLL_DEADLINE = 6  # POLL_DEADLINE_SECONDS: when a job that never ends is handed its payment again
# From the payment's submission to the completed workflow: the deadline (counted from the first poll,
# just after the submission), then the job's second run, then the poll that sees it done (1 s apart).
# The margin covers the agent's restart, the polls and a loaded machine (`make test` in parallel).
MARGIN = 12.0

SLOW = echo_agent(
    "sdk-slow-echo",
    "slow",
    app_id=1105,
    price_microalgo=130_000,
    example_output=f"Echo (run 1, after {SLOW_SECONDS:g}s): Hello there.",
)


@dataclass
class SlowAgent(SdkAgentProcess):
    """run_agent.py's `slow` handler, which can be killed like a crashed process."""

    slow_seconds: float = SLOW_SECONDS

    def command(self) -> list[str]:
        return [*super().command(), "--slow-seconds", f"{self.slow_seconds:g}"]

    def kill(self) -> int:
        """SIGKILL: the thread running the job dies with the process, nothing is written after."""
        process, self._process = self._process, None
        assert process is not None, "not running"
        process.kill()
        code = process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code


@dataclass
class Setup:
    harness: Harness
    agent: SlowAgent
    ledger: LedgerPorts
    tmp_path: Path

    def restart_agent(self) -> float:
        """SIGKILL the agent and start it again on the same port and db (its jobs kept, one of them
        `running` with nothing running it): seconds until it listens again."""
        old = self.agent
        port = int(old.base_url.rsplit(":", 1)[1])
        assert old.kill() == -9
        killed = time.monotonic()
        self.agent = SlowAgent(
            old.spec,
            old.algod_url,
            old.indexer_url,
            db_path=old.db_path,
            port=port,
            log_path=self.tmp_path / "agent-2.log",
            slow_seconds=old.slow_seconds,
        )
        self.agent.start()
        assert self.agent.base_url == old.base_url, (self.agent.base_url, old.base_url)
        return time.monotonic() - killed

    def log_tail(self) -> str:
        logs = sorted(self.tmp_path.glob("agent-*.log"))
        return "\n".join(f"--- {log.name} ---\n{log.read_text()[-3000:]}" for log in logs)

    def wait_for(
        self, what: str, check: Callable[[], bool], timeout: float = 60.0, describe: Callable[[], Any] = str
    ) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, (
                f"timed out waiting for {what}: {describe()}\n{self.log_tail()}"
            )
            time.sleep(0.05)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    ledger = LedgerPorts()
    agent = SlowAgent(
        SLOW,
        ledger.algod_url,
        ledger.indexer_url,
        db_path=tmp_path / "agent.sqlite3",
        log_path=tmp_path / "agent-1.log",
    )
    with running_agents([agent]):
        state: Setup | None = None
        try:
            config = StackConfig.ephemeral(
                tmp_path / "stack",
                catalog_file=write_catalog(tmp_path / "catalog.json", [agent]),
                algod_port=ledger.algod_port,
                indexer_port=ledger.indexer_port,
                block_time=BLOCK_TIME,
                indexer_lag_seconds=INDEXER_LAG,
                poll_deadline_seconds=POLL_DEADLINE,
                poll_max_seconds=1,
                submit_payment_retry_seconds=6.0,
                sweep_interval_seconds=None,
                persist_ledger=False,
            )
            with LocalStack(config) as stack:
                state = Setup(Harness(stack), agent, ledger, tmp_path)
                try:
                    yield state
                finally:
                    state.harness.close()
        finally:
            if state is not None:
                state.agent.stop()  # the restarted one (running_agents stops the first)


def test_an_agent_restarted_mid_job_ends_with_the_step_paid_exactly_once(setup: Setup) -> None:
    harness, wallet = setup.harness, setup.harness.wallet
    workflow_id = create_and_start(harness, ECHO_MESSAGE, wallet.address, [SLOW.id])
    offered = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    sent = wallet.pay(offered["unsigned_group_txns"])

    submitted_at = time.monotonic()
    submitted = submit_payment(harness, workflow_id, 1, sent.txn_ids)
    assert submitted.status_code == 200, submitted.text
    step = harness.wait_for_step(workflow_id, 1, "running")
    receipt = step["receipt"]
    assert_receipt(receipt, SLOW, sent, step)
    job_id = str(step["job_id"])

    # The SDK took the payment and runs the job: its row is `running` and the handler has begun.
    agent = setup.agent
    setup.wait_for(
        "the agent to run the job",
        lambda: (
            [(j.job_id, j.status) for j in agent.jobs()] == [(job_id, "running")]
            and sum(agent.runs().values()) == 1
        ),
        describe=lambda: (agent.jobs(), agent.runs()),
    )
    assert agent.access_tokens() == [job_id]
    killed_at = time.monotonic()
    restart_seconds = setup.restart_agent()
    agent = setup.agent
    (job,) = agent.jobs()
    assert (job.job_id, job.status) == (job_id, "running"), job  # kept, stuck: no thread runs it any more

    # What the step and the agent go through until the workflow ends.
    timeline: list[tuple[float, str]] = []

    def ended() -> bool:
        workflow = harness.workflow(workflow_id)
        stored = get_dependencies().store.get_step(workflow_id, 1)
        state = (
            f"workflow {workflow['status']}, step {workflow['steps'][0]['status']}"
            f" (redeliveries {stored.payment_redeliveries if stored else '?'},"
            f" poll errors {stored.poll_errors if stored else '?'});"
            f" agent job {'/'.join(j.status for j in agent.jobs())},"
            f" tokens {len(agent.access_tokens())}, runs {sum(agent.runs().values())}"
        )
        if not timeline or timeline[-1][1] != state:
            timeline.append((time.monotonic() - submitted_at, state))
        return workflow["status"] in TERMINAL

    setup.wait_for(
        "the workflow to end",
        ended,
        timeout=POLL_DEADLINE + SLOW_SECONDS + 60,
        describe=lambda: json.dumps(shown(harness.workflow(workflow_id)), indent=2),
    )
    elapsed = time.monotonic() - submitted_at
    print(
        f"\nagent killed {killed_at - submitted_at:.1f}s after the payment's submission, listening again "
        f"{restart_seconds:.1f}s later; workflow ended {elapsed:.1f}s after the submission "
        f"(poll deadline {POLL_DEADLINE}s, job {SLOW_SECONDS:g}s, bound {POLL_DEADLINE + SLOW_SECONDS + MARGIN:g}s)"
    )
    for at, state in timeline:
        print(f"  {at:5.1f}s  {state}")

    done = harness.workflow(workflow_id)
    assert done["status"] == "completed", json.dumps(shown(done), indent=2) + "\n" + setup.log_tail()
    (step,) = done["steps"]
    assert step["status"] == "succeeded" and step["error"] is None, step
    assert step["job_id"] == job_id
    # The job of the first run, run again by the restarted agent: one job, two access tokens.
    job = assert_one_job_paid_twice(agent, sent, "succeeded")
    assert job.job_id == job_id, job
    assert step["output"] == f"Echo (run 2, after {SLOW_SECONDS:g}s): {' '.join(job.job_input.split())}"
    assert done["final_output"] == step["output"]
    assert step["receipt"] == receipt  # unchanged
    assert step["earlier_receipts"] == []
    stored = get_dependencies().store.get_step(workflow_id, 1)
    assert stored is not None and stored.payment_redeliveries == 1, stored
    # The re-delivery reached the restarted process: one submit_payment there.
    assert (setup.tmp_path / "agent-2.log").read_text().count("POST /submit_payment") == 1, setup.log_tail()

    # Exactly one payment to the agent, on the dev indexer and on the ledger itself.
    setup.ledger.settle()
    assert_paid_once(setup.ledger.payments_to(SLOW, wallet.address), SLOW, sent.txn_ids)
    assert harness.payments_on_chain(SLOW.agent_address) == [(SLOW.agent_address, SLOW.price_microalgo)]

    # It took the deadline (the re-delivery waits for it) and the second run, within the margin.
    assert POLL_DEADLINE + SLOW_SECONDS <= elapsed <= POLL_DEADLINE + SLOW_SECONDS + MARGIN, elapsed
