"""The web pages in a real browser (Playwright driving Debian's headless chromium) on the local
stack, paying with use-wallet's mnemonic wallet: the seed's example from request to final output,
cancel while awaiting payment then resume, a paid job the agent fails: the page asks for consent
to pay again before resuming, and live updates: changes shown within a second, an idle page asking
at most once per 5 s. Screenshots go to tests/artifacts/ (ignored by git).

Needs frontend/dist (`make frontend`; `make test` builds it) and /usr/bin/chromium (`make test`
installs it with apt where it can); without them these tests skip with a loud message."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from devstack.stack import LocalStack
from tests.browser.pages import (
    ARTIFACTS,
    SEED_EXAMPLE,
    STEP_TIMEOUT_MS,
    pay,
    request_and_open_plan,
    skip_loudly,
)
from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness

pytestmark = pytest.mark.e2e


def test_seed_example_from_request_to_final_output(page: object, stack: LocalStack) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    request_and_open_plan(page, stack)
    expect(page.get_by_test_id("step-agent-1")).to_have_text("Medical Diagnosis Agent")
    expect(page.get_by_test_id("step-agent-2")).to_have_text("Movie Recommendation Agent")
    expect(page.get_by_test_id("workflow-total")).to_contain_text("0.8 ALGO")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "plan.png"), full_page=True)

    page.get_by_test_id("approve-start").click()
    for step in (1, 2):
        pay(page, step)
        expect(page.get_by_test_id(f"step-status-{step}")).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("step-output-1")).to_be_visible()

    expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("final-output")).to_contain_text("recommendations")
    # The last step's output is the final output: shown once, at the top; the step points there.
    expect(page.get_by_test_id("step-output-2")).to_have_count(0)
    expect(page.get_by_test_id("step-output-ref-2")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "completed.png"), full_page=True)

    # Reloaded, the page shows the same finished workflow (state comes from the API).
    page.reload()
    expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("final-output")).to_contain_text("recommendations")


def test_cancel_while_awaiting_payment_then_resume(page: object, stack: LocalStack) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    request_and_open_plan(page, stack)
    page.get_by_test_id("approve-start").click()
    expect(page.get_by_test_id("step-status-1")).to_have_attribute("data-status", "awaiting_payment")

    page.get_by_test_id("cancel").click()
    page.get_by_test_id("cancel-confirm").click()
    expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_test_id("step-pay-1")).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "cancelled.png"), full_page=True)

    page.get_by_test_id("resume").click()
    expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "running")
    for step in (1, 2):
        pay(page, step)
    expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("final-output")).to_be_visible()


def test_failed_paid_job_asks_consent_to_pay_again_then_requests_a_new_payment(
    page: object, stack: LocalStack
) -> None:
    from orchestrator.dependencies import get_dependencies
    from playwright.sync_api import Page, expect

    from devstack.agents import AgentBehaviour

    assert isinstance(page, Page)
    deps = get_dependencies()
    harness = Harness(stack)
    failing = harness.add_agent(
        "movie-recommender", "failing-movies", AgentBehaviour(fail_jobs=True, job_seconds=0.2)
    )
    try:
        with stack.overrides(planner=FixedPlanner([(failing, "a cold")])):
            request_and_open_plan(page, stack, "Recommend a movie")
            page.get_by_test_id("approve-start").click()
            pay(page, 1)
            first_receipt = page.get_by_test_id("step-receipt-1-summary").inner_text()

            # The agent fails the paid job: the page says plainly that resuming pays again, and offers
            # only the consent button (no plain Resume).
            expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "failed")
            expect(page.get_by_test_id("step-status-1")).to_have_attribute("data-status", "failed")
            expect(page.get_by_test_id("step-error-1")).to_contain_text("AgentJobFailed")
            consent_text = page.get_by_test_id("repay-step-1")
            expect(consent_text).to_contain_text("Step 1: the agent could not deliver the job you paid for.")
            expect(consent_text).to_contain_text("you will pay for it again (")
            expect(consent_text).to_contain_text("Your earlier payment's receipt (txid ")
            consent = page.get_by_role("button", name="Pay again for step 1 and resume")
            expect(consent).to_be_visible()
            expect(page.get_by_test_id("resume")).to_be_hidden()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "repay-consent.png"), full_page=True)
            if AXE.is_file():
                assert _serious_accessibility_violations(page) == []

            # With consent: a new job, a new payment asked for; the earlier receipt kept under the step.
            consent.click()
            expect(page.get_by_test_id("step-status-1")).to_have_attribute("data-status", "awaiting_payment")
            expect(page.get_by_test_id("step-pay-1")).to_be_visible()
            expect(page.get_by_test_id("step-earlier-receipt-1-0-summary")).to_have_text(
                f"Earlier payment, kept: {first_receipt}"
            )
            expect(page.get_by_test_id("step-receipt-1")).to_be_hidden()
            expect(page.get_by_test_id("repay-notice")).to_be_hidden()
            page.screenshot(path=str(ARTIFACTS / "repay-new-payment.png"), full_page=True)
            if AXE.is_file():
                assert _serious_accessibility_violations(page) == []
            page.get_by_test_id("cancel").click()
            page.get_by_test_id("cancel-confirm").click()
            expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "cancelled")
    finally:
        # Out of the catalog again, so that the other tests' planner never picks it.
        agent = deps.store.get_agent(failing)
        if agent is not None:
            deps.store.upsert_agents([agent.model_copy(update={"status": "inactive"})])
        harness.close()


# Live updates: what "at once" and "idle" mean on the page (the figures).
SEEN_WITHIN_SECONDS = 1.0
IDLE_GAP_SECONDS = 5.0
IDLE_SECONDS = 22  # past one whole long poll (20 s) and into the next


def _shown(page: object, testid: str, status: str) -> float:
    """Waits until the element shows `status` (checked every frame); when it did (time.monotonic())."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.wait_for_function(
        '([testid, status]) => document.querySelector(`[data-testid="${testid}"]`)?.dataset.status === status',
        arg=[testid, status],
        polling="raf",
    )
    return time.monotonic()


