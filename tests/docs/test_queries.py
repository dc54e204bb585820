"""Every Temporal visibility query shown to people runs on a real Temporal dev server with the
project's search attributes: the queries in the documentation (fenced blocks tagged
`temporal-query`, one query per line; `temporal workflow list --query '...'` commands; code
spans in the text that read as a query) and the kabupaten view's links into the Temporal UI. A query the server refuses (`ORDER BY`, which
also breaks the Web UI, an unregistered attribute, a bare `Status`) fails here instead of in
front of Diskominfo."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from services.verification.kabupaten_view import TemporalUi
from tests.docs.support import PAGES, fenced_blocks, inline_code, where
from workflows.approval import search_attributes

QUERY_TAG = "temporal-query"
_CLI_QUERY = re.compile(r"temporal workflow list\b.*?(?:--query|-q)[ =]'([^']+)'")
# A line that reads like a visibility query: an attribute, then a comparison.
_ATTRIBUTES = [k.name for k in search_attributes.ALL] + [
    "WorkflowId",
    "WorkflowType",
    "ExecutionStatus",
    "StartTime",
    "CloseTime",
]
_LOOKS_LIKE_QUERY = re.compile(
    r"^\s*`?(?:" + "|".join(_ATTRIBUTES) + r")`?\s*(?:=|!=|<|>|IN\b|IS\b|STARTS_WITH\b)"
)


def documented_queries() -> list[tuple[str, str]]:
    """(where, query) for every query the pages show."""
    found = []
    for page in PAGES:
        for block in fenced_blocks(page):
            for offset, line in enumerate(block.lines):
                at = where(page, block.line + offset)
                if block.tag == QUERY_TAG and line.strip():
                    found.append((at, line.strip()))
                for match in _CLI_QUERY.finditer(line):
                    found.append((at, match.group(1)))
        for number, text in inline_code(page):
            if _LOOKS_LIKE_QUERY.match(text):
                found.append((where(page, number), text))
    return found


def kabupaten_view_queries() -> list[tuple[str, str]]:
    """The filters behind the links the kabupaten view puts on every row."""
    ui = TemporalUi("http://temporal-ui.example", "default")
    links = {
        "desa": ui.desa("32.13.11.2004"),
        "kecamatan": ui.kecamatan("32.13.11"),
        "workflow": ui.workflow("0b6f5c1e-3f0a-4c5e-9a57-2f4f5d0c9e11"),
        "overdue": ui.overdue(),
        "overdue in a desa": ui.overdue(desa_code="32.13.11.2004"),
        "overdue in a kecamatan": ui.overdue(kecamatan_code="32.13.11"),
    }
    return [
        (f"kabupaten view: {name}", parse_qs(urlsplit(link).query)["query"][0])
        for name, link in links.items()
    ]


DOCUMENTED = documented_queries()
ALL = DOCUMENTED + kabupaten_view_queries()


def test_the_workflow_and_operations_pages_show_queries() -> None:
    """The extraction finds what Diskominfo reads (a renamed tag would otherwise test nothing)."""
    pages = {at.split(":")[0] for at, _ in DOCUMENTED}
    assert {"docs/workflow.md", "docs/operations.md"} <= pages


def test_every_query_shown_is_marked_so_it_is_run() -> None:
    unmarked = [
        f"{where(page, block.line + offset)}: {line.strip()}"
        for page in PAGES
        for block in fenced_blocks(page)
        if block.tag != QUERY_TAG
        for offset, line in enumerate(block.lines)
        if _LOOKS_LIKE_QUERY.match(line)
    ]
    assert not unmarked, f"tag these blocks `{QUERY_TAG}` so the tests run them: {unmarked}"


@pytest.mark.parametrize(("at", "query"), ALL, ids=[at for at, _ in ALL])
async def test_query_runs_on_the_dev_server(temporal_client: Client, at: str, query: str) -> None:
    try:
        [w async for w in temporal_client.list_workflows(query, limit=1)]
    except RPCError as exc:
        pytest.fail(f"{at}: the server refuses {query!r}: {exc}")


async def test_the_server_refuses_what_the_ui_cannot_show(temporal_client: Client) -> None:
    """The check above can fail: the dev server refuses the query the runbook used to show."""
    with pytest.raises(RPCError, match="ORDER BY"):
        [
            w
            async for w in temporal_client.list_workflows(
                'KecamatanCode = "32.13.11" AND Overdue = true ORDER BY Deadline', limit=1
            )
        ]
