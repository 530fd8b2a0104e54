"""The workflow page in a real browser (Playwright, Debian's headless chromium) on the local stack:
what to do next leads the page (review and approve, pay step n right there, waiting for the agent
with the seconds counting, done with the final output), Approve below the steps, Cancel asking first
(issue 10, point 3); outputs and receipts people can use: text as paragraphs, JSON as a collapsible
tree, copy buttons that copy, the final output once, receipts with the agent, amount, fee, round and
txids, the total paid (point 5). Screenshots go to tests/artifacts/workflow-*.png (ignored by git).

Two agents of the test's own run the plan (a sample agent's server with another skill): one answers
plain text in paragraphs after a few seconds (so that the wait can be seen), one a nested JSON
object. Needs frontend/dist (`make frontend`) and /usr/bin/chromium, like the other browser tests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from orchestrator.amounts import format_algo
from orchestrator.dependencies import get_dependencies
from orchestrator.models import AgentMetadata, WorkflowPlan

from devstack.agents import AgentBehaviour
from devstack.stack import LocalStack
from tests.browser.pages import (
    ARTIFACTS,
    STEP_TIMEOUT_MS,
    confirm_cancel,
    pay,
    request_and_open_plan,
    skip_loudly,
)
from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness

if TYPE_CHECKING:
    from playwright.sync_api import FloatRect

pytestmark = pytest.mark.e2e

WRITER = "Plain Text Writer Agent"
LISTER = "Nested List Agent"
TEXT_OUTPUT = (
    "The review is about a dinner that went wrong.\n\n"
    "The pasta was cold and the waiter forgot the wine,\nbut the dessert was lovely."
)
JSON_OUTPUT: dict[str, Any] = {
    "films": [
        {"title": "Paddington", "year": 2014},
        {"title": "The Princess Bride", "year": 1987},
    ],
    "about": {"mood": "cosy", "details": {"length": "short", "unique_marker": "zebra-umbrella-42"}},
}
WRITER_SECONDS = 4.0  # long enough to see "Waiting for … since N s" count


class _Planner(FixedPlanner):
    """FixedPlanner that takes whatever keywords the planning use case passes (the budget)."""

    def plan(
        self,
        user_message: str,
        catalog: list[AgentMetadata],
        feedback: list[str] | None = None,
        **_: Any,
    ) -> WorkflowPlan:
        return super().plan(user_message, catalog, feedback)


@pytest.fixture(scope="module")
def agents(stack: LocalStack) -> Iterator[tuple[str, str]]:
    """The two agents (ids), in the catalog for this module only."""
    deps = get_dependencies()
    harness = Harness(stack)
    writer = harness.add_agent(
        "text-summarizer",
        "f1-plain-text-writer",
        AgentBehaviour(job_seconds=WRITER_SECONDS),
        name=WRITER,
        skill=lambda _input: TEXT_OUTPUT,
    )
    lister = harness.add_agent(
        "movie-recommender",
        "f1-nested-lister",
        AgentBehaviour(job_seconds=0.3),
        name=LISTER,
        skill=lambda _input: JSON_OUTPUT,
    )
    try:
        yield writer, lister
    finally:
        # Out of the catalog again, so that other tests' planners never pick them.
        for agent_id in (writer, lister):
            agent = deps.store.get_agent(agent_id)
            if agent is not None:
                deps.store.upsert_agents([agent.model_copy(update={"status": "inactive"})])
        harness.close()


@pytest.fixture
def planned(page: object, stack: LocalStack, agents: tuple[str, str]) -> Iterator[str]:
    """A workflow of the two agents, planned through the request page; its page open."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    writer, lister = agents
    with stack.overrides(
        planner=_Planner([(writer, "{{user_message}}"), (lister, {"text": "{{step_1_output}}"})])
    ):
        yield request_and_open_plan(page, stack, "Summarise this review: the pasta was cold.")


def _box(page: object, testid: str) -> FloatRect:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    box = page.get_by_test_id(testid).bounding_box()
    assert box is not None, f"{testid} is not on the page"
    return box


