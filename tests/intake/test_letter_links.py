"""The short-lived signed link in a message opens the letter without signing in, for that
letter only and only until it expires; the PDF comes from a real gRPC SigningService peer."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import grpc
import pytest
from smartdesa.v1 import signing_pb2, signing_pb2_grpc

from common.auth import InternalAuth
from common.domain import ApplicationStatus
from common.rpc import SIGNING, GrpcServer
from common.signed_links import link_key, sign_path
from services.intake.models import LetterApplication
from tests.intake.conftest import Intake, problem
from tests.support.stand_ins import SigningStandIn

PDF = b"%PDF-1.7\n% surat bertanda tangan\n"


class Signing(SigningStandIn):
    """GetLetterPdf only; the other methods are not part of this test."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def GetLetterPdf(
        self, request: signing_pb2.GetLetterPdfRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.LetterPdf:
        self.asked.append(request.application_id)
        return signing_pb2.LetterPdf(letter_id="surat-7", number="470/7/VII/2026", content=PDF)


@pytest.fixture
async def signing(intake: Intake) -> AsyncIterator[Signing]:
    """Signing on the address intake is configured to call."""
    servicer = Signing()
    server = GrpcServer(
        intake.runtime.settings.signing_grpc_target,
        InternalAuth.from_settings(intake.runtime.settings, SIGNING),
        ["smartdesa.v1.SigningService"],
        lambda s: signing_pb2_grpc.add_SigningServiceServicer_to_server(servicer, s),
    )
    await server.start()
    try:
        yield servicer
    finally:
        await server.stop(0)


async def issued_application(intake: Intake) -> str:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    async with intake.runtime.sessions() as session:
        row = await session.get(LetterApplication, application_id)
        assert row is not None
        row.status, row.letter_number = ApplicationStatus.ISSUED, "470/7/VII/2026"
        session.add(row)
        await session.commit()
    return application_id


def link(intake: Intake, application_id: str, expires_at: datetime) -> str:
    key = link_key(intake.runtime.settings)
    return sign_path(key, f"/api/v1/letter-links/{application_id}/letter.pdf", expires_at)


async def test_a_signed_link_downloads_the_letter_without_signing_in(
    intake: Intake, signing: Signing
) -> None:
    application_id = await issued_application(intake)
    r = await intake.http.get(link(intake, application_id, datetime.now(UTC) + timedelta(hours=1)))
    assert r.status_code == 200, r.text
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == 'attachment; filename="surat-470-7-VII-2026.pdf"'
    assert r.headers["cache-control"] == "no-store"
    assert signing.asked == [application_id]


async def test_an_expired_forged_or_moved_link_is_refused(intake: Intake, signing: Signing) -> None:
    application_id = await issued_application(intake)
    other_id = await issued_application(intake)
    expired = await intake.http.get(
        link(intake, application_id, datetime.now(UTC) - timedelta(seconds=1))
    )
    assert expired.status_code == 410
    assert "kedaluwarsa" in problem(expired)["detail"]

    good = link(intake, application_id, datetime.now(UTC) + timedelta(hours=1))
    path, _, query = good.partition("?")
    moved = await intake.http.get(f"/api/v1/letter-links/{other_id}/letter.pdf?{query}")
    assert moved.status_code == 403
    assert problem(moved)["detail"] == "Tautan tidak sah."
    longer = query.replace("expires=", "expires=9")
    assert (await intake.http.get(f"{path}?{longer}")).status_code == 403
    assert (await intake.http.get(path)).status_code == 403
    assert signing.asked == []  # nothing fetched for a bad link


async def test_a_link_to_a_letter_not_issued_opens_nothing(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.http.get(link(intake, application_id, datetime.now(UTC) + timedelta(hours=1)))
    assert r.status_code == 404
    assert problem(r)["detail"] == "Surat tidak tersedia."


@pytest.mark.parametrize("expires", ["²", "١٧٦٧٢٢٥٦٠٠", "9" * 19, "-1"])
async def test_an_expiry_that_is_not_ascii_digits_is_refused_not_a_crash(
    intake: Intake, signing: Signing, expires: str
) -> None:
    application_id = await issued_application(intake)
    good = link(intake, application_id, datetime.now(UTC) + timedelta(hours=1))
    path, _, query = good.partition("?")
    r = await intake.http.get(path, params={"expires": expires, "sig": parse_qs(query)["sig"][0]})
    assert r.status_code == 403, r.text
    assert problem(r)["detail"] == "Tautan tidak sah."
    assert signing.asked == []
