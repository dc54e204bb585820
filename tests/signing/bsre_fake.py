"""A local HTTP server speaking the BSrE Esign Client Service v2 `sign/pdf` shape, signing with
a PKI of its own (standing in for BSrE's CA). It records what it was sent, except the
passphrase, which it only compares."""

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko_certvalidator.registry import SimpleCertificateStore

from services.signing.pades import ApprovalStamp, PadesEngine, PadesLevel, StampText
from services.signing.pki import CachedKeySigner, DevSigner, build_root_cert, build_signer_cert

USERNAME = "esign-subang"
PASSWORD = "client-service-secret"
NIK = "3213110101700001"
# A second holder (a camat), for letters two BSrE signers sign: their own key and passphrase.
CAMAT_NIK = "3213110101700002"


def _asn1(pem: bytes) -> asn1_x509.Certificate:
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    return asn1_x509.Certificate.load(der)


class BsrePki:
    """A CA of its own, named unlike the kabupaten's, and a key per holder (the Kades', and a
    camat's)."""

    def __init__(self) -> None:
        self._root_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake BSrE Root CA")])
        self.root_pem = build_root_cert(self._root_key, name)
        self._root = x509.load_pem_x509_certificate(self.root_pem)
        self.root_cert_asn1 = _asn1(self.root_pem)
        self.signer = self._holder(
            DevSigner("bsre", "Pamanukan", "Subang", "kades", "Dadang Suhendar")
        )
        self.signers = {
            NIK: self.signer,
            CAMAT_NIK: self._holder(
                DevSigner("bsre-kec", "Pamanukan", "Subang", "camat", "Asep Sunandar")
            ),
        }

    def _holder(self, holder: DevSigner) -> CachedKeySigner:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = build_signer_cert(
            holder, key.public_key(), self._root, self._root_key, "http://bsre.invalid/crl"
        )
        registry = SimpleCertificateStore.from_certs([self.root_cert_asn1])  # type: ignore[no-untyped-call]
        return CachedKeySigner(_asn1(leaf), key, registry)


@dataclass
class FakeBsre:
    registry: BsrePki
    passphrase: str
    mode: str = "ok"  # ok | slow | unavailable | unsigned | names-signer
    delay_seconds: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    # The second holder's passphrase (CAMAT_NIK); None: BSrE does not know them.
    camat_passphrase: str | None = None

    def passphrase_of(self, nik: str) -> str | None:
        return self.passphrase if nik == NIK else self.camat_passphrase

    def sign(self, pdf: bytes, nik: str = NIK, reason: str | None = None) -> bytes:
        engine = PadesEngine(PadesLevel.B_B, [self.registry.root_cert_asn1])
        signer = self.registry.signers[nik]
        if PdfFileReader(BytesIO(pdf), strict=False).embedded_signatures:
            # A certified letter with the camat's empty field: signed into that field (what
            # the adapter asks of BSrE for a "mengetahui").
            approval = ApprovalStamp("BSrE", "", "", "-", "https://bsre.example.test")
            return engine.approve(pdf, signer, "BSrE", approval, reason=reason)
        stamp = StampText("BSrE", "-", "https://bsre.example.test")
        return engine.sign(pdf, signer, "BSrE", stamp)


def _handler(fake: FakeBsre) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
            expected_passphrase = fake.passphrase_of(str(body.get("nik")))
            passphrase_ok = expected_passphrase is not None and (
                body.get("passphrase") == expected_passphrase
            )
            record = {k: v for k, v in body.items() if k not in ("passphrase", "file")}
            record["path"] = self.path
            record["authorized"] = self.headers.get("Authorization") == expected
            record["files"] = len(body.get("file", []))
            fake.requests.append(record)
            if self.path != "/api/v2/sign/pdf" or not record["authorized"]:
                self._answer(401, {"status_code": 401, "error": "Unauthorized"})
                return
            if fake.mode == "slow":
                time.sleep(fake.delay_seconds)
            if fake.mode == "unavailable":
                self._answer(503, {"status_code": 503, "error": "Service Unavailable"})
                return
            if fake.mode == "names-signer":  # some answers quote whom they are about
                self._answer(
                    400,
                    {"status_code": 2051, "error": f"Sertifikat NIK {NIK} tidak aktif"},
                )
                return
            if fake.passphrase_of(str(body.get("nik"))) is None:
                self._answer(400, {"status_code": 2021, "error": "NIK tidak terdaftar"})
                return
            if not passphrase_ok:
                self._answer(400, {"status_code": 2031, "error": "Passphrase anda salah"})
                return
            pdf = base64.b64decode(body["file"][0])
            signed = (
                pdf
                if fake.mode == "unsigned"
                else fake.sign(pdf, body["nik"], body["signatureProperties"][0].get("reason"))
            )
            self._answer(200, {"file": [base64.b64encode(signed).decode()], "time": 1234})

    return Handler


@contextmanager
def fake_bsre(passphrase: str, camat_passphrase: str | None = None) -> Iterator[FakeBsre]:
    fake = FakeBsre(BsrePki(), passphrase, camat_passphrase=camat_passphrase)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
