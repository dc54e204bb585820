"""Resumable uploads: chunks at the server's offset, resuming after a drop, the same checks as a
one-shot upload when the last byte arrives, nothing half-written on a refusal, expiry."""

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.requests import ClientDisconnect

from common.db import utcnow
from common.web import csrf_token_for
from services.intake.attachments import attachment_path
from services.intake.file_safety import MAX_ATTACHMENT_BYTES
from services.intake.models import Attachment, UploadSession
from services.intake.resumable import (
    CHUNK_BYTES,
    MAX_CHUNK_BYTES,
    UPLOAD_TTL,
    ChunkPosition,
    expire_uploads,
    receive_chunk,
)
from tests.intake import samples
from tests.intake.conftest import NIK_BUDI, PHONE_BUDI, Intake, problem

# A "scanned" PDF a little over two and a half chunks long.
CONTENT = samples.padded_pdf(CHUNK_BYTES * 3 + 12345, fill=os.urandom(4096))


async def _open(
    intake: Intake,
    headers: dict[str, str],
    application_id: str,
    kind: str = "KTP",
    size: int = len(CONTENT),
    content_type: str = "application/pdf",
) -> httpx.Response:
    return await intake.http.post(
        f"/api/v1/applications/{application_id}/uploads",
        json={
            "kind": kind,
            "filename": "C:\\foto\\ktp.pdf",
            "size_bytes": size,
            "content_type": content_type,
        },
        headers=headers,
    )


async def _put(
    intake: Intake, headers: dict[str, str], upload_id: str, offset: int, chunk: bytes
) -> httpx.Response:
    return await intake.http.put(
        f"/api/v1/uploads/{upload_id}",
        content=chunk,
        headers={
            **headers,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
    )


async def _offset(intake: Intake, headers: dict[str, str], upload_id: str) -> int:
    r = await intake.http.head(f"/api/v1/uploads/{upload_id}", headers=headers)
    assert r.status_code == 200, r.status_code
    assert r.headers["cache-control"] == "no-store"
    return int(r.headers["upload-offset"])


def _temp_files(intake: Intake, application_id: str) -> list[Path]:
    folder = intake.runtime.settings.attachments_dir / application_id
    return sorted(folder.glob(".*")) if folder.exists() else []


def _stored(intake: Intake, application_id: str, attachment: dict[str, Any]) -> bytes:
    """The stored file of `attachment` (as the API showed it), checked against its digest."""
    root = intake.runtime.settings.attachments_dir
    stored = attachment_path(root, application_id, attachment["id"]).read_bytes()
    assert attachment["size_bytes"] == len(stored)
    assert attachment["sha256"] == hashlib.sha256(stored).hexdigest()
    return stored


async def _attachments(intake: Intake, application_id: str) -> list[Attachment]:
    async with intake.runtime.sessions() as session:
        rows = await session.exec(
            select(Attachment).where(Attachment.application_id == application_id)
        )
        return list(rows.all())


async def _send_all(
    intake: Intake, headers: dict[str, str], upload_id: str, content: bytes, start: int = 0
) -> httpx.Response:
    offset = start
    while True:
        chunk = content[offset : offset + CHUNK_BYTES]
        r = await _put(intake, headers, upload_id, offset, chunk)
        assert r.status_code in (200, 201), r.text
        offset = r.json()["offset"]
        assert int(r.headers["upload-offset"]) == offset
        if r.status_code == 201:
            return r


@pytest.fixture
async def draft(intake: Intake) -> AsyncIterator[tuple[dict[str, str], str]]:
    headers = await intake.sign_in()
    yield headers, await intake.create_application(headers)


async def test_chunks_in_order_become_an_attachment(
    intake: Intake, draft: tuple[dict[str, str], str]
) -> None:
    headers, application_id = draft
    opened = await _open(intake, headers, application_id, kind="ktp")
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert body["kind"] == "KTP"
    assert body["filename"] == "ktp.pdf"  # the path the phone sent is not kept
    assert body["offset"] == 0 and body["size_bytes"] == len(CONTENT)
    assert body["chunk_size"] == CHUNK_BYTES
    assert body["complete"] is False and body["attachment"] is None
    upload_id = body["id"]
    assert opened.headers["location"] == body["upload_url"] == f"/api/v1/uploads/{upload_id}"

    first = await _put(intake, headers, upload_id, 0, CONTENT[:CHUNK_BYTES])
    assert first.status_code == 200, first.text
    assert first.json()["offset"] == CHUNK_BYTES
    assert await _offset(intake, headers, upload_id) == CHUNK_BYTES
    assert await _attachments(intake, application_id) == []  # nothing until the last byte

    done = await _send_all(intake, headers, upload_id, CONTENT, start=CHUNK_BYTES)
    result = done.json()
    assert result["complete"] is True and result["offset"] == len(CONTENT)
    attachment = result["attachment"]
    assert attachment["kind"] == "KTP"
    assert attachment["content_type"] == "application/pdf"
    # Every chunk's bytes are in the stored clean copy (the PDF written anew).
    assert samples.padding_of(CONTENT) in _stored(intake, application_id, attachment)
    assert _temp_files(intake, application_id) == []

    shown = (
        await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)
    ).json()
    assert [a["id"] for a in shown["attachments"]] == [attachment["id"]]

    # The answer to the last chunk was lost: the phone asks, and learns it is complete.
    state = (await intake.http.get(f"/api/v1/uploads/{upload_id}", headers=headers)).json()
    assert state["complete"] is True and state["attachment"]["id"] == attachment["id"]
    again = await _put(intake, headers, upload_id, len(CONTENT) - 10, CONTENT[-10:])
    assert again.status_code == 409
    assert problem(again)["offset"] == len(CONTENT)
    assert len(await _attachments(intake, application_id)) == 1


