"""The Dockerfiles are honest (no Docker engine here to build them): every file they copy exists,
the entry point imports from exactly what they copy, their ports and user are the manifests'."""

import fnmatch
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import (
    DEPLOY,
    PROCESSES,
    ROOT,
    Process,
    env_names,
    main_container,
    pod_spec,
    render,
)

DOCKER = DEPLOY / "docker"
by_process = pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
PROJECT_PACKAGES = ("common", "services", "workflows", "smartdesa")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    result = []
    for line in lines:
        word, _, rest = line.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


def dockerfile(process: Process) -> list[tuple[str, str]]:
    return instructions(DOCKER / f"{process.name}.Dockerfile")


def copies(process: Process) -> list[tuple[str, str]]:
    """(source, destination) of every COPY from the build context."""
    found: list[tuple[str, str]] = []
    for word, args in dockerfile(process):
        if word == "COPY" and not args.startswith("--from"):
            *sources, dest = args.split()
            found.extend((s, dest) for s in sources)
    return found


def dockerignored(path: str) -> bool:
    patterns = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    parts = Path(path).parts
    for pattern in patterns:
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(prefix, pattern.lstrip("*/")):
                return True
    return False


def test_one_dockerfile_per_process() -> None:
    assert {p.stem for p in DOCKER.glob("*.Dockerfile")} == {p.name for p in PROCESSES}


@by_process
def test_copied_paths_exist_and_are_in_the_context(process: Process) -> None:
    for source, dest in copies(process):
        path = ROOT / source
        assert path.exists(), f"{process.name}: COPY {source} names nothing"
        assert not dockerignored(source), f"{process.name}: {source} is excluded by .dockerignore"
        if path.is_dir():
            assert source.endswith("/") and dest.endswith("/")
    assert ("requirements.lock", "/tmp/requirements.lock") in copies(process)


def lay_out_image(process: Process, app: Path) -> None:
    """The copied sources as the image has them under WORKDIR /app."""
    for source, dest in copies(process):
        if dest.startswith("/"):
            continue  # the lock file, outside WORKDIR /app
        # COPY semantics: a folder's contents go into dest; a file goes into dest/ or to dest.
        if (ROOT / source).is_dir():
            shutil.copytree(
                ROOT / source,
                app / dest,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        elif dest.endswith("/"):
            (app / dest).mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / source, app / dest)
        else:
            shutil.copy(ROOT / source, app / dest)


@pytest.fixture(scope="module")
def imported_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """For each process: import its entry module inside its image's layout (PYTHONPATH
    /app:/app/gen, as the image sets it) and list the project modules that got loaded. The
    processes run side by side: each import takes seconds."""
    running = {}
    for process in PROCESSES:
        app = tmp_path_factory.mktemp(process.name) / "app"
        app.mkdir()
        lay_out_image(process, app)
        package = ROOT / process.module.replace(".", "/")
        main = f"{process.module}.__main__" if package.is_dir() else process.module
        probe = (
            "import importlib, json, sys\n"
            f"importlib.import_module({main!r})\n"
            f"roots = {PROJECT_PACKAGES!r}\n"
            "print(json.dumps(sorted(m.__file__ for m in list(sys.modules.values())\n"
            "    if getattr(m, '__file__', None) and m.__name__.split('.')[0] in roots)))\n"
        )
        env = {**os.environ, "PYTHONPATH": f"{app}:{app / 'gen'}", "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-c", probe],
            cwd=app,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        running[process.name] = (app, proc)
    results: dict[str, tuple[Path, Any]] = {}
    for name, (app, proc) in running.items():
        out, err = proc.communicate(timeout=300)
        results[name] = (app, json.loads(out.splitlines()[-1]) if proc.returncode == 0 else err)
    return results


@by_process
def test_entry_point_imports_from_what_the_image_copies(
    process: Process, imported_files: dict[str, tuple[Path, Any]]
) -> None:
    entry = [args for word, args in dockerfile(process) if word == "ENTRYPOINT"]
    assert len(entry) == 1
    assert json.loads(entry[0]) == ["python", "-m", process.module]
    app, files = imported_files[process.name]
    assert isinstance(files, list), f"{process.name} does not import in its image: {files}"
    assert any(f.endswith("config.py") for f in files)
    outside = [f for f in files if not f.startswith(str(app))]
    assert not outside, f"{process.name} imports modules its image does not copy: {outside}"


@by_process
def test_exposed_ports_and_user_match_the_deployment(process: Process) -> None:
    steps = dockerfile(process)
    exposed = {int(p) for word, args in steps if word == "EXPOSE" for p in args.split()}
    for overlay in ("dev", "production"):
        docs = render(overlay)
        container = main_container(docs, process.name)
        assert exposed == {p["containerPort"] for p in container.get("ports", [])}
        users = [args for word, args in steps if word == "USER"]
        assert len(users) == 1
        uid, _, gid = users[0].partition(":")
        security = pod_spec(docs, process.name)["securityContext"]
        assert (int(uid), int(gid)) == (security["runAsUser"], security["runAsGroup"])
        assert int(uid) != 0
        assert "command" not in container, "the image's ENTRYPOINT is what runs"


@by_process
def test_multi_stage_slim_and_without_compilers(process: Process) -> None:
    steps = dockerfile(process)
    stages = [args for word, args in steps if word == "FROM"]
    assert len(stages) == 2
    build, final = stages
    assert build.endswith(" AS build")
    base = build.removesuffix(" AS build")
    assert base == final and base.startswith("python:3.11-") and "slim" in base
    text = (DOCKER / f"{process.name}.Dockerfile").read_text()
    for tool in ("gcc", "g++", "build-essential", "apt-get", "clang", "make "):
        assert tool not in text, f"{process.name} installs {tool}"
    pip = [args for word, args in steps if word == "RUN" and "pip install" in args]
    assert len(pip) == 1
    assert "--require-hashes" in pip[0] and "--only-binary=:all:" in pip[0]
    env = " ".join(args for word, args in steps if word == "ENV")
    # The data folder of the image is the one the manifests mount.
    assert "SMARTDESA_DATA_DIR=/var/lib/smartdesa" in env
    docs = render("production")
    mounts = {m["mountPath"] for m in main_container(docs, process.name)["volumeMounts"]}
    assert "/var/lib/smartdesa" in mounts


@by_process
def test_image_environment_is_read_by_the_settings(process: Process) -> None:
    env = " ".join(args for word, args in dockerfile(process) if word == "ENV")
    names = {pair.split("=", 1)[0] for pair in env.split() if pair.startswith("SMARTDESA_")}
    assert names
    assert names <= env_names(process.settings_class())
