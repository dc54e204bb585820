"""What each service's entry point imports at start (docs/operations.md#memory-of-the-idle-stack):
the libraries a service loads only on first use stay out of a fresh process. Each check runs in
a subprocess of its own, since this test process has imported everything already."""

import json
import subprocess
import sys

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
