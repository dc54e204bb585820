"""`make test`: the whole suite, in two pytest processes side by side.

- The page tests (tests/browser) run in a process of their own. Playwright's sync API keeps an
  event loop running in its process's main thread once the browser is open, so no asyncio test
  may run after it in the same process; a pytest-xdist worker could be handed one.
- Everything else runs on pytest-xdist workers, a module per worker at a time (`loadscope`), so
  that a module's shared fixtures (an e2e module's dev stack) start once.

The project's modules are compiled to bytecode first (scripts/devstack.compile_bytecode): the
tests start many service processes and run workflows in Temporal's sandbox, which otherwise
compile them from source again and again where PYTHONDONTWRITEBYTECODE is set.

The page tests' output is written to build/test-browser.log and printed after the rest, so the
two do not interleave. Arguments are passed to both processes (e.g. `-x`, `--durations=20`).
The exit code is the first non-zero of the two.
"""

import os
import subprocess
import sys
from pathlib import Path

from scripts.devstack import compile_bytecode

BROWSER_TESTS = "tests/browser"
BROWSER_LOG = Path("build/test-browser.log")


def workers() -> str:
    # Each worker starts its own Temporal and NATS servers; more than two did not pay on the
    # 2-core CI machine, and a larger machine may set PYTEST_WORKERS.
    return os.environ.get("PYTEST_WORKERS", "2")


def main(args: list[str]) -> int:
    BROWSER_LOG.parent.mkdir(exist_ok=True)
    compile_bytecode()
    pytest = [sys.executable, "-m", "pytest"]
    with BROWSER_LOG.open("wb") as log:
        pages = subprocess.Popen([*pytest, BROWSER_TESTS, *args], stdout=log, stderr=log)
        rest = 1
        try:
            rest = subprocess.call(
                [*pytest, "--ignore", BROWSER_TESTS, "-n", workers(), "--dist", "loadscope", *args]
            )
        except KeyboardInterrupt:
            rest = 130  # Ctrl-C: both pytest processes got it too and stop on their own
        finally:
            # Ctrl-C reaches both processes (one process group); -x stops both at a failure.
            if rest != 0 and "-x" in args and pages.poll() is None:
                pages.terminate()
            pages_code = pages.wait()
    sys.stdout.write(f"\n===== the page tests ({BROWSER_TESTS}, {BROWSER_LOG}) =====\n")
    sys.stdout.write(BROWSER_LOG.read_text(errors="replace"))
    sys.stdout.flush()
    return rest or pages_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
