"""Benchmark of the attachment checks (services/intake/file_safety.py `clean`): how long each
kind of file takes to be cleaned or refused, median of `--rounds`. Speed is measured here, never
asserted in a test; wall-clock figures depend on how busy the machine is. The hostile files are
the ones the tests send (tests/intake/samples.py, tests/signing/hostile.py), so this runs from a
checkout.

    .venv/bin/python -m scripts.bench_uploads [--rounds 5]
"""

import argparse
import statistics
import time
from collections.abc import Callable

from services.intake import file_safety
from tests.intake import samples
from tests.signing import hostile


def _files() -> dict[str, Callable[[], bytes]]:
    return {
        "photo_12mp_jpeg": lambda: samples.photo(4000, 3000, exif=samples.gps_exif(6)),
        "scan_pdf": samples.pdf,
        "png_30000x30000_header": lambda: samples.png_declaring(30_000, 30_000),
        "png_bomb_20000x20000": lambda: samples.png_bomb(20_000),
        "png_bomb_7000x7000_under_limit": lambda: samples.png_bomb(7_000),
        "pdf_object_stream_bomb_4gb": hostile.object_stream_bomb,
        "pdf_javascript": lambda: samples.pdf_with(
            b"/OpenAction 4 0 R", b"<< /S /JavaScript /JS (app.alert(1)) >>"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for name, make in _files().items():
        content = make()
        times: list[float] = []
        outcome = ""
        for _ in range(args.rounds):
            started = time.perf_counter()
            try:
                cleaned = file_safety.clean(content)
                outcome = f"stored {len(cleaned.content)} bytes"
            except file_safety.InvalidAttachment as exc:
                outcome = f"{exc.status} {exc.code}"
            times.append((time.perf_counter() - started) * 1000)
        print(
            f"{name}: {len(content)} bytes -> {outcome}; "
            f"clean_ms_median={statistics.median(times):.1f} clean_ms_max={max(times):.1f}"
        )


if __name__ == "__main__":
    main()