def test_live_updates_show_changes_within_a_second_and_an_idle_page_asks_once_per_5_s(
    page: object, stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    from orchestrator.dependencies import get_dependencies
    from playwright.sync_api import Page, Request, Response, expect

    assert isinstance(page, Page)
    harness = Harness(stack)  # the dev user: the one the page's config.json token names
    try:
        workflow_id = str(harness.create(SEED_EXAMPLE)["workflow_id"])
        path = f"/api/workflows/{workflow_id}"
        reads: list[tuple[float, str]] = []  # the page's GETs of this workflow: when, and the query
        answers: list[int] = []

        def sent(request: Request) -> None:
            url = urlparse(request.url)
            if request.method == "GET" and url.path == path:
                reads.append((time.monotonic(), url.query))

        def answered(response: Response) -> None:
            if response.request.method == "GET" and urlparse(response.url).path == path:
                answers.append(response.status)

        page.on("request", sent)
        page.on("response", answered)
        page.goto(f"/workflow/{workflow_id}")
        expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "planned")

        # Nothing changes: the page holds one long poll at a time, answered 304 after 20 s.
        page.wait_for_timeout(IDLE_SECONDS * 1000)
        assert reads[0][1] == "" and all(query == "wait=20" for _, query in reads[1:]), reads
        polls = [at for at, _ in reads[1:]]
        idle = time.monotonic() - polls[0]
        assert len(polls) <= 1 + idle / IDLE_GAP_SECONDS, (len(polls), idle)
        assert all(b - a >= IDLE_GAP_SECONDS for a, b in itertools.pairwise(polls)), polls
        assert 304 in answers, answers

        # A change made elsewhere (the API, not this page) shows within a second.
        approved = harness.post("/api/workflows/approve", {"workflow_id": workflow_id})
        changed_at = time.monotonic()
        assert approved.status_code == 200, approved.text
        seen = _shown(page, "workflow-status", "approved") - changed_at
        assert seen < SEEN_WITHIN_SECONDS, seen

        # The next payment request: from the moment the store has it to the page showing it.
        store = get_dependencies().store
        in_store: list[float] = []

        def watch_store() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                step = store.get_step(workflow_id, 1)
                if step is not None and step.status == "awaiting_payment":
                    in_store.append(time.monotonic())
                    return
                time.sleep(0.01)

        watcher = threading.Thread(target=watch_store, daemon=True)
        watcher.start()
        assert harness.post("/api/workflows/start", {"workflow_id": workflow_id}).status_code == 202
        shown_at = _shown(page, "step-status-1", "awaiting_payment")
        watcher.join(timeout=30)
        assert in_store and shown_at - in_store[0] < SEEN_WITHIN_SECONDS, (in_store, shown_at)
        with capsys.disabled():
            print(
                f"\nlive updates: {len(polls)} requests in {idle:.1f} s idle; a change shown after "
                f"{seen:.2f} s, the payment request after {shown_at - in_store[0]:.2f} s"
            )
        expect(page.get_by_test_id("step-pay-1")).to_be_visible()

        # Cancelled (terminal): the page stops asking.
        assert harness.post("/api/workflows/cancel", {"workflow_id": workflow_id}).status_code == 200
        _shown(page, "workflow-status", "cancelled")
        page.wait_for_timeout(500)
        asked = len(reads)
        page.wait_for_timeout(3000)
        assert len(reads) == asked
    finally:
        harness.close()


AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"


def _serious_accessibility_violations(page: object) -> list[str]:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} element(s)"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def test_pages_are_accessible_and_fit_a_phone(browser: object, stack: LocalStack) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    if not AXE.is_file():
        skip_loudly("axe-core is not installed in frontend/node_modules (make frontend)")
    context = browser.new_context(base_url=stack.api_url, viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    mnemonic = stack.dev_accounts[0].mnemonic
    page.on("dialog", lambda dialog: dialog.accept(mnemonic))
    try:
        request_and_open_plan(page, stack)
        expect(page.get_by_test_id("step-agent-2")).to_be_visible()
        assert _serious_accessibility_violations(page) == []
        # Nothing wider than the phone's screen: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "plan-phone.png"), full_page=True)

        page.goto("/orchestrator")
        expect(page.get_by_test_id("request-input")).to_be_visible()
        assert _serious_accessibility_violations(page) == []
        # Keyboard only: the request box is reachable with Tab and has a label.
        label = page.evaluate(
            "() => { const el = document.querySelector('[data-testid=request-input]');"
            " return el.labels && el.labels.length ? el.labels[0].textContent.trim() : el.getAttribute('aria-label'); }"
        )
        assert label
        for _ in range(15):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement?.dataset?.testid") == "request-input":
                break
        else:
            raise AssertionError("the request box cannot be reached with the keyboard")
    finally:
        context.close()
