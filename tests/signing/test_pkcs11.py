"""The PKCS#11 signer against a real SoftHSM2 token (Debian package softhsm2, installed by
`make install`): the key is generated in the token, the letter is signed there, and which
signer a desa uses is configuration."""

import asyncio
import os
import subprocess
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader

from services.signing.main import create_app
from services.signing.pdf_verification import check_pdf
from services.signing.pki import DevSigner, ensure_dev_pki
from services.signing.seed import dev_signers
from tests.signing.conftest import PAMANUKAN, RANCASARI, make_settings, skd_request

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN = "smartdesa-test"
PIN = "246810"


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh SoftHSM2 token store for this module (SOFTHSM2_CONF is read when the library
    is first loaded, so the whole module shares one)."""
    assert SOFTHSM_MODULE.exists(), "softhsm2 is missing: run `make install`"
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            PIN,
            "--so-pin",
            "13579111",
        ],
        check=True,
        capture_output=True,
    )
    yield conf
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


async def test_a_desa_configured_for_the_hsm_signs_there(
    softhsm: Path, data_dir: Path, nats_url: str
) -> None:
    from services.signing.hsm import provision_signer

    pin_file = data_dir / "pkcs11.pin"
    pin_file.write_text(PIN)
    settings = make_settings(
        data_dir,
        nats_url,
        signing_signers={PAMANUKAN: "pkcs11"},  # Rancasari keeps the default (local keys)
        signing_pkcs11_module=SOFTHSM_MODULE,
        signing_pkcs11_token_label=TOKEN,
        signing_pkcs11_pin_file=pin_file,
    )
    ensure_dev_pki(settings.pki_dir, dev_signers(), settings.crl_url)
    hsm_cert = await asyncio.to_thread(
        provision_signer,
        SOFTHSM_MODULE,
        TOKEN,
        PIN,
        settings.pki_dir,
        DevSigner(PAMANUKAN, "Pamanukan", "Subang", "kades", "Dadang Suhendar"),
        settings.crl_url,
    )
    hsm_public = hsm_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        assert runtime.letter_signers.for_desa(PAMANUKAN).kind == "pkcs11"
        assert runtime.letter_signers.for_desa(RANCASARI).kind == "local"

        letter = await runtime.issuer.issue(skd_request("app-hsm"))
        pdf = await runtime.issuer.read_pdf(letter)
        sig = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
        # Signed with the key inside the token, not with the key file of the PKI folder.
        assert sig.signer_cert.public_key.dump() == hsm_public
        local = runtime.signers.get(PAMANUKAN, "kades")
        assert local is not None and sig.signer_cert.dump() != local.signer.signing_cert.dump()
        check = await asyncio.to_thread(check_pdf, pdf, runtime.signers.root_cert_asn1)
        assert check.conclusion == "valid" and check.long_term and check.timestamp_valid

        # The token holds no Sekdes key: refused before a number is taken.
        from services.signing.issuing import IssueRefused

        with pytest.raises(IssueRefused) as refused:
            await runtime.issuer.issue(skd_request("app-hsm-sekdes", signer_role="sekdes"))
        assert refused.value.precondition

        other = await runtime.issuer.issue(skd_request("app-local", desa_code=RANCASARI))
        other_pdf = await runtime.issuer.read_pdf(other)
        other_sig = PdfFileReader(BytesIO(other_pdf)).embedded_signatures[0]
        assert other_sig.signer_cert.subject.native["common_name"] == "Kepala Desa Rancasari"


async def test_a_kecamatan_configured_for_the_hsm_approves_there(
    softhsm: Path, data_dir: Path, nats_url: str
) -> None:
    """Issue 18: the camat's "mengetahui" goes through the same signer setting as a desa's,
    keyed by the kecamatan's code. Pamanukan's Kades signs with local keys; the camat's key
    is generated in the token, and the approval signature is made there."""
    from pyhanko.sign.fields import MDPPerm

    from services.signing.hsm import provision_signer
    from services.signing.pades import APPROVAL_FIELD, SIGNATURE_FIELD

    kecamatan = "32.13.11"
    pin_file = data_dir / "pkcs11.pin"
    pin_file.write_text(PIN)
    settings = make_settings(
        data_dir,
        nats_url,
        # Jalancagak too, whose camat has no key on the token.
        signing_signers={kecamatan: "pkcs11", "32.13.12": "pkcs11"},
        signing_pkcs11_module=SOFTHSM_MODULE,
        signing_pkcs11_token_label=TOKEN,
        signing_pkcs11_pin_file=pin_file,
    )
    ensure_dev_pki(settings.pki_dir, dev_signers(), settings.crl_url)
    hsm_cert = await asyncio.to_thread(
        provision_signer,
        SOFTHSM_MODULE,
        TOKEN,
        PIN,
        settings.pki_dir,
        DevSigner(kecamatan, "Pamanukan", "Subang", "camat", "Drs. H. Asep"),
        settings.crl_url,
    )
    hsm_public = hsm_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        assert runtime.letter_signers.for_kecamatan(kecamatan).kind == "pkcs11"
        assert runtime.letter_signers.for_desa(PAMANUKAN).kind == "local"
        letter = await runtime.issuer.issue(
            skd_request("app-hsm-camat", letter_type="SKTM", kecamatan_code=kecamatan)
        )
        assert letter.kecamatan_approved_at is not None and letter.kecamatan_register
        pdf = await runtime.issuer.read_pdf(letter)
        root = runtime.signers.root_cert_asn1
        local_camat = runtime.signers.get(kecamatan, "camat")

        # A kecamatan whose camat has no key on the token: refused before a number is taken.
        from services.signing.issuing import IssueRefused

        other = "32.13.12"
        with pytest.raises(IssueRefused) as refused:
            await runtime.issuer.issue(
                skd_request(
                    "app-hsm-no-camat",
                    desa_code="32.13.12.2007",
                    letter_type="SKTM",
                    kecamatan_code=other,
                )
            )
        assert refused.value.precondition and "sertifikat camat" in refused.value.reason
        assert await runtime.issuer.find_issued("app-hsm-no-camat") is None

    reader = PdfFileReader(BytesIO(pdf))
    kades, camat = (s for s in reader.embedded_signatures if s.sig_object_type != "/DocTimeStamp")
    assert (kades.field_name, camat.field_name) == (SIGNATURE_FIELD, APPROVAL_FIELD)
    assert kades.docmdp_level == MDPPerm.FILL_FORMS
    # The camat signed with the key inside the token, not the PKI folder's camat key.
    assert camat.signer_cert.public_key.dump() == hsm_public
    assert local_camat is not None
    assert camat.signer_cert.dump() != local_camat.signer.signing_cert.dump()
    check = await asyncio.to_thread(check_pdf, pdf, root)
    assert check.conclusion == "valid" and check.docmdp_ok and check.long_term
