"""The trust material, public: the root certificate, its CRL (the address printed in every
certificate), and the dev profile's timestamp authority (RFC 3161 over HTTP)."""

import asyncio

from fastapi import APIRouter, Request, Response

from common.http import Problem
from services.signing.api.deps import RuntimeDep
from services.signing.tsa import MAX_REQUEST_BYTES, BadTimestampRequest

router = APIRouter(tags=["pki"])


@router.get("/pki/root.pem", response_class=Response)
async def root_certificate(runtime: RuntimeDep) -> Response:
    return Response(
        runtime.signers.root_pem,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": 'inline; filename="root.pem"'},
    )


@router.get("/pki/crl", response_class=Response)
async def certificate_revocation_list(runtime: RuntimeDep) -> Response:
    crl = await asyncio.to_thread(runtime.crl)
    if crl is None:
        raise Problem(404, "Daftar pencabutan sertifikat belum tersedia.", code="crl-missing")
    return Response(
        crl,
        media_type="application/pkix-crl",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.post("/tsa", response_class=Response)
async def timestamp(request: Request, runtime: RuntimeDep) -> Response:
    if runtime.tsa is None:
        raise Problem(404, "Layanan cap waktu tidak tersedia.", code="tsa-unavailable")
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/timestamp-query"
    ):
        raise Problem(
            415, "Kirim permintaan RFC 3161 (application/timestamp-query).", code="tsa-query"
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            raise Problem(413, "Permintaan cap waktu terlalu besar.", code="tsa-too-large")
    try:
        reply = await asyncio.to_thread(runtime.tsa.respond, bytes(body))
    except BadTimestampRequest:
        raise Problem(
            400, "Permintaan cap waktu tidak dapat dibaca.", code="tsa-bad-request"
        ) from None
    return Response(reply, media_type="application/timestamp-reply")
