"""What a workflow's funds answer says (services/funds.py), against the dev ledger's algod on loopback
and a SQLite store: a wallet below Algorand's minimum balance, paid and free steps, a paid job the
agent could not deliver (paid again on resume), another network's advice, amounts in words. (The
same use case on a fake chain, socket-free: tests/unit/services/test_funds.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from algosdk import account
from orchestrator.config import settings_from_env
from orchestrator.dependencies import Dependencies
from orchestrator.errors import NotFound
from orchestrator.models import ErrorInfo, StepStatus
from orchestrator.services.funds import workflow_funds

from devstack.ledger import Ledger, LedgerServer
from tests.builders import agent_metadata, planned_workflow, receipt

pytestmark = pytest.mark.integration

USER = "5b1c0c8e-0000-4000-8000-00000000000f"
MIN_BALANCE = 100_000
MIN_FEE = 1000


@pytest.fixture(scope="module")
def wallets() -> dict[str, str]:
    return {name: account.generate_account()[1] for name in ("poor", "rich")}


@pytest.fixture(scope="module")
def ledger(wallets: dict[str, str]) -> Iterator[LedgerServer]:
    funded = {wallets["poor"]: 50_000, wallets["rich"]: 5_000_000}
    server = LedgerServer(Ledger(block_time=600, funded=funded), algod_port=0, indexer_port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def deps_for(tmp_path: Path, ledger: LedgerServer, **env: str) -> Dependencies:
    settings = settings_from_env(
        {"SQLITE_PATH": str(tmp_path / "db.sqlite3"), "ALGOD_URL": ledger.algod_url, **env}
    )
    return Dependencies(settings)


def planned(deps: Dependencies, wallet: str, prices: list[int], **step_values: dict[str, Any]) -> str:
    """A workflow of `prices` steps; `step_values["2"]` changes step 2's row."""
    workflow, steps = planned_workflow(
        [agent_metadata(price_microalgo=price) for price in prices],
        user_id=USER,
        wallet=wallet,
        user_message="test",
        step_fields={int(n): values for n, values in step_values.items()},
    )
    deps.store.create_workflow(workflow, steps)
    return workflow.workflow_id


def test_a_wallet_below_the_minimum_balance_can_spend_nothing(
    tmp_path: Path, ledger: LedgerServer, wallets: dict[str, str]
) -> None:
    deps = deps_for(tmp_path, ledger)
    answer = workflow_funds(deps, planned(deps, wallets["poor"], [200_000]), USER)
    assert (answer.balance_microalgo, answer.min_balance_microalgo) == (50_000, MIN_BALANCE)
    assert answer.spendable_microalgo == 0
    assert answer.total_microalgo == 200_000 + 2 * MIN_FEE
    # It must receive the cost and what it lacks of the minimum balance.
    assert answer.shortfall_microalgo == 202_000 + MIN_BALANCE - 50_000
    assert answer.can_pay is False
    assert answer.message == (
        "Your wallet holds 0.05 ALGO; Algorand requires every wallet to keep a minimum balance of "
        "0.1 ALGO, so nothing can be spent from it yet. This plan costs 0.202 ALGO with network fees: "
        "you need 0.252 ALGO more. On the local stack, pay from one of the funded dev accounts that "
        "`orch up` prints (or send ALGO to this wallet from one of them), then check again."
    )


def test_paid_and_free_steps_cost_no_more_and_a_paid_plan_is_settled(
    tmp_path: Path, ledger: LedgerServer, wallets: dict[str, str]
) -> None:
    deps = deps_for(tmp_path, ledger)
    paid = {"status": StepStatus.SUCCEEDED, "receipt": receipt(300_000, 3_000)}
    workflow_id = planned(deps, wallets["poor"], [300_000, 0], **{"1": paid})
    answer = workflow_funds(deps, workflow_id, USER)
    assert answer.fees_microalgo == 3_000  # the receipt's fees; the free step has no payment group
    assert (answer.agents_microalgo, answer.total_microalgo) == (300_000, 303_000)
    assert (answer.still_to_pay_microalgo, answer.shortfall_microalgo, answer.can_pay) == (0, 0, True)
    assert answer.message.endswith("so nothing can be spent from it yet. Nothing is left to pay.")


def test_a_paid_job_the_agent_could_not_deliver_is_still_to_pay(
    tmp_path: Path, ledger: LedgerServer, wallets: dict[str, str]
) -> None:
    deps = deps_for(tmp_path, ledger)
    lost = {
        "status": StepStatus.FAILED,
        "receipt": receipt(300_000, 2_000),
        "error": ErrorInfo(code="AgentJobFailed", message="the job failed"),
    }
    failed_otherwise = {
        "status": StepStatus.FAILED,
        "receipt": receipt(100_000, 2_000),
        "error": ErrorInfo(code="AgentUnavailable", message="down"),
    }
    workflow_id = planned(deps, wallets["rich"], [300_000, 100_000], **{"1": lost, "2": failed_otherwise})
    answer = workflow_funds(deps, workflow_id, USER)
    # Step 1 runs as a new job, paid again (two transactions at the minimum fee); step 2's payment is
    # delivered to its job on resume.
    assert answer.still_to_pay_microalgo == 300_000 + 2 * MIN_FEE
    assert answer.can_pay is True and answer.shortfall_microalgo == 0
    assert (
        "The steps not paid yet cost 0.302 ALGO with network fees (0.404 ALGO for the whole plan): "
        "you can pay it." in answer.message
    ), answer.message
    assert answer.message.startswith(
        "Your wallet holds 5 ALGO; 0.1 ALGO of it must stay as Algorand's minimum balance, so 4.9 ALGO "
        "can be spent."
    )


def test_a_short_wallet_on_testnet_is_sent_to_the_dispenser(
    tmp_path: Path, ledger: LedgerServer, wallets: dict[str, str]
) -> None:
    served = ledger.ledger.genesis_hash
    deps = deps_for(tmp_path, ledger, ALGORAND_NETWORK="testnet", GENESIS_HASH=served)
    answer = workflow_funds(deps, planned(deps, wallets["rich"], [10_000_000]), USER)
    assert answer.network == "testnet" and answer.can_pay is False
    assert answer.shortfall_microalgo == 10_002_000 - (5_000_000 - MIN_BALANCE)
    assert "you need 5.102 ALGO more. Get TestNet ALGO for this wallet from the TestNet dispenser" in (
        answer.message
    )


def test_a_node_of_another_network_is_not_asked_for_the_balance(
    tmp_path: Path, ledger: LedgerServer, wallets: dict[str, str]
) -> None:
    deps = deps_for(tmp_path, ledger, ALGORAND_NETWORK="testnet")  # TestNet's genesis, not the ledger's
    answer = workflow_funds(deps, planned(deps, wallets["rich"], [100_000]), USER)
    assert answer.balance_microalgo is None and answer.can_pay is None
    assert answer.message.startswith("The wallet's balance could not be read right now")


def test_another_users_workflow_is_not_found(
    tmp_path: Path, ledger: LedgerServer, wallets: dict[str, str]
) -> None:
    deps = deps_for(tmp_path, ledger)
    workflow_id = planned(deps, wallets["rich"], [100_000])
    with pytest.raises(NotFound):
        workflow_funds(deps, workflow_id, "someone-else")
