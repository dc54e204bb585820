"""What each service's entry point imports at start (docs/operations.md#memory-of-the-idle-stack):
the libraries a service loads only on first use stay out of a fresh process. Each check runs in
a subprocess of its own, since this test process has imported everything already."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

# Entry point -> libraries it must not import at start.
NOT_AT_START = {
    # The Temporal client is built on the first call to a workflow (common/temporal_client.py).
    "services.intake.__main__": ["temporalio"],
    "services.verification.__main__": ["temporalio"],
    # No Temporal client; notification's chat worker starts on first use.
    "services.signing.__main__": ["temporalio"],
    "services.notification.__main__": ["temporalio"],
}


def _imported(entry_point: str, modules: list[str]) -> list[str]:
    code = (
        "import json, sys, importlib\n"
        f"importlib.import_module({entry_point!r})\n"
        f"print(json.dumps([m for m in {modules!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("entry_point", sorted(NOT_AT_START))
def test_not_imported_at_start(entry_point: str) -> None:
    assert _imported(entry_point, NOT_AT_START[entry_point]) == []


def test_the_worker_signs_internal_tokens_without_cryptography(tmp_path: Path) -> None:
    """`python -m workflows.approval.worker` imports PyJWT without cryptography, and with the
    dev secrets in place never loads it; its internal tokens (HS256) still verify."""
    code = (
        "import importlib.machinery, json, sys\n"
        # What `python -m workflows.approval.worker` names its main module.
        "sys.modules['__main__'].__spec__ = importlib.machinery.ModuleSpec("
        "'workflows.approval.worker', None)\n"
        "import workflows.approval.worker\n"
        "from common.auth import InternalAuth\n"
        "from common.config import CommonSettings\n"
        "from common.secrets import ensure_dev_secrets\n"
        "settings = CommonSettings()\n"
        "ensure_dev_secrets(settings)\n"
        "token = InternalAuth.from_settings(settings, 'worker').token_for('intake')\n"
        "print(json.dumps([InternalAuth.from_settings(settings, 'intake').verify(token),"
        " 'cryptography' in sys.modules]))\n"
    )
    env = {**os.environ, "SMARTDESA_PROFILE": "dev", "SMARTDESA_DATA_DIR": str(tmp_path)}
    # The services start first and create the dev secrets (cryptography, in their process).
    subprocess.run(
        [sys.executable, "-c", "from common.config import CommonSettings\n"
         "from common.secrets import ensure_dev_secrets\nensure_dev_secrets(CommonSettings())"],
        env=env, check=True, timeout=120,
    )  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
        timeout=120,
    )  # fmt: skip
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["worker", False]
