"""`make bench-render`: the whole catalogue, per type. A benchmark; speed is measured here,
never asserted in a test.

1. Rendering alone (no number, no signature): `--letters` letters spread over every type of the
   catalogue (with the Dukcapil forms each attaches) with varied data on both papers; prints
   render_ms_median and friends, then each type's median (render_ms_median_<CODE>). Targets:
   median <= 15 ms.
2. Issuing with PAdES B-LTA (number + render + signature with timestamps and validation data +
   register row, as `LetterIssuer.issue` does for the gRPC handler), `--issue-per-type` letters
   of every type one at a time over one worker process: issue_blta_ms_median overall and per
   type. Target: median <= 100 ms.

Wall-clock figures depend on how busy the machine is; the cpu_ms figures are the CPU the process
spent per letter (for issuing, the worker's render and sign time is reported alongside).

    .venv/bin/python -m scripts.bench_render [--letters 400] [--issue-per-type 5] [--types SKPP,SPAL]
    make bench-render ARGS="--types SKPP,SPAL --issue-per-type 0"

`--types` limits both parts to those codes (the letters still spread over them in turn), e.g.
to compare the types with Dukcapil form pages before and after a change.
"""

import argparse
import asyncio
import random
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.signing.catalogue.definition import FieldSpec, load_seed
from services.signing.pades import PadesLevel
from services.signing.rendering import LetterContent, render_letter

# The repository's seed catalogue (what signing publishes as version 1 at start).
LETTER_TYPES = load_seed()

LOGO = Path(__file__).parents[1] / "services/signing/templates/assets/logo-dev.svg"
NAMES = ("Siti Aminah", "Budi Santoso", "Dewi Lestari", "Asep Saepudin", "Euis Rahmawati")


def _content(i: int, codes: list[str] | None = None) -> LetterContent:
    codes = codes or sorted(LETTER_TYPES)
    lt = LETTER_TYPES[codes[i % len(codes)]]
    name = f"{NAMES[i % len(NAMES)]} {i}"
    fields = {
        "nama": name,
        "tempat_lahir": "Subang",
        "tanggal_lahir": f"19{60 + i % 40}-0{1 + i % 9}-1{i % 9}",
        "jenis_kelamin": "LP"[i % 2],
        "agama": "Islam",
        "pekerjaan": ("Petani", "Pedagang", "Nelayan", "Buruh")[i % 4],
        "alamat": f"Dusun Krajan No. {i}",
        "rt": str(1 + i % 9),
        "rw": str(1 + i % 5),
        "nama_usaha": f"Warung {name}",
        "jenis_usaha": "Perdagangan eceran",
        "alamat_usaha": f"Jl. Raya Pamanukan No. {i}",
        "penghasilan": str(1_000_000 + 1000 * i),
        "sumber_penghasilan": "Berdagang",
        "nama_anak": f"Anak {name}",
        "jenis_kelamin_anak": "LP"[i % 2],
        "tempat_lahir_anak": "Subang",
        "tanggal_lahir_anak": "2026-11-01",
        "nama_ibu": name,
        "nama_almarhum": f"Almarhum {i}",
        "jenis_kelamin_almarhum": "L",
        "alamat_almarhum": "Dusun Krajan",
        "tanggal_meninggal": "2026-11-02",
        "tempat_meninggal": "Rumah",
        "status_perkawinan": "KAWIN",
        "keterangan": "Keperluan administrasi",
    }
    # Fields of the catalogue's other types: a plausible value of their kind.
    for spec in lt.fields:
        fields.setdefault(spec.name, _sample(spec, i))
    return LetterContent(
        letter_type=lt,
        number=f"{lt.kode_klasifikasi}/{i:03d}/32.13.11.2004/XI/2026",
        letter_date=datetime(2026, 11, 28, 3, tzinfo=UTC) + timedelta(minutes=i),
        desa="Pamanukan",
        kecamatan="Pamanukan",
        kabupaten="Subang",
        desa_address="Jl. Raya Pamanukan No. 12, Pamanukan, Subang",
        kode_pos="41254",
        desa_code="32.13.11.2004",
        signer_title="Kepala Desa",
        signer_name="Dadang Suhendar",
        fields=fields,
        nik=f"321311{570590 + i:06d}0001"[:16],
        purpose=f"Persyaratan administrasi nomor {i}",
        verification_url=f"https://verifikasi.example.test/verifikasi/{i:027d}",
        paper=("F4", "A4")[i % 2],
        logo=LOGO,
    )


