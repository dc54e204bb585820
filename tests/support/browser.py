"""Headless Chromium for the page tests: Debian's `chromium` driven by Playwright (nothing is
downloaded; `make install` installs both), and the checks every visited page gets.

`Visit.page(page, name)` is what a test calls after each navigation: it saves full-page
screenshots at the two widths people use it at (a 360-px phone and a 1366-px office screen),
checks the page fits the 360-px screen without sideways scrolling, and runs axe-core
(`node_modules/axe-core`, installed by `make install` from npm) expecting no serious or
critical violation. The screenshots stay under build/screenshots/<test>/ (gitignored; CI keeps
them as the run's artefacts; SMARTDESA_SCREENSHOTS_DIR moves them).
"""

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, ViewportSize
from playwright.sync_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SMARTDESA_CHROMIUM", "/usr/bin/chromium")
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("SMARTDESA_SCREENSHOTS_DIR", ROOT / "build" / "screenshots"))
PHONE: ViewportSize = {"width": 360, "height": 780}
DESK: ViewportSize = {"width": 1280, "height": 860}
# The widths every visited page is kept at: the resident's phone and the desa office's screen.
SCREENSHOT_WIDTHS = (PHONE["width"], 1366)
# How long a click, a navigation or an `expect` waits for the page before failing. Each returns
# as soon as the page is there; the bound only matters when it never comes. Playwright's defaults
# (30 s, and 5 s for `expect`) failed a Kades' approval, which signs the letter before the page
# answers, on a loaded machine.
ACTION_WAIT_MS = 120_000
EXPECT_WAIT_MS = 30_000
# Violations a page must not have; "minor" and "moderate" are reported, not failed.
BLOCKING_IMPACTS = ("serious", "critical")


def launch(playwright: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing; run `make install` (Debian's chromium)")
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",  # root in a container has no user namespace sandbox
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ],
    )


def new_context(browser: Browser, size: ViewportSize, *, mobile: bool = False) -> BrowserContext:
    """A browser of its own (no one else's cookies), set up as a phone or desk in Subang."""
    context = browser.new_context(
        viewport=size,
        locale="id-ID",
        timezone_id="Asia/Jakarta",
        is_mobile=mobile,
        has_touch=mobile,
    )
    context.set_default_timeout(ACTION_WAIT_MS)
    context.set_default_navigation_timeout(ACTION_WAIT_MS)
    return context


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (injected through the DevTools protocol,
    which the page's Content-Security-Policy does not apply to)."""
    if not AXE_JS.exists():
        raise RuntimeError(f"{AXE_JS} is missing; run `make install` (npm ci)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text())
    result: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }"""
    )
    return result


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no sideways scrolling)."""
    width: int = page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )
    return max(width, 0)


# Elements checked for sticking out of the page when it is zoomed.
_ZOOM_CHECKED = ".lencana, button, .tombol, input, select, textarea, label, h1, h2, h3, p, dd, li"


def sticking_out_at_zoom(page: Page, zoom: int = 2) -> list[str]:
    """What sticks out sideways when the page is zoomed `zoom` times: the browser's zoom
    shrinks the CSS viewport by that factor (200 % on a 360-px phone lays the page out in
    180 px). Each entry names the element and its first words; [] when nothing does."""
    size = page.viewport_size or PHONE
    page.set_viewport_size({"width": size["width"] // zoom, "height": size["height"] // zoom})
    try:
        found: list[str] = page.evaluate(
            """(selector) => {
                const edge = document.documentElement.clientWidth + 1;
                return [...document.querySelectorAll(selector)]
                    .filter(el => el.getClientRects().length && el.getBoundingClientRect().right > edge)
                    .map(el => el.tagName.toLowerCase() + '.' + el.className + ' '
                        + (el.textContent || el.value || '').trim().slice(0, 40));
            }""",
            _ZOOM_CHECKED,
        )
        overflow = horizontal_overflow(page)
        if overflow:
            found.append(f"the page: {overflow}px wider than the screen")
    finally:
        page.set_viewport_size(size)
    return found


@dataclass
class Visit:
    """Screenshots and checks for one test; files go to build/screenshots/<test>/."""

    test_name: str
    shots: list[Path] = field(default_factory=list)
    visits: int = 0

    @property
    def folder(self) -> Path:
        return SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", self.test_name)

    def page(self, page: Page, name: str, *, accessible: bool = True) -> Path:
        """Screenshots at 360 and 1366 px (`NN-name-360.png`, `NN-name-1366.png`), the
        360-px fit and axe-core at the test's own size. Returns the 360-px screenshot."""
        page.wait_for_load_state("load")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.visits += 1
        index = self.visits
        slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
        size = page.viewport_size or DESK
        overflow = 0
        paths: dict[int, Path] = {}
        try:
            for width in SCREENSHOT_WIDTHS:
                # Against the window as it is now: after the 360-px shot, 1366 must be set again.
                if (page.viewport_size or DESK)["width"] != width:
                    page.set_viewport_size({"width": width, "height": size["height"]})
                if width == PHONE["width"]:
                    overflow = horizontal_overflow(page)
                paths[width] = self.folder / f"{index:02d}-{slug}-{width}.png"
                _screenshot(page, paths[width])
        finally:
            if (page.viewport_size or DESK) != size:
                page.set_viewport_size(size)
            # The test goes on measuring the page: let it lay out at its own size first.
            page.evaluate("() => new Promise(done => requestAnimationFrame(() => done(null)))")
        self.shots.extend(paths.values())
        assert overflow == 0, f"{name}: {overflow}px wider than a 360-px screen ({page.url})"
        if accessible:
            blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING_IMPACTS]
            assert not blocking, f"{name} ({page.url}): {json.dumps(blocking, indent=1)}"
        return paths[PHONE["width"]]


def _screenshot(page: Page, path: Path) -> None:
    """A full-page screenshot. Chromium now and then answers "Unable to capture screenshot"
    while the page is still settling (a service worker taking control, a resize); the shot is
    the test's record, not what it tests, so it is taken once more after the page has loaded."""
    try:
        page.screenshot(path=str(path), full_page=True)
    except PlaywrightError as exc:
        if "Unable to capture screenshot" not in str(exc):
            raise
        page.wait_for_load_state("load")
        page.screenshot(path=str(path), full_page=True)
