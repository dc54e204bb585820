"""The trust anchor, for anyone who wants to check letters with their own PDF reader."""

from fastapi import APIRouter, Response

from services.signing.api.deps import RuntimeDep

router = APIRouter(tags=["pki"])


@router.get("/pki/root.pem", response_class=Response)
async def root_certificate(runtime: RuntimeDep) -> Response:
    return Response(
        runtime.signers.root_pem,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": 'inline; filename="root.pem"'},
    )
