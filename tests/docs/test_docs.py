"""The documentation stays true to the code: every route of the four apps is listed in
docs/api.md and everything listed there exists, and every relative link between the pages
leads to a file and a heading that exist."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from services.intake.main import create_app as intake_app
from services.notification.main import create_app as notification_app
from services.signing.main import create_app as signing_app
from services.verification.main import create_app as verification_app
from tests.docs.support import DOCS, PAGES, ROOT, where
from tests.support.web import app_routes

pytestmark = pytest.mark.unit

API_DOC = DOCS / "api.md"
APPS: list[Callable[[], FastAPI]] = [intake_app, verification_app, signing_app, notification_app]

_METHOD = r"(?:GET|HEAD|POST|PUT|PATCH|DELETE)"
# `GET /path` or `GET|POST /path`, in a table or in prose
_ROUTE = re.compile(rf"\b({_METHOD}(?:\|{_METHOD})*) (/[^\s`?|,)]*)")


def _shape(path: str) -> str:
    """Parameters named as the reader knows them (`{id}`) match the code's (`{application_id}`)."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def routes_in_code() -> set[tuple[str, str]]:
    return {
        (method, _shape(path))
        for create_app in APPS
        for path, route in app_routes(create_app().routes)
        for method in route.methods or set()
    }


def routes_in_doc() -> set[tuple[str, str]]:
    text = API_DOC.read_text().replace("\\|", "|")  # `GET\|POST /x` in a table cell
    return {
        (method, _shape(path))
        for methods, path in _ROUTE.findall(text)
        for method in methods.split("|")
    }


def test_every_route_is_documented() -> None:
    missing = routes_in_code() - routes_in_doc()
    assert not missing, f"docs/api.md does not list {sorted(missing)}"


def test_every_documented_route_exists() -> None:
    stale = routes_in_doc() - routes_in_code()
    assert not stale, f"docs/api.md lists routes no app has: {sorted(stale)}"


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in page.read_text().splitlines():
        if heading := re.match(r"#+ (.+)", line):
            text = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_links_lead_somewhere(page: Path) -> None:
    broken = []
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        for target in _LINK.findall(line):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{where(page, number)}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
                broken.append(f"{where(page, number)}: {target} (no such heading)")
    assert not broken, broken
