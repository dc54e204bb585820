"""PAdES signatures with pyHanko.

Every letter gets one certification signature (DocMDP level 2, "form filling and signing": any
later change but another signature is detected) with subfilter /ETSI.CAdES.detached and a visible stamp: the signer's jabatan, "a.n."
when signing on behalf of the Kepala Desa, the date in WIB and a QR code to the verification
page. The level is configuration:

- B-B: the signature alone;
- B-LTA (dev profile default): a timestamp from our TSA inside the signature, the certificates
  and CRLs in the document security store (DSS), and a document timestamp over all of it, so
  the letter can be checked offline long after the certificates expire.

A letter that goes through the kecamatan then gets a second, approval signature from the
camat ("Mengetahui", `PadesEngine.approve`): a new signature field after the certification,
which level 2 permits and level 1 ("no changes") would not. Its stamp carries the kecamatan's
register number, so the number is on the page without touching the certified content.

`PadesEngine` is built once per process (key objects, TSA client, trust roots, CRLs) and reused
for every letter; it is synchronous and CPU-bound: run it off the event loop.
"""

import time
from dataclasses import dataclass
from enum import StrEnum
from io import BytesIO
from typing import Any

import httpx
import qrcode
from asn1crypto import crl as asn1_crl
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.qr import PdfStreamQRImage
from pyhanko.pdf_utils.writer import init_xobject_dictionary
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.stamp import QRStampStyle
from pyhanko.stamp.qr import QRStamp
from pyhanko_certvalidator import ValidationContext

SIGNATURE_FIELD = "TTE"
SIGNATURE_REASON = "Tanda tangan elektronik surat keterangan"
# The camat's approval signature ("mengetahui") on a letter the Kades certified.
APPROVAL_FIELD = "TTE-Camat"
APPROVAL_REASON = "Mengetahui (Camat)"
# Certification level: form filling and signing only (PDF 32000 DocMDP P=2), so the camat's
# approval signature keeps the letter valid while any other change invalidates it.
CERTIFICATION_PERMISSIONS = fields.MDPPerm.FILL_FORMS

# Where the stamp goes: the letter templates reserve a box in the signature block, between
# the jabatan and the printed name, and mark it with a link to the letter's verification
# address (so the stamp is also a link); the link's rectangle is the stamp's place. A PDF
# without that mark gets the stamp at the foot of its first page (PDF points, origin bottom
# left).
STAMP_BOX = (71, 6, 400, 68)

# The QR code carries the verification address; the text stays short so the stamp (scaled to
# fit the box) keeps a QR code big enough to scan.
STAMP_TEXT = (
    "Ditandatangani secara elektronik oleh\n%(signer_name)s\n%(signer_line)s\n%(signed_at)s"
)
# The camat's stamp: "Mengetahui", the jabatan, the kecamatan's register number, the date.
APPROVAL_STAMP_TEXT = (
    "Mengetahui,\n%(signer_line)s\n%(signer_name)s\nNo. Reg. %(register_number)s\n%(signed_at)s"
)

# Any of the eight QR mask patterns makes a valid code; choosing one instead of scoring all
# eight (what qrcode does by default) saves most of the QR's cost on every letter.
QR_MASK_PATTERN = 2


class _QRStamp(QRStamp):
    """pyHanko's QR stamp with a fixed mask pattern (its `_qr_xobject`, otherwise unchanged)."""

    def _qr_xobject(self) -> tuple[Any, int]:
        qr = qrcode.QRCode(
            error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=QR_MASK_PATTERN
        )
        qr.add_data(self.url)
        qr.make()
        command_stream = qr.make_image(image_factory=PdfStreamQRImage).render_command_stream()
        bbox_size = (qr.modules_count + 2 * qr.border) * qr.box_size
        qr_xobj = init_xobject_dictionary(command_stream, bbox_size, bbox_size)
        qr_xobj.compress()  # type: ignore[no-untyped-call]
        assert self.writer is not None
        return self.writer.add_object(qr_xobj), bbox_size


class _QRStampStyle(QRStampStyle):
    def create_stamp(self, writer: Any, box: Any, text_params: dict[str, Any]) -> _QRStamp:
        url = text_params.pop("url")
        return _QRStamp(writer, style=self, url=url, text_params=text_params, box=box)


# How long one trust context (validation time, CRLs) is reused before it is rebuilt.
CONTEXT_TTL_SECONDS = 60.0


class PadesLevel(StrEnum):
    B_B = "B-B"
    B_LTA = "B-LTA"


@dataclass(frozen=True)
class StampText:
    """What the visible stamp says. No NIK, nothing about the resident."""

    signer_line: str  # e.g. "a.n. Kepala Desa Pamanukan, Sekretaris Desa"
    signed_at_wib: str  # e.g. "28 November 2026, 15.04 WIB"
    verification_url: str  # also the QR code
    signer_name: str = ""


