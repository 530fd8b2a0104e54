"""A confirmed payment is never lost: every group offered for a step is remembered with its agent job
(the `jobs` row), and before the step is offered anything new, or when a payment arrives late, the
offers are looked up on chain. A confirmed one is recorded and delivered to the job it was made for;
one that may still confirm (its window is open) is offered again rather than replaced."""

from __future__ import annotations

from orchestrator.dependencies import Dependencies
from orchestrator.models import (
    JobRecord,
    PaymentReceipt,
    PaymentRecord,
    StepRecord,
    WorkflowRecord,
)


def offers(deps: Dependencies, step: StepRecord) -> list[JobRecord]:
    """The step's jobs that offered a payment group, newest first."""
    return [job for job in reversed(deps.store.list_jobs(step.workflow_id, step.step_number)) if job.txn_ids]


def offer_for_txids(deps: Dependencies, step: StepRecord, txn_ids: list[str]) -> JobRecord | None:
    """The offer of this step whose transaction ids are exactly `txn_ids` (in any order)."""
    wanted = sorted(txn_ids)
    return next((job for job in offers(deps, step) if sorted(job.txn_ids) == wanted), None)


def confirmed_round(deps: Dependencies, txn_ids: list[str]) -> int | None:
    """The round that confirmed the whole group, or None while any of it is not confirmed."""
    rounds = []
    for txid in txn_ids:
        confirmed = deps.chain.confirmed_round(txid)
        if confirmed is None:
            return None
        rounds.append(confirmed)
    return max(rounds) if rounds else None


def unpaid_offers(deps: Dependencies, step: StepRecord) -> list[JobRecord]:
    """The step's offers whose payment is not recorded, newest first (one read of the jobs and one of
    the payments)."""
    jobs = offers(deps, step)
    recorded = {p.txid for p in deps.store.payments_for_txids([t for job in jobs for t in job.txn_ids])}
    return [job for job in jobs if not recorded.intersection(job.txn_ids)]


def find_confirmed_offer(deps: Dependencies, unpaid: list[JobRecord]) -> tuple[JobRecord, int] | None:
    """Of the unpaid offers, one that is confirmed on chain, with its round."""
    for job in unpaid:
        round_ = confirmed_round(deps, job.txn_ids)
        if round_ is not None:
            return job, round_
    return None


def find_open_offer(deps: Dependencies, unpaid: list[JobRecord]) -> JobRecord | None:
    """Of the unpaid offers, the newest that may still confirm: its last valid round is still ahead."""
    current = deps.chain.current_round()
    return next(
        (job for job in unpaid if job.last_valid_round is not None and current < job.last_valid_round), None
    )


def payment_records(
    workflow: WorkflowRecord, step: StepRecord, job: JobRecord, round_: int
) -> list[PaymentRecord]:
    from orchestrator.payments.decoding import group_payments

    return [
        PaymentRecord(
            txid=txid,
            workflow_id=workflow.workflow_id,
            step_number=step.step_number,
            agent_id=job.agent_id,
            job_id=job.job_id,
            payer_addr=workflow.wallet_address,
            payee_addr=payee,
            amount_microalgo=amount,
            confirmed_round=round_,
        )
        for txid, amount, payee in group_payments(job.unsigned_group_txns, job.txn_ids)
    ]


def receipt_of(job: JobRecord, payments: list[PaymentRecord], payer: str) -> PaymentReceipt:
    """The receipt of the confirmed group `job` offered: what it paid, and the network fees of its
    transactions that `payer` (the workflow's wallet) sent."""
    from orchestrator.payments.decoding import group_fees

    return PaymentReceipt(
        txn_ids=job.txn_ids,
        confirmed_round=max((p.confirmed_round for p in payments), default=0),
        amount_microalgo=sum(p.amount_microalgo for p in payments),
        receiver=next((p.payee_addr for p in payments if p.amount_microalgo > 0), ""),
        fee_microalgo=group_fees(job.unsigned_group_txns, sender=payer),
    )


def offer_fields(job: JobRecord) -> dict[str, object]:
    """What a step shows of the job and the group it offered (to point the step at that job)."""
    return {
        "job_id": job.job_id,
        "agent_job_id": job.agent_job_id,
        "input": job.job_input,
        "unsigned_group_txns": job.unsigned_group_txns,
        "txn_ids": job.txn_ids,
        "last_valid_round": job.last_valid_round,
        "payment_required_microalgo": job.amount_microalgo or 0,
    }
