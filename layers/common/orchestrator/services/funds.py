"""Whether a workflow's wallet can pay its plan (GET /api/workflows/{id}/funds): what the wallet holds
and must keep (Algorand's minimum balance, read from algod), and what the steps cost with the network
fees of their payment groups.

A step's fees are those of its payment group as the agent builds it (DESIGN.md: a payment of the
price and an app call to the agent's app, both sent by the wallet): the fees of the group it offers
when it offers one, the fees on its receipt once paid, and before that two transactions at the
network's minimum fee. A free step has no group and no fee. A step already paid is left out of what
is still to pay, unless its agent could not deliver the paid job (running it again pays again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.amounts import format_algo
from orchestrator.dependencies import Dependencies
from orchestrator.errors import ChainUnavailable
from orchestrator.models import StepRecord, StepStatus
from orchestrator.observability import logger
from orchestrator.schemas.api import FundsView
from orchestrator.services.loading import load_owned_workflow
from orchestrator.services.workflows import paid_job_is_over

if TYPE_CHECKING:
    from orchestrator.payments.verification import AccountFunds

# Algorand's minimum fee per transaction, when algod cannot be asked.
DEFAULT_MIN_FEE_MICROALGO = 1000
# Transactions of a paying step's group: the payment and the app call.
GROUP_TRANSACTIONS = 2
# The minimum balance of an account that holds nothing but ALGO (said when algod cannot be asked).
BASE_MIN_BALANCE_MICROALGO = 100_000

_HOW_TO_FUND = {
    "localnet": "On the local stack, pay from one of the funded dev accounts that `orch up` prints "
    "(or send ALGO to this wallet from one of them)",
    "testnet": "Get TestNet ALGO for this wallet from the TestNet dispenser "
    "(https://bank.testnet.algorand.network/)",
    "mainnet": "Send ALGO to this wallet from an exchange or another wallet",
}


@dataclass(frozen=True)
class StepCost:
    agents_microalgo: int  # the agent's price as approved in the plan
    fee_microalgo: int
    paid: bool


def step_cost(step: StepRecord, wallet: str, min_fee: int) -> StepCost:
    paid = step.receipt is not None and not paid_job_is_over(step)
    if paid and step.receipt is not None:
        return StepCost(step.price_microalgo, step.receipt.fee_microalgo, paid=True)
    if step.status == StepStatus.AWAITING_PAYMENT and step.unsigned_group_txns:
        # algosdk's decoding only for a step that offers a group (cold start: most reads need none).
        from orchestrator.payments.decoding import UndecodableTransaction, group_fees

        try:
            return StepCost(step.price_microalgo, group_fees(step.unsigned_group_txns, sender=wallet), False)
        except UndecodableTransaction:  # stored groups passed the safety rules: not expected
            logger.warning("the offered group of step %s could not be decoded", step.step_number)
    fee = GROUP_TRANSACTIONS * min_fee if step.price_microalgo else 0
    return StepCost(step.price_microalgo, fee, paid=False)


def workflow_funds(deps: Dependencies, workflow_id: str, user_id: str) -> FundsView:
    workflow = load_owned_workflow(deps.store, workflow_id, user_id)
    steps = deps.store.list_steps(workflow_id)
    network = deps.settings.algorand_network
    try:
        funds: AccountFunds | None = deps.chain.account_funds(workflow.wallet_address)
    except ChainUnavailable as exc:
        logger.warning("the wallet's balance could not be read", extra={"error_message": exc.message})
        funds = None
    min_fee = funds.min_fee_microalgo if funds else DEFAULT_MIN_FEE_MICROALGO

    costs = [step_cost(step, workflow.wallet_address, min_fee) for step in steps]
    agents = sum(c.agents_microalgo for c in costs)
    fees = sum(c.fee_microalgo for c in costs)
    still_to_pay = sum(c.agents_microalgo + c.fee_microalgo for c in costs if not c.paid)
    cost_sentence = (
        f"This plan costs {format_algo(agents + fees)} with network fees"
        if still_to_pay == agents + fees
        else f"The steps not paid yet cost {format_algo(still_to_pay)} with network fees "
        f"({format_algo(agents + fees)} for the whole plan)"
    )
    view = FundsView(
        wallet_address=workflow.wallet_address,
        network=network,
        balance_microalgo=None,
        min_balance_microalgo=None,
        spendable_microalgo=None,
        agents_microalgo=agents,
        fees_microalgo=fees,
        total_microalgo=agents + fees,
        still_to_pay_microalgo=still_to_pay,
        can_pay=None,
        shortfall_microalgo=None,
        message="",
    )
    if funds is None:
        view.message = (
            "The wallet's balance could not be read right now (the Algorand node did not answer). "
            f"{cost_sentence}, and Algorand keeps a minimum balance in every wallet "
            f"({format_algo(BASE_MIN_BALANCE_MICROALGO)} for a plain account) that cannot be spent. "
            "Check again in a moment."
        )
        return view

    balance, minimum = funds.amount_microalgo, funds.min_balance_microalgo
    spendable = max(balance - minimum, 0)
    # The minimum balance must stay after paying: an unfunded wallet needs it as well as the cost.
    shortfall = max(still_to_pay + minimum - balance, 0) if still_to_pay else 0
    holds = (
        f"Your wallet holds {format_algo(balance)}; {format_algo(minimum)} of it must stay as Algorand's minimum "
        f"balance, so {format_algo(spendable)} can be spent."
        if balance >= minimum
        else f"Your wallet holds {format_algo(balance)}; Algorand requires every wallet to keep a minimum "
        f"balance of {format_algo(minimum)}, so nothing can be spent from it yet."
    )
    if not still_to_pay:
        verdict = "Nothing is left to pay."
    elif not shortfall:
        verdict = f"{cost_sentence}: you can pay it."
    else:
        how = _HOW_TO_FUND.get(network, "Send ALGO to this wallet")
        verdict = f"{cost_sentence}: you need {format_algo(shortfall)} more. {how}, then check again."
    view.balance_microalgo = balance
    view.min_balance_microalgo = minimum
    view.spendable_microalgo = spendable
    view.can_pay = shortfall == 0
    view.shortfall_microalgo = shortfall
    view.message = f"{holds} {verdict}"
    return view
