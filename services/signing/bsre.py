"""BSrE (Balai Sertifikasi Elektronik, BSSN) adapter for the Esign Client Service API v2.

`POST {base}/api/v2/sign/pdf` with JSON
    {"nik": ..., "passphrase": ..., "signatureProperties": [{"tampilan": "VISIBLE",
     "imageBase64": ..., "page": 1, "originX": ..., "originY": ..., "width": ..., "height": ...,
     "location": ..., "reason": ...}], "file": [<base64 PDF>]}
answers `{"file": [<base64 signed PDF>], "time": <ms>}`; errors come as a 4xx/5xx with
`{"status_code": ..., "error": ...}` or `{"message": ...}`. The client service is reached with
HTTP Basic credentials of the kabupaten's account.

Rules this adapter keeps:
- the passphrase travels in the one request that needs it and is never stored, logged or put
  in an exception message;
- a sign call is never retried automatically: BSrE may have signed (and counted, and may lock
  the certificate after wrong passphrases) even when the answer is lost, so a retry is a
  person's decision;
- what comes back is checked before it is accepted: a PDF whose signatures are intact.
"""

import asyncio
import base64
import logging
import re
import time
from dataclasses import dataclass, field
from io import BytesIO

import httpx
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from common.domain import SignerKind
from services.signing import rendering
from services.signing.pades import (
    StampText,
    approval_place,
    approval_reason,
    stamp_place,
    with_approval_field,
)
from services.signing.signers import ApprovalJob, SignatureJob, SignedLetter, SigningFailed

log = logging.getLogger(__name__)

SIGN_PATH = "/api/v2/sign/pdf"


@dataclass(frozen=True)
class BsreConfig:
    base_url: str
    username: str
    password: str = field(repr=False)
    # NIK of the certificate holder per "<desa code>:<role>" (registered with BSrE).
    niks: dict[str, str] = field(default_factory=dict, repr=False)
    timeout_seconds: float = 60.0


def _stamp_png(stamp: StampText) -> bytes:
    """The visible stamp as an image (BSrE draws an image, not text): QR code and the lines,
    the size of the box the letter reserves for it."""
    source = b"""
#set page(width: 8.5cm, height: 2.8cm, margin: 1mm)
#set text(size: 7pt)
#grid(columns: (2.6cm, 1fr), column-gutter: 2mm,
  image(bytes(sys.inputs.at("qr")), format: "svg", width: 2.6cm),
  align(horizon)[Ditandatangani secara elektronik oleh \\ #sys.inputs.at("name") \\
    #sys.inputs.at("line") \\ #sys.inputs.at("at") \\ #text(size: 5pt, sys.inputs.at("url"))])
"""
    import typst  # only here: the service does not hold it idle

    png: bytes = typst.compile(
        source,
        format="png",
        ppi=200,
        sys_inputs={
            "qr": rendering.qr_svg(stamp.verification_url),
            "name": stamp.signer_name,
            "line": stamp.signer_line,
            "at": stamp.signed_at_wib,
            "url": stamp.verification_url,
        },
    )
    return png


def _check_signed(pdf: bytes, roots: list[asn1_x509.Certificate]) -> None:
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=True)
        signatures = list(reader.embedded_signatures)
        if not signatures:
            raise SigningFailed("BSrE mengembalikan dokumen tanpa tanda tangan.")
        for sig in signatures:
            if sig.sig_object_type == "/DocTimeStamp":
                continue  # the certification's archive timestamps (a letter BSrE approved)
            # Integrity only: whether BSrE's chain is trusted is the verifier's question.
            context = ValidationContext(trust_roots=roots, allow_fetching=False)
            status = validate_pdf_signature(sig, context)
            if not status.intact or not status.valid:
                raise SigningFailed("BSrE mengembalikan tanda tangan yang tidak utuh.")
    except SigningFailed:
        raise
    except Exception as exc:
        raise SigningFailed("BSrE mengembalikan berkas yang bukan PDF yang dapat dibaca.") from exc


_LONG_NUMBER = re.compile(r"\d{8,}")  # a NIK (16 digits) or a phone number


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    text = body.get("error") or body.get("message") or ""
    # The text becomes a blocked letter's reason (staff, the resident's timeline, workflow
    # history); an answer quoting the signer's NIK must not carry it there.
    return _LONG_NUMBER.sub("…", str(text))[:200]


