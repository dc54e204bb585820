"""Nothing in intake's answers to sign-in tells whether a NIK is registered, or to which phone.

Five kinds of NIK are asked about, as an attacker probing NIKs would: one registered to the
phone that asks ("known"), one nobody has used ("unknown"), one registered to another phone
("elsewhere"), and two that the desa's population register holds (verification's real
PopulationService over gRPC): with another phone on record ("register_other") and with no phone
on record, not yet bound ("register_none"). Their answers must match in status, headers and
body, in how many tries it takes to be refused, and in how long they take."""

import itertools
import math
import random
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import pytest

from services.intake.config import RateLimit, Settings
from services.intake.models import Resident
from services.verification.population import models as population
from tests.intake.conftest import PAMANUKAN, Intake, Register

CLASSES = ("known", "unknown", "elsewhere", "register_other", "register_none")


def nik(n: int) -> str:
    """A structurally valid NIK (Pamanukan, born 01-01-1985), serial n."""
    return f"321311010185{n:04d}"


def phone(n: int) -> str:
    return f"08123{n:07d}"


def normalized(phone_number: str) -> str:
    return "62" + phone_number[1:]


@dataclass(frozen=True)
class Probe:
    """One code request of a class: the NIK and the phone that asks for it."""

    kind: str
    nik: str
    phone: str


async def _probes(intake: Intake, register: Register, first: int, per_class: int) -> list[Probe]:
    """`per_class` fresh NIKs of each class, numbered from `first`, one round of every class
    after another; the registered ones are written straight into intake's residents, as
    earlier sign-ins would have, and the register's into the population register."""
    probes: list[Probe] = []
    width = len(CLASSES)
    async with intake.runtime.sessions() as session, register.sessions() as desa:
        for i in range(per_class):
            n = first + width * i
            session.add(Resident(nik=nik(n), phone=normalized(phone(n))))
            probes.append(Probe("known", nik(n), phone(n)))
            probes.append(Probe("unknown", nik(n + 1), phone(n + 1)))
            session.add(Resident(nik=nik(n + 2), phone=normalized(phone(9000 + n))))
            probes.append(Probe("elsewhere", nik(n + 2), phone(n + 2)))
            for offset, phones in ((3, normalized(phone(9000 + n + 3))), (4, "")):
                desa.add(
                    population.Resident(
                        desa_code=PAMANUKAN, nik=nik(n + offset), name="Warga", sex=1, phones=phones
                    )
                )
            probes.append(Probe("register_other", nik(n + 3), phone(n + 3)))
            probes.append(Probe("register_none", nik(n + 4), phone(n + 4)))
        await session.commit()
        await desa.commit()
    return probes


async def _ask(http: httpx.AsyncClient, probe: Probe) -> httpx.Response:
    return await http.post("/api/v1/auth/otp", json={"nik": probe.nik, "phone": probe.phone})


async def _guess(http: httpx.AsyncClient, probe: Probe, code: str) -> httpx.Response:
    return await http.post(
        "/api/v1/auth/token", json={"nik": probe.nik, "phone": probe.phone, "otp": code}
    )


def _shape(r: httpx.Response) -> tuple[int, str, str]:
    """Status, problem type and detail with its numbers blanked (Retry-After counts down)."""
    body = r.json()
    return r.status_code, body.get("type", ""), re.sub(r"\d+", "N", body["detail"])


class TestCountsAndRefusals:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        many = [RateLimit(count=1000, seconds=10**9)]
        return settings.model_copy(
            update={
                "intake_code_limits_per_nik": [RateLimit(count=3, seconds=10**9)],
                "intake_code_limits_per_phone": many,
                "intake_code_limits_per_client": many,
                "intake_code_limits_overall": many,
            }
        )

    async def test_every_kind_of_nik_is_refused_after_the_same_requests(
        self, intake: Intake, register: Register
    ) -> None:
        probes = await _probes(intake, register, first=1, per_class=1)
        answers = {p.kind: [_shape(await _ask(intake.http, p)) for _ in range(5)] for p in probes}
        assert [status for status, _, _ in answers["known"]] == [202] * 3 + [429] * 2
        for kind in CLASSES:
            assert answers[kind] == answers["known"], kind

    async def test_every_kind_of_nik_is_locked_after_the_same_wrong_codes(
        self, intake: Intake, register: Register
    ) -> None:
        probes = await _probes(intake, register, first=1, per_class=1)
        answers = {}
        for probe in probes:
            assert (await _ask(intake.http, probe)).status_code == 202
            answers[probe.kind] = [_shape(await _guess(intake.http, probe, "000000"))]
            answers[probe.kind] += [
                _shape(await _guess(intake.http, probe, "000000")) for _ in range(6)
            ]
        assert [status for status, _, _ in answers["known"]] == [401] * 5 + [429] * 2
        for kind in CLASSES:
            assert answers[kind] == answers["known"], kind


