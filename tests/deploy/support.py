"""What the deploy tests compare: the processes as the code defines them, and the manifests as
kustomize renders them."""

import importlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "k8s" / "overlays").iterdir() if p.is_dir())

Doc = dict[str, Any]


@dataclass(frozen=True)
class Process:
    name: str
    module: str  # what `python -m` runs
    settings: str  # "module:Class" of the settings the process reads
    source: str  # the file that opens the process's connections
    http: bool
    grpc: bool

    def settings_class(self) -> type[BaseSettings]:
        module, _, cls = self.settings.partition(":")
        found: type[BaseSettings] = getattr(importlib.import_module(module), cls)
        return found

    def default(self, field: str) -> Any:
        return self.settings_class().model_fields[field].default


PROCESSES = (
    Process(
        "intake",
        "services.intake",
        "services.intake.config:Settings",
        "services/intake/runtime.py",
        http=True,
        grpc=True,
    ),
    Process(
        "verification",
        "services.verification",
        "services.verification.config:Settings",
        "services/verification/runtime.py",
        http=True,
        grpc=True,
    ),
    Process(
        "signing",
        "services.signing",
        "services.signing.config:Settings",
        "services/signing/runtime.py",
        http=True,
        grpc=True,
    ),
    Process(
        "notification",
        "services.notification",
        "services.notification.config:Settings",
        "services/notification/runtime.py",
        http=True,
        grpc=True,
    ),
    Process(
        "worker",
        "workflows.approval.worker",
        "workflows.approval.worker:WorkerSettings",
        "workflows/approval/worker.py",
        http=False,
        grpc=False,
    ),
)
BY_NAME = {p.name: p for p in PROCESSES}


def env_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads (prefix + field name, or its alias)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def kubectl() -> str:
    found = shutil.which("kubectl") or shutil.which(
        "kubectl", path=str(Path(sys.executable).parent)
    )
    if found is None:
        raise RuntimeError("kubectl is missing: run `make kubectl`")
    return found


@cache
def render(overlay: str) -> tuple[Doc, ...]:
    out = subprocess.run(
        [kubectl(), "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "KUSTOMIZE_PLUGIN_HOME": "/nonexistent"},
    ).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def find(docs: tuple[Doc, ...], kind: str, name: str | None = None) -> list[Doc]:
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: tuple[Doc, ...], kind: str, name: str) -> Doc:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_spec(docs: tuple[Doc, ...], name: str) -> Doc:
    spec: Doc = one(docs, "Deployment", name)["spec"]["template"]["spec"]
    return spec


def main_container(docs: tuple[Doc, ...], name: str) -> Doc:
    containers = pod_spec(docs, name)["containers"]
    assert [c["name"] for c in containers] == [name]
    container: Doc = containers[0]
    return container


def container_env(docs: tuple[Doc, ...], name: str) -> dict[str, str | None]:
    """Every variable the container gets from its env and its envFrom ConfigMaps (values of
    Secret-backed variables are None)."""
    container = main_container(docs, name)
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(one(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for var in container.get("env", []):
        env[var["name"]] = var.get("value")
    return env


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
