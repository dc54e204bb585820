"""The BSrE adapter against a local server speaking BSrE's v2 sign/pdf shape."""

import asyncio
import base64
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import grpc
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from smartdesa.v1 import signing_pb2, signing_pb2_grpc
from sqlmodel import select

from common.auth import InternalAuth
from common.rpc import SIGNING, WORKER, client_channel
from services.signing.bsre import BsreConfig, BsreSigner
from services.signing.catalogue.definition import load_seed
from services.signing.config import Settings
from services.signing.issuing import IssueRefused
from services.signing.main import create_app
from services.signing.models import Letter
from services.signing.pades import StampText
from services.signing.rendering import LetterContent
from services.signing.servicer import PASSPHRASE_METADATA
from services.signing.signers import SignatureJob, SigningFailed
from tests.signing.bsre_fake import NIK, PASSWORD, USERNAME, FakeBsre, fake_bsre
from tests.signing.conftest import PAMANUKAN, make_settings, skd_request

PASSPHRASE = "rahasia-kades-7391"


@pytest.fixture
def bsre() -> Iterator[FakeBsre]:
    with fake_bsre(PASSPHRASE) as fake:
        yield fake


def _job(passphrase: str | None = PASSPHRASE) -> SignatureJob:
    letter_type = load_seed().get("SKD")
    assert letter_type is not None
    url = "https://verifikasi.example.test/verifikasi/abc"
    return SignatureJob(
        content=LetterContent(
            letter_type=letter_type,
            number="470/001/32.13.11.2004/2026",
            letter_date=dt.datetime.now(dt.UTC),
            desa="Pamanukan",
            kecamatan="Pamanukan",
            kabupaten="Subang",
            desa_address="Jl. Raya",
            kode_pos="41254",
            signer_title="Kepala Desa",
            signer_name="Dadang Suhendar",
            fields={"nama": "Siti Aminah"},
            nik="3213115705900001",
            purpose="Melamar kerja",
            verification_url=url,
        ),
        desa_code=PAMANUKAN,
        role="kades",
        location="Pamanukan",
        stamp=StampText("Kepala Desa Pamanukan", "1 Januari 2026, 10.00 WIB", url),
        passphrase=passphrase,
    )


def _signer(fake: FakeBsre, timeout: float = 30.0) -> BsreSigner:
    return BsreSigner(
        BsreConfig(
            base_url=fake.url,
            username=USERNAME,
            password=PASSWORD,
            niks={f"{PAMANUKAN}:kades": NIK},
            timeout_seconds=timeout,
        )
    )


def _bsre_settings(bsre: FakeBsre, data_dir: Path, nats_url: str) -> Settings:
    password_file = data_dir / "bsre.password"
    password_file.write_text(PASSWORD)
    bsre_root = data_dir / "bsre-root.pem"
    bsre_root.write_bytes(bsre.registry.root_pem)
    return make_settings(
        data_dir,
        nats_url,
        signing_signers={PAMANUKAN: "bsre"},
        signing_bsre_url=bsre.url,
        signing_bsre_username=USERNAME,
        signing_bsre_password_file=password_file,
        signing_bsre_niks={f"{PAMANUKAN}:kades": NIK},
        signing_trust_roots=[bsre_root],
    )