async def test_a_chunk_at_the_wrong_offset_gets_409_with_the_offset(
    intake: Intake, draft: tuple[dict[str, str], str]
) -> None:
    headers, application_id = draft
    upload_id = (await _open(intake, headers, application_id)).json()["id"]
    assert (await _put(intake, headers, upload_id, 0, CONTENT[:CHUNK_BYTES])).status_code == 200

    for wrong in (0, CHUNK_BYTES * 2):  # a repeat, and a gap
        r = await _put(intake, headers, upload_id, wrong, CONTENT[wrong : wrong + CHUNK_BYTES])
        assert r.status_code == 409
        assert problem(r)["offset"] == CHUNK_BYTES
        assert r.headers["upload-offset"] == str(CHUNK_BYTES)
    assert await _offset(intake, headers, upload_id) == CHUNK_BYTES

    missing = await intake.http.put(f"/api/v1/uploads/{upload_id}", content=b"x", headers=headers)
    assert missing.status_code == 400  # where the chunk goes must be said

    # Content-Range works as well as Upload-Offset.
    end = CHUNK_BYTES * 2 - 1
    ranged = await intake.http.put(
        f"/api/v1/uploads/{upload_id}",
        content=CONTENT[CHUNK_BYTES : end + 1],
        headers={**headers, "Content-Range": f"bytes {CHUNK_BYTES}-{end}/{len(CONTENT)}"},
    )
    assert ranged.status_code == 200, ranged.text
    assert ranged.json()["offset"] == CHUNK_BYTES * 2


@pytest.mark.parametrize(
    "position",
    [
        {b"Upload-Offset": b"\xb2"},  # "²" as Latin-1 header bytes: isdigit() said yes
        {b"Upload-Offset": b"-0"},
        {b"Upload-Offset": b"9" * 5000},  # past int()'s own digit limit
        {b"Content-Range": b"bytes \xb2-9/10"},
        {b"Content-Range": b"bytes 0-\xb9/\xb2"},
    ],
    ids=["offset-superscript", "offset-signed", "offset-huge", "range-start", "range-total"],
)
async def test_a_position_that_is_not_ascii_digits_is_400_not_a_crash(
    intake: Intake, draft: tuple[dict[str, str], str], position: dict[bytes, bytes]
) -> None:
    headers, application_id = draft
    upload_id = (await _open(intake, headers, application_id)).json()["id"]
    r = await intake.http.put(
        f"/api/v1/uploads/{upload_id}",
        content=CONTENT[:10],
        headers={**{k.encode(): v.encode() for k, v in headers.items()}, **position},
    )
    assert r.status_code == 400, r.text
    assert problem(r)["type"].endswith("/bad-offset")
    assert await _offset(intake, headers, upload_id) == 0


