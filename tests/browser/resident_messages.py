"""Every message a resident receives has its words on their application's page: the line a
WhatsApp/SMS message quotes (common/domain/resident_wording.py; every message in
docs/messages.md) is found, in the same words, on the page the resident opens for that state.

The journeys call `told_and_shown` at each state they reach, with the message's real text from
the dev sink (what the phone received) and the page as the browser shows it."""

import re

from playwright.sync_api import Page

from common.domain import resident_wording as say
from scripts.journey import Journey, wait_until


def _as_regex(pattern: str) -> re.Pattern[str]:
    """A wording line's pattern ("Permohonan diterima dengan nomor {number}.") as a regex that
    finds the line, whatever the placeholders were filled with."""
    parts = re.split(r"\{\w+\}", pattern)
    # A line ends where its full stop is followed by a space or the end ("pukul 16.00 WIB."
    # ends after "WIB.", not after "16.").
    return re.compile(r"(.+?)".join(re.escape(p) for p in parts) + r"(?=\s|$)")


LINES = [_as_regex(line) for line in say.LINES]


def quoted_lines(message: str) -> list[str]:
    """The wording lines a message quotes, as filled in it."""
    text = " ".join(message.split())
    return [m[0] for line in LINES for m in line.finditer(text)]


def page_words(page: Page) -> str:
    return " ".join(page.locator("main").inner_text().split())


def told_and_shown(journey: Journey, phone_number: str, page: Page, saying: str) -> list[str]:
    """Waits for the resident's message that says `saying`, reloads their page and finds
    every wording line the message quotes on it. Returns the lines."""

    def message() -> str | None:
        for sent in journey.dev_messages(phone_number):
            if saying in sent["body"]:
                return str(sent["body"])
        return None

    body = wait_until(f"the resident's message saying {saying!r}", message, within=120.0)
    lines = quoted_lines(body)
    assert lines, f"the message quotes no resident_wording line: {body!r}"
    page.reload()
    shown = page_words(page)
    for line in lines:
        assert line in shown, f"{line!r} (from the message) is not on {page.url}"
    return lines
