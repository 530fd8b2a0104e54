"""The person's side before anything is paid, in a real browser on the local stack: the request
page's budget reaching the plan, the plan saying per step what the agent will get (no template
syntax), the funds box with the funded dev wallet (can pay) and with a fresh unfunded wallet (the
sentence, Approve disabled until it is funded and checked again), a planner failure as a sentence
with the seconds waited, the agents page and the history page (newest first, Load more).
Screenshots go to tests/artifacts/.

Needs frontend/dist (`make frontend`) and /usr/bin/chromium; without them these tests skip loudly."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from orchestrator.amounts import format_algo
from orchestrator.errors import PlannerTimeout
from orchestrator.models import AgentMetadata, WorkflowPlan

from devstack.agents import SAMPLE_AGENTS
from devstack.stack import LocalStack
from tests.browser.pages import (
    ARTIFACTS,
    SEED_EXAMPLE,
    STEP_TIMEOUT_MS,
    confirm_cancel,
    connect_wallet,
    submit_request,
)
from tests.stack_helpers import Harness, StackOverrides

pytestmark = pytest.mark.e2e

PLANNER_SENTENCE = "The planner did not answer within 30 seconds. Try again in a minute."


@pytest.fixture
def harness(stack: LocalStack) -> Iterator[Harness]:
    helper = Harness(stack)
    yield helper
    helper.close()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_budget_reaches_the_plan_which_says_what_each_agent_gets_and_that_the_dev_wallet_can_pay(
    page: object, stack: LocalStack, harness: Harness
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/orchestrator")
    connect_wallet(page, stack)
    page.get_by_test_id("request-input").fill(SEED_EXAMPLE)
    page.get_by_test_id("budget-input").fill("1.5")
    _shot(page, "request-budget.png")
    page.get_by_test_id("create-submit").click()
    page.wait_for_url("**/workflow/*")
    expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "planned")
    workflow_id = page.url.rsplit("/", 1)[-1]
    assert harness.workflow(workflow_id)["budget_microalgo"] == 1_500_000

    # Per step, what the agent will get, in words: the person's text; an earlier output named.
    expect(page.get_by_test_id("step-agent-1")).to_have_text("Medical Diagnosis Agent")
    expect(page.get_by_test_id("step-1")).to_contain_text("What Medical Diagnosis Agent will get")
    expect(page.get_by_test_id("step-input-1")).to_contain_text("headache")
    expect(page.get_by_test_id("step-input-1")).to_contain_text("runny nose")
    expect(page.get_by_test_id("step-2")).to_contain_text("What Movie Recommendation Agent will get")
    expect(page.get_by_test_id("step-input-2")).to_contain_text(
        "the output of step 1 (Medical Diagnosis Agent)"
    )
    assert "{{" not in page.get_by_test_id("steps").inner_text()
    assert "{{" not in page.locator("main").inner_text()

    # The funds box: the dev account is funded, so it can pay; the budget is shown; Approve is open.
    funds = page.get_by_test_id("plan-funds")
    expect(funds).to_have_attribute("data-can-pay", "true")
    view = harness.api.get(f"/api/workflows/{workflow_id}/funds").json()
    assert view["can_pay"] is True and view["fees_microalgo"] > 0, view
    expect(page.get_by_test_id("funds-verdict")).to_have_text("Your wallet can pay for this plan.")
    expect(page.get_by_test_id("funds-balance")).to_have_text(format_algo(view["balance_microalgo"]))
    expect(page.get_by_test_id("funds-min-balance")).to_have_text(format_algo(view["min_balance_microalgo"]))
    expect(page.get_by_test_id("funds-fees")).to_have_text(format_algo(view["fees_microalgo"]))
    expect(page.get_by_test_id("funds-total")).to_have_text(format_algo(800_000 + view["fees_microalgo"]))
    expect(page.get_by_test_id("funds-budget")).to_have_text("1.5 ALGO")
    expect(page.get_by_test_id("funds-message")).to_have_text(view["message"])
    expect(page.get_by_test_id("funds-check-again")).to_be_hidden()
    expect(page.get_by_test_id("approve-start")).to_be_enabled()
    page.get_by_test_id("plan-funds").scroll_into_view_if_needed()
    _shot(page, "plan-funds.png")
    confirm_cancel(page)


def test_an_unfunded_wallet_gets_the_sentence_and_approve_waits_until_it_is_funded(
    browser: object, stack: LocalStack, harness: Harness
) -> None:
    from algosdk import account, mnemonic, transaction
    from playwright.sync_api import Browser, Dialog, expect

    assert isinstance(browser, Browser)
    private_key, address = account.generate_account()
    words = mnemonic.from_private_key(private_key)
    context = browser.new_context(base_url=stack.api_url, viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)

        def answer(dialog: Dialog) -> None:
            if dialog.type == "prompt":
                dialog.accept(words)  # the fresh account, never funded
            else:
                dialog.accept()

        page.on("dialog", answer)
        page.goto("/orchestrator")
        page.get_by_test_id("wallet-select").select_option("mnemonic")
        page.get_by_test_id("wallet-connect").click()
        expect(page.get_by_test_id("wallet-address")).to_have_text(address)
        workflow_id = submit_request(page, SEED_EXAMPLE)

        funds = page.get_by_test_id("plan-funds")
        expect(funds).to_have_attribute("data-can-pay", "false")
        view = harness.api.get(f"/api/workflows/{workflow_id}/funds").json()
        assert view["can_pay"] is False and view["balance_microalgo"] == 0, view
        expect(page.get_by_test_id("funds-balance")).to_have_text("0 ALGO")
        expect(page.get_by_test_id("funds-verdict")).to_have_text(
            f"Your wallet is short by {format_algo(view['shortfall_microalgo'])}."
        )
        expect(page.get_by_test_id("funds-message")).to_have_text(view["message"])
        expect(page.get_by_test_id("funds-check-again")).to_be_visible()
        expect(page.get_by_test_id("approve-start")).to_be_disabled()
        page.get_by_test_id("plan-funds").scroll_into_view_if_needed()
        _shot(page, "plan-unfunded.png")

        # Funded from the first dev account (what the sentence tells the person to do), checked again.
        dev = stack.dev_accounts[0]
        algod = harness.wallet.algod
        amount = view["shortfall_microalgo"] + 1_000_000
        txn = transaction.PaymentTxn(dev.address, algod.suggested_params(), address, amount)
        txid = algod.send_transaction(txn.sign(dev.private_key))
        transaction.wait_for_confirmation(algod, txid, 20)
        page.get_by_test_id("funds-check-again").click()
        expect(funds).to_have_attribute("data-can-pay", "true")
        expect(page.get_by_test_id("funds-verdict")).to_have_text("Your wallet can pay for this plan.")
        expect(page.get_by_test_id("approve-start")).to_be_enabled()
        confirm_cancel(page)
    finally:
        context.close()


class _SlowFailingPlanner:
    """Answers after `seconds` with the planner's own error, as a hung planning model would."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def plan(
        self,
        user_message: str,
        catalog: list[AgentMetadata],
        feedback: list[str] | None = None,
        *,
        budget_microalgo: int | None = None,
    ) -> WorkflowPlan:
        time.sleep(self.seconds)
        raise PlannerTimeout(PLANNER_SENTENCE)


