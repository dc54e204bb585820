"""The page tests' stack and browser: one `make run` stack (scripts.devstack on free ports, its
own data folder) and one headless Chromium for the whole session; a fresh browser context per
test, so cookies never leak between tests."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from scripts.journey import Journey
from tests.e2e.test_journey import Stack, StackRunner
from tests.support.browser import DESK, EXPECT_WAIT_MS, PHONE, Visit, launch, new_context


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Page tests are end-to-end tests, and they run last: Playwright's sync API keeps an event
    loop running in the main thread while the session's browser is open, and no asyncio test
    may run after it starts."""
    pages = [i for i in items if "tests/browser/" in str(i.path).replace("\\", "/")]
    for item in pages:
        item.add_marker(pytest.mark.e2e)
        item.add_marker(pytest.mark.browser)
    ids = {id(i) for i in pages}
    items[:] = [i for i in items if id(i) not in ids] + pages


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    runner = StackRunner(tmp_path_factory.mktemp("browser") / "data")
    started = runner.start(1)
    try:
        yield started
    finally:
        StackRunner.ensure_stopped(started)


@pytest.fixture(scope="session")
def journey(stack: Stack) -> Iterator[Journey]:
    """The API driver, for what a test sets up or checks behind the pages."""
    j = Journey(stack.endpoints)
    yield j
    j.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=EXPECT_WAIT_MS)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def visit(request: pytest.FixtureRequest) -> Visit:
    return Visit(request.node.name)


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    """A staff member's browser at the desa office."""
    context = new_context(browser, DESK)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A resident's phone, 360 px wide."""
    context = new_context(browser, PHONE, mobile=True)
    yield context.new_page()
    context.close()