def _sample(spec: FieldSpec, i: int) -> str:
    if spec.kind == "date":
        return f"20{10 + i % 16}-0{1 + i % 9}-1{i % 9}"
    if spec.kind == "time":
        return f"{i % 24:02d}:{i % 60:02d}"
    if spec.kind == "digits":
        return str(1 + i % 9)
    if spec.choices:
        return spec.choices[i % len(spec.choices)]
    return f"{spec.label.split(',')[0]} {i}"[: spec.max_length]


async def _issue_per_type(
    per_type: int, codes: list[str]
) -> dict[str, list[tuple[float, float, float]]]:
    """(issue_ms, worker render_ms, worker sign_ms) of `per_type` B-LTA letters of every type,
    one at a time, the types taken in turn so that a busy moment of the machine spreads over
    all of them."""
    from scripts.bench_signing import issuing_stack, request_for

    rng = random.Random(16)
    out: dict[str, list[tuple[float, float, float]]] = {c: [] for c in codes}
    async with issuing_stack(PadesLevel.B_LTA, workers=1) as issuer:
        # Warm the worker (imports, fonts, the first letter's caches), outside the figures.
        for i, code in enumerate(codes[:4]):
            await issuer.issue(request_for(rng, code, f"warm-{i}"))
        for round_ in range(per_type):
            for code in codes:
                start = time.perf_counter()
                await issuer.issue(request_for(rng, code, f"{code}-{round_}"))
                took = (time.perf_counter() - start) * 1000
                signed = issuer.last_signed
                assert signed is not None
                out[code].append((took, signed.render_ms, signed.sign_ms))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--letters", type=int, default=400)
    parser.add_argument("--issue-per-type", type=int, default=5)
    parser.add_argument("--types", default="", help="comma-separated codes; default: all")
    args = parser.parse_args()
    codes = sorted(LETTER_TYPES)
    if args.types:
        codes = sorted(c.strip().upper() for c in args.types.split(","))
        unknown = [c for c in codes if c not in LETTER_TYPES]
        if unknown:
            parser.error(f"unknown types: {', '.join(unknown)}")
    contents = [_content(i, codes) for i in range(args.letters)]
    for c in contents[:20]:  # warm up: templates, fonts, the compiler's caches
        render_letter(c)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times: list[float] = []
    cpu_times: list[float] = []
    per_type: dict[str, list[float]] = {}
    per_type_cpu: dict[str, list[float]] = {}
    started = time.perf_counter()
    for c in contents:
        t, cpu = time.perf_counter(), time.process_time()
        render_letter(c)
        times.append((time.perf_counter() - t) * 1000)
        cpu_times.append((time.process_time() - cpu) * 1000)
        per_type.setdefault(c.letter_type.code, []).append(times[-1])
        per_type_cpu.setdefault(c.letter_type.code, []).append(cpu_times[-1])
    elapsed = time.perf_counter() - started
    times.sort()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"letters={len(times)}")
    print(f"render_ms_median={statistics.median(times):.2f}")
    print(f"render_ms_p95={times[int(len(times) * 0.95) - 1]:.2f}")
    # CPU time of the process per letter: what a render costs when the machine is shared
    # (wall-clock figures above include waiting for a core).
    print(f"render_cpu_ms_median={statistics.median(cpu_times):.2f}")
    print(f"renders_per_s_one_thread={len(times) / elapsed:.1f}")
    print(f"max_rss_growth_mb={(rss_after - rss_before) / 1024:.1f}")
    issued = asyncio.run(_issue_per_type(args.issue_per_type, codes)) if args.issue_per_type else {}
    if issued:
        every = sorted(t for times in issued.values() for t, _, _ in times)
        print(f"issue_blta_letters={len(every)}")
        print(f"issue_blta_ms_median={statistics.median(every):.1f}")
        print(f"issue_blta_ms_p95={every[int(len(every) * 0.95) - 1]:.1f}")
    for code in sorted(per_type):
        line = (
            f"render_ms_median_{code}={statistics.median(per_type[code]):.2f} "
            f"cpu_ms_median={statistics.median(per_type_cpu[code]):.2f} "
            f"forms={len(LETTER_TYPES[code].forms)}"
        )
        if code in issued:
            runs = issued[code]
            line += (
                f" issue_blta_ms_median={statistics.median(t for t, _, _ in runs):.1f}"
                f" worker_render_ms={statistics.median(r for _, r, _ in runs):.1f}"
                f" worker_sign_ms={statistics.median(g for _, _, g in runs):.1f}"
            )
        print(line)


if __name__ == "__main__":
    main()
