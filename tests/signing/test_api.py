import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import typst
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlmodel import col, select

from services.signing.main import create_app
from services.signing.models import Letter
from tests.signing.conftest import INJECTION, RunningSigning, make_settings, skd_request
from tests.signing.tampering import add_annotation, flip_byte_in_signed_range

PDF_TYPE = "application/pdf"


async def _issue(
    signing: RunningSigning, application_id: str = "app-web"
) -> tuple[str, str, bytes]:
    issuer = signing.runtime.issuer
    letter = await issuer.issue(skd_request(application_id, purpose=INJECTION))
    return letter.verification_code, letter.number, await issuer.read_pdf(letter)


async def _verify(client: httpx.AsyncClient, content: bytes) -> httpx.Response:
    return await client.post(
        "/api/v1/verifications", files={"file": ("surat.pdf", content, PDF_TYPE)}
    )


async def test_healthz(signing: RunningSigning) -> None:
    assert (await signing.http.get("/healthz")).json() == {"status": "ok"}


async def test_verification_page_shows_the_letter_without_personal_data(
    signing: RunningSigning,
) -> None:
    code, number, _ = await _issue(signing)
    page = await signing.http.get(f"/verifikasi/{code}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Surat ini asli dan tercatat" in html
    assert number in html
    assert "SURAT KETERANGAN DOMISILI" in html
    assert "Berlaku" in html and "Kepala Desa Pamanukan" in html
    assert "Dadang Suhendar" in html  # the signer, as the letter prints them
    # The holder matches the letter by the resident's initials; no NIK, even masked.
    assert "S. A." in html and "0001" not in html
    # Technical details only when asked for, and a plain form to check the PDF.
    details = html[html.index("<details>") : html.index("</details>")]
    assert "SHA-256" in details and html.count("SHA-256") == 1
    assert 'action="/verifikasi/periksa"' in html and 'enctype="multipart/form-data"' in html
    assert 'name="viewport"' in html and "<script" not in html
    # Its one stylesheet is our own; the page forbids anything from elsewhere.
    assert re.findall(r'<link[^>]*href="([^"]+)"', html) == ["/static/verifikasi.css"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    css = await signing.http.get("/static/verifikasi.css")
    assert css.status_code == 200 and ".badge.revoked" in css.text
    for personal in ("3213115705900001", "Siti Aminah", "melamar", "Persyaratan"):
        assert personal not in html


async def test_the_page_form_checks_a_pdf_and_answers_in_words(signing: RunningSigning) -> None:
    _, number, pdf = await _issue(signing, "app-form")

    async def check(content: bytes, name: str = "surat.pdf") -> httpx.Response:
        return await signing.http.post(
            "/verifikasi/periksa", files={"file": (name, content, PDF_TYPE)}
        )

    genuine = await check(pdf)
    assert genuine.status_code == 200 and genuine.headers["content-type"].startswith("text/html")
    assert "Berkas ini asli" in genuine.text and number in genuine.text
    assert genuine.text.index("<details>") < genuine.text.index("SHA-256")
    changed = await check(flip_byte_in_signed_range(pdf))
    assert changed.status_code == 200
    assert "Berkas ini tidak dapat dipastikan asli" in changed.text
    not_pdf = await check(b"bukan pdf", "surat.txt")
    assert not_pdf.status_code == 415 and "Berkas ini bukan PDF." in not_pdf.text
    for personal in ("3213115705900001", "Siti Aminah"):
        assert personal not in genuine.text


async def test_unknown_code_is_404_page(signing: RunningSigning) -> None:
    page = await signing.http.get("/verifikasi/bukan-kode-yang-ada")
    assert page.status_code == 404
    assert "Surat tidak ditemukan" in page.text
    assert (await signing.http.get("/verifikasi/" + "x" * 500)).status_code == 404


async def test_letter_json(signing: RunningSigning) -> None:
    code, number, pdf = await _issue(signing)
    body = (await signing.http.get(f"/api/v1/letters/{code}")).json()
    assert body["number"] == number
    assert body["status"] == "valid" and body["status_label"] == "Berlaku"
    assert body["desa_name"] == "Pamanukan" and body["letter_type"] == "SKD"
    assert body["signer_title"] == "Kepala Desa Pamanukan"
    assert body["signer_name"] == "Dadang Suhendar" and body["nik_masked"] == "************0001"
    assert body["holder_initials"] == "S. A."
    assert body["revoked_at"] is None
    assert body["verification_url"].endswith(f"/verifikasi/{code}")
    assert "nik" not in body and "nama" not in body
    missing = await signing.http.get("/api/v1/letters/tidak-ada")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["detail"] == "Surat tidak ditemukan."


async def test_root_certificate(signing: RunningSigning) -> None:
    response = await signing.http.get("/pki/root.pem")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-pem-file"
    cert = x509.load_pem_x509_certificate(response.content)
    assert cert == signing.runtime.signers.root_cert
    on_disk = (signing.settings.pki_dir / "root-ca.crt.pem").read_bytes()
    assert cert.public_bytes(serialization.Encoding.PEM) == on_disk


async def test_upload_of_an_issued_letter_is_valid_and_registered(signing: RunningSigning) -> None:
    code, number, pdf = await _issue(signing)
    response = await _verify(signing.http, pdf)
    assert response.status_code == 200
    body = response.json()
    assert body["conclusion"] == "valid"
    assert body["signed"] and body["signature_valid"] and body["trusted"] and body["intact"]
    assert body["modified_after_signing"] is False and body["docmdp_ok"] is True
    # Only the DSS and the document timestamp were added after the signature (B-LTA).
    assert body["modification_level"] == "LTA_UPDATES"
    assert body["timestamp_valid"] is True and body["timestamped_at"]
    assert body["long_term"] is True
    assert "Kepala Desa Pamanukan" in body["signer"]
    assert body["signed_at"]
    assert body["registered"] == {
        "number": number,
        "verification_url": f"{signing.settings.public_verification_url}/verifikasi/{code}",
        "status": "valid",
    }
    assert "sah" in body["message"]


async def test_byte_flip_is_invalid(signing: RunningSigning) -> None:
    _, _, pdf = await _issue(signing)
    body = (await _verify(signing.http, flip_byte_in_signed_range(pdf))).json()
    assert body["signed"] is True
    assert body["signature_valid"] is False and body["intact"] is False
    assert body["conclusion"] == "invalid"
    assert body["registered"] is None


async def test_incremental_update_is_invalid(signing: RunningSigning) -> None:
    _, _, pdf = await _issue(signing)
    body = (await _verify(signing.http, add_annotation(pdf))).json()
    assert body["modified_after_signing"] is True
    assert body["docmdp_ok"] is False
    assert body["conclusion"] == "invalid"
    assert "diubah setelah ditandatangani" in body["message"]


async def test_unsigned_pdf(signing: RunningSigning) -> None:
    body = (await _verify(signing.http, typst.compile(b"Surat tanpa tanda tangan"))).json()
    assert body["signed"] is False
    assert body["conclusion"] == "unsigned"
    assert body["registered"] is None
    assert "tidak memiliki tanda tangan" in body["message"]


async def test_not_a_pdf_is_415(signing: RunningSigning) -> None:
    response = await _verify(signing.http, os.urandom(4096))
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Berkas ini bukan PDF."
    not_multipart = await signing.http.post(
        "/api/v1/verifications", content=b"%PDF-1.7", headers={"content-type": PDF_TYPE}
    )
    assert not_multipart.status_code == 415


async def test_truncated_pdf_is_422(signing: RunningSigning) -> None:
    _, _, pdf = await _issue(signing)
    # Cut inside the first revision (a B-LTA letter is several incremental revisions, and a
    # cut after one of them leaves a readable earlier revision).
    first_eof = pdf.index(b"%%EOF")
    response = await _verify(signing.http, pdf[: first_eof // 2])
    assert response.status_code == 422
    assert "rusak" in response.json()["detail"]


async def test_missing_file_is_422(signing: RunningSigning) -> None:
    response = await signing.http.post("/api/v1/verifications", files={"lain": ("a.txt", b"x")})
    assert response.status_code == 422
    assert "file" in response.json()["detail"]


async def test_size_limit_and_timeout(data_dir: Path, nats_url: str) -> None:
    settings = make_settings(
        data_dir, nats_url, verification_max_upload_bytes=100_000, verification_timeout_seconds=0
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            big = await _verify(client, b"%PDF-1.7\n" + b"0" * 200_000)
            assert big.status_code == 413
            assert "terlalu besar" in big.json()["detail"]
            # A file just over the limit, in a body within the multipart allowance.
            over = await _verify(client, b"%PDF-1.7\n" + b"0" * 100_000)
            assert over.status_code == 413

            # No Content-Length (chunked): reading stops soon after the limit, not at the end.
            sent = 0
            chunk = b"0" * 16_384

            async def endless_upload() -> AsyncIterator[bytes]:
                nonlocal sent
                head = (
                    b'--b\r\nContent-Disposition: form-data; name="file"; '
                    b'filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n'
                )
                yield head
                for _ in range(1000):  # 16 MB if nobody stopped reading
                    sent += len(chunk)
                    yield chunk

            streamed = await client.post(
                "/api/v1/verifications",
                content=endless_upload(),
                headers={"content-type": "multipart/form-data; boundary=b"},
            )
            assert streamed.status_code == 413
            assert sent < 1_000_000

            letter = await app.state.runtime.issuer.issue(skd_request("app-timeout"))
            pdf = await app.state.runtime.issuer.read_pdf(letter)
            slow = await _verify(client, pdf)  # any real check takes longer than 0 s
            assert slow.status_code == 422
            assert "terlalu lama" in slow.json()["detail"]


async def test_a_letter_registered_with_more_of_the_nik_shows_only_its_last_four_digits(
    signing: RunningSigning,
) -> None:
    """Letters issued before kept the area code too (3213********0001): the JSON shows the
    last four digits of those as well; the page shows no NIK at all (initials instead)."""
    code, _, _ = await _issue(signing, "app-old-mask")
    async with signing.runtime.sessions() as session:
        letter = (
            await session.exec(select(Letter).where(col(Letter.verification_code) == code))
        ).one()
        letter.nik_masked = "3213********0001"
        session.add(letter)
        await session.commit()
    page = (await signing.http.get(f"/verifikasi/{code}")).text
    assert "0001" not in page and "3213*" not in page  # the page shows initials, no NIK
    body = (await signing.http.get(f"/api/v1/letters/{code}")).json()
    assert body["nik_masked"] == "************0001"