async def test_resume_after_a_dropped_chunk(
    intake: Intake, draft: tuple[dict[str, str], str]
) -> None:
    headers, application_id = draft
    upload_id = (await _open(intake, headers, application_id)).json()["id"]
    assert (await _put(intake, headers, upload_id, 0, CONTENT[:CHUNK_BYTES])).status_code == 200

    # The connection drops halfway through the second chunk: what arrived is not counted.
    async def dropping() -> AsyncIterator[bytes]:
        yield CONTENT[CHUNK_BYTES : CHUNK_BYTES + 1000]
        raise ClientDisconnect()

    root = intake.runtime.settings.attachments_dir
    async with intake.runtime.sessions() as session:
        upload = await session.get(UploadSession, upload_id)
        assert upload is not None
        with pytest.raises(ClientDisconnect):
            await receive_chunk(
                session, root, upload, ChunkPosition(CHUNK_BYTES, None), None, dropping()
            )

    # A chunk cut short against its Content-Range is not counted either.
    end = CHUNK_BYTES * 2 - 1
    short = await intake.http.put(
        f"/api/v1/uploads/{upload_id}",
        content=CONTENT[CHUNK_BYTES : CHUNK_BYTES + 500],
        headers={**headers, "Content-Range": f"bytes {CHUNK_BYTES}-{end}/{len(CONTENT)}"},
    )
    assert short.status_code == 400, short.text

    # The phone asks where to carry on, and finishes from there (nothing holds the upload).
    offset = await _offset(intake, headers, upload_id)
    assert offset == CHUNK_BYTES
    done = await _send_all(intake, headers, upload_id, CONTENT, start=offset)
    assert samples.padding_of(CONTENT) in _stored(intake, application_id, done.json()["attachment"])
    assert _temp_files(intake, application_id) == []


async def test_size_limits(intake: Intake, draft: tuple[dict[str, str], str]) -> None:
    headers, application_id = draft
    too_big = await _open(intake, headers, application_id, size=MAX_ATTACHMENT_BYTES + 1)
    assert too_big.status_code == 413
    assert "paling besar 10 MB" in problem(too_big)["detail"]
    empty = await _open(intake, headers, application_id, size=0)
    assert empty.status_code == 422

    small = samples.pdf()
    upload_id = (await _open(intake, headers, application_id, size=len(small))).json()["id"]
    overrun = await _put(intake, headers, upload_id, 0, small + b"tambahan")
    assert overrun.status_code == 413  # more than the size announced
    assert await _offset(intake, headers, upload_id) == 0

    big_id = (await _open(intake, headers, application_id, kind="KK")).json()["id"]
    huge = await _put(intake, headers, big_id, 0, CONTENT[:4] + b"0" * MAX_CHUNK_BYTES)
    assert huge.status_code == 413  # one request carries at most MAX_CHUNK_BYTES
    assert await _offset(intake, headers, big_id) == 0
    assert await _attachments(intake, application_id) == []


@pytest.mark.parametrize("first_chunk_sniffed", [True, False])
async def test_content_that_is_not_an_accepted_file_is_refused_and_removed(
    intake: Intake, draft: tuple[dict[str, str], str], first_chunk_sniffed: bool
) -> None:
    headers, application_id = draft
    text = b"ini bukan PDF\n" * 40 if first_chunk_sniffed else b"bukan PDF"
    opened = await _open(intake, headers, application_id, size=len(text))
    upload_id = opened.json()["id"]
    r = await _put(intake, headers, upload_id, 0, text)
    assert r.status_code == 415
    assert problem(r)["detail"] == "Berkas harus berupa gambar JPEG, PNG, atau dokumen PDF."
    gone = await intake.http.head(f"/api/v1/uploads/{upload_id}", headers=headers)
    assert gone.status_code == 404
    assert await _attachments(intake, application_id) == []
    assert _temp_files(intake, application_id) == []

    claimed = await _open(intake, headers, application_id, content_type="image/heic")
    assert claimed.status_code == 415  # refused before a byte is sent


async def test_a_tiny_file_is_sniffed_when_it_completes(
    intake: Intake, draft: tuple[dict[str, str], str]
) -> None:
    """Chunks shorter than the signature: the content is checked once the file is whole."""
    headers, application_id = draft
    text = b"GIF89a bukan"
    upload_id = (await _open(intake, headers, application_id, size=len(text))).json()["id"]
    assert (await _put(intake, headers, upload_id, 0, text[:5])).status_code == 200
    r = await _put(intake, headers, upload_id, 5, text[5:])
    assert r.status_code == 415
    assert await _attachments(intake, application_id) == []
    assert _temp_files(intake, application_id) == []


async def test_another_residents_upload_is_404(
    intake: Intake, draft: tuple[dict[str, str], str]
) -> None:
    headers, application_id = draft
    upload_id = (await _open(intake, headers, application_id)).json()["id"]
    budi = await intake.sign_in(NIK_BUDI, PHONE_BUDI)

    assert (await _open(intake, budi, application_id)).status_code == 404
    for method in ("HEAD", "GET", "DELETE"):
        r = await intake.http.request(method, f"/api/v1/uploads/{upload_id}", headers=budi)
        assert r.status_code == 404, method
    r = await _put(intake, budi, upload_id, 0, CONTENT[:CHUNK_BYTES])
    assert r.status_code == 404
    assert problem(r)["detail"] == "Unggahan tidak ditemukan atau sudah kedaluwarsa."
    assert await _offset(intake, headers, upload_id) == 0
    unknown = await intake.http.head("/api/v1/uploads/tidak-ada", headers=headers)
    assert unknown.status_code == 404
    assert (await intake.http.head(f"/api/v1/uploads/{upload_id}")).status_code == 401


