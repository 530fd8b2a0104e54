"""Workflows shaped as API views (no secrets), and the version (ETag) of what a view shows."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from orchestrator.models import StepRecord, StepStatus, WorkflowRecord
from orchestrator.schemas.api import StepView, WorkflowView
from orchestrator.templating import input_preview

if TYPE_CHECKING:
    from orchestrator.dependencies import Dependencies


def step_view(workflow: WorkflowRecord, step: StepRecord) -> StepView:
    planned = workflow.plan.steps[step.step_number - 1]
    awaiting = step.status == StepStatus.AWAITING_PAYMENT
    return StepView(
        step_number=step.step_number,
        agent_id=step.agent_id,
        agent_name=planned.agent_name,
        description=planned.description,
        input_data=planned.input_data,
        input_preview=input_preview(
            planned.input_data,
            workflow.user_message,
            {s.step_number: s.agent_name for s in workflow.plan.steps},
        ),
        status=step.status,
        price_microalgo=step.price_microalgo,
        resolved_input=step.input,
        job_id=step.agent_job_id,
        # The group is offered for signing only while the step waits for it.
        unsigned_group_txns=step.unsigned_group_txns if awaiting else [],
        txn_ids=step.txn_ids,
        payment_required_microalgo=step.payment_required_microalgo,
        last_valid_round=step.last_valid_round if awaiting else None,
        receipt=step.receipt,
        earlier_receipts=step.earlier_receipts,
        output=step.output,
        error=step.error,
        started_at=step.started_at,
        completed_at=step.completed_at,
    )


def total_paid(steps: list[StepRecord]) -> int:
    """What the wallet paid for these steps: amounts and fees of every receipt, earlier ones included."""
    return sum(
        r.amount_microalgo + r.fee_microalgo
        for s in steps
        for r in (*s.earlier_receipts, s.receipt)
        if r is not None
    )


def workflow_view(
    workflow: WorkflowRecord, steps: list[StepRecord], *, explorer_txn_url: str | None
) -> WorkflowView:
    return WorkflowView(
        workflow_id=workflow.workflow_id,
        status=workflow.status,
        user_message=workflow.user_message,
        wallet_address=workflow.wallet_address,
        reasoning=workflow.plan.reasoning,
        current_step=workflow.current_step,
        total_cost_microalgo=workflow.total_cost_microalgo,
        budget_microalgo=workflow.budget_microalgo,
        attempt=workflow.attempt,
        steps=[step_view(workflow, s) for s in steps],
        final_output=workflow.final_output,
        error=workflow.error,
        created_at=workflow.created_at,
        updated_at=workflow.updated_at,
        total_paid_microalgo=total_paid(steps),
        explorer_txn_url=explorer_txn_url,
    )


def view_of(deps: Dependencies, workflow: WorkflowRecord) -> WorkflowView:
    """The API view of a workflow just read or changed, with its steps as stored now."""
    return workflow_view(
        workflow,
        deps.store.list_steps(workflow.workflow_id),
        explorer_txn_url=deps.settings.explorer_txn_url,
    )


def view_etag(view: WorkflowView) -> str:
    """A strong validator of exactly what the view shows (the JSON body the API answers with): a
    quoted hash of its canonical JSON. Equal views have equal tags; any change to what the page
    shows (a status, an offered group, an output, `updated_at`) makes another."""
    canonical = json.dumps(
        view.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return '"' + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (RFC 9110's weak comparison: `W/` ignored; `*`
    matches any version). Liberal: a tag sent without its quotes matches too."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.strip('"')
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag.strip('"') == bare and bare:
            return True
    return False
