"""Whether a workflow's wallet can pay its plan (services/funds.workflow_funds) on a fake chain:
what the wallet holds and must keep, what the steps still cost with their groups' fees (the offered
group's when one is offered, the receipt's once paid, two transactions at the minimum fee before),
and what to do when it is short, on each network. (Against the dev ledger's algod:
tests/integration/test_funds_ledger.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from orchestrator.errors import NotFound
from orchestrator.models import AgentMetadata, ErrorInfo, StepStatus
from orchestrator.services.funds import workflow_funds

from tests.builders import OTHER_USER, PRICE, USER, WALLET, World, hireable_agent, receipt, world

MIN_BALANCE = 100_000


def test_an_unfunded_wallet_needs_the_plan_and_the_minimum_balance(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent, paid_agent])
    answer = workflow_funds(w.deps, workflow.workflow_id, USER)
    assert (answer.wallet_address, answer.network) == (WALLET, "localnet")
    assert (answer.balance_microalgo, answer.min_balance_microalgo, answer.spendable_microalgo) == (
        0,
        MIN_BALANCE,
        0,
    )
    assert (answer.agents_microalgo, answer.fees_microalgo) == (2 * PRICE, 2 * 2 * 1000)
    assert answer.total_microalgo == answer.still_to_pay_microalgo == 2 * PRICE + 4000
    assert (answer.can_pay, answer.shortfall_microalgo) == (False, 2 * PRICE + 4000 + MIN_BALANCE)
    assert answer.message == (
        "Your wallet holds 0 ALGO; Algorand requires every wallet to keep a minimum balance of 0.1 ALGO, so "
        "nothing can be spent from it yet. This plan costs 0.504 ALGO with network fees: you need 0.604 ALGO "
        "more. On the local stack, pay from one of the funded dev accounts that `orch up` prints (or send "
        "ALGO to this wallet from one of them), then check again."
    )
    assert w.chain.calls == ["account_funds"]


def test_a_funded_wallet_can_pay_and_the_minimum_fee_is_the_networks(
    w: World, paid_agent: AgentMetadata
) -> None:
    w.chain.min_fee = 2000  # a congested network
    w.chain.fund(WALLET, 5_000_000)
    workflow = w.add_workflow([paid_agent])
    answer = workflow_funds(w.deps, workflow.workflow_id, USER)
    assert answer.fees_microalgo == 2 * 2000 and answer.spendable_microalgo == 5_000_000 - MIN_BALANCE
    assert (answer.can_pay, answer.shortfall_microalgo) == (True, 0)
    assert answer.message == (
        "Your wallet holds 5 ALGO; 0.1 ALGO of it must stay as Algorand's minimum balance, so 4.9 ALGO can "
        "be spent. This plan costs 0.254 ALGO with network fees: you can pay it."
    )


def test_an_offered_group_costs_its_own_fees_and_a_paid_step_its_receipts(
    w: World, paid_agent: AgentMetadata
) -> None:
    w.chain.fund(WALLET, 1_000_000)
    workflow = w.add_workflow([paid_agent, paid_agent])
    w.offer(workflow.workflow_id, 1)
    offered = workflow_funds(w.deps, workflow.workflow_id, USER)
    assert offered.fees_microalgo == 2000 + 2000  # the group's two transactions, and two to come

    w.pay(workflow.workflow_id, 1)
    paid = workflow_funds(w.deps, workflow.workflow_id, USER)
    step = w.step(workflow.workflow_id, 1)
    assert step.receipt is not None and step.receipt.fee_microalgo == 2000
    assert paid.total_microalgo == 2 * PRICE + 4000
    assert paid.still_to_pay_microalgo == PRICE + 2000 and w.money_moved() == (2, 2)
    assert (
        "The steps not paid yet cost 0.252 ALGO with network fees (0.504 ALGO for the whole plan): you can pay it."
        in (paid.message)
    )


def test_a_free_plan_costs_nothing_and_a_paid_plan_is_settled(w: World, free_agent: AgentMetadata) -> None:
    paid = {"status": StepStatus.SUCCEEDED, "receipt": receipt(300_000, 3_000)}
    workflow = w.add_workflow([hireable_agent(price=300_000), free_agent], step_fields={1: paid})
    answer = workflow_funds(w.deps, workflow.workflow_id, USER)
    assert (answer.agents_microalgo, answer.fees_microalgo, answer.still_to_pay_microalgo) == (
        300_000,
        3_000,
        0,
    )
    assert (answer.can_pay, answer.shortfall_microalgo) == (True, 0)
    assert answer.message.endswith("so nothing can be spent from it yet. Nothing is left to pay.")


def test_a_paid_job_the_agent_could_not_deliver_is_to_pay_again(w: World, paid_agent: AgentMetadata) -> None:
    w.chain.fund(WALLET, 5_000_000)
    lost = {
        "status": StepStatus.FAILED,
        "receipt": receipt(PRICE, 2_000),
        "error": ErrorInfo(code="AgentLostJob", message="lost it"),
    }
    refused = {
        "status": StepStatus.FAILED,
        "receipt": receipt(PRICE, 2_000),
        "error": ErrorInfo(code="PaymentRejectedByAgent", message="refused"),
    }
    workflow = w.add_workflow([paid_agent, paid_agent], step_fields={1: lost, 2: refused})
    answer = workflow_funds(w.deps, workflow.workflow_id, USER)
    # Step 1 runs as a new job, paid again; step 2's payment is delivered to its job on resume.
    assert answer.still_to_pay_microalgo == PRICE + 2 * 1000
    assert answer.fees_microalgo == 2 * 1000 + 2_000


def test_an_offered_group_that_cannot_be_decoded_costs_the_usual_fees(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow(
        [paid_agent],
        step_fields={
            1: {"status": StepStatus.AWAITING_PAYMENT, "unsigned_group_txns": ["not a transaction"]}
        },
    )
    assert workflow_funds(w.deps, workflow.workflow_id, USER).fees_microalgo == 2 * 1000


def test_when_the_chain_cannot_be_read_the_answer_says_so_and_still_counts_the_cost(
    w: World, paid_agent: AgentMetadata
) -> None:
    w.chain.down = True
    workflow = w.add_workflow([paid_agent])
    answer = workflow_funds(w.deps, workflow.workflow_id, USER)
    assert (answer.balance_microalgo, answer.min_balance_microalgo, answer.spendable_microalgo) == (
        None,
        None,
        None,
    )
    assert (answer.can_pay, answer.shortfall_microalgo) == (None, None)
    assert answer.total_microalgo == PRICE + 2000
    assert answer.message == (
        "The wallet's balance could not be read right now (the Algorand node did not answer). This plan "
        "costs 0.252 ALGO with network fees, and Algorand keeps a minimum balance in every wallet (0.1 ALGO "
        "for a plain account) that cannot be spent. Check again in a moment."
    )


@pytest.mark.parametrize(
    "network, advice",
    [
        ("testnet", "Get TestNet ALGO for this wallet from the TestNet dispenser"),
        ("mainnet", "Send ALGO to this wallet from an exchange or another wallet"),
        ("custom", "you need 0.152 ALGO more. Send ALGO to this wallet, then check again."),
    ],
)
def test_a_short_wallet_is_told_how_to_fund_it_on_its_network(
    tmp_path: Path, network: str, advice: str
) -> None:
    algod_url = "http://algod.test" if network == "custom" else ""  # a custom network names its node
    fakes = world(tmp_path, algorand_network=network, algod_url=algod_url)
    try:
        fakes.chain.fund(WALLET, 150_000)
        agent = fakes.add_agents(hireable_agent(price=200_000))[0]
        workflow = fakes.add_workflow([agent])
        answer = workflow_funds(fakes.deps, workflow.workflow_id, USER)
        assert answer.network == network and answer.shortfall_microalgo == 202_000 + MIN_BALANCE - 150_000
        assert advice in answer.message
    finally:
        fakes.close()


def test_another_persons_workflow_is_not_found(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    with pytest.raises(NotFound):
        workflow_funds(w.deps, workflow.workflow_id, OTHER_USER)
    assert w.chain.calls == []
