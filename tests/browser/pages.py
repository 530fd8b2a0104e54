"""Constants and page actions the browser tests share (connect the wallet, ask, pay)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from devstack.stack import LocalStack

SEED_EXAMPLE = "I have a headache and runny nose and want a movie recommendation"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_TIMEOUT_MS = 30_000


def skip_loudly(why: str) -> None:
    pytest.skip(f"!!! BROWSER TESTS DID NOT RUN: {why} !!!")


def connect_wallet(page: object, stack: LocalStack) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.get_by_test_id("wallet-select").select_option("mnemonic")
    page.get_by_test_id("wallet-connect").click()
    expect(page.get_by_test_id("wallet-address")).to_contain_text(stack.dev_accounts[0].address)


def pay(page: object, step: int) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.get_by_test_id(f"step-pay-{step}").click()
    preview = page.get_by_test_id(f"step-preview-{step}")
    expect(preview).to_be_visible()
    # What will be signed is shown before the wallet is asked: the payment and the app call.
    expect(page.get_by_test_id(f"step-preview-{step}-txn-0")).to_have_attribute("data-type", "pay")
    expect(page.get_by_test_id(f"step-preview-{step}-txn-1")).to_have_attribute("data-type", "appl")
    expect(page.get_by_test_id(f"step-preview-{step}-total")).to_contain_text("ALGO")
    page.get_by_test_id(f"step-confirm-pay-{step}").click()
    expect(page.get_by_test_id(f"step-receipt-{step}")).to_contain_text("round")


def submit_request(page: object, message: str) -> str:
    """On the request page, with a wallet connected: ask, and wait for the plan; its workflow id."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.get_by_test_id("request-input").fill(message)
    page.get_by_test_id("create-submit").click()
    page.wait_for_url("**/workflow/*")
    expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "planned")
    return page.url.rsplit("/", 1)[-1]


def request_and_open_plan(page: object, stack: LocalStack, message: str = SEED_EXAMPLE) -> str:
    """From the request page with the first dev account's wallet to the plan of `message`."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto("/orchestrator")
    connect_wallet(page, stack)
    return submit_request(page, message)


def confirm_cancel(page: object) -> None:
    """Cancel the open workflow: the Cancel button asks on the page first, then confirm."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.get_by_test_id("cancel").click()
    expect(page.get_by_test_id("cancel-confirm-panel")).to_be_visible()
    page.get_by_test_id("cancel-confirm").click()
    expect(page.get_by_test_id("workflow-status")).to_have_attribute("data-status", "cancelled")
