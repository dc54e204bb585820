"""Revocation by the Kepala Desa: REST with a staff token, gRPC for services; the verification
page, the JSON and uploads show it; a public `letter.revoked` event leaves through the outbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar, cast

import grpc
import pytest
from nats.js.errors import NotFoundError
from smartdesa.v1 import signing_pb2, signing_pb2_grpc

from common.auth import InternalAuth, Principal, staff_token_issuer
from common.domain.events import LETTER_REVOKED
from common.events import PUBLIC_STREAM, public_subject
from common.rpc import SIGNING, WORKER, client_channel
from services.signing.models import Letter
from tests.signing.conftest import PAMANUKAN, RANCASARI, RunningSigning, skd_request

T = TypeVar("T")
REASON = "Data alamat pemohon keliru; surat diganti dengan yang baru."


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = 15.0) -> T:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result is not None:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


def _token(signing: RunningSigning, username: str, role: str, desa: str) -> dict[str, str]:
    issuer = staff_token_issuer(signing.settings, ttl_seconds=600)
    token = issuer.issue(Principal(kind="staff", subject=username, role=role, desa_code=desa))
    return {"Authorization": f"Bearer {token}"}


async def _issue(signing: RunningSigning, application_id: str) -> Letter:
    return await signing.runtime.issuer.issue(skd_request(application_id))


async def _revoke(
    signing: RunningSigning, letter_id: str, headers: dict[str, str], reason: str = REASON
) -> tuple[int, dict[str, object]]:
    response = await signing.http.post(
        f"/api/v1/letters/{letter_id}/revocation", json={"reason": reason}, headers=headers
    )
    return response.status_code, response.json()


async def _published(signing: RunningSigning, letter: Letter) -> dict[str, object]:
    subject = public_subject(letter.desa_code, LETTER_REVOKED)

    async def check() -> dict[str, object] | None:
        try:
            msg = await signing.runtime.nats.jetstream().get_last_msg(PUBLIC_STREAM, subject)
        except NotFoundError:
            return None
        data: dict[str, object] = json.loads(msg.data or b"{}")
        return data if data.get("letter_id") == letter.id else None

    return await eventually(check)


async def test_kades_revokes_and_everyone_sees_it(signing: RunningSigning) -> None:
    letter = await _issue(signing, "app-revoke")
    pdf = await signing.runtime.issuer.read_pdf(letter)
    kades = _token(signing, "kades.pamanukan", "kades", PAMANUKAN)
    status, body = await _revoke(signing, letter.id, kades)
    assert status == 200
    assert body["status"] == "revoked" and body["reason"] == REASON
    assert body["revoked_by"] == "kades.pamanukan"

    page = await signing.http.get(f"/verifikasi/{letter.verification_code}")
    assert page.status_code == 200
    assert "telah dicabut" in page.text and "Dicabut" in page.text
    assert REASON not in page.text  # the reason is for the desa, not the public
    as_json = (await signing.http.get(f"/api/v1/letters/{letter.verification_code}")).json()
    assert as_json["status"] == "revoked" and as_json["revoked_at"]
    twin = await signing.http.get(
        f"/verifikasi/{letter.verification_code}", headers={"Accept": "application/json"}
    )
    assert twin.json() == as_json

    upload = await signing.http.post(
        "/api/v1/verifications", files={"file": ("surat.pdf", pdf, "application/pdf")}
    )
    result = upload.json()
    assert result["signature_valid"] and result["conclusion"] == "invalid"
    assert "dicabut" in result["message"]

    event = await _published(signing, letter)
    assert event["status"] == "revoked" and event["letter_number"] == letter.number
    assert event["desa_code"] == PAMANUKAN and event["kecamatan_code"] == "32.13.11"
    text = json.dumps(event)
    for private in ("3213115705900001", "Siti", REASON, "kades.pamanukan"):
        assert private not in text

    # Again: the same answer, no second event, the first revocation stands.
    again_status, again = await _revoke(signing, letter.id, kades, "Alasan lain sama sekali.")
    assert again_status == 200 and again["reason"] == REASON
    assert again["revoked_at"] == body["revoked_at"]
    async with signing.runtime.sessions() as session:
        from sqlmodel import select

        from common.outbox import OutboxEvent

        events = (await session.exec(select(OutboxEvent))).all()
    assert [e.ce_type.endswith("letter.revoked.v1") for e in events] == [True]


async def test_only_the_kades_of_the_letters_desa_may_revoke(signing: RunningSigning) -> None:
    letter = await _issue(signing, "app-guard")
    sekdes = _token(signing, "sekdes.pamanukan", "sekdes", PAMANUKAN)
    status, body = await _revoke(signing, letter.id, sekdes)
    assert status == 403 and "Kepala Desa" in str(body["detail"])
    other_kades = _token(signing, "kades.rancasari", "kades", RANCASARI)
    status, body = await _revoke(signing, letter.id, other_kades)
    assert status == 404  # another desa's letter is not theirs to see
    kades = _token(signing, "kades.pamanukan", "kades", PAMANUKAN)
    status, body = await _revoke(signing, letter.id, kades, "  ")
    assert status == 422 and "Alasan" in str(body["detail"])
    status, _ = await _revoke(signing, "no-such-letter", kades)
    assert status == 404

    anonymous = await signing.http.post(
        f"/api/v1/letters/{letter.id}/revocation", json={"reason": REASON}
    )
    assert anonymous.status_code == 401
    forged = await signing.http.post(
        f"/api/v1/letters/{letter.id}/revocation",
        json={"reason": REASON},
        headers={"Authorization": "Bearer not.a.token"},
    )
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"
    page = await signing.http.get(f"/verifikasi/{letter.verification_code}")
    assert "Berlaku" in page.text  # nothing changed


@pytest.fixture
async def stub(signing: RunningSigning) -> AsyncIterator[signing_pb2_grpc.SigningServiceAsyncStub]:
    auth = InternalAuth.from_settings(signing.settings, WORKER)
    target = f"127.0.0.1:{signing.runtime.grpc_server.port}"
    async with client_channel(target, auth, SIGNING) as channel:
        yield cast(
            "signing_pb2_grpc.SigningServiceAsyncStub", signing_pb2_grpc.SigningServiceStub(channel)
        )


async def test_revoke_over_grpc(
    signing: RunningSigning, stub: signing_pb2_grpc.SigningServiceAsyncStub
) -> None:
    letter = await _issue(signing, "app-grpc-revoke")
    request = signing_pb2.RevokeLetterRequest(
        letter_id=letter.id, desa_code=PAMANUKAN, actor_username="kades.pamanukan", reason=REASON
    )
    cases = [
        (signing_pb2.RevokeLetterRequest(**{**_fields(request), "desa_code": RANCASARI}), "NF"),
        (signing_pb2.RevokeLetterRequest(**{**_fields(request), "reason": ""}), "IA"),
        (signing_pb2.RevokeLetterRequest(**{**_fields(request), "letter_id": "x"}), "NF"),
    ]
    codes = {"NF": grpc.StatusCode.NOT_FOUND, "IA": grpc.StatusCode.INVALID_ARGUMENT}
    for bad, code in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RevokeLetter(bad)
        assert err.value.code() == codes[code]
    revoked = await stub.RevokeLetter(request)
    assert (revoked.letter_id, revoked.number) == (letter.id, letter.number)
    page = await signing.http.get(f"/verifikasi/{letter.verification_code}")
    assert "telah dicabut" in page.text
    event = await _published(signing, letter)
    assert event["letter_id"] == letter.id


def _fields(request: signing_pb2.RevokeLetterRequest) -> dict[str, str]:
    return {
        "letter_id": request.letter_id,
        "desa_code": request.desa_code,
        "actor_username": request.actor_username,
        "reason": request.reason,
    }
