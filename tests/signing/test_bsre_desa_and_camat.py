"""A BSrE desa with a kecamatan step (issue 18): the desa signer certifies through BSrE with the
camat's field reserved, and the camat's approval signature fills it afterwards, through BSrE
too (two people's passphrases, two calls) or with the kecamatan's local key (one call). Signing
on a local HTTP server speaking BSrE's shape (tests/signing/bsre_fake.py), with a key and a
passphrase per holder."""

import asyncio
import dataclasses
import logging
import re
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm, enumerate_sig_fields
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlmodel import select

from services.signing.issuing import IssueRefused, IssueRequest
from services.signing.main import create_app
from services.signing.models import Letter
from services.signing.pades import APPROVAL_FIELD, SIGNATURE_FIELD, approval_reason
from services.signing.pdf_verification import check_pdf
from tests.signing.bsre_fake import CAMAT_NIK, NIK, FakeBsre, fake_bsre
from tests.signing.conftest import PAMANUKAN, skd_request
from tests.signing.test_bsre import _bsre_settings

KADES_PASSPHRASE = "rahasia-kades-7391"
CAMAT_PASSPHRASE = "rahasia-camat-4410"
KECAMATAN = "32.13.11"


@pytest.fixture
def bsre() -> Iterator[FakeBsre]:
    with fake_bsre(KADES_PASSPHRASE, CAMAT_PASSPHRASE) as fake:
        yield fake


def _sktm(application_id: str, **changes: object) -> IssueRequest:
    request = skd_request(
        application_id,
        letter_type="SKTM",
        purpose="Persyaratan beasiswa",
        kecamatan_code=KECAMATAN,
    )
    return dataclasses.replace(request, **changes)  # type: ignore[arg-type]


async def _check_both(pdf: bytes, roots: list[asn1_x509.Certificate], register: str) -> None:
    """The desa signer's certification (DocMDP level 2: form filling and signing), then the
    camat's approval signature in the reserved field, with the register number; both valid in
    pyHanko and on signing's own check (the verification page's)."""
    reader = PdfFileReader(BytesIO(pdf))
    kades, camat = (s for s in reader.embedded_signatures if s.sig_object_type != "/DocTimeStamp")
    assert (kades.field_name, camat.field_name) == (SIGNATURE_FIELD, APPROVAL_FIELD)
    assert kades.docmdp_level == MDPPerm.FILL_FORMS
    assert camat.docmdp_level is None  # an approval signature, not a second certification
    assert camat.sig_object["/Reason"] == approval_reason(register)
    context = ValidationContext(trust_roots=roots)
    # One after the other: both read the same reader's stream.
    kades_status = await asyncio.to_thread(validate_pdf_signature, kades, context)
    camat_status = await asyncio.to_thread(validate_pdf_signature, camat, context)
    assert kades_status.bottom_line and camat_status.bottom_line
    assert kades_status.docmdp_ok
    assert kades_status.modification_level in (
        ModificationLevel.FORM_FILLING,
        ModificationLevel.LTA_UPDATES,
    )
    check = await asyncio.to_thread(check_pdf, pdf, roots)
    assert check.signature_valid and check.intact and check.docmdp_ok, check
    assert not check.modified_after_signing