async def test_bsre_signs_a_letter_issued_for_a_desa_configured_for_it(
    bsre: FakeBsre, data_dir: Path, nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(_bsre_settings(bsre, data_dir, nats_url))
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        issuer = runtime.issuer
        # A wrong passphrase: BSrE refuses, we say why, and nobody tries again on their own.
        with pytest.raises(IssueRefused) as wrong:
            await issuer.issue(skd_request("app-bsre", passphrase="salah"))
        assert "Passphrase anda salah" in wrong.value.reason
        assert len(bsre.requests) == 1

        # The Kades tries again with the right one: the same reserved number is finished.
        letter = await issuer.issue(skd_request("app-bsre", passphrase=PASSPHRASE))
        assert len(bsre.requests) == 2
        assert letter.status == "valid" and letter.number.startswith("400.12.2/001/")
        (request,) = bsre.requests[1:]
        assert request["authorized"] and request["nik"] == NIK and request["files"] == 1
        (props,) = request["signatureProperties"]
        assert props["tampilan"] == "VISIBLE" and props["page"] == 1
        assert props["width"] > 0 and props["height"] > 0 and props["originX"] >= 0
        assert base64.b64decode(props["imageBase64"]).startswith(b"\x89PNG")

        pdf = await issuer.read_pdf(letter)
        sig = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
        assert sig.signer_cert.issuer == bsre.registry.root_cert_asn1.subject
        upload = await app_http_verify(app, pdf)
        assert upload["conclusion"] == "valid" and upload["trusted"]
        registered = upload["registered"]
        assert isinstance(registered, dict) and registered["number"] == letter.number

    # The passphrase went to BSrE and nowhere else: not the logs, not the database.
    assert PASSPHRASE not in caplog.text
    database = (data_dir / "signing.db").read_bytes()
    assert PASSPHRASE.encode() not in database
    assert PASSPHRASE not in repr(skd_request("x", passphrase=PASSPHRASE))


async def app_http_verify(app: object, pdf: bytes) -> dict[str, object]:
    import httpx

    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/api/v1/verifications", files={"file": ("s.pdf", pdf, "application/pdf")}
        )
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


