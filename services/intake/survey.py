"""The satisfaction survey (SKM, Permenpan-RB 14/2017): the resident's one-time answer and the
index (IKM) staff see. docs/public-duties.md.

The invitation is a signed link the notification service sends with the issued letter or the
rejection (`/survei/<application id>?expires=…&sig=…`, common.signed_links, the key the letter
links use). The link stands in for a sign-in for this one survey. Answering stores the scores
with the desa, the letter type and the month, and separately marks the application's link used;
nothing joins an answer to an application or a resident.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import ApplicationStatus
from common.domain.errors import Conflict, Forbidden, Invalid, NotFound
from common.signed_links import ExpiredLink, InvalidLink, sign_path, verify_signed_path
from common.wib import WIB
from services.intake.duties_models import SurveyAnswer, SurveyLinkUsed
from services.intake.models import LetterApplication
from services.intake.satisfaction import (
    ELEMENTS,
    MIN_ANSWERS_SHOWN,
    Index,
    InvalidAnswer,
    check_scores,
    index_from_sums,
)

# How long an invitation may be answered: long enough for a resident who reads messages late,
# short enough that the answer is about this service, this period.
LINK_LIFETIME = timedelta(days=30)
COMMENT_MAX = 1000
# The statuses after which a resident is asked (UU 25/2009: the service ended, either way).
ASKED_AFTER = (ApplicationStatus.ISSUED, ApplicationStatus.REJECTED)

ALREADY_ANSWERED = "Survei untuk permohonan ini sudah diisi. Terima kasih atas penilaian Anda."
NOT_FOUND = "Survei tidak ditemukan."


def survey_path(application_id: str) -> str:
    return f"/survei/{application_id}"


@dataclass(frozen=True)
class SurveyTarget:
    desa_code: str
    letter_type: str


def _period(now: datetime) -> str:
    return now.astimezone(WIB).strftime("%Y-%m")


async def open_survey(
    session: AsyncSession,
    key: bytes,
    application_id: str,
    expires: str | None,
    sig: str | None,
    now: datetime | None = None,
) -> SurveyTarget:
    """What the link is for, or a refusal: forged or expired link, unknown application, an
    application not yet ended, a link already used."""
    try:
        verify_signed_path(key, survey_path(application_id), expires, sig, now)
    except ExpiredLink as exc:
        raise Forbidden("survey-link-expired", "Tautan survei sudah kedaluwarsa.") from exc
    except InvalidLink as exc:
        raise Forbidden("survey-link-invalid", "Tautan survei tidak sah.") from exc
    application = await session.get(LetterApplication, application_id)
    if application is None or application.status not in ASKED_AFTER:
        raise NotFound("survey-not-found", NOT_FOUND)
    if await session.get(SurveyLinkUsed, application_id) is not None:
        raise Conflict("survey-answered", ALREADY_ANSWERED)
    return SurveyTarget(application.desa_code, application.letter_type)


# As long as the messaged link lasts (notification's rules.SURVEY_LINK_LIFETIME).
PAGE_LINK_LIFETIME = timedelta(days=30)


async def invitation(
    session: AsyncSession, key: bytes, application: LetterApplication, now: datetime
) -> str | None:
    """The survey link the owner's application page offers, the same survey as the message's
    (single use, anonymous); None before the application ends or once it was answered."""
    if application.status not in ASKED_AFTER:
        return None
    if await session.get(SurveyLinkUsed, application.id) is not None:
        return None
    return sign_path(key, survey_path(application.id), now + PAGE_LINK_LIFETIME)


def parse_scores(raw: dict[str, str]) -> tuple[int, ...]:
    """The nine scores from a form (`u1`…`u9`, each "1"-"4"); every missing one is named."""
    missing = [f"u{n}" for n in range(1, len(ELEMENTS) + 1) if raw.get(f"u{n}") not in _VALUES]
    if missing:
        raise Invalid(
            "survey-incomplete",
            "Mohon beri nilai 1 sampai 4 untuk setiap pertanyaan.",
            field=missing[0],
            missing=missing,
        )
    return tuple(int(raw[f"u{n}"]) for n in range(1, len(ELEMENTS) + 1))


_VALUES = {"1", "2", "3", "4"}


async def answer_survey(
    session: AsyncSession,
    key: bytes,
    application_id: str,
    expires: str | None,
    sig: str | None,
    scores: Sequence[int],
    comment: str,
    now: datetime | None = None,
) -> None:
    """Store one anonymous answer and use up the link, in one transaction."""
    now = now or datetime.now(UTC)
    target = await open_survey(session, key, application_id, expires, sig, now)
    try:
        checked = check_scores(scores)
    except InvalidAnswer as exc:
        raise Invalid("survey-incomplete", "Mohon beri nilai 1 sampai 4.") from exc
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise Invalid(
            "comment-too-long", f"Saran paling banyak {COMMENT_MAX} huruf.", field="komentar"
        )
    session.add(SurveyLinkUsed(application_id=application_id))
    u1, u2, u3, u4, u5, u6, u7, u8, u9 = checked
    session.add(
        SurveyAnswer(
            desa_code=target.desa_code,
            letter_type=target.letter_type,
            period=_period(now),
            comment=comment,
            u1=u1,
            u2=u2,
            u3=u3,
            u4=u4,
            u5=u5,
            u6=u6,
            u7=u7,
            u8=u8,
            u9=u9,
        )
    )
    try:
        await session.commit()
    except IntegrityError as exc:  # the same link answered twice at once
        await session.rollback()
        raise Conflict("survey-answered", ALREADY_ANSWERED) from exc


@dataclass(frozen=True)
class IndexRow:
    """One cell of the report: `index` is None when it has fewer answers than are shown."""

    desa_code: str  # "" for all desa in scope
    letter_type: str  # "" for all letter types
    answers: int
    index: Index | None


@dataclass(frozen=True)
class Report:
    period: str
    rows: list[IndexRow]
    comments: list[str]  # only with enough answers in scope; no date, no order of arrival


def check_period(period: str) -> str:
    """ "YYYY" (a year) or "YYYY-MM" (a month)."""
    parts = period.split("-")
    ok = (
        len(parts) in (1, 2)
        and len(parts[0]) == 4
        and parts[0].isascii()
        and parts[0].isdigit()
        and (len(parts) == 1 or (parts[1].isascii() and parts[1] in _MONTHS))
    )
    if not ok:
        raise Invalid("period-invalid", "Periode ditulis TTTT atau TTTT-BB.", field="periode")
    return period


_MONTHS = {f"{m:02d}" for m in range(1, 13)}


async def satisfaction_report(
    session: AsyncSession,
    *,
    period: str,
    desa_code: str = "",
    kabupaten_code: str = "",
    by_desa: bool = True,
    by_letter_type: bool = True,
) -> Report:
    """The IKM per desa and per letter type (and for the whole scope) in `period`, for one desa
    or every desa of a kabupaten. Cells under MIN_ANSWERS_SHOWN answers show the count only."""
    check_period(period)
    if not desa_code and not kabupaten_code:
        raise Invalid("scope-missing", "Pilih desa atau kabupaten.")
    query = select(SurveyAnswer).where(col(SurveyAnswer.period).startswith(period))
    if desa_code:
        query = query.where(SurveyAnswer.desa_code == desa_code)
    else:
        query = query.where(col(SurveyAnswer.desa_code).startswith(kabupaten_code + "."))
    answers = list((await session.exec(query)).all())
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(ELEMENTS) + 1))

    def add(cell: tuple[str, str], answer: SurveyAnswer) -> None:
        sums = cells[cell]
        sums[0] += 1
        for n in range(1, len(ELEMENTS) + 1):
            sums[n] += getattr(answer, f"u{n}")

    for answer in answers:
        add(("", ""), answer)
        if by_desa:
            add((answer.desa_code, ""), answer)
        if by_letter_type:
            add(("", answer.letter_type), answer)
        if by_desa and by_letter_type:
            add((answer.desa_code, answer.letter_type), answer)
    rows = [
        IndexRow(
            desa,
            letter_type,
            sums[0],
            index_from_sums(sums[0], sums[1:]) if shown(sums[0]) else None,
        )
        for (desa, letter_type), sums in sorted(cells.items())
    ]
    comments = sorted(a.comment for a in answers if a.comment) if shown(len(answers)) else []
    return Report(period, rows, comments)


def shown(answers: int) -> bool:
    return answers >= MIN_ANSWERS_SHOWN
