import asyncio
import re
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from services.signing.config import Settings
from services.signing.models import DesaOfficial
from services.signing.pdf_verification import check_pdf
from services.signing.pki import SignerRegistry, ensure_dev_pki
from services.signing.seed import dev_signers
from tests.signing.conftest import PAMANUKAN, RunningSigning, make_settings, skd_request
from tests.signing.tampering import add_annotation, flip_byte_in_signed_range


async def _issued_pdf(signing: RunningSigning, application_id: str = "app-sig", **kw: str) -> bytes:
    issuer = signing.runtime.issuer
    return await issuer.read_pdf(await issuer.issue(skd_request(application_id, **kw)))


def _stamp_text(pdf: bytes) -> bytes:
    """The visible stamp's drawing instructions, with the strings' octal escapes undone."""
    field = PdfFileReader(BytesIO(pdf)).embedded_signatures[0].sig_field
    data = bytes(field["/AP"]["/N"].get_object().data)
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), data)


async def lta_verdict(pdf: bytes, signing: RunningSigning) -> object:
    """ETSI EN 319 102-1 long-term validation, offline: only what the PDF itself carries."""
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(
                    trust_roots=[signing.runtime.signers.root_cert_asn1]
                ),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    sig = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
    result = await ades_lta_validation(sig, spec)
    return result.ades_subindic


async def test_issued_letter_is_a_certified_pades_b_lta_signature(
    signing: RunningSigning,
) -> None:
    pdf = await _issued_pdf(signing)
    check = await asyncio.to_thread(check_pdf, pdf, signing.runtime.signers.root_cert_asn1)
    assert (check.signed, check.signature_valid, check.trusted, check.intact) == (
        True,
        True,
        True,
        True,
    )
    assert not check.modified_after_signing and check.docmdp_ok
    assert check.modification_level == "LTA_UPDATES"
    assert check.timestamp_valid and check.timestamped_at is not None and check.long_term
    assert check.conclusion == "valid"
    assert check.signer is not None and "Kepala Desa Pamanukan" in check.signer

    reader = PdfFileReader(BytesIO(pdf))
    sig, doc_ts = reader.embedded_signatures
    assert sig.field_name == "TTE"
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.docmdp_level == MDPPerm.FILL_FORMS  # a certification signature (P=2)
    assert "/DocMDP" in reader.root["/Perms"]
    assert sig.signer_cert.subject.native["common_name"] == "Kepala Desa Pamanukan"
    # The signature carries a timestamp token from our TSA.
    status = await asyncio.to_thread(
        validate_pdf_signature,
        sig,
        ValidationContext(trust_roots=[signing.runtime.signers.root_cert_asn1]),
    )
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    tsa_name = status.timestamp_validity.signing_cert.subject.native["common_name"]
    assert tsa_name.startswith("Timestamp Authority Kabupaten Subang")
    # Then the DSS with certificates and the root's CRL, and a document timestamp over it all.
    assert doc_ts.sig_object_type == "/DocTimeStamp"
    dss = reader.root["/DSS"]
    crls = [asn1_crl.CertificateList.load(c.get_object().data) for c in dss["/CRLs"]]
    assert crls and all(c.issuer == signing.runtime.signers.root_cert_asn1.subject for c in crls)
    assert len(dss["/Certs"]) >= 3  # signer, TSA, root

    # A validator that fetches nothing finds everything it needs in the file.
    assert await lta_verdict(pdf, signing) == AdESPassed.OK


async def test_visible_stamp_names_the_signer_and_date_and_carries_the_qr(
    signing: RunningSigning,
) -> None:
    pdf = await _issued_pdf(signing)
    field = PdfFileReader(BytesIO(pdf)).embedded_signatures[0].sig_field
    x1, y1, x2, y2 = (float(v) for v in field["/Rect"])
    assert x2 - x1 > 100 and y2 - y1 > 40  # visible, not a zero-size widget
    stamp = _stamp_text(pdf)
    assert b"Ditandatangani secara elektronik oleh" in stamp
    assert b"(Kepala Desa Pamanukan)" in stamp
    assert b"WIB)" in stamp
    assert b"/QR Do" in stamp  # the QR code is drawn
    assert b"3213115705900001" not in pdf and b"Siti Aminah" not in stamp


def _xobjects(node: object) -> int:
    """How many XObjects (images, forms) a page or form draws, nested ones included."""
    resources = node.get("/Resources")  # type: ignore[attr-defined]
    if resources is None or "/XObject" not in resources.get_object():
        return 0
    found = resources.get_object()["/XObject"].get_object()
    return sum(1 + _xobjects(found[name].get_object()) for name in found)