async def test_the_passphrase_travels_in_grpc_metadata(
    bsre: FakeBsre, data_dir: Path, nats_url: str
) -> None:
    settings = _bsre_settings(bsre, data_dir, nats_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        auth = InternalAuth.from_settings(settings, WORKER)
        target = f"127.0.0.1:{runtime.grpc_server.port}"
        async with client_channel(target, auth, SIGNING) as channel:
            stub = signing_pb2_grpc.SigningServiceStub(channel)
            request = signing_pb2.IssueLetterRequest(
                application_id="app-bsre-grpc",
                desa_code=PAMANUKAN,
                letter_type="SKD",
                purpose="Melamar kerja",
                nik="3213115705900001",
                signer_role="kades",
                fields={"nama": "Siti Aminah"},
            )
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await stub.IssueLetter(request)
            assert missing.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "memerlukan passphrase" in (missing.value.details() or "")
            # Refused before anything was reserved: no number taken, no letter row.
            assert bsre.requests == []
            async with runtime.sessions() as session:
                assert (await session.exec(select(Letter))).all() == []
            issued = await stub.IssueLetter(request, metadata=((PASSPHRASE_METADATA, PASSPHRASE),))
            assert issued.number.startswith("400.12.2/001/") and len(bsre.requests) == 1


async def test_a_timeout_is_reported_and_never_retried(bsre: FakeBsre) -> None:
    bsre.mode, bsre.delay_seconds = "slow", 3.0
    signer = _signer(bsre, timeout=0.5)
    with pytest.raises(SigningFailed) as failed:
        await signer.sign(_job())
    assert "tidak menjawab tepat waktu" in failed.value.reason
    assert PASSPHRASE not in str(failed.value) and PASSPHRASE not in repr(failed.value)
    assert len(bsre.requests) == 1
    await signer.close()


async def test_unavailable_and_unsigned_answers_are_refusals(bsre: FakeBsre) -> None:
    signer = _signer(bsre)
    bsre.mode = "unavailable"
    with pytest.raises(SigningFailed) as unavailable:
        await signer.sign(_job())
    assert "HTTP 503" in unavailable.value.reason
    assert len(bsre.requests) == 1  # not retried

    bsre.mode = "unsigned"
    with pytest.raises(SigningFailed) as unsigned:
        await signer.sign(_job())
    assert "tanpa tanda tangan" in unsigned.value.reason

    with pytest.raises(SigningFailed) as no_passphrase:
        await signer.sign(_job(passphrase=None))
    assert "Passphrase" in no_passphrase.value.reason
    assert len(bsre.requests) == 2  # nothing sent without a passphrase
    assert signer.roles_for(PAMANUKAN) == ["kades"] and not signer.can_sign(PAMANUKAN, "sekdes")
    await signer.close()


async def test_a_refusal_quoting_the_signers_nik_does_not_pass_it_on(bsre: FakeBsre) -> None:
    # The refusal text becomes the blocked letter's reason: staff and the resident's timeline
    # read it and it is kept in the workflow's history. The Kades's NIK stays out of it.
    bsre.mode = "names-signer"
    signer = _signer(bsre)
    with pytest.raises(SigningFailed) as refused:
        await signer.sign(_job())
    assert "HTTP 400" in refused.value.reason and "tidak aktif" in refused.value.reason
    assert NIK not in refused.value.reason and NIK not in str(refused.value)
    await signer.close()


async def test_a_camat_signs_the_mengetahui_through_bsre(
    bsre: FakeBsre, data_dir: Path, nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 18: the kecamatan is configured for BSrE (its code in `signing_signers`), the
    desa keeps local keys. The Kades' certification (P=2) is made here; the camat's approval
    signature comes from BSrE into the field the certification reserved, and both stand."""
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.fields import MDPPerm
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from services.signing.pades import APPROVAL_FIELD, SIGNATURE_FIELD, approval_reason

    caplog.set_level(logging.DEBUG)
    kecamatan = "32.13.11"
    settings = _bsre_settings(bsre, data_dir, nats_url).model_copy(
        update={
            "signing_signers": {kecamatan: "bsre"},
            "signing_bsre_niks": {f"{kecamatan}:camat": NIK},
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        assert runtime.letter_signers.for_kecamatan(kecamatan).kind == "bsre"
        assert runtime.letter_signers.for_desa(PAMANUKAN).kind == "local"
        sktm = {"letter_type": "SKTM", "kecamatan_code": kecamatan}
        # Without the camat's passphrase: refused before a number is taken or BSrE is asked.
        with pytest.raises(IssueRefused) as missing:
            await runtime.issuer.issue(skd_request("app-kec-bsre", **sktm))
        assert missing.value.precondition and "passphrase TTE camat" in missing.value.reason
        assert bsre.requests == []
        async with runtime.sessions() as session:
            assert (await session.exec(select(Letter))).all() == []

        request = skd_request("app-kec-bsre", **sktm)
        letter = await runtime.issuer.issue(
            dataclasses.replace(request, camat_passphrase=PASSPHRASE)
        )
        assert letter.kecamatan_approved_at is not None and letter.kecamatan_register
        (sent,) = bsre.requests
        assert sent["nik"] == NIK and sent["signatureProperties"][0]["reason"] == approval_reason(
            letter.kecamatan_register
        )
        pdf = await runtime.issuer.read_pdf(letter)

    reader = PdfFileReader(BytesIO(pdf))
    kades, camat = (s for s in reader.embedded_signatures if s.sig_object_type != "/DocTimeStamp")
    assert (kades.field_name, camat.field_name) == (SIGNATURE_FIELD, APPROVAL_FIELD)
    assert kades.docmdp_level == MDPPerm.FILL_FORMS
    assert camat.signer_cert.issuer == bsre.registry.root_cert_asn1.subject
    kabupaten_root = runtime.signers.root_cert_asn1
    context = ValidationContext(trust_roots=[kabupaten_root, bsre.registry.root_cert_asn1])
    # One after the other: both read the same reader's stream.
    kades_status = await asyncio.to_thread(validate_pdf_signature, kades, context)
    camat_status = await asyncio.to_thread(validate_pdf_signature, camat, context)
    assert kades_status.bottom_line and camat_status.bottom_line
    assert kades_status.docmdp_ok
    assert kades_status.modification_level in (
        ModificationLevel.FORM_FILLING,
        ModificationLevel.LTA_UPDATES,
    )
    assert PASSPHRASE not in caplog.text
    assert PASSPHRASE not in repr(dataclasses.replace(request, camat_passphrase=PASSPHRASE))