def test_a_planner_failure_shows_the_seconds_waited_then_a_sentence(
    page: object, stack: LocalStack, overrides: StackOverrides
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    overrides.use(planner=_SlowFailingPlanner(2.5))
    page.goto("/orchestrator")
    connect_wallet(page, stack)
    page.get_by_test_id("request-input").fill(SEED_EXAMPLE)
    page.get_by_test_id("create-submit").click()
    status = page.get_by_test_id("create-status")
    expect(status).to_have_text("Planning your workflow… 0 s")
    expect(status).to_have_text("Planning your workflow… 2 s")
    error = page.get_by_test_id("create-error")
    expect(error).to_have_text(PLANNER_SENTENCE)
    expect(status).to_have_text(re.compile(r"^Planning stopped after [23] s\.$"))
    expect(page.get_by_test_id("create-submit")).to_be_enabled()
    _shot(page, "planner-error.png")


def test_a_request_no_agent_fits_names_the_closest_agents_and_links_to_the_agents_page(
    page: object, stack: LocalStack
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/orchestrator")
    connect_wallet(page, stack)
    page.get_by_test_id("request-input").fill("Translate this contract into Portuguese")
    page.get_by_test_id("create-submit").click()
    error = page.get_by_test_id("create-error")
    expect(page.get_by_test_id("create-closest-agents").locator("li").first).to_be_visible()
    assert "{{" not in error.inner_text() and "Error" not in error.inner_text()
    link = page.get_by_test_id("create-agents-link")
    expect(link).to_have_attribute("href", "/agents")
    link.click()
    page.wait_for_url("**/agents")
    expect(page.get_by_test_id("agent-0")).to_be_visible()


def test_agents_page_lists_the_sample_agents_with_prices(page: object, stack: LocalStack) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/orchestrator")
    connect_wallet(page, stack)
    page.get_by_test_id("nav-agents").click()
    page.wait_for_url("**/agents")
    expect(page.get_by_test_id("page-title")).to_have_text("Agents")
    expect(page.get_by_test_id("nav-agents")).to_have_attribute("aria-current", "page")
    samples = sorted(SAMPLE_AGENTS, key=lambda s: s.name)
    expect(page.get_by_test_id("agents-list").locator(":scope > li")).to_have_count(len(samples))
    for i, spec in enumerate(samples):
        expect(page.get_by_test_id(f"agent-name-{i}")).to_have_text(spec.name)
        expect(page.get_by_test_id(f"agent-price-{i}")).to_have_text(format_algo(spec.price_microalgo))
        expect(page.get_by_test_id(f"agent-input-{i}")).not_to_be_empty()
    _shot(page, "agents.png")

    # Back to the request page in place, the wallet still connected: the page shows (it used to
    # fail when a wallet was already connected as it opened).
    page.get_by_test_id("nav-request").click()
    page.wait_for_url("**/orchestrator")
    expect(page.get_by_test_id("request-form")).to_be_visible()
    expect(page.get_by_test_id("wallet-address")).to_have_text(stack.dev_accounts[0].address)
    expect(page.get_by_test_id("create-wallet-hint")).to_contain_text("balance")

    # A reload of /agents is served the page too.
    page.goto("/agents")
    expect(page.get_by_test_id("agent-0")).to_be_visible()


def test_history_lists_workflows_newest_first_and_loads_more(
    page: object, stack: LocalStack, harness: Harness
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    made = [
        str(harness.create(f"History request {n}: summarize this text")["workflow_id"]) for n in range(23)
    ]
    newest_first = list(reversed(made))
    page.goto("/workflows")
    expect(page.get_by_test_id("page-title")).to_have_text("Your workflows")
    rows = page.get_by_test_id("workflows-list").locator(":scope > li")
    expect(rows).to_have_count(20)
    shown = [rows.nth(i).get_attribute("data-workflow-id") for i in range(20)]
    assert shown == newest_first[:20]
    expect(page.get_by_test_id("workflow-link-0")).to_have_text("History request 22: summarize this text")
    expect(page.get_by_test_id("workflow-link-0")).to_have_attribute("href", f"/workflow/{made[-1]}")
    expect(page.get_by_test_id("workflow-status-0")).to_have_attribute("data-status", "planned")
    expect(page.get_by_test_id("workflow-cost-0")).to_contain_text("ALGO")
    _shot(page, "history.png")

    page.get_by_test_id("workflows-more").click()
    expect(page.get_by_test_id("workflow-row-22")).to_be_visible()
    count = rows.count()
    shown = [rows.nth(i).get_attribute("data-workflow-id") for i in range(count)]
    assert shown[:23] == newest_first
    assert len(set(shown)) == len(shown)  # no workflow twice across pages

    # A row opens its workflow.
    page.get_by_test_id("workflow-link-0").click()
    page.wait_for_url(f"**/workflow/{made[-1]}")
    expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "planned")