class BsreSigner:
    kind: SignerKind = SignerKind.BSRE

    def __init__(
        self,
        config: BsreConfig,
        trust_roots: list[asn1_x509.Certificate] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = config
        self._registered: dict[str, str] = {}  # "<code>:<role>" -> NIK, marked at runtime
        self._roots = trust_roots or []
        self._client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"),
            auth=httpx.BasicAuth(config.username, config.password),
            timeout=config.timeout_seconds,
            # httpx never retries a request that reached the server; connection retries off too.
            transport=transport or httpx.AsyncHTTPTransport(retries=0),
        )

    def _nik(self, desa_code: str, role: str) -> str | None:
        key = f"{desa_code}:{role}"
        return self._registered.get(key) or self._config.niks.get(key)

    def register(self, desa_code: str, role: str, nik: str) -> None:
        """A signer marked at runtime (signer_install.RemoteSigner): BSrE knows their
        certificate by `nik`. Wins over the setting's NIK for the same signer."""
        self._registered[f"{desa_code}:{role}"] = nik

    def can_sign(self, desa_code: str, role: str) -> bool:
        return self._nik(desa_code, role) is not None

    def roles_for(self, desa_code: str) -> list[str]:
        keys = {*self._config.niks, *self._registered}
        return sorted(k.split(":", 1)[1] for k in keys if k.startswith(f"{desa_code}:"))

    async def sign(self, job: SignatureJob) -> SignedLetter:
        nik = self._nik(job.desa_code, job.role)
        if nik is None:
            raise SigningFailed(
                f"Penandatangan {job.role} desa {job.desa_code} belum terdaftar di BSrE."
            )
        if not job.passphrase:
            raise SigningFailed("Passphrase TTE wajib diisi untuk menandatangani melalui BSrE.")
        start = time.perf_counter()
        pdf = await asyncio.to_thread(rendering.render_letter, job.content)
        if job.approval_field:
            # The camat's empty field, placed before BSrE certifies the letter: the camat's
            # approval (local keys or BSrE) fills it later, which DocMDP level 2 allows.
            pdf = await asyncio.to_thread(with_approval_field, pdf, job.stamp.verification_url)
        image = await asyncio.to_thread(_stamp_png, job.stamp)
        rendered = time.perf_counter()
        page, box = stamp_place(
            PdfFileReader(BytesIO(pdf), strict=False), job.stamp.verification_url
        )
        signed = await self._post(
            nik,
            job.passphrase,
            pdf,
            image,
            page,
            box,
            job.location,
            "Tanda tangan elektronik surat keterangan",
        )
        done = time.perf_counter()
        return SignedLetter(signed, (rendered - start) * 1000, (done - rendered) * 1000)

    async def approve(self, job: ApprovalJob) -> bytes:
        """The camat's "mengetahui" through BSrE, at the place of the empty signature field
        the Kades' certification reserved (pades.approval_place). BSrE must sign into that
        field: a new field after a DocMDP P=2 certification is a change validators refuse
        (to be confirmed with BSSN for the production API; the local test server does)."""
        nik = self._nik(job.kecamatan_code, job.role)
        if nik is None:
            raise SigningFailed(f"Camat kecamatan {job.kecamatan_code} belum terdaftar di BSrE.")
        if not job.passphrase:
            raise SigningFailed(
                "Passphrase TTE camat wajib diisi untuk menandatangani melalui BSrE."
            )
        stamp = StampText(
            signer_line=f"Mengetahui, {job.stamp.signer_line} · {job.stamp.register_number}",
            signed_at_wib=job.stamp.signed_at_wib,
            verification_url=job.stamp.verification_url,
            signer_name=job.stamp.signer_name,
        )
        image = await asyncio.to_thread(_stamp_png, stamp)
        page, box = approval_place(
            PdfFileReader(BytesIO(job.pdf), strict=False), job.stamp.verification_url
        )
        return await self._post(
            nik,
            job.passphrase,
            job.pdf,
            image,
            page,
            box,
            job.location,
            approval_reason(job.stamp.register_number),
        )

    async def _post(
        self,
        nik: str,
        passphrase: str,
        pdf: bytes,
        image: bytes,
        page: int,
        box: tuple[int, int, int, int],
        location: str,
        reason: str,
    ) -> bytes:
        """One sign call (never retried here), and the signed PDF checked."""
        x1, y1, x2, y2 = box
        payload = {
            "nik": nik,
            "passphrase": passphrase,
            "signatureProperties": [
                {
                    "tampilan": "VISIBLE",
                    "imageBase64": base64.b64encode(image).decode(),
                    "page": page + 1,
                    "originX": x1,
                    "originY": y1,
                    "width": x2 - x1,
                    "height": y2 - y1,
                    "location": location,
                    "reason": reason,
                }
            ],
            "file": [base64.b64encode(pdf).decode()],
        }
        try:
            response = await self._client.post(SIGN_PATH, json=payload)
        except httpx.TimeoutException as exc:
            # BSrE may have signed anyway: say so, and do not try again on our own.
            raise SigningFailed(
                "BSrE tidak menjawab tepat waktu; status penandatanganan tidak diketahui. "
                "Periksa di BSrE sebelum mencoba lagi."
            ) from exc
        except httpx.HTTPError as exc:
            raise SigningFailed("Layanan BSrE tidak dapat dihubungi.") from exc
        finally:
            del payload  # the passphrase goes no further than this request
        if response.status_code != 200:
            detail = _error_text(response)
            log.warning("BSrE refused to sign (HTTP %d)", response.status_code)
            raise SigningFailed(
                f"BSrE menolak penandatanganan (HTTP {response.status_code})"
                + (f": {detail}" if detail else ".")
            )
        try:
            files = response.json()["file"]
            signed = base64.b64decode(files[0], validate=True)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise SigningFailed("Jawaban BSrE tidak dapat dibaca.") from exc
        await asyncio.to_thread(_check_signed, signed, self._roots)
        return signed

    async def close(self) -> None:
        await self._client.aclose()
