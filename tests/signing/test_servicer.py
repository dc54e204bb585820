from __future__ import annotations  # the async stub type exists only for type checkers

import hashlib
from collections.abc import AsyncIterator
from typing import Any, cast

import grpc
import pytest
from smartdesa.v1 import signing_pb2, signing_pb2_grpc
from sqlmodel import select

from common.auth import InternalAuth
from common.rpc import SIGNING, WORKER, client_channel
from services.signing.models import Letter
from tests.signing.conftest import INJECTION, PUBLIC_URL, RunningSigning
from tests.signing.pdf_text import page_texts, squeeze


@pytest.fixture
async def stub(signing: RunningSigning) -> AsyncIterator[signing_pb2_grpc.SigningServiceAsyncStub]:
    auth = InternalAuth.from_settings(signing.settings, WORKER)
    target = f"127.0.0.1:{signing.runtime.grpc_server.port}"
    async with client_channel(target, auth, SIGNING) as channel:
        yield cast(
            "signing_pb2_grpc.SigningServiceAsyncStub", signing_pb2_grpc.SigningServiceStub(channel)
        )


def _request(application_id: str, **changes: str) -> signing_pb2.IssueLetterRequest:
    values: dict[str, Any] = {
        "application_id": application_id,
        "desa_code": "32.13.11.2004",
        "letter_type": "SKD",
        "purpose": INJECTION,
        "nik": "3213115705900001",
        "signer_role": "kades",
        **changes,
    }
    return signing_pb2.IssueLetterRequest(
        fields={"nama": "Siti Aminah", "jenis_kelamin": "P", "alamat": "Dusun Krajan"}, **values
    )


async def test_issue_and_fetch_over_grpc(stub: signing_pb2_grpc.SigningServiceAsyncStub) -> None:
    issued = await stub.IssueLetter(_request("app-grpc"))
    assert issued.number.startswith("400.12.2/001/32.13.11.2004/")
    assert issued.verification_url == f"{PUBLIC_URL}/verifikasi/{issued.verification_code}"
    assert issued.issued_at.seconds > 0
    again = await stub.IssueLetter(_request("app-grpc"))
    assert (again.letter_id, again.number, again.sha256) == (
        issued.letter_id,
        issued.number,
        issued.sha256,
    )

    pdf = await stub.GetLetterPdf(signing_pb2.GetLetterPdfRequest(application_id="app-grpc"))
    assert (pdf.letter_id, pdf.number) == (issued.letter_id, issued.number)
    assert pdf.content.startswith(b"%PDF-")
    assert hashlib.sha256(pdf.content).hexdigest() == issued.sha256


async def test_grpc_errors(stub: signing_pb2_grpc.SigningServiceAsyncStub) -> None:
    cases = [
        (_request("e1", letter_type="SKX"), grpc.StatusCode.INVALID_ARGUMENT),
        (_request("e2", desa_code="32.13.09.2002"), grpc.StatusCode.INVALID_ARGUMENT),
        (_request("e3", signer_role="camat"), grpc.StatusCode.FAILED_PRECONDITION),
        (_request(""), grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for request, code in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.IssueLetter(request)
        assert err.value.code() == code
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetLetterPdf(signing_pb2.GetLetterPdfRequest(application_id="belum-terbit"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_calls_without_a_token_are_refused(signing: RunningSigning) -> None:
    target = f"127.0.0.1:{signing.runtime.grpc_server.port}"
    async with grpc.aio.insecure_channel(target) as channel:
        stub = signing_pb2_grpc.SigningServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.IssueLetter(_request("app-anon"))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # A token made for another service is refused too.
    auth = InternalAuth.from_settings(signing.settings, WORKER)
    async with client_channel(target, auth, "intake") as channel:
        stub = signing_pb2_grpc.SigningServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as wrong:
            await stub.GetLetterPdf(signing_pb2.GetLetterPdfRequest(application_id="x"))
        assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert await signing.runtime.issuer.find_issued("app-anon") is None


async def test_preview_is_the_letter_unsigned_unnumbered_and_stores_nothing(
    signing: RunningSigning, stub: signing_pb2_grpc.SigningServiceAsyncStub
) -> None:
    request = _request(
        "app-preview",
        signer_role="sekdes",
        signer_username="sekdes.pamanukan",
        on_behalf_of_role="kades",
    )
    preview = await stub.PreviewLetter(request)
    assert preview.content.startswith(b"%PDF-") and preview.number == ""
    text = squeeze(page_texts(preview.content)[0])
    assert squeeze("PRATINJAU — BUKAN SURAT SAH") in text
    assert squeeze("Nomor: 400.12.2/___/32.13.11.2004/") in text
    assert squeeze("a.n. Kepala Desa Pamanukan Sekretaris Desa") in text
    assert "AsepSaepudin" in text and squeeze(f"keperluan: {INJECTION}.") in text
    assert "Ditandatanganisecaraelektronik" not in text and b"/ByteRange" not in preview.content

    # Nothing stored, no number taken: the first issued letter is still number 1.
    async with signing.runtime.sessions() as session:
        assert (await session.exec(select(Letter))).all() == []
    with pytest.raises(grpc.aio.AioRpcError) as not_issued:
        await stub.GetLetterPdf(signing_pb2.GetLetterPdfRequest(application_id="app-preview"))
    assert not_issued.value.code() == grpc.StatusCode.NOT_FOUND
    issued = await stub.IssueLetter(_request("app-after-preview"))
    assert issued.number.startswith("400.12.2/001/")


async def test_preview_refusals(stub: signing_pb2_grpc.SigningServiceAsyncStub) -> None:
    cases = [
        (_request("p1", letter_type="SKX"), grpc.StatusCode.INVALID_ARGUMENT),
        (_request("p2", desa_code="32.13.09.2002"), grpc.StatusCode.INVALID_ARGUMENT),
        # A Plt whose name the desa has not registered cannot sign a letter yet.
        (
            signing_pb2.IssueLetterRequest(
                application_id="p3",
                desa_code="32.13.11.2004",
                letter_type="SKD",
                signer_role="kades",
                signer_username="tidak.terdaftar",
                signer_is_plt=True,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
    ]
    for request, code in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.PreviewLetter(request)
        assert err.value.code() == code, request.application_id
