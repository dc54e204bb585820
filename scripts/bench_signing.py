"""`make bench-signing`: issue letters as the signing service does (number + render + PAdES
signature + register row) and print the medians. A benchmark, not a test.

For each PAdES level (B-LTA, the dev profile's, then B-B) on a fresh SQLite database and dev PKI:
1. one letter at a time, `--letters` letters: render_ms, sign_ms (measured in the worker
   process) and issue_ms (the whole `LetterIssuer.issue` call, as the gRPC handler sees it);
2. the same number again with `--concurrency` letters in flight over the worker pool (both
   cores): letters_per_s.
The data varies per letter (names, dates, addresses, purposes, desa, letter types), so no
renderer cache makes a letter cheaper than the one before.
"""

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, session_factory
from common.domain import SignerKind
from common.migrations import upgrade
from services.signing.catalogue.definition import KODE_NOT_SET, load_seed
from services.signing.catalogue.definition import FieldSpec as FormField
from services.signing.catalogue.store import sync_seed
from services.signing.issuing import IssueRequest, LetterIssuer
from services.signing.models import DesaProfile
from services.signing.pades import PadesLevel
from services.signing.pki import SignerRegistry, ensure_dev_pki
from services.signing.seed import DEV_DESA, dev_signers, seed_dev_profiles
from services.signing.signers import EngineConfig, LocalKeySigner, SignedLetter, SignerSet

# The repository's seed catalogue (what signing publishes as version 1 at start).
LETTER_TYPES = load_seed()

FIRST = ("Siti", "Dadang", "Ujang", "Euis", "Asep", "Neneng", "Cecep", "Iis", "Yayat", "Rina")
LAST = ("Aminah", "Suhendar", "Kurniawan", "Rohayati", "Saepudin", "Nurhasanah", "Hidayat")
JOBS = ("Pedagang", "Petani", "Buruh Harian Lepas", "Wiraswasta", "Guru", "Nelayan")
PURPOSES = (
    "Persyaratan melamar pekerjaan",
    "Pembukaan rekening bank",
    "Pendaftaran sekolah anak",
    "Pengurusan BPJS Kesehatan",
    "Persyaratan kredit usaha rakyat",
)


def _value(rng: random.Random, spec: FormField) -> str:
    if spec.kind == "date":
        return f"{rng.randint(1950, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if spec.kind == "time":
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    if spec.kind == "digits":
        return str(rng.randint(1, 10 ** min(spec.max_length, 9) - 1))
    if spec.choices:
        return rng.choice(spec.choices)
    return f"{spec.label.split(',')[0]} {rng.randint(1, 9999)}"[: spec.max_length]


def _fields(rng: random.Random, form: tuple[FormField, ...]) -> dict[str, str]:
    """What a resident fills in on the letter type's form (the catalogue's), varied."""
    values = {
        "nama": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "tempat_lahir": rng.choice(("Subang", "Karawang", "Indramayu", "Bandung")),
        "tanggal_lahir": f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "jenis_kelamin": rng.choice("LP"),
        "agama": rng.choice(("Islam", "Kristen", "Katolik", "Hindu", "Buddha")),
        "pekerjaan": rng.choice(JOBS),
        "alamat": f"Dusun {rng.choice(('Krajan', 'Sukamaju', 'Cilamaya'))} No. {rng.randint(1, 200)}",
        "rt": str(rng.randint(1, 20)),
        "rw": str(rng.randint(1, 10)),
    }
    return {spec.name: values.get(spec.name) or _value(rng, spec) for spec in form}


def request_for(rng: random.Random, letter_type: str, application_id: str) -> IssueRequest:
    """One application of `letter_type` with varied data, to be signed by the Kepala Desa."""
    return IssueRequest(
        application_id=application_id,
        desa_code=rng.choice(DEV_DESA).code,
        letter_type=letter_type,
        purpose=rng.choice(PURPOSES),
        nik=f"321311{rng.randint(1, 71):02d}{rng.randint(1, 12):02d}{rng.randint(50, 99)}{rng.randint(1, 9999):04d}",
        signer_role="kades",
        fields=_fields(rng, LETTER_TYPES[letter_type].fields),
    )


