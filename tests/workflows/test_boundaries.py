"""Intake and verification reach the approval workflow only through its client, its payloads
and the domain package: no module of theirs imports the workflow's code, its activities or its
worker, directly or through any module it imports. (Their images then carry neither.)"""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ("common", "services", "workflows")
FORBIDDEN = {
    "workflows.approval.workflows",
    "workflows.approval.activities",
    "workflows.approval.worker",
    "workflows.complaint.workflows",
    "workflows.complaint.activities",
    "workflows.complaint.worker",
}


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Every module of ours `path` imports (`from a.b import c` may import module a.b.c)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in names:
            if name.split(".")[0] not in OUR_PACKAGES:
                continue
            parts = name.split(".")
            # Importing a.b.c runs a/__init__ and a/b/__init__ too.
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {name for name in found if _module_file(name) is not None}


def _reached_from(package: str) -> dict[str, str]:
    """Every module of ours reached from `package`'s modules, with one module importing it."""
    start = ROOT / package.replace(".", "/")
    queue = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in start.rglob("*.py")
    ]
    via: dict[str, str] = dict.fromkeys(queue, "")
    while queue:
        name = queue.pop()
        path = _module_file(name)
        assert path is not None, name
        for imported in _imports(path):
            if imported not in via:
                via[imported] = name
                queue.append(imported)
    return via


def _chain(via: dict[str, str], name: str) -> list[str]:
    chain = [name]
    while via[chain[-1]]:
        chain.append(via[chain[-1]])
    return chain[::-1]


@pytest.mark.parametrize("package", ["services.intake", "services.verification"])
def test_the_service_never_imports_the_workflow_or_its_activities(package: str) -> None:
    via = _reached_from(package)
    assert "workflows.approval.client" in via  # the walk does reach the workflow's package
    reached = sorted(FORBIDDEN & via.keys())
    assert reached == [], [_chain(via, name) for name in reached]


def test_the_walk_finds_an_import_through_another_module() -> None:
    # The worker is reached from its own package: the walk follows imports transitively.
    via = _reached_from("workflows.approval")
    assert "workflows.approval.workflows" in via
    assert "workflows.approval.working_time" in via  # via workflows.approval.deadlines, etc.