def test_the_current_action_leads_then_outputs_and_receipts_are_usable(
    page: object, stack: LocalStack, planned: str
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.api_url)
    box = page.get_by_test_id("next-action")
    title = page.get_by_test_id("next-action-title")

    # Planned: the page leads with the review; Approve is below the last step (after the funds).
    expect(box).to_have_attribute("data-kind", "review")
    expect(title).to_have_text("Review the plan and approve")
    assert _box(page, "next-action")["y"] < _box(page, "workflow-summary")["y"] < _box(page, "step-1")["y"]
    step2 = _box(page, "step-2")
    assert _box(page, "approve-start")["y"] >= step2["y"] + step2["height"]
    assert _box(page, "plan-funds")["y"] >= step2["y"] + step2["height"]
    assert _box(page, "approve-start")["y"] >= _box(page, "plan-funds")["y"]
    # What each agent will get, in words: no template syntax anywhere.
    expect(page.get_by_test_id("step-input-value-1")).to_contain_text("the pasta was cold")
    expect(page.get_by_test_id("step-input-value-2")).to_contain_text(f"the output of step 1 ({WRITER})")
    assert "{{" not in page.locator("main").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "workflow-next-action.png"), full_page=True)

    # Approved and started: "Pay step 1", with the pay button in the box itself.
    page.get_by_test_id("next-action-goto-approve").click()
    expect(page.get_by_test_id("approve-start")).to_be_focused()
    page.get_by_test_id("approve-start").click()
    expect(box).to_have_attribute("data-kind", "pay")
    expect(box).to_have_attribute("data-step", "1")
    expect(title).to_have_text(f"Pay step 1: {WRITER}")
    expect(box.get_by_test_id("step-pay-1")).to_be_visible()
    expect(page.get_by_test_id("step-pay-at-top-1")).to_be_visible()
    # The box was scrolled to: its top is on the screen.
    page.wait_for_function(
        "() => { const r = document.querySelector('[data-testid=next-action]').getBoundingClientRect();"
        " return r.top >= -1 && r.top < window.innerHeight; }"
    )
    pay(page, 1)

    # Paid: waiting for the agent, the seconds counting, a spinner.
    expect(box).to_have_attribute("data-kind", "waiting")
    expect(title).to_contain_text(re.compile(rf"^Waiting for {WRITER} since \d+ s$"))
    expect(page.get_by_test_id("next-action-spinner")).to_be_visible()
    elapsed = page.get_by_test_id("next-action-elapsed")
    first = elapsed.inner_text()
    page.wait_for_function(
        "first => document.querySelector('[data-testid=next-action-elapsed]').textContent !== first",
        arg=first,
        timeout=3000,
    )
    assert int(elapsed.inner_text().split()[0]) > int(first.split()[0])
    page.screenshot(path=str(ARTIFACTS / "workflow-waiting.png"))

    # Step 1's text output: readable paragraphs, with a copy button.
    expect(page.get_by_test_id("step-status-1")).to_have_attribute("data-status", "succeeded")
    paragraphs = page.get_by_test_id("step-output-1").locator("p")
    expect(paragraphs).to_have_count(2)
    expect(paragraphs.first).to_have_text("The review is about a dinner that went wrong.")
    expect(box).to_have_attribute("data-step", "2")
    expect(title).to_have_text(f"Pay step 2: {LISTER}")
    pay(page, 2)

    # Done: the final output at the top, once; the last step points to it.
    expect(box).to_have_attribute("data-kind", "done", timeout=STEP_TIMEOUT_MS)
    expect(title).to_have_text("Done")
    expect(box.get_by_test_id("final-output")).to_be_visible()
    expect(page.get_by_test_id("step-output-2")).to_have_count(0)
    expect(page.get_by_test_id("step-output-ref-2")).to_be_visible()
    assert page.locator("main").inner_text().count("zebra-umbrella-42") == 1

    # The JSON tree: fields as text, objects and lists fold.
    films = page.get_by_test_id("final-output-node-0")
    expect(films.locator("summary").first).to_have_text("films: 2 items")
    expect(films.get_by_text("title: Paddington")).to_be_visible()
    films.locator("summary").first.click()
    expect(films.get_by_text("title: Paddington")).to_be_hidden()
    films.locator("summary").first.click()
    expect(films.get_by_text("title: Paddington")).to_be_visible()

    # Copy buttons copy: the final output's JSON, a full txid.
    page.get_by_test_id("final-output-copy").click()
    expect(page.get_by_test_id("final-output-copy-status")).to_have_text("Copied")
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == JSON_OUTPUT

    harness = Harness(stack)
    try:
        view = harness.workflow(planned)
    finally:
        harness.close()
    for step in view["steps"]:
        n, receipt = step["step_number"], step["receipt"]
        prefix = f"step-receipt-{n}"
        expect(page.get_by_test_id(f"{prefix}-agent")).to_have_text(step["agent_name"])
        expect(page.get_by_test_id(f"{prefix}-amount")).to_have_text(format_algo(receipt["amount_microalgo"]))
        assert receipt["fee_microalgo"] > 0
        expect(page.get_by_test_id(f"{prefix}-fee")).to_have_text(format_algo(receipt["fee_microalgo"]))
        expect(page.get_by_test_id(f"{prefix}-round")).to_have_text(str(receipt["confirmed_round"]))
        for i, txid in enumerate(receipt["txn_ids"]):
            shown = page.get_by_test_id(f"{prefix}-txid-{i}")
            expect(shown).to_have_text(f"{txid[:6]}…{txid[-6:]}")
            expect(shown).to_have_attribute("data-full", txid)
            # No explorer on the local stack (explorer_txn_url is null).
            expect(page.get_by_test_id(f"{prefix}-txid-{i}-link")).to_have_count(0)
    txid = view["steps"][0]["receipt"]["txn_ids"][0]
    page.get_by_test_id("step-receipt-1-txid-0-copy").click()
    expect(page.get_by_test_id("step-receipt-1-txid-0-copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == txid
    # The full txid is a click away (for phones: no tooltip there).
    page.get_by_test_id("step-receipt-1-txid-0").click()
    expect(page.get_by_test_id("step-receipt-1-txid-0-full")).to_have_text(txid)

    # The total paid, fees included, as the API counts it.
    assert view["total_paid_microalgo"] == sum(
        s["receipt"]["amount_microalgo"] + s["receipt"]["fee_microalgo"] for s in view["steps"]
    )
    expect(page.get_by_test_id("workflow-total-paid")).to_have_text(format_algo(view["total_paid_microalgo"]))
    expect(page.get_by_test_id("workflow-paid")).to_contain_text("network fees included")
    page.get_by_test_id("step-receipt-2").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "workflow-receipts.png"), full_page=True)


