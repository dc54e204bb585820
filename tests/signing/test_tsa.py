"""The service's own timestamp authority (POST /tsa, RFC 3161) and CRL (GET /pki/crl)."""

import hashlib

import httpx
from asn1crypto import algos, core, tsp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

from tests.signing.conftest import RunningSigning

QUERY = {"content-type": "application/timestamp-query"}


class AsgiTimeStamper(TimeStamper):
    """pyHanko's client logic (nonce, response checks) over the test's HTTP client."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._client = client

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        response = await self._client.post("/tsa", content=req.dump(), headers=QUERY)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/timestamp-reply"
        return tsp.TimeStampResp.load(response.content)


async def test_tsa_stamps_a_digest_with_a_token_that_validates(signing: RunningSigning) -> None:
    digest = hashlib.sha256(b"surat keterangan").digest()
    token = await AsgiTimeStamper(signing.http).async_timestamp(digest, "sha256")
    signed_data = token["content"]
    info = signed_data["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    root = signing.runtime.signers.root_cert_asn1
    status = TimestampSignatureStatus(
        **await validate_tst_signed_data(
            signed_data, ValidationContext(trust_roots=[root]), lambda _algo: digest
        )
    )
    assert status.intact and status.valid and status.trusted
    assert status.signing_cert.subject.native["common_name"].startswith("Timestamp Authority")


def _request(algorithm: str, imprint: bytes) -> bytes:
    request: bytes = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": tsp.MessageImprint(
                {
                    "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
                    "hashed_message": imprint,
                }
            ),
            "nonce": 12345,
            "cert_req": True,
        }
    ).dump()
    return request


async def test_tsa_refuses_weak_digests_and_garbage(signing: RunningSigning) -> None:
    weak = await signing.http.post("/tsa", content=_request("sha1", b"\x00" * 20), headers=QUERY)
    assert weak.status_code == 200  # RFC 3161 answers with a status, not an HTTP error
    # A status and no token (asn1crypto's TimeStampResp wants a token, so read it by hand).
    answer = tsp.PKIStatusInfo.load(core.Asn1Value.load(weak.content).contents)
    assert answer["status"].native == "rejection"
    assert answer["fail_info"].native == {"bad_alg"}

    garbage = await signing.http.post("/tsa", content=b"not DER at all", headers=QUERY)
    assert garbage.status_code == 400
    assert garbage.headers["content-type"] == "application/problem+json"
    wrong_type = await signing.http.post("/tsa", content=_request("sha256", b"\x00" * 32))
    assert wrong_type.status_code == 415
    huge = await signing.http.post("/tsa", content=b"\x30" * 100_000, headers=QUERY)
    assert huge.status_code == 413


async def test_crl_is_published_signed_by_the_root(signing: RunningSigning) -> None:
    response = await signing.http.get("/pki/crl")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    root = signing.runtime.signers.root_cert
    root_key = root.public_key()
    assert isinstance(root_key, ec.EllipticCurvePublicKey)
    assert crl.issuer == root.subject and crl.is_signature_valid(root_key)
    # The address printed in the certificates is this endpoint's public address.
    signer = signing.runtime.signers.get("32.13.11.2004", "kades")
    assert signer is not None
    cdp = signer.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    (point,) = cdp.value
    assert [n.value for n in point.full_name or []] == [signing.settings.crl_url]
    assert signing.settings.crl_url.endswith("/pki/crl")
