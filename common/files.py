"""Files written once: atomic (never seen half-written) and first-writer-wins when several
processes race, because `os.link` fails for all but the first."""

import os
import tempfile
from pathlib import Path


def write_once(path: Path, content: bytes, mode: int = 0o600) -> bool:
    """Create `path` with `content` unless it already exists. True: this call created it."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        os.unlink(tmp)
    return True