def _pages(node: Any) -> list[Any]:
    node = node.get_object()
    if node.get("/Type") == "/Pages":
        return [page for kid in node["/Kids"] for page in _pages(kid)]
    return [node]


def stamp_place(reader: Any, verification_url: str) -> tuple[int, tuple[int, int, int, int]]:
    """(page index, box) of the place the letter reserves for its stamp: the rectangle of its
    link to `verification_url` (see STAMP_BOX)."""
    for index, page in enumerate(_pages(reader.root["/Pages"])):
        for ref in page.get("/Annots", []):
            annot = ref.get_object()
            action = annot.get("/A")
            if annot.get("/Subtype") != "/Link" or action is None:
                continue
            if str(action.get_object().get("/URI", "")) == verification_url:
                x1, y1, x2, y2 = (round(float(v)) for v in annot["/Rect"])
                return index, (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    return 0, STAMP_BOX


class HttpxTimeStamper(TimeStamper):
    """RFC 3161 over HTTP with httpx (the project's HTTP client). One POST, no retries: a failed
    timestamp fails the signature, and the caller decides."""

    def __init__(
        self, url: str, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._url = url
        self._client = httpx.Client(timeout=timeout, transport=transport)

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            response = self._client.post(
                self._url,
                content=req.dump(),
                headers={"Content-Type": "application/timestamp-query"},
            )
        except httpx.HTTPError as exc:
            raise TimestampRequestError("timestamp authority unreachable") from exc
        if response.status_code != 200 or (
            response.headers.get("content-type") != "application/timestamp-reply"
        ):
            raise TimestampRequestError(f"timestamp authority answered {response.status_code}")
        return tsp.TimeStampResp.load(response.content)


def signature_metadata(
    location: str,
    level: PadesLevel = PadesLevel.B_B,
    validation_context: ValidationContext | None = None,
) -> signers.PdfSignatureMetadata:
    lta = level == PadesLevel.B_LTA
    return signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,  # /ETSI.CAdES.detached, not the adbe default
        md_algorithm="sha256",
        certify=True,
        docmdp_permissions=CERTIFICATION_PERMISSIONS,
        reason=SIGNATURE_REASON,
        location=location,
        embed_validation_info=lta,
        use_pades_lta=lta,
        validation_context=validation_context if lta else None,
    )


def approval_reason(register_number: str) -> str:
    """The approval signature's reason, with the kecamatan's register number: readable in the
    signature itself by any validator, whoever drew the stamp (BSrE draws it as an image)."""
    if not register_number:
        return APPROVAL_REASON
    return f"{APPROVAL_REASON} · No. register {register_number}"


def approval_metadata(
    location: str,
    level: PadesLevel = PadesLevel.B_B,
    validation_context: ValidationContext | None = None,
    reason: str = APPROVAL_REASON,
) -> signers.PdfSignatureMetadata:
    """The camat's approval signature: not a certification, same PAdES profile and level."""
    lta = level == PadesLevel.B_LTA
    return signers.PdfSignatureMetadata(
        field_name=APPROVAL_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        embed_validation_info=lta,
        use_pades_lta=lta,
        validation_context=validation_context if lta else None,
    )


@dataclass(frozen=True)
class ApprovalStamp:
    """What the camat's stamp says. No NIK, nothing about the resident."""

    signer_line: str  # e.g. "Camat Pamanukan"
    signer_name: str
    register_number: str  # the kecamatan's register number of this letter
    signed_at_wib: str
    verification_url: str


def approval_place(reader: Any, verification_url: str) -> tuple[int, tuple[int, int, int, int]]:
    """Where the camat's stamp goes: on the page of the Kades' stamp, the same height, to its
    left (where "Mengetahui, Camat" stands on a paper letter); below it if there is no room."""
    page, (x1, y1, x2, y2) = stamp_place(reader, verification_url)
    width = x2 - x1
    if x1 - width - 12 >= 36:
        return page, (x1 - width - 12, y1, x1 - 12, y2)
    height = y2 - y1
    return page, (x1, max(6, y1 - height - 6), x2, max(6, y1 - height - 6) + height)


def with_approval_field(pdf: bytes, verification_url: str) -> bytes:
    """The letter with the camat's empty signature field placed, as a revision of its own
    before the certification (which then covers it)."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    page, box = approval_place(writer.prev, verification_url)
    fields.append_signature_field(
        writer, fields.SigFieldSpec(APPROVAL_FIELD, on_page=page, box=box)
    )
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


class PadesEngine:
    """Signs letters at one PAdES level with the trust material given once."""

    def __init__(
        self,
        level: PadesLevel,
        trust_roots: list[asn1_x509.Certificate],
        timestamper: TimeStamper | None = None,
        crls: list[bytes] | None = None,
        other_certs: list[asn1_x509.Certificate] | None = None,
        allow_fetching: bool = False,
        stamp_box: tuple[int, int, int, int] | None = None,  # None: where the letter says
        bytes_reserved: int | None = None,
    ) -> None:
        if level == PadesLevel.B_LTA and timestamper is None:
            raise ValueError("PAdES B-LTA needs a timestamp authority")
        self.level = level
        self._roots = trust_roots
        self._timestamper = timestamper
        self._crls = [asn1_crl.CertificateList.load(c) for c in crls or []]
        self._other_certs = other_certs or []
        self._allow_fetching = allow_fetching
        self._stamp_box = stamp_box
        # Room for the CMS (hex digits). None: pyHanko signs a dry run first to measure it,
        # which costs nearly a second signature; known keys and chains can skip that.
        self._bytes_reserved = bytes_reserved
        self._style = _QRStampStyle(stamp_text=STAMP_TEXT, border_width=1)
        self._approval_style = _QRStampStyle(stamp_text=APPROVAL_STAMP_TEXT, border_width=1)
        self._context: ValidationContext | None = None
        self._context_built = 0.0

    def update_crls(self, crls: list[bytes]) -> None:
        self._crls = [asn1_crl.CertificateList.load(c) for c in crls]
        self._context = None

    def _validation_context(self) -> ValidationContext:
        # Reused for a minute: building one is cheap, but it caches path and revocation checks,
        # which is what makes the second letter cheaper than the first. Rebuilt so its
        # validation time (fixed at construction) stays current.
        now = time.monotonic()
        if self._context is None or now - self._context_built > CONTEXT_TTL_SECONDS:
            self._context = ValidationContext(
                trust_roots=self._roots,
                other_certs=self._other_certs,
                crls=self._crls,
                allow_fetching=self._allow_fetching,
                revocation_mode="hard-fail",
            )
            self._context_built = now
        return self._context

    def sign(
        self,
        pdf: bytes,
        signer: signers.Signer,
        location: str,
        stamp: StampText,
        approval_field: bool = False,
    ) -> bytes:
        """The certification signature. `approval_field`: the letter goes through the kecamatan,
        so an empty signature field for the camat is placed first and certified with the
        letter: under DocMDP level 2 a later signature may fill an existing field, while a new
        visible field after certification is a change validators (pyHanko's default policy
        among them) refuse."""
        if approval_field:
            # A revision of its own, before the certification (which covers it).
            pdf = with_approval_field(pdf, stamp.verification_url)
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        context = self._validation_context() if self.level == PadesLevel.B_LTA else None
        if self._stamp_box is None:
            page, box = stamp_place(writer.prev, stamp.verification_url)
        else:
            page, box = 0, self._stamp_box
        pdf_signer = signers.PdfSigner(
            signature_metadata(location, self.level, context),
            signer=signer,
            timestamper=self._timestamper,
            stamp_style=self._style,
            new_field_spec=fields.SigFieldSpec(SIGNATURE_FIELD, on_page=page, box=box),
        )
        out = BytesIO()
        pdf_signer.sign_pdf(
            writer,
            output=out,
            bytes_reserved=self._bytes_reserved,
            appearance_text_params={
                "url": stamp.verification_url,
                "signer_line": stamp.signer_line,
                "signer_name": stamp.signer_name,
                "signed_at": stamp.signed_at_wib,
            },
        )
        return out.getvalue()

    def approve(
        self,
        pdf: bytes,
        signer: signers.Signer,
        location: str,
        stamp: ApprovalStamp,
        reason: str | None = None,
    ) -> bytes:
        """The camat's approval signature on a letter already certified with an empty camat field
        (incremental update: the Kades' signature and its LTA material stay as they are)."""
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        context = self._validation_context() if self.level == PadesLevel.B_LTA else None
        # Into the empty field the certification reserved (see `sign`).
        pdf_signer = signers.PdfSigner(
            approval_metadata(
                location, self.level, context, reason or approval_reason(stamp.register_number)
            ),
            signer=signer,
            timestamper=self._timestamper,
            stamp_style=self._approval_style,
        )
        out = BytesIO()
        pdf_signer.sign_pdf(
            writer,
            output=out,
            bytes_reserved=self._bytes_reserved,
            appearance_text_params={
                "url": stamp.verification_url,
                "signer_line": stamp.signer_line,
                "signer_name": stamp.signer_name,
                "register_number": stamp.register_number,
                "signed_at": stamp.signed_at_wib,
            },
        )
        return out.getvalue()


def sign_pdf(pdf: bytes, signer: signers.Signer, location: str, stamp: StampText) -> bytes:
    """PAdES B-B with no trust material: for tests and tools."""
    return PadesEngine(PadesLevel.B_B, []).sign(pdf, signer, location, stamp)
