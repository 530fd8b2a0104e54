"""Workflows as the API shows them (services/views): the group is offered for signing only while the
step waits for it, the total paid counts every receipt and its fees, and the ETag changes exactly
when what the view shows does."""

from __future__ import annotations

import pytest
from orchestrator.models import AgentMetadata, StepStatus
from orchestrator.services.views import etag_matches, step_view, total_paid, view_etag, view_of

from tests.builders import PRICE, World, receipt, step_record


def test_the_group_is_shown_only_while_the_step_awaits_its_payment(
    w: World, paid_agent: AgentMetadata
) -> None:
    workflow = w.add_workflow([paid_agent])
    offered = w.offer(workflow.workflow_id)
    shown = step_view(workflow, offered)
    assert (
        shown.unsigned_group_txns == offered.unsigned_group_txns
        and shown.last_valid_round == offered.last_valid_round
    )
    assert (shown.job_id, shown.agent_name, shown.description) == (
        offered.agent_job_id,
        "Summarizer",
        "step 1",
    )
    w.pay(workflow.workflow_id)
    paid = w.step(workflow.workflow_id)
    hidden = step_view(workflow, paid)
    assert (hidden.unsigned_group_txns, hidden.last_valid_round) == ([], None)
    assert hidden.txn_ids == offered.txn_ids and hidden.receipt == paid.receipt
    assert w.money_moved() == (2, 2)


def test_the_total_paid_counts_every_receipt_with_its_fees() -> None:
    steps = [
        step_record("w", 1, "a", receipt=receipt(PRICE, 2000), earlier_receipts=[receipt(100, 1000)]),
        step_record("w", 2, "a"),
        step_record("w", 3, "a", earlier_receipts=[receipt(5, 0)]),
    ]
    assert total_paid(steps) == PRICE + 2000 + 100 + 1000 + 5
    assert total_paid([]) == 0


def test_the_etag_changes_when_what_the_view_shows_changes(w: World, paid_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([paid_agent])
    before = view_etag(view_of(w.deps, w.workflow(workflow.workflow_id)))
    assert view_etag(view_of(w.deps, w.workflow(workflow.workflow_id))) == before
    w.offer(workflow.workflow_id)
    after = view_etag(view_of(w.deps, w.workflow(workflow.workflow_id)))
    assert after != before and after.startswith('"') and len(after) == 34


@pytest.mark.parametrize(
    "header, matches",
    [
        ('"abc"', True),
        ("abc", True),
        ('W/"abc"', True),
        ('"x", W/"abc"', True),
        (" * ", True),
        ('"abcd"', False),
        ("", False),
        ('W/""', False),
    ],
)
def test_if_none_match_is_compared_weakly_and_liberally(header: str, matches: bool) -> None:
    assert etag_matches(header, '"abc"') is matches


def test_an_empty_etag_matches_no_named_version() -> None:
    assert not etag_matches('""', '""') and etag_matches("*", '""')


def test_a_step_without_a_group_shows_none(w: World, free_agent: AgentMetadata) -> None:
    workflow = w.add_workflow([free_agent], step_status=StepStatus.AWAITING_PAYMENT)
    view = step_view(workflow, w.step(workflow.workflow_id))
    assert (view.unsigned_group_txns, view.txn_ids, view.receipt) == ([], [], None)