def test_cancel_asks_first_and_says_paid_steps_are_not_charged_again(
    page: object, stack: LocalStack, planned: str
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.url.endswith("/api/workflows/cancel") else None)
    page.get_by_test_id("approve-start").click()
    pay(page, 1)
    expect(page.get_by_test_id("next-action")).to_have_attribute("data-kind", "waiting")

    # Cancel asks on the page, saying what happens to the paid step.
    page.get_by_test_id("cancel").click()
    panel = page.get_by_test_id("cancel-confirm-panel")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("cancel-confirm-text")).to_have_text(
        "The steps still to come will not run and nothing more is charged. "
        "You have paid for step 1: that payment is kept, and paid steps will not be charged "
        "again when you resume."
    )
    expect(page.get_by_test_id("cancel-confirm-text")).to_be_focused()
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "workflow-cancel-confirm.png"))
    # "No": nothing is cancelled.
    page.get_by_test_id("cancel-keep").click()
    expect(panel).to_be_hidden()
    expect(page.get_by_test_id("workflow-status")).not_to_have_attribute("data-status", "cancelled")
    assert requests == []

    confirm_cancel(page)
    assert len(requests) == 1
    box = page.get_by_test_id("next-action")
    expect(box).to_have_attribute("data-kind", "cancelled")
    expect(page.get_by_test_id("next-action-detail")).to_contain_text(
        "resuming will not charge the paid steps again (step 1)"
    )
    expect(box.get_by_test_id("resume")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "workflow-cancelled.png"), full_page=True)


def test_the_workflow_page_on_a_phone(browser: object, stack: LocalStack, agents: tuple[str, str]) -> None:
    """A finished workflow on a 375 px screen: no sideways scrolling, no serious axe violation."""
    from playwright.sync_api import Browser, expect

    from tests.browser.test_pages import AXE, _serious_accessibility_violations

    assert isinstance(browser, Browser)
    if not AXE.is_file():
        skip_loudly("axe-core is not installed in frontend/node_modules (make frontend)")
    writer, lister = agents
    harness = Harness(stack)
    context = browser.new_context(base_url=stack.api_url, viewport={"width": 375, "height": 740})
    try:
        with stack.overrides(planner=_Planner([(lister, "{{user_message}}"), (writer, "{{step_1_output}}")])):
            workflow_id = harness.create_and_start("Phone test")  # the only request that plans
        done = harness.run_paying(workflow_id)
        assert done["status"] == "completed", done
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        page.goto(f"/workflow/{workflow_id}")
        expect(page.get_by_test_id("next-action")).to_have_attribute("data-kind", "done")
        expect(page.get_by_test_id("step-output-1")).to_be_visible()
        assert _serious_accessibility_violations(page) == []
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "workflow-phone.png"), full_page=True)
    finally:
        context.close()
        harness.close()
