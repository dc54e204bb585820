"""Pages call use cases, never the API's route functions: a page and the API then refuse the
same things with the same messages, and neither depends on the other's HTTP shapes."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _route_imports(path: Path) -> list[str]:
    """Every module (or name in one) under services.<service>.api.routes the file imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if _is_routes(n))
    return sorted(found)


def _is_routes(name: str) -> bool:
    parts = name.split(".")
    return len(parts) >= 4 and parts[0] == "services" and parts[2:4] == ["api", "routes"]


def test_pages_never_import_route_modules() -> None:
    pages = sorted(ROOT.glob("services/*/web/**/*.py"))
    assert pages, "no page modules found"
    offenders = []
    for path in pages:
        rel = path.relative_to(ROOT).as_posix()
        for name in _route_imports(path):
            offenders.append(f"{rel}: {name}")
    assert offenders == []


def test_the_check_sees_every_way_of_importing_a_route_module(tmp_path: Path) -> None:
    page = tmp_path / "page.py"
    page.write_text(
        "from services.intake.api.routes import applications as api\n"
        "from services.verification.api.routes.tasks import decide\n"
        "import services.signing.api.routes.letters\n"
        "from services.verification.api.deps import DesaStaff\n"
        "from services.verification import staff_tasks\n"
    )
    assert _route_imports(page) == [
        "services.intake.api.routes",
        "services.intake.api.routes.applications",
        "services.signing.api.routes.letters",
        "services.verification.api.routes.tasks",
        "services.verification.api.routes.tasks.decide",
    ]


def _imports_problem(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "common.http":
            if any(a.name == "Problem" for a in node.names):
                return True
    return False


def test_only_routes_speak_http_refusals() -> None:
    """Use cases and domain modules raise `common.domain.errors` kinds; only the API's routes
    and dependencies (`api/`) and the pages (`web/`) may raise or catch an HTTP `Problem`."""
    modules = sorted(
        [*ROOT.glob("services/*/**/*.py"), *ROOT.glob("workflows/**/*.py")],
    )
    offenders = [
        path.relative_to(ROOT).as_posix()
        for path in modules
        if not ({"api", "web", "migrations"} & set(path.relative_to(ROOT).parts))
        and _imports_problem(path)
    ]
    assert len(modules) > 50
    assert offenders == []


def test_the_problem_check_sees_an_import(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("from common.http import PROBLEM_JSON, Problem\n")
    assert _imports_problem(module)
    module.write_text("from common.domain.errors import Invalid\n")
    assert not _imports_problem(module)