async def test_the_desa_signer_certifies_and_the_camat_approves_later_both_through_bsre(
    bsre: FakeBsre, data_dir: Path, nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = _bsre_settings(bsre, data_dir, nats_url).model_copy(
        update={
            "signing_signers": {PAMANUKAN: "bsre", KECAMATAN: "bsre"},
            "signing_bsre_niks": {f"{PAMANUKAN}:kades": NIK, f"{KECAMATAN}:camat": CAMAT_NIK},
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        issuer = runtime.issuer
        # The desa signer's passphrase alone, on a letter not meant to wait for the camat
        # (a letter started before): refused before a number is taken or BSrE is asked.
        with pytest.raises(IssueRefused) as missing:
            await issuer.issue(_sktm("app-both", passphrase=KADES_PASSPHRASE))
        assert missing.value.precondition and "passphrase TTE camat" in missing.value.reason
        assert bsre.requests == []

        # The desa signer's call: certified and numbered, the camat's field reserved, no
        # register number yet, and not issued (no download, no verification page).
        certified = await issuer.issue(
            _sktm("app-both", passphrase=KADES_PASSPHRASE, camat_signs_later=True)
        )
        assert certified.number and not certified.issued
        assert certified.kecamatan_register == "" and certified.kecamatan_approved_at is None
        assert await issuer.find_issued("app-both") is None
        assert [r["nik"] for r in bsre.requests] == [NIK]
        reader = PdfFileReader(BytesIO(await issuer.read_pdf(certified)))
        (kades,) = reader.embedded_signatures
        assert kades.field_name == SIGNATURE_FIELD and kades.docmdp_level == MDPPerm.FILL_FORMS
        empty = [name for name, _, _ in enumerate_sig_fields(reader, filled_status=False)]
        assert empty == [APPROVAL_FIELD]

        # The camat's call, with the Kades' passphrase: BSrE refuses it (each holder's own);
        # the certification and the desa's number stay.
        with pytest.raises(IssueRefused) as wrong:
            await issuer.issue(_sktm("app-both", camat_passphrase=KADES_PASSPHRASE))
        assert "Passphrase anda salah" in wrong.value.reason
        assert await issuer.find_issued("app-both") is None

        approved = await issuer.issue(
            _sktm("app-both", camat_passphrase=CAMAT_PASSPHRASE, camat_signs_later=True)
        )
        assert approved.issued and approved.kecamatan_approved_at is not None
        assert (approved.id, approved.number) == (certified.id, certified.number)
        assert re.fullmatch(r"470/001/32\.13\.11/[IVX]+/\d{4}", approved.kecamatan_register)
        assert [r["nik"] for r in bsre.requests] == [NIK, CAMAT_NIK, CAMAT_NIK]
        assert (await issuer.find_issued("app-both")) is not None
        pdf = await issuer.read_pdf(approved)
        async with runtime.sessions() as session:
            assert len((await session.exec(select(Letter))).all()) == 1

    reader = PdfFileReader(BytesIO(pdf))
    kades, camat = (s for s in reader.embedded_signatures if s.sig_object_type != "/DocTimeStamp")
    # Two holders, two keys: the Kades' certificate certifies, the camat's approves.
    assert kades.signer_cert.subject != camat.signer_cert.subject
    assert kades.signer_cert.subject.native["common_name"].startswith("Kepala Desa")
    assert camat.signer_cert.subject.native["common_name"].startswith("Camat")
    await _check_both(pdf, [bsre.registry.root_cert_asn1], approved.kecamatan_register)
    assert KADES_PASSPHRASE not in caplog.text and CAMAT_PASSPHRASE not in caplog.text


async def test_a_bsre_desa_with_a_local_camat_is_issued_in_one_call(
    bsre: FakeBsre, data_dir: Path, nats_url: str
) -> None:
    # The kecamatan signs with the dev PKI's camat key (the default signer): the desa signer's
    # call certifies through BSrE and the camat's approval follows at once.
    app = create_app(_bsre_settings(bsre, data_dir, nats_url))
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        assert runtime.letter_signers.for_kecamatan(KECAMATAN).kind == "local"
        letter = await runtime.issuer.issue(_sktm("app-local-camat", passphrase=KADES_PASSPHRASE))
        assert letter.issued and letter.kecamatan_register
        assert [r["nik"] for r in bsre.requests] == [NIK]
        pdf = await runtime.issuer.read_pdf(letter)
        roots = [bsre.registry.root_cert_asn1, runtime.signers.root_cert_asn1]
    await _check_both(pdf, roots, letter.kecamatan_register)
