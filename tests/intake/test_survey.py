"""The satisfaction survey on the portal: a signed link, one answer, nothing that leads back to
the resident; the index per desa shown only from MIN_ANSWERS_SHOWN answers."""

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import inspect as sa_inspect
from sqlmodel import select

from common.domain import ApplicationStatus
from common.signed_links import link_key, sign_path
from common.wib import WIB
from services.intake.duties_models import SurveyAnswer, SurveyLinkUsed
from services.intake.models import LetterApplication
from services.intake.satisfaction import MIN_ANSWERS_SHOWN
from services.intake.survey import satisfaction_report, survey_path
from tests.intake.conftest import PAMANUKAN, Intake

ALL_GOOD = {f"u{n}": "4" for n in range(1, 10)}


async def _ended_application(intake: Intake, status: str = ApplicationStatus.ISSUED) -> str:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    async with intake.runtime.sessions() as session:
        application = await session.get(LetterApplication, application_id)
        assert application is not None
        application.status = status  # as the workflow leaves it when the letter is issued
        session.add(application)
        await session.commit()
    intake.http.cookies.clear()  # the survey needs no sign-in
    return application_id


def _link(intake: Intake, application_id: str, days: int = 30) -> str:
    expires_at = datetime.now(UTC) + timedelta(days=days)
    return sign_path(link_key(intake.runtime.settings), survey_path(application_id), expires_at)


def _form_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


async def _answer(http: httpx.AsyncClient, link: str, answers: dict[str, str]) -> httpx.Response:
    page = await http.get(link)
    assert page.status_code == 200, page.text
    hidden = _form_fields(page.text)
    return await http.post(link.split("?")[0], data={**hidden, **answers})


async def test_a_resident_answers_once_and_the_answer_is_anonymous(intake: Intake) -> None:
    application_id = await _ended_application(intake)
    link = _link(intake, application_id)
    page = await intake.http.get(link)
    assert "Kesesuaian persyaratan pelayanan" in page.text
    assert "tanpa nama, NIK, atau nomor permohonan" in page.text

    r = await _answer(intake.http, link, {**ALL_GOOD, "u8": "2", "komentar": "Cepat sekali."})
    assert r.status_code == 200, r.text
    assert "Terima kasih" in r.text

    async with intake.runtime.sessions() as session:
        answers = (await session.exec(select(SurveyAnswer))).all()
        assert len(answers) == 1
        answer = answers[0]
        assert (answer.desa_code, answer.letter_type) == (PAMANUKAN, "SKD")
        assert answer.period == datetime.now(WIB).strftime("%Y-%m")
        assert (answer.u1, answer.u8, answer.comment) == (4, 2, "Cepat sekali.")
        assert answer.id != application_id
        assert await session.get(SurveyLinkUsed, application_id) is not None
    # Nothing in the answer's table can lead to a resident, an application or a moment.
    columns = {c.name for c in sa_inspect(SurveyAnswer).columns}
    assert columns == {"id", "desa_code", "letter_type", "period", "comment"} | {
        f"u{n}" for n in range(1, 10)
    }

    again = await intake.http.get(link)
    assert again.status_code == 409
    assert "sudah diisi" in again.text


async def test_a_rejection_is_surveyed_too(intake: Intake) -> None:
    application_id = await _ended_application(intake, ApplicationStatus.REJECTED)
    r = await _answer(intake.http, _link(intake, application_id), ALL_GOOD)
    assert r.status_code == 200, r.text


async def test_forged_expired_and_early_links_are_refused(intake: Intake) -> None:
    application_id = await _ended_application(intake, ApplicationStatus.IN_REVIEW)
    link = _link(intake, application_id)
    assert (await intake.http.get(link)).status_code == 404  # not ended yet
    forged = link.replace("sig=", "sig=0")
    assert (await intake.http.get(forged)).status_code == 403
    expired = _link(intake, application_id, days=-1)
    r = await intake.http.get(expired)
    assert r.status_code == 403
    assert "kedaluwarsa" in r.text


async def test_a_missing_score_is_named_and_nothing_is_stored(intake: Intake) -> None:
    application_id = await _ended_application(intake)
    link = _link(intake, application_id)
    answers = {k: v for k, v in ALL_GOOD.items() if k != "u3"}
    r = await _answer(intake.http, link, answers)
    assert r.status_code == 422
    assert "Mohon beri nilai 1 sampai 4" in r.text
    assert 'id="u3-galat"' in r.text
    async with intake.runtime.sessions() as session:
        assert (await session.exec(select(SurveyAnswer))).all() == []
        assert await session.get(SurveyLinkUsed, application_id) is None


async def test_a_post_without_the_forms_token_is_refused(intake: Intake) -> None:
    application_id = await _ended_application(intake)
    link = _link(intake, application_id)
    page = await intake.http.get(link)
    hidden = _form_fields(page.text)
    hidden.pop("csrf_token", None)
    r = await intake.http.post(link.split("?")[0], data={**hidden, **ALL_GOOD})
    assert r.status_code == 403
    async with intake.runtime.sessions() as session:
        assert (await session.exec(select(SurveyAnswer))).all() == []


async def test_a_desa_figure_needs_enough_answers(intake: Intake) -> None:
    period = datetime.now(UTC).strftime("%Y")
    async with intake.runtime.sessions() as session:
        for n in range(MIN_ANSWERS_SHOWN - 1):
            session.add(
                SurveyAnswer(
                    desa_code=PAMANUKAN,
                    letter_type="SKD",
                    period=f"{period}-01",
                    u1=3,
                    u2=3,
                    u3=3,
                    u4=4,
                    u5=3,
                    u6=3,
                    u7=3,
                    u8=3,
                    u9=3,
                    comment=f"saran {n}",
                )
            )
        await session.commit()
        report = await satisfaction_report(session, period=period, desa_code=PAMANUKAN)
        assert {(r.desa_code, r.letter_type, r.answers) for r in report.rows} >= {
            (PAMANUKAN, "", MIN_ANSWERS_SHOWN - 1)
        }
        assert all(r.index is None for r in report.rows)
        assert report.comments == []  # comments too wait for enough answers

        session.add(
            SurveyAnswer(
                desa_code=PAMANUKAN,
                letter_type="SKD",
                period=f"{period}-02",
                u1=3,
                u2=3,
                u3=3,
                u4=4,
                u5=3,
                u6=3,
                u7=3,
                u8=3,
                u9=3,
            )
        )
        await session.commit()
        report = await satisfaction_report(session, period=period, kabupaten_code="32.13")
        desa = next(r for r in report.rows if r.desa_code == PAMANUKAN and not r.letter_type)
        assert desa.answers == MIN_ANSWERS_SHOWN
        assert desa.index is not None
        # (8 × 3 + 4) / 9 × 25 = 77.78: band B.
        assert (desa.index.ikm_rounded, desa.index.band) == ("77.78", "B")
        assert len(report.comments) == MIN_ANSWERS_SHOWN - 1


@pytest.mark.parametrize("period", ["2026-13", "26", "2026-1", "２０２６"])
async def test_a_period_is_a_year_or_a_month(intake: Intake, period: str) -> None:
    from common.domain.errors import Invalid

    async with intake.runtime.sessions() as session:
        with pytest.raises(Invalid):
            await satisfaction_report(session, period=period, desa_code=PAMANUKAN)