async def test_the_stamp_fills_the_box_the_signature_block_reserves(
    signing: RunningSigning,
) -> None:
    issuer = signing.runtime.issuer
    letter = await issuer.issue(skd_request("app-box"))
    pdf = await issuer.read_pdf(letter)
    reader = PdfFileReader(BytesIO(pdf))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    url = issuer.verification_url(letter.verification_code)
    links = [
        a.get_object()
        for a in page["/Annots"]
        if a.get_object()["/Subtype"] == "/Link" and a.get_object()["/A"]["/URI"] == url
    ]
    (link,) = links
    widget = reader.embedded_signatures[0].sig_field
    assert [round(float(v)) for v in widget["/Rect"]] == [round(float(v)) for v in link["/Rect"]]
    # Between the jabatan and the printed name, not in the page margin.
    assert float(widget["/Rect"][1]) > 200

    # One QR code on the letter, the stamp's: the body draws none of its own (it draws what
    # the unsigned preview draws: the logo).
    preview = await issuer.preview(skd_request("app-box"))
    body = PdfFileReader(BytesIO(pdf)).root["/Pages"]["/Kids"][0].get_object()
    preview_page = PdfFileReader(BytesIO(preview)).root["/Pages"]["/Kids"][0].get_object()
    assert _xobjects(body) == _xobjects(preview_page)
    assert b"/QR Do" in _stamp_text(pdf)


async def test_sekdes_signs_on_behalf_of_the_kades_with_their_own_certificate(
    signing: RunningSigning,
) -> None:
    pdf = await _issued_pdf(
        signing,
        "app-an",
        signer_role="sekdes",
        on_behalf_of_role="kades",
        signer_username="sekdes.pamanukan",
    )
    sig = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
    assert sig.signer_cert.subject.native["common_name"] == "Sekretaris Desa Pamanukan"
    kades = signing.runtime.signers.get("32.13.11.2004", "kades")
    assert kades is not None and kades.signer.signing_cert is not None
    assert sig.signer_cert.dump() != kades.signer.signing_cert.dump()
    assert b"(a.n. Kepala Desa Pamanukan, Sekretaris Desa)" in _stamp_text(pdf)
    check = await asyncio.to_thread(check_pdf, pdf, signing.runtime.signers.root_cert_asn1)
    assert check.conclusion == "valid"
    letter = await signing.runtime.issuer.find_issued("app-an")
    assert letter is not None
    assert (letter.signer_role, letter.on_behalf_of_role, letter.signer_username) == (
        "sekdes",
        "kades",
        "sekdes.pamanukan",
    )


async def test_plt_is_printed_on_the_stamp(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    async with signing.runtime.sessions() as session:
        session.add(DesaOfficial(desa_code=PAMANUKAN, username="plt.kades", name="Hj. Nining"))
        await session.commit()
    plt = skd_request("app-plt", signer_username="plt.kades", signer_is_plt=True)
    pdf = await issuer.read_pdf(await issuer.issue(plt))
    stamp = _stamp_text(pdf)
    # The stamp says what the signature block says: the Plt's own name, no Kades in office.
    assert b"(Plt. Kepala Desa Pamanukan)" in stamp and b"(Hj. Nining)" in stamp
    assert b"Dadang" not in stamp


@pytest.fixture
def b_b_settings(data_dir: Path, nats_url: str) -> Settings:
    return make_settings(data_dir, nats_url, signing_pades_level="B-B")


async def test_b_b_profile_signs_without_timestamps(b_b_settings: Settings) -> None:
    from services.signing.main import create_app

    app = create_app(b_b_settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        letter = await runtime.issuer.issue(skd_request("app-bb"))
        pdf = await runtime.issuer.read_pdf(letter)
        (sig,) = PdfFileReader(BytesIO(pdf)).embedded_signatures
        assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
        assert sig.docmdp_level == MDPPerm.FILL_FORMS
        check = await asyncio.to_thread(check_pdf, pdf, runtime.signers.root_cert_asn1)
        assert check.conclusion == "valid" and check.modification_level == "NONE"
        assert check.timestamped_at is None and not check.long_term


async def test_byte_flip_breaks_the_signature(signing: RunningSigning) -> None:
    pdf = flip_byte_in_signed_range(await _issued_pdf(signing))
    check = await asyncio.to_thread(check_pdf, pdf, signing.runtime.signers.root_cert_asn1)
    assert check.signed and not check.intact and not check.signature_valid
    assert check.conclusion == "invalid"


async def test_incremental_update_is_detected(signing: RunningSigning) -> None:
    pdf = add_annotation(await _issued_pdf(signing))
    check = await asyncio.to_thread(check_pdf, pdf, signing.runtime.signers.root_cert_asn1)
    assert check.intact and check.signature_valid  # the signed revision itself is untouched
    assert check.modified_after_signing and check.docmdp_ok is False
    assert check.modification_level == "OTHER"
    assert check.conclusion == "invalid"


async def test_a_signature_under_another_root_is_not_trusted(
    signing: RunningSigning, tmp_path: Path
) -> None:
    other = tmp_path / "other-pki"
    ensure_dev_pki(other, dev_signers())
    foreign_root = SignerRegistry.load(other).root_cert_asn1
    check = await asyncio.to_thread(check_pdf, await _issued_pdf(signing), foreign_root)
    assert check.intact and not check.trusted
    assert check.conclusion == "invalid"
