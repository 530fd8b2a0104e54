"""What every browser test shares: the local stack serving the built pages, Debian's headless
chromium driven by Playwright, a page whose wallet prompts are answered with the first dev account's
mnemonic. Needs frontend/dist (`make frontend`; `make test` builds it) and /usr/bin/chromium (`make
test` installs it with apt where it can); without them the browser tests skip with a loud message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.frontend import FRONTEND_DIST, frontend_for
from devstack.stack import LocalStack, StackConfig
from tests.browser.pages import CHROMIUM, CHROMIUM_ARGS, STEP_TIMEOUT_MS, skip_loudly
from tests.stack_helpers import FAST


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    if not (FRONTEND_DIST / "index.html").is_file():
        skip_loudly("frontend/dist is not built (run `make frontend`)")
    local = LocalStack(StackConfig.ephemeral(tmp_path_factory.mktemp("browser-stack"), **FAST))
    local.fallback = frontend_for(local)
    with local:
        yield local


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).is_file():
        skip_loudly(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, stack: LocalStack) -> Iterator[object]:
    from playwright.sync_api import Browser, Dialog

    assert isinstance(browser, Browser)
    context = browser.new_context(base_url=stack.api_url, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    mnemonic = stack.dev_accounts[0].mnemonic

    def answer(dialog: Dialog) -> None:
        # use-wallet's mnemonic wallet asks with window.prompt; anything else is unexpected.
        if dialog.type == "prompt":
            dialog.accept(mnemonic)
        else:
            dialog.accept()

    page.on("dialog", answer)
    yield page
    context.close()
