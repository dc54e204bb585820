"""Streaming multipart/form-data receiver for uploads.

Starlette's form parser spools a whole file before the route sees it, however big. This one
writes the file part straight to a temporary file next to its final place, hashing as it goes,
and stops reading the request as soon as the file passes the limit.
"""

import asyncio
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from common.numbers import parse_natural
from services.intake.file_safety import HEAD_BYTES, too_large_message

MAX_FIELD_BYTES = 1024
MAX_PARTS = 10
# Multipart framing around the file (boundaries, part headers, small fields).
FRAMING_ALLOWANCE = 64 * 1024
FILENAME_MAX = 200


def clean_filename(name: str) -> str:
    """The last path part of what the phone called the file, without control characters.
    Personal data (it may carry a name): shown to its owner, never logged."""
    base = PureWindowsPath(PurePosixPath(name).name).name
    return re.sub(r"[\x00-\x1f\x7f]", "", base).strip()[:FILENAME_MAX]


class UploadRejected(Exception):
    def __init__(self, status: int, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code


@dataclass
class ReceivedFile:
    path: Path  # temporary; the caller renames or removes it
    size: int
    sha256: str
    head: bytes
    filename: str = ""  # the resident's name for it, cleaned (clean_filename); may be empty

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class ReceivedForm:
    fields: dict[str, str]
    file: ReceivedFile | None

    def discard(self) -> None:
        if self.file is not None:
            self.file.discard()


def _too_large(max_bytes: int) -> UploadRejected:
    return UploadRejected(413, too_large_message(max_bytes), "too-large")


@dataclass
class _State:
    file_field: str
    temp_dir: Path
    max_file_bytes: int
    fields: dict[str, str] = field(default_factory=dict)
    parts: int = 0
    header_name: bytes = b""
    header_value: bytes = b""
    disposition: bytes = b""
    part_name: str = ""
    part_is_file: bool = False
    filename: str = ""
    field_data: bytearray = field(default_factory=bytearray)
    file_path: Path | None = None
    file_handle: IO[bytes] | None = None
    file_done: bool = False
    pending: list[bytes] = field(default_factory=list)
    size: int = 0
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    head: bytes = b""
    error: UploadRejected | None = None

    def fail(self, error: UploadRejected) -> None:
        if self.error is None:
            self.error = error

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            self.fail(UploadRejected(422, "Terlalu banyak bagian dalam unggahan.", "upload"))
        self.disposition = b""
        self.part_name = ""
        self.part_is_file = False
        self.field_data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        self.part_name = options.get(b"name", b"").decode("utf-8", "replace")
        self.part_is_file = self.part_name == self.file_field
        if not self.part_is_file:
            return
        if self.file_path is not None:
            self.fail(UploadRejected(422, "Kirim satu berkas saja.", "upload"))
            self.part_is_file = False
            return
        self.filename = clean_filename(options.get(b"filename", b"").decode("utf-8", "replace"))
        fd, name = tempfile.mkstemp(dir=self.temp_dir, prefix=".upload-")
        self.file_path = Path(name)
        self.file_handle = os.fdopen(fd, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        chunk = data[start:end]
        if self.part_is_file:
            if self.size + len(chunk) > self.max_file_bytes:
                self.fail(_too_large(self.max_file_bytes))
                return
            self.size += len(chunk)
            self.pending.append(chunk)
        elif len(self.field_data) + len(chunk) > MAX_FIELD_BYTES:
            self.fail(UploadRejected(422, f"Isian '{self.part_name}' terlalu panjang.", "upload"))
        else:
            self.field_data += chunk

    def on_part_end(self) -> None:
        if self.part_is_file:
            self.file_done = True
        elif self.part_name:
            self.fields[self.part_name] = self.field_data.decode("utf-8", "replace")

    def write_pending(self) -> None:
        """Runs in a worker thread: file I/O stays off the event loop."""
        if self.file_handle is None:
            return
        for chunk in self.pending:
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[: HEAD_BYTES - len(self.head)]
            self.digest.update(chunk)
            self.file_handle.write(chunk)
        self.pending.clear()

    def close(self) -> None:
        if self.file_handle is not None:
            self.file_handle.close()
            self.file_handle = None

    def discard(self) -> None:
        self.close()
        if self.file_path is not None:
            self.file_path.unlink(missing_ok=True)


async def receive_multipart(
    request: Request, *, file_field: str, temp_dir: Path, max_file_bytes: int
) -> ReceivedForm:
    """Reads a multipart body: small text fields into memory, `file_field` into a temporary
    file in `temp_dir` (so the caller can rename it into place atomically)."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadRejected(422, "Kirim berkas sebagai multipart/form-data.", "upload")
    declared = parse_natural(request.headers.get("content-length"))
    if declared is not None and declared > max_file_bytes + FRAMING_ALLOWANCE:
        raise _too_large(max_file_bytes)  # refused before reading a byte of it

    await asyncio.to_thread(temp_dir.mkdir, parents=True, exist_ok=True)
    state = _State(file_field=file_field, temp_dir=temp_dir, max_file_bytes=max_file_bytes)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": state.on_part_begin,
            "on_part_data": state.on_part_data,
            "on_part_end": state.on_part_end,
            "on_header_field": state.on_header_field,
            "on_header_value": state.on_header_value,
            "on_header_end": state.on_header_end,
            "on_headers_finished": state.on_headers_finished,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if state.error is not None:
                raise state.error  # stop reading: the rest of the body is never consumed
            if state.pending:
                await asyncio.to_thread(state.write_pending)
        parser.finalize()
        if state.error is not None:
            raise state.error
    except FormParserError as exc:
        state.discard()
        raise UploadRejected(422, "Data unggahan tidak valid.", "upload") from exc
    except BaseException:
        state.discard()
        raise
    state.close()
    if state.file_path is None:
        return ReceivedForm(fields=state.fields, file=None)
    if not state.file_done:
        state.discard()
        raise UploadRejected(422, "Data unggahan tidak lengkap.", "upload")
    received = ReceivedFile(
        path=state.file_path,
        size=state.size,
        sha256=state.digest.hexdigest(),
        head=state.head,
        filename=state.filename,
    )
    return ReceivedForm(fields=state.fields, file=received)
