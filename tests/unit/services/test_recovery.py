"""Finding a step's earlier offers on chain (services/recovery): offers newest first, the one whose
txids were submitted (in any order), the confirmed round of a whole group only, the newest offer
that may still confirm, what a step records of a paid group."""

from __future__ import annotations

from algosdk import logic
from orchestrator.models import AgentMetadata, JobRecord
from orchestrator.services import recovery

from tests.builders import PRICE, USER, WALLET, World


def three_offers(w: World, agent: AgentMetadata) -> tuple[str, list[JobRecord]]:
    """A step offered three groups in turn (each re-quoted once its window passed)."""
    from orchestrator.services.start_job import start_job_again

    workflow = w.add_workflow([agent])
    w.offer(workflow.workflow_id)
    for _ in range(2):
        w.chain.advance(100)
        start_job_again(w.deps, workflow.workflow_id, 1, USER)
    return workflow.workflow_id, w.jobs(workflow.workflow_id)


def test_offers_come_newest_first_and_are_found_by_their_txids_in_any_order(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id, (oldest, middle, newest) = three_offers(w, paid_agent)
    step = w.step(workflow_id)
    assert [job.job_id for job in recovery.offers(w.deps, step)] == [
        newest.job_id,
        middle.job_id,
        oldest.job_id,
    ]
    found = recovery.offer_for_txids(w.deps, step, list(reversed(middle.txn_ids)))
    assert found is not None and found.job_id == middle.job_id
    assert recovery.offer_for_txids(w.deps, step, middle.txn_ids[:1]) is None
    assert recovery.offer_for_txids(w.deps, step, [*middle.txn_ids, newest.txn_ids[0]]) is None


def test_a_group_is_confirmed_only_when_all_of_it_is(w: World) -> None:
    assert recovery.confirmed_round(w.deps, []) is None
    w.chain.confirm(["A"], at_round=7)
    assert recovery.confirmed_round(w.deps, ["A", "B"]) is None
    w.chain.confirm(["B"], at_round=9)
    assert recovery.confirmed_round(w.deps, ["B", "A"]) == 9


def test_the_unpaid_offers_leave_out_the_paid_and_the_newest_open_or_confirmed_one_is_found(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow_id, (oldest, middle, newest) = three_offers(w, paid_agent)
    step = w.step(workflow_id)
    unpaid = recovery.unpaid_offers(w.deps, step)
    assert [job.job_id for job in unpaid] == [newest.job_id, middle.job_id, oldest.job_id]
    assert recovery.find_open_offer(w.deps, unpaid) == newest
    assert recovery.find_confirmed_offer(w.deps, unpaid) is None
    paid_round = w.chain.confirm(middle.txn_ids)
    assert recovery.find_confirmed_offer(w.deps, unpaid) == (middle, paid_round)
    w.chain.advance(100)
    assert recovery.find_open_offer(w.deps, unpaid) is None  # every window has passed
    # Once recorded, a paid offer is no longer among the unpaid ones.
    w.submit(workflow_id, 1, middle.txn_ids)
    assert w.money_moved() == (2, 2)
    assert [job.job_id for job in recovery.unpaid_offers(w.deps, w.step(workflow_id))] == [
        newest.job_id,
        oldest.job_id,
    ]


def test_a_paid_groups_records_and_receipt(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    step = w.offer(workflow.workflow_id)
    [job] = w.jobs(workflow.workflow_id)
    records = recovery.payment_records(workflow, step, job, 77)
    assert paid_agent.app_id is not None
    assert [(r.txid, r.amount_microalgo, r.payee_addr) for r in records] == [
        (job.txn_ids[0], PRICE, paid_agent.agent_address),
        (job.txn_ids[1], 0, logic.get_application_address(paid_agent.app_id)),
    ]
    assert {(r.payer_addr, r.job_id, r.confirmed_round, r.agent_id) for r in records} == {
        (WALLET, job.job_id, 77, paid_agent.id)
    }
    receipt = recovery.receipt_of(job, records, WALLET)
    assert (receipt.amount_microalgo, receipt.fee_microalgo, receipt.confirmed_round) == (PRICE, 2000, 77)
    assert (receipt.receiver, receipt.txn_ids) == (paid_agent.agent_address, job.txn_ids)
    # Fees count only what the wallet sent; a receipt of nothing paid has no receiver.
    assert recovery.receipt_of(job, records, "SOMEONE ELSE").fee_microalgo == 0
    assert (
        recovery.receipt_of(job, [], WALLET).receiver == ""
        and recovery.receipt_of(job, [], WALLET).confirmed_round == 0
    )
