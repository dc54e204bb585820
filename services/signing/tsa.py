"""The dev profile's own timestamp authority (RFC 3161).

pyHanko's in-process timestamper (`DummyTimeStamper`) builds the TimeStampResp; this subclass
signs the token with the TSA's EC key, parsed once, instead of re-parsing an RSA key per token.
The same object serves `POST /tsa` over HTTP and, in process, stamps the letters this service
signs (one loopback HTTP hop less per timestamp, same key, same certificate, same tokens).
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.general import as_signing_certificate, simple_cms_attribute
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from services.signing.pki import TsaKeys

log = logging.getLogger(__name__)

# Digest algorithms a request may use for its message imprint.
ACCEPTED_DIGESTS = frozenset({"sha256", "sha384", "sha512"})
MAX_REQUEST_BYTES = 8 * 1024

_attribute: Callable[[str, object], cms.CMSAttribute] = simple_cms_attribute


class BadTimestampRequest(ValueError):
    """The body is not a DER TimeStampReq."""


class TimestampAuthority(DummyTimeStamper):
    def __init__(self, keys: TsaKeys, chain: list[asn1_x509.Certificate]) -> None:
        # tsa_key is only read by the RSA code path we override.
        super().__init__(
            tsa_cert=keys.certificate,
            tsa_key=None,
            certs_to_embed=SimpleCertificateStore.from_certs(chain),  # type: ignore[no-untyped-call]
        )
        self._key: ec.EllipticCurvePrivateKey = keys.key
        # The same in every token, and the costliest attribute to build with asn1crypto: built
        # once, then parsed from its DER per token (so dumped byte for byte).
        self._signing_certificate = _attribute(
            "signing_certificate", as_signing_certificate(keys.certificate)
        ).dump()

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        hash_algorithm = get_pyca_cryptography_hash(md_algorithm)
        digest = hashes.Hash(hash_algorithm)
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                _attribute("content_type", "tst_info"),
                _attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                cms.CMSAttribute.load(self._signing_certificate),
                _attribute("message_digest", digest.finalize()),
            ]
        )
        signature = self._key.sign(signed_attrs.dump(), ec.ECDSA(hash_algorithm))
        return signature, signed_attrs

    def _build_signed_data(
        self,
        tst_info_data: bytes,
        md_algorithm: str,
        signature: bytes,
        signed_attrs: cms.CMSAttributes,
    ) -> dict[str, Any]:
        data: dict[str, Any] = super()._build_signed_data(
            tst_info_data, md_algorithm, signature, signed_attrs
        )
        (signer_info,) = data["signer_infos"]
        signer_info["signature_algorithm"] = algos.SignedDigestAlgorithm(
            {"algorithm": f"{md_algorithm}_ecdsa"}
        )
        return data

    def respond(self, body: bytes) -> bytes:
        """One HTTP exchange: a DER TimeStampReq in, a DER TimeStampResp out. Requests we will
        not stamp get a `rejection` response (RFC 3161 2.4.2), not an HTTP error."""
        if len(body) > MAX_REQUEST_BYTES:
            raise BadTimestampRequest("request too large")
        try:
            req = tsp.TimeStampReq.load(body, strict=True)
            algorithm = req["message_imprint"]["hash_algorithm"]["algorithm"].native
            imprint = req["message_imprint"]["hashed_message"].native
            req["nonce"].native  # noqa: B018  (parses it: a broken nonce fails here)
        except (ValueError, TypeError, KeyError) as exc:
            raise BadTimestampRequest(str(exc)) from exc
        if algorithm not in ACCEPTED_DIGESTS or len(imprint) * 8 < 256:
            return _rejection("bad_alg", "unsupported message imprint")
        response: tsp.TimeStampResp = self.request_tsa_response(req)
        return bytes(response.dump())


def _rejection(failure: str, text: str) -> bytes:
    """A TimeStampResp with only a status. asn1crypto's TimeStampResp insists on a token (RFC
    3161 makes it optional), so the outer SEQUENCE is written by hand around the status."""
    status: bytes = tsp.PKIStatusInfo(
        {
            "status": tsp.PKIStatus("rejection"),
            "status_string": [text],
            "fail_info": tsp.PKIFailureInfo({failure}),
        }
    ).dump()
    return b"\x30" + _der_length(len(status)) + status


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body
