"""Hostile uploads to the public verification endpoint are refused clearly, and the service
keeps answering: the check runs in a fresh process with memory, CPU and wall-clock limits."""

import asyncio
import multiprocessing

import httpx
import pytest

from services.signing.pdf_verification import PdfChecker, TooComplex
from tests.signing import hostile
from tests.signing.conftest import RunningSigning, skd_request

PDF = "application/pdf"

HOSTILE = {
    "deeply-nested": hostile.deeply_nested,
    "object-stream-bomb": hostile.object_stream_bomb,
    "huge-object-stream": hostile.huge_object_stream,
    "garbage": hostile.garbage_after_header,
}


async def _verify(client: httpx.AsyncClient, content: bytes) -> httpx.Response:
    return await client.post("/api/v1/verifications", files={"file": ("x.pdf", content, PDF)})


async def _valid_letter(signing: RunningSigning, application_id: str) -> bytes:
    issuer = signing.runtime.issuer
    return await issuer.read_pdf(await issuer.issue(skd_request(application_id)))


@pytest.mark.parametrize("kind", sorted(HOSTILE))
async def test_hostile_file_is_refused_and_the_service_stays_up(
    signing: RunningSigning, kind: str
) -> None:
    response = await _verify(signing.http, HOSTILE[kind]())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].rsplit("/", 1)[1] in ("malformed-pdf", "verification-limit")
    assert "tidak dapat diperiksa" in body["detail"]
    # The service is still here and still checks real letters.
    good = await _verify(signing.http, await _valid_letter(signing, f"app-after-{kind}"))
    assert good.status_code == 200 and good.json()["conclusion"] == "valid"


async def test_many_hostile_uploads_at_once(signing: RunningSigning) -> None:
    uploads = [f() for f in HOSTILE.values()] * 2
    responses = await asyncio.gather(*(_verify(signing.http, u) for u in uploads))
    assert [r.status_code for r in responses] == [422] * len(uploads)
    assert (await signing.http.get("/healthz")).status_code == 200
    assert multiprocessing.active_children() == []  # every checker process is gone


async def test_a_check_that_needs_too_much_memory_is_stopped(signing: RunningSigning) -> None:
    pdf = await _valid_letter(signing, "app-memory")
    roots = [signing.runtime.signers.root_cert_asn1]
    starved = PdfChecker(roots, timeout_seconds=60, memory_limit_bytes=32 * 1024**2, concurrency=1)
    with pytest.raises(TooComplex):
        await starved.check(pdf, [])
    roomy = PdfChecker(roots, timeout_seconds=60, memory_limit_bytes=768 * 1024**2, concurrency=1)
    assert (await roomy.check(pdf, [])).conclusion == "valid"


async def test_a_check_past_its_time_is_killed(signing: RunningSigning) -> None:
    pdf = await _valid_letter(signing, "app-slow")
    roots = [signing.runtime.signers.root_cert_asn1]
    hurried = PdfChecker(roots, timeout_seconds=0, memory_limit_bytes=768 * 1024**2, concurrency=1)
    with pytest.raises(TooComplex):
        await hurried.check(pdf, [])
    assert multiprocessing.active_children() == []
