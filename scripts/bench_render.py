"""Benchmark of letter rendering alone (no number, no signature): renders `--letters` letters
spread over every type of the catalogue with varied data on both papers, and prints
render_ms_median and friends, then the median of each type (render_ms_median_<CODE>). Speed is measured here, never asserted in a test. Wall-clock figures
depend on how busy the machine is; render_cpu_ms_median is the CPU the process spent per letter.

    .venv/bin/python -m scripts.bench_render [--letters 400]
"""

import argparse
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.signing.catalogue.definition import FieldSpec, load_seed
from services.signing.rendering import LetterContent, render_letter

# The repository's seed catalogue (what signing publishes as version 1 at start).
LETTER_TYPES = load_seed()

LOGO = Path(__file__).parents[1] / "services/signing/templates/assets/logo-dev.svg"
NAMES = ("Siti Aminah", "Budi Santoso", "Dewi Lestari", "Asep Saepudin", "Euis Rahmawati")


def _content(i: int) -> LetterContent:
    codes = sorted(LETTER_TYPES)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--letters", type=int, default=400)
    args = parser.parse_args()
    contents = [_content(i) for i in range(args.letters)]
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
    for code in sorted(per_type):
        print(
            f"render_ms_median_{code}={statistics.median(per_type[code]):.2f} "
            f"cpu_ms_median={statistics.median(per_type_cpu[code]):.2f}"
        )


if __name__ == "__main__":
    main()