async def test_unfinished_uploads_expire_with_their_files(
    intake: Intake, draft: tuple[dict[str, str], str]
) -> None:
    headers, application_id = draft
    stale_id = (await _open(intake, headers, application_id)).json()["id"]
    assert (await _put(intake, headers, stale_id, 0, CONTENT[:CHUNK_BYTES])).status_code == 200
    assert len(_temp_files(intake, application_id)) == 1

    runtime = intake.runtime
    root = runtime.settings.attachments_dir
    assert await expire_uploads(runtime.sessions, root, utcnow() + timedelta(hours=1)) == 0
    later = utcnow() + UPLOAD_TTL + timedelta(minutes=1)
    assert await expire_uploads(runtime.sessions, root, later) == 1
    assert _temp_files(intake, application_id) == []
    assert (
        await intake.http.head(f"/api/v1/uploads/{stale_id}", headers=headers)
    ).status_code == 404


async def test_a_new_upload_of_the_same_kind_replaces_an_unfinished_one(
    intake: Intake, draft: tuple[dict[str, str], str]
) -> None:
    headers, application_id = draft
    first = (await _open(intake, headers, application_id)).json()["id"]
    assert (await _put(intake, headers, first, 0, CONTENT[:CHUNK_BYTES])).status_code == 200
    second = (await _open(intake, headers, application_id)).json()["id"]
    assert (await intake.http.head(f"/api/v1/uploads/{first}", headers=headers)).status_code == 404
    assert await _offset(intake, headers, second) == 0
    assert len(_temp_files(intake, application_id)) == 1


async def test_uploads_only_while_the_resident_holds_the_application(
    intake: Intake, draft: tuple[dict[str, str], str]
) -> None:
    headers, application_id = draft
    upload_id = (await _open(intake, headers, application_id)).json()["id"]
    for kind in ("KTP", "KK"):
        r = await intake.upload(headers, application_id, kind, samples.JPEG, "a.jpg")
        assert r.status_code == 201, r.text  # the one-shot upload still works
    submitted = await intake.http.post(
        f"/api/v1/applications/{application_id}/submit", headers=headers
    )
    assert submitted.status_code == 202, submitted.text

    r = await _put(intake, headers, upload_id, 0, CONTENT[:CHUNK_BYTES])
    assert r.status_code == 409
    assert problem(r)["type"].endswith("/locked")
    assert _temp_files(intake, application_id) == []
    assert (await _open(intake, headers, application_id)).status_code == 409


async def test_by_cookie_a_chunk_needs_the_csrf_header(
    intake: Intake, draft: tuple[dict[str, str], str]
) -> None:
    headers, application_id = draft
    token = headers["Authorization"].removeprefix("Bearer ")
    csrf = csrf_token_for(token, intake.runtime.token_issuer.csrf_secret)
    upload_id = (await _open(intake, headers, application_id)).json()["id"]
    cookies: dict[str, Any] = {"sd_warga": token}
    url = f"/api/v1/uploads/{upload_id}"
    chunk = CONTENT[:CHUNK_BYTES]
    intake.http.cookies.update(cookies)
    try:
        forged = await intake.http.put(url, content=chunk, headers={"Upload-Offset": "0"})
        assert forged.status_code == 403
        ok = await intake.http.put(
            url, content=chunk, headers={"Upload-Offset": "0", "X-CSRF-Token": csrf}
        )
        assert ok.status_code == 200, ok.text
        assert (await intake.http.head(url)).headers["upload-offset"] == str(CHUNK_BYTES)
    finally:
        intake.http.cookies.clear()


async def test_two_requests_with_the_same_chunk_write_it_once(
    intake: Intake, draft: tuple[dict[str, str], str]
) -> None:
    """A phone that resent a chunk it thought lost: one request writes it, the other learns
    the offset."""
    headers, application_id = draft
    upload_id = (await _open(intake, headers, application_id)).json()["id"]
    chunk = CONTENT[:CHUNK_BYTES]
    first, second = await asyncio.gather(
        _put(intake, headers, upload_id, 0, chunk), _put(intake, headers, upload_id, 0, chunk)
    )
    assert sorted((first.status_code, second.status_code)) == [200, 409]
    refused = first if first.status_code == 409 else second
    assert problem(refused)["offset"] in (0, CHUNK_BYTES)
    assert await _offset(intake, headers, upload_id) == CHUNK_BYTES
    done = await _send_all(intake, headers, upload_id, CONTENT, start=CHUNK_BYTES)
    assert samples.padding_of(CONTENT) in _stored(intake, application_id, done.json()["attachment"])