def _requests(rng: random.Random, count: int, prefix: str) -> list[IssueRequest]:
    requests = []
    for i in range(count):
        # Every type of the catalogue a desa can number without setting its own kode.
        letter_type = rng.choice(
            sorted(c for c, t in LETTER_TYPES.items() if t.kode_klasifikasi != KODE_NOT_SET)
        )
        requests.append(request_for(rng, letter_type, f"{prefix}-{i}"))
    return requests


# The code every dev desa gives the types whose kode the catalogue leaves "belum ditetapkan"
# (a desa sets one before it can issue them), so that every type can be issued.
OPEN_KODE = "100.3.4"


async def _set_open_kodes(sessions: async_sessionmaker[AsyncSession]) -> None:
    open_types = [c for c, t in LETTER_TYPES.items() if t.kode_klasifikasi == KODE_NOT_SET]
    async with sessions() as session:
        for desa in DEV_DESA:
            profile = await session.get(DesaProfile, desa.code)
            if profile is not None:
                profile.kode_klasifikasi = dict.fromkeys(open_types, OPEN_KODE)
                session.add(profile)
        await session.commit()


@asynccontextmanager
async def issuing_stack(level: PadesLevel, workers: int) -> AsyncIterator[LetterIssuer]:
    """A signing service's issuer on a fresh SQLite database and dev PKI (with the kop's logo,
    the catalogue published from the seed files), signing at `level` over `workers` worker
    processes (0: in a thread)."""
    with tempfile.TemporaryDirectory(prefix="bench-signing-") as tmp:
        root = Path(tmp)
        pki_dir = root / "pki"
        ensure_dev_pki(pki_dir, dev_signers())
        registry = SignerRegistry.load(pki_dir)
        engine = create_engine(f"sqlite+aiosqlite:///{root / 'signing.db'}")
        await upgrade(engine, "signing")
        sessions = session_factory(engine)
        await seed_dev_profiles(sessions, root / "assets")  # with the kop's logo
        await sync_seed(sessions, LETTER_TYPES)  # the catalogue, as the service does at start
        await _set_open_kodes(sessions)
        local = LocalKeySigner(EngineConfig(pki_dir=pki_dir, level=level), registry, workers)
        signers = SignerSet({SignerKind.LOCAL: local}, {}, SignerKind.LOCAL)
        issuer = LetterIssuer(sessions, signers, root / "letters", "http://127.0.0.1:8002")
        try:
            yield issuer
        finally:
            await local.close()
            await engine.dispose()


async def _bench(
    level: PadesLevel, letters: int, concurrency: int, workers: int
) -> dict[str, float]:
    async with issuing_stack(level, workers) as issuer:
        rng = random.Random(4)
        # Warm every worker (imports, fonts, first-letter caches), outside the figures.
        await asyncio.gather(*(issuer.issue(r) for r in _requests(rng, workers * 2, "warm")))

        render, sign, issue = [], [], []
        for request in _requests(rng, letters, "seq"):
            start = time.perf_counter()
            await issuer.issue(request)
            issue.append((time.perf_counter() - start) * 1000)
            signed: SignedLetter | None = issuer.last_signed
            assert signed is not None
            render.append(signed.render_ms)
            sign.append(signed.sign_ms)

        slots = asyncio.Semaphore(concurrency)

        async def one(request: IssueRequest) -> None:
            async with slots:
                await issuer.issue(request)

        batch = _requests(rng, letters, "par")
        start = time.perf_counter()
        await asyncio.gather(*(one(r) for r in batch))
        per_second = len(batch) / (time.perf_counter() - start)
    return {
        "render_ms_median": statistics.median(render),
        "sign_ms_median": statistics.median(sign),
        "issue_ms_median": statistics.median(issue),
        "letters_per_s": per_second,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for level, prefix in ((PadesLevel.B_LTA, ""), (PadesLevel.B_B, "b_b_")):
        figures = await _bench(level, args.letters, args.concurrency, args.workers)
        print(f"# PAdES {level.value}: {args.letters} letters one by one, then {args.letters} "
              f"with {args.concurrency} in flight over {args.workers} worker processes")  # fmt: skip
        for key, value in figures.items():
            print(f"{prefix}{key}={value:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