# How the timings are compared (see test_answers_take_as_long_for_every_kind_of_nik).
SAMPLES_PER_CLASS = 80
WARM_UP_ROUNDS = 5
ALPHA = 0.001
LARGE_EFFECT = 0.33  # |Cliff's delta| from which an effect counts as "medium" (Romano et al.)
MEDIAN_TOLERANCE = 0.5  # of the pooled interquartile range


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mann-Whitney U of `a` against `b` and its two-sided p-value (normal approximation with
    the tie correction and a continuity correction; fine from about 20 samples each)."""
    n1, n2 = len(a), len(b)
    pooled = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    rank_sum_a = sum(r for r, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u = rank_sum_a - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = max(0.0, abs(u - n1 * n2 / 2) - 0.5) / sigma
    return u, math.erfc(z / math.sqrt(2))


def test_mann_whitney_tells_apart_what_differs_and_not_what_does_not() -> None:
    rng = random.Random(1)
    same_a = [rng.gauss(5.0, 1.0) for _ in range(80)]
    same_b = [rng.gauss(5.0, 1.0) for _ in range(80)]
    shifted = [rng.gauss(6.0, 1.0) for _ in range(80)]
    assert mann_whitney(same_a, same_b)[1] > 0.05
    u, p = mann_whitney(same_a, shifted)
    assert p < 1e-6 and u < 80 * 80 / 4
    # By hand: of the 12 pairs (x from a, y from b), x > y only for 3 > 2.5; a tie counts half
    # (then 3 > 2, and 2 against 2).
    assert mann_whitney([1, 2, 3], [2.5, 4, 5, 6])[0] == 1
    assert mann_whitney([1, 2, 3], [2, 4, 5, 6])[0] == 1.5


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


class TestTiming:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        many = [RateLimit(count=10**6, seconds=10**9)]
        return settings.model_copy(
            update={
                "intake_code_limits_per_nik": many,
                "intake_code_limits_per_phone": many,
                "intake_code_limits_per_client": many,
                "intake_code_limits_overall": many,
            }
        )

    async def test_answers_take_as_long_for_every_kind_of_nik(
        self, intake: Intake, register: Register
    ) -> None:
        """A code request takes as long for every kind of NIK (known, unknown, elsewhere, and
        the register's with another phone or none on record).

        Design, so that noise (other tests, other processes on a loaded 2-core machine) cannot
        fail it while a real difference (work skipped on one path, such as a commit) does:
        - Interleaved: each round asks once for each class, in a shuffled order (seeded), so a
          slow moment of the machine or a growing table falls on all classes alike, and no
          class always follows another. The first rounds (cold caches) are not counted.
        - Fresh NIKs and phones for every request, as an attacker's probe would be, and limits
          high enough that none is refused.
        - Rank-based: Mann-Whitney U (here from scratch; no scipy) compares whole
          distributions without assuming a shape, and a few huge outliers (a GC pause, the
          scheduler) move it by a few ranks only.
        - A difference fails the test only if it is both significant (p < ALPHA = 0.001, per
          pair) and large: Cliff's delta (2U/(n1 n2) - 1, the excess of pairs where one class
          is slower) at least 0.33, and the medians apart by more than half the pooled
          interquartile range. With 80 samples a class, delta's spread under no difference
          is about 0.09, so 0.33 is over three and a half of it; a path that skips its writes
          shows a delta near 1. A tiny systematic difference (an index hit against a miss,
          microseconds in milliseconds) is noise-level and is not an oracle anyone can use.
        Status, headers and body are compared exactly for every answer."""
        rng = random.Random(14)
        rounds = SAMPLES_PER_CLASS + WARM_UP_ROUNDS
        probes = await _probes(intake, register, first=1, per_class=rounds)
        width = len(CLASSES)
        by_round = [probes[width * i : width * i + width] for i in range(rounds)]
        times: dict[str, list[float]] = {kind: [] for kind in CLASSES}
        answers: set[tuple[int, tuple[tuple[str, str], ...], bytes]] = set()
        for index, round_ in enumerate(by_round):
            for probe in rng.sample(round_, k=len(round_)):
                started = time.perf_counter()
                r = await _ask(intake.http, probe)
                elapsed = time.perf_counter() - started
                answers.add((r.status_code, tuple(sorted(r.headers.items())), r.content))
                if index >= WARM_UP_ROUNDS:
                    times[probe.kind].append(elapsed)
        assert len(answers) == 1, answers
        assert next(iter(answers))[0] == 202

        everything = [t for kind in CLASSES for t in times[kind]]
        low, high = _quartiles(everything)
        tolerance = MEDIAN_TOLERANCE * (high - low)
        report = []
        failures = []
        for a, b in itertools.combinations(CLASSES, 2):
            u, p = mann_whitney(times[a], times[b])
            delta = 2 * u / (len(times[a]) * len(times[b])) - 1
            apart = statistics.median(times[a]) - statistics.median(times[b])
            report.append(f"{a}/{b}: p={p:.2g} delta={delta:+.2f} medians {apart * 1e6:+.0f}us")
            if p < ALPHA and abs(delta) >= LARGE_EFFECT and abs(apart) > tolerance:
                failures.append(report[-1])
        assert not failures, "; ".join(report) + f" (tolerance {tolerance * 1e6:.0f}us)"
