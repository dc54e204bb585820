"""One letter's journey over the public HTTP APIs, as the mobile app and the staff client do it.

Used by `make smoke` against a running `make run`, and by the end-to-end tests against a stack
they start themselves. Everything goes through public HTTP; asynchronous effects (an OTP
arriving, a task appearing) are waited for by polling with a bound.
"""

import itertools
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

PAMANUKAN = "32.13.11.2004"


@dataclass(frozen=True)
class Endpoints:
    intake: str = "http://127.0.0.1:8000"
    verification: str = "http://127.0.0.1:8001"
    signing: str = "http://127.0.0.1:8002"
    notification: str = "http://127.0.0.1:8003"


def wait_until(
    what: str, probe: Callable[[], T | None], within: float = 60.0, every: float = 0.2
) -> T:
    """Poll `probe` until it returns something other than None; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {within:.0f}s")
        time.sleep(every)


def sample_png(width: int = 32, height: int = 20) -> bytes:
    """A small real PNG (a grey rectangle), standing in for a phone photo of a KTP."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def sample_pdf() -> bytes:
    """A small real one-page PDF, standing in for a scanned Kartu Keluarga."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# The services' uvicorn closes a keep-alive connection after 5 s idle. A client that sends on
# it at that very moment gets "Server disconnected without sending a response" (seen once in a
# bench run): the clients here drop an idle connection sooner, as browsers do.
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=4.0)


class FailoverTransport(httpx.BaseTransport):
    """Spreads requests over a service's replicas and skips one that is down, as a Kubernetes
    Service does for its ready pods (tests/scale). `replicas` maps the address a request is
    made to ("127.0.0.1:8000", the Endpoints') to every replica's address. A request goes to
    the next replica in turn; one whose connection is refused goes to the next (it was never
    sent), and a read (GET) cut off mid-way is asked again elsewhere. A write cut off mid-way
    is not repeated here: whether it happened is for the caller to find out."""

    def __init__(self, replicas: dict[str, list[str]]) -> None:
        self._replicas = replicas
        self._inner = httpx.HTTPTransport(limits=CLIENT_LIMITS)
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        netloc = f"{request.url.host}:{request.url.port}"
        targets = self._replicas.get(netloc, [netloc])
        with self._lock:
            first = next(self._turn) % len(targets)
        order = targets[first:] + targets[:first]
        for attempt, target in enumerate(order):
            host, port = target.rsplit(":", 1)
            request.url = request.url.copy_with(host=host, port=int(port))
            try:
                return self._inner.handle_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if attempt == len(order) - 1:
                    raise
            except (httpx.ReadError, httpx.RemoteProtocolError):
                if request.method != "GET" or attempt == len(order) - 1:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._inner.close()


class Journey:
    def __init__(
        self,
        endpoints: Endpoints,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.ep = endpoints
        self.http = httpx.Client(timeout=timeout, transport=transport, limits=CLIENT_LIMITS)

    def close(self) -> None:
        self.http.close()

    # -- resident --------------------------------------------------------------------------

    def dev_messages(self, phone: str) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.ep.notification}/dev/messages", params={"to": phone})
        r.raise_for_status()
        messages: list[dict[str, Any]] = r.json()
        return messages

    def request_otp(self, nik: str, phone: str) -> httpx.Response:
        return self.http.post(
            f"{self.ep.intake}/api/v1/auth/otp", json={"nik": nik, "phone": phone}
        )

    def resident_sign_in(
        self, nik: str, phone: str, *, new_phone: bool = False, every: float = 0.2
    ) -> str:
        """OTP sign-in; the code is read from the dev WhatsApp/SMS sink, as the phone would.
        `new_phone`: no message was sent to it before (not counted first); `every`: how often
        the sink is read while the code is on its way."""
        before = 0 if new_phone else len(self.dev_messages(phone))
        r = self.request_otp(nik, phone)
        assert r.status_code == 202, r.text

        def code() -> str | None:
            messages = self.dev_messages(phone)
            if len(messages) <= before:
                return None
            match = re.search(r"\b(\d{6})\b", messages[0]["body"])
            return match.group(1) if match else None

        otp = wait_until("the one-time code in the dev sink", code, every=every)
        r = self.http.post(
            f"{self.ep.intake}/api/v1/auth/token", json={"nik": nik, "phone": phone, "otp": otp}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "bearer"
        return str(body["access_token"])

    def create_application(
        self, token: str, purpose: str, fields: dict[str, str], letter_type: str = "SKD"
    ) -> str:
        r = self.http.post(
            f"{self.ep.intake}/api/v1/applications",
            headers=_bearer(token),
            json={
                "desa_code": PAMANUKAN,
                "letter_type": letter_type,
                "purpose": purpose,
                "fields": fields,
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "draft"
        return str(r.json()["id"])

    def upload(
        self, token: str, application_id: str, kind: str, name: str, content: bytes
    ) -> httpx.Response:
        return self.http.post(
            f"{self.ep.intake}/api/v1/applications/{application_id}/attachments",
            headers=_bearer(token),
            data={"kind": kind},
            files={"file": (name, content, "application/octet-stream")},
        )

    def submit(self, token: str, application_id: str) -> httpx.Response:
        return self.http.post(
            f"{self.ep.intake}/api/v1/applications/{application_id}/submit", headers=_bearer(token)
        )

    def resubmit(self, token: str, application_id: str) -> httpx.Response:
        return self.http.post(
            f"{self.ep.intake}/api/v1/applications/{application_id}/resubmit",
            headers=_bearer(token),
        )

    def cancel(self, token: str, application_id: str) -> httpx.Response:
        return self.http.post(
            f"{self.ep.intake}/api/v1/applications/{application_id}/cancel",
            headers=_bearer(token),
        )

    def application(self, token: str, application_id: str) -> httpx.Response:
        return self.http.get(
            f"{self.ep.intake}/api/v1/applications/{application_id}", headers=_bearer(token)
        )

    def wait_for_status(self, token: str, application_id: str, status: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            body: dict[str, Any] = self.application(token, application_id).json()
            return body if body.get("status") == status else None

        return wait_until(f"application status {status}", probe, within=90)

    def letter_pdf(self, token: str, application_id: str) -> httpx.Response:
        return self.http.get(
            f"{self.ep.intake}/api/v1/applications/{application_id}/letter.pdf",
            headers=_bearer(token),
        )

    # -- staff -----------------------------------------------------------------------------

    def staff_token(self, username: str, password: str) -> str:
        r = self.http.post(
            f"{self.ep.verification}/api/v1/auth/token",
            data={"username": username, "password": password},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def tasks(self, token: str) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.ep.verification}/api/v1/tasks", headers=_bearer(token))
        assert r.status_code == 200, r.text
        tasks: list[dict[str, Any]] = r.json()
        return tasks

    def wait_for_task(self, token: str, application_id: str, step_index: int) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            for task in self.tasks(token):
                if task["application_id"] == application_id and task["step"]["index"] == step_index:
                    return task
            return None

        return wait_until(f"task for step {step_index} in the inbox", probe)

    def task_detail(self, token: str, application_id: str) -> httpx.Response:
        return self.http.get(
            f"{self.ep.verification}/api/v1/tasks/{application_id}", headers=_bearer(token)
        )

    def decide(
        self,
        token: str,
        application_id: str,
        decision: str,
        reason: str | None = None,
        step: int | None = None,
        traceparent: str | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {"decision": decision}
        if reason is not None:
            body["reason"] = reason
        if step is not None:
            body["step"] = step
        return self.http.post(
            f"{self.ep.verification}/api/v1/tasks/{application_id}/decision",
            # A benchmark's own trace id: the decision's spans in every service carry it.
            headers=_bearer(token) | ({"traceparent": traceparent} if traceparent else {}),
            json=body,
        )

    # -- anyone ----------------------------------------------------------------------------

    def verify_pdf(self, content: bytes) -> dict[str, Any]:
        r = self.http.post(
            f"{self.ep.signing}/api/v1/verifications",
            files={"file": ("surat.pdf", content, "application/pdf")},
        )
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
