"""One Surat Keterangan Domisili end to end, across the real processes `make run` starts
(Temporal dev server, NATS JetStream, the four services, the worker), over public HTTP only,
including the refusals the issue names; and one requested by WhatsApp chat (issue 17). Then the stack is stopped with SIGINT, started again
on the same data folder, and everything stored must still be there."""

import asyncio
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js.api import ConsumerConfig, DeliverPolicy
from temporalio.client import Client

from scripts.devstack import PORT_VARIABLES, WHATSAPP_SECRET_VARIABLES, _dev_secret
from scripts.journey import Endpoints, Journey, sample_pdf, sample_png, wait_until
from services.intake import file_safety
from tests.support.processes import free_port
from workflows.approval import workflow_id

pytestmark = pytest.mark.e2e

PASSWORD = "kata-sandi-uji"
NIK_A = "3213111508900001"  # Kecamatan Pamanukan, man born 15-08-1990
NIK_B = "3213115508920002"  # woman (day + 40) born 15-08-1992
PHONE_A = "081234567890"
PHONE_B = "081298765432"
NUMBER_FORMAT = re.compile(r"^\d+(\.\d+)*/\d{3}/32\.13\.11\.2004/[IVX]+/\d{4}$")


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    endpoints: Endpoints
    nats_url: str
    log: Path


class StackRunner:
    """Runs `python -m scripts.devstack` (what `make run` runs) on free ports."""

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.ports = {var: str(free_port()) for var, _default in PORT_VARIABLES.values()}
        self.extra_env = extra_env or {}  # e.g. the services' database URLs

    def start(self, attempt: int) -> Stack:
        env = {
            **os.environ,
            **self.ports,
            **self.extra_env,
            "SMARTDESA_DATA_DIR": str(self.data_dir),
            "SMARTDESA_DEMO_PASSWORD": PASSWORD,
            # Every resident of a test run signs in from this one address, some many times;
            # the limits themselves are tested in tests/intake.
            **{
                f"SMARTDESA_INTAKE_CODE_LIMITS_{key}": '[{"count": 1000, "seconds": 900}]'
                for key in ("PER_PHONE", "PER_NIK", "PER_CLIENT")
            },
        }
        log = self.data_dir.parent / f"devstack-{attempt}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-c", _DEVSTACK_WITH_SIGINT_IGNORED],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=Path(__file__).resolve().parents[2],
            )
        p = self.ports
        endpoints = Endpoints(
            intake=f"http://127.0.0.1:{p['SMARTDESA_INTAKE_HTTP_PORT']}",
            verification=f"http://127.0.0.1:{p['SMARTDESA_VERIFICATION_HTTP_PORT']}",
            signing=f"http://127.0.0.1:{p['SMARTDESA_SIGNING_HTTP_PORT']}",
            notification=f"http://127.0.0.1:{p['SMARTDESA_NOTIFICATION_HTTP_PORT']}",
        )
        stack = Stack(
            process, env, endpoints, f"nats://127.0.0.1:{p['SMARTDESA_DEV_NATS_PORT']}", log
        )

        def ready() -> bool | None:
            if process.poll() is not None:
                raise RuntimeError(f"devstack exited early:\n{log.read_text()[-3000:]}")
            return True if "Smart Desa is running" in log.read_text() else None

        wait_until("the dev stack to be ready", ready, within=180)
        return stack

    @staticmethod
    def stop(stack: Stack) -> int:
        """Ctrl-C, and the exit code. Raises if it did not stop; the fixture then cleans up."""
        stack.process.send_signal(signal.SIGINT)
        return stack.process.wait(timeout=90)

    @staticmethod
    def ensure_stopped(stack: Stack) -> None:
        """Teardown after a failure: SIGTERM (the supervisor still stops its children)."""
        if stack.process.poll() is None:
            stack.process.terminate()
            try:
                stack.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                stack.process.kill()


# As a shell starts a background job: SIGINT arrives ignored (the disposition survives exec),
# and the stack must still stop on Ctrl-C / `kill -INT`. Done in the child's own Python, not
# with preexec_fn: running Python between fork and exec can hang when the test process has
# threads (gRPC, Playwright) holding locks at the fork.
_DEVSTACK_WITH_SIGINT_IGNORED = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-m', 'scripts.devstack'])"
)


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> StackRunner:
    return StackRunner(tmp_path_factory.mktemp("e2e") / "data")


@pytest.fixture(scope="module")
def first_run(runner: StackRunner) -> Iterator[Stack]:
    stack = runner.start(1)
    try:
        yield stack
    finally:
        StackRunner.ensure_stopped(stack)


@pytest.fixture(scope="module")
def journey(first_run: Stack) -> Iterator[Journey]:
    j = Journey(first_run.endpoints)
    yield j
    j.close()


# Shared between the ordered tests of this module: what the first run stored.
STORED: dict[str, Any] = {}


def test_every_service_answers_health_checks(runner: StackRunner, first_run: Stack) -> None:
    for base in (
        first_run.endpoints.intake,
        first_run.endpoints.verification,
        first_run.endpoints.signing,
        first_run.endpoints.notification,
    ):
        r = httpx.get(f"{base}/healthz")
        assert r.status_code == 200, base
    # grpc.health.v1, as Kubernetes' native gRPC probes ask it: overall and per service.
    for port_name, service in (
        ("SMARTDESA_INTAKE_GRPC_PORT", "smartdesa.v1.IntakeService"),
        ("SMARTDESA_VERIFICATION_GRPC_PORT", "smartdesa.v1.DirectoryService"),
        ("SMARTDESA_SIGNING_GRPC_PORT", "smartdesa.v1.SigningService"),
        ("SMARTDESA_NOTIFICATION_GRPC_PORT", "smartdesa.v1.NotificationService"),
    ):
        with grpc.insecure_channel(f"127.0.0.1:{runner.ports[port_name]}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for name in ("", service):
                reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING, (port_name, name)


def test_one_letter_end_to_end(first_run: Stack, journey: Journey) -> None:
    STORED.update(one_letter_end_to_end(first_run, journey))


def one_letter_end_to_end(first_run: Stack, journey: Journey) -> dict[str, Any]:
    """The whole journey with its refusals; returns what it stored (also run on PostgreSQL)."""
    ep = first_run.endpoints

    # Sign-in refusals: a NIK without a valid date part.
    r = journey.request_otp("3213113208900001", PHONE_A)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "NIK" in r.json()["detail"]

    types = httpx.get(f"{ep.intake}/api/v1/letter-types").json()
    skd = next(t for t in types if t["code"] == "SKD")
    assert {req["code"] for req in skd["requirements"]} >= {"KTP", "KK"}

    resident = journey.resident_sign_in(NIK_A, PHONE_A)
    other_resident = journey.resident_sign_in(NIK_B, PHONE_B)

    app_id = journey.create_application(
        resident,
        "Persyaratan membuka rekening bank",
        {"nama": "Budi Santoso", "alamat": "Dusun Krajan RT 002 RW 001", "jenis_kelamin": "L"},
    )

    # Documents: type decided by content; size capped.
    assert journey.upload(resident, app_id, "KTP", "ktp.png", sample_png()).status_code == 201
    fake_pdf = journey.upload(resident, app_id, "KK", "kk.pdf", b"just some text, not a pdf")
    assert fake_pdf.status_code == 415
    too_big = journey.upload(resident, app_id, "KK", "kk.pdf", b"%PDF-" + b"0" * (10 * 2**20 + 1))
    assert too_big.status_code == 413
    missing = journey.submit(resident, app_id)
    assert missing.status_code == 422
    assert "KK" in missing.json()["detail"]
    assert journey.upload(resident, app_id, "KK", "kk.pdf", sample_pdf()).status_code == 201

    assert journey.submit(resident, app_id).status_code == 202
    assert journey.submit(resident, app_id).status_code == 202  # idempotent
    assert journey.application(other_resident, app_id).status_code == 404

    # Kasi Pemerintahan: the task arrives; the application is readable with its documents.
    kasi = journey.staff_token("pemerintahan.pamanukan", PASSWORD)
    journey.wait_for_task(kasi, app_id, 0)
    detail = journey.task_detail(kasi, app_id)
    assert detail.status_code == 200, detail.text
    kinds = {a["kind"] for a in detail.json()["attachments"]}
    assert kinds == {"KTP", "KK"}
    attachment = next(a for a in detail.json()["attachments"] if a["kind"] == "KTP")
    image = journey.http.get(f"{ep.verification}{attachment['url']}", headers=_bearer(kasi))
    # Staff see the clean copy intake stored (the image encoded anew, without metadata).
    assert image.status_code == 200 and image.content == file_safety.clean(sample_png()).content

    # Refusals, nothing entering history: another desa's letter does not exist for its staff
    # (404, as for an unknown id); within the desa the workflow's validator decides (403/409).
    other_desa = journey.staff_token("pemerintahan.rancasari", PASSWORD)
    assert journey.task_detail(other_desa, app_id).status_code == 404
    assert journey.decide(other_desa, app_id, "approve", step=0).status_code == 404
    sekdes = journey.staff_token("sekdes.pamanukan", PASSWORD)
    wrong_role = journey.decide(sekdes, app_id, "approve", step=0)
    assert wrong_role.status_code == 403
    assert "Kasi Pemerintahan" in wrong_role.json()["detail"]
    assert journey.decide(kasi, app_id, "reject").status_code == 422  # reason required

    approved = journey.decide(kasi, app_id, "approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["step_role"] == "sekdes"
    stale = journey.decide(kasi, app_id, "approve", step=0)
    assert stale.status_code == 409

    journey.wait_for_task(sekdes, app_id, 1)
    assert journey.decide(sekdes, app_id, "approve").status_code == 200
    kades = journey.staff_token("kades.pamanukan", PASSWORD)
    journey.wait_for_task(kades, app_id, 2)
    assert journey.decide(kades, app_id, "approve").status_code == 200

    # The resident sees the letter; its number has the agreed form.
    application = journey.wait_for_status(resident, app_id, "issued")
    letter = application["letter"]
    assert NUMBER_FORMAT.match(letter["number"]), letter["number"]
    assert application["current_step"] is None
    events = [entry["event"] for entry in application["timeline"]]
    assert events.count("application.step_assigned") == 3
    assert events.count("application.submitted") == 1
    assert events[-1] == "letter.issued"

    pdf = journey.letter_pdf(resident, app_id)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert journey.letter_pdf(other_resident, app_id).status_code == 404

    # Public verification: the page, the root certificate, and an uploaded PDF.
    page = httpx.get(letter["verification_url"])
    assert page.status_code == 200
    assert letter["number"] in page.text and "asli" in page.text.lower()
    assert NIK_A not in page.text and "Budi Santoso" not in page.text
    root = httpx.get(f"{ep.signing}/pki/root.pem")
    assert root.status_code == 200 and b"BEGIN CERTIFICATE" in root.content
    verdict = journey.verify_pdf(pdf.content)
    assert verdict["conclusion"] == "valid", verdict
    assert verdict["registered"]["number"] == letter["number"]
    tampered = bytearray(pdf.content)
    middle = len(tampered) // 3
    tampered[middle] = (tampered[middle] + 1) % 256
    assert journey.verify_pdf(bytes(tampered))["conclusion"] != "valid"

    # Notifications: who had to act was told; the resident was told the letter is ready.
    def inbox(token: str) -> list[dict[str, Any]]:
        r = journey.http.get(f"{ep.notification}/api/v1/inbox", headers=_bearer(token))
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()
        return items

    wait_until("the Kades's in-app notice", lambda: inbox(kades) or None)
    wait_until(
        "the resident's in-app notice",
        lambda: [n for n in inbox(resident) if letter["number"] in n["body"]] or None,
    )
    assert inbox(other_resident) == []
    wait_until(
        "the resident's WhatsApp about the letter",
        lambda: [m for m in journey.dev_messages(PHONE_A) if "terbit" in m["body"]] or None,
    )

    stored: dict[str, Any] = {
        "app_id": app_id,
        "letter": letter,
        "pdf": pdf.content,
        "resident_phone": PHONE_A,
    }
    stored["events"] = asyncio.run(_events_for(first_run.nats_url, app_id))
    return stored


def test_revision_returns_to_the_same_step_and_rejection_ends_it(
    first_run: Stack, journey: Journey
) -> None:
    resident = journey.resident_sign_in(NIK_A, PHONE_A)
    kasi = journey.staff_token("pemerintahan.pamanukan", PASSWORD)
    sekdes = journey.staff_token("sekdes.pamanukan", PASSWORD)

    def submitted_application(purpose: str) -> str:
        app_id = journey.create_application(
            resident, purpose, {"nama": "Budi Santoso", "alamat": "Dusun Krajan RT 002 RW 001"}
        )
        for kind, name, content in (
            ("KTP", "ktp.png", sample_png()),
            ("KK", "kk.pdf", sample_pdf()),
        ):
            assert journey.upload(resident, app_id, kind, name, content).status_code == 201
        assert journey.submit(resident, app_id).status_code == 202
        return app_id

    # The Sekdes returns it; the resident is told why, fixes the KK and resubmits; it comes
    # back to the Sekdes, not to the start.
    revised = submitted_application("Persyaratan melamar pekerjaan")
    journey.wait_for_task(kasi, revised, 0)
    assert journey.decide(kasi, revised, "approve").status_code == 200
    journey.wait_for_task(sekdes, revised, 1)
    assert journey.resubmit(resident, revised).status_code == 409  # nothing asked yet
    returned = journey.decide(sekdes, revised, "revise", reason="Foto KK tidak terbaca")
    assert returned.status_code == 200, returned.text
    application = journey.wait_for_status(resident, revised, "revision_requested")
    assert application["current_step"] is None
    assert application["timeline"][-1]["reason"] == "Foto KK tidak terbaca"
    # The inbox is verification's projection of the events, so it follows intake's state
    # shortly after: the returned letter leaves the Sekdes's inbox.
    wait_until(
        "the returned letter to leave the Sekdes's inbox",
        lambda: all(t["application_id"] != revised for t in journey.tasks(sekdes)) or None,
    )
    wait_until(
        "the resident's WhatsApp about the revision",
        lambda: [m for m in journey.dev_messages(PHONE_A) if "perbaik" in m["body"]] or None,
    )
    assert journey.upload(resident, revised, "KK", "kk.pdf", sample_pdf()).status_code == 201
    assert journey.resubmit(resident, revised).status_code == 202
    journey.wait_for_task(sekdes, revised, 1)
    application = journey.wait_for_status(resident, revised, "in_review")
    assert application["current_step"]["role"] == "sekdes"
    assert all(t["application_id"] != revised for t in journey.tasks(kasi))

    # The Kasi rejects another one: it ends, with the reason shown to the resident.
    rejected = submitted_application("Persyaratan beasiswa")
    journey.wait_for_task(kasi, rejected, 0)
    assert (
        journey.decide(kasi, rejected, "reject", reason="Bukan warga desa ini").status_code == 200
    )
    application = journey.wait_for_status(resident, rejected, "rejected")
    assert application["timeline"][-1]["reason"] == "Bukan warga desa ini"
    assert application["letter"] is None
    assert journey.decide(kasi, rejected, "approve", step=0).status_code == 409
    assert journey.letter_pdf(resident, rejected).status_code == 409


# The chat's resident (issue 17): in the register with this number, so the number is them.
NIK_C = "3213112001850003"  # man born 20-01-1985
PHONE_C = "081377778888"
NAME_C = "Dadang Sunarya"


def test_a_registered_resident_gets_an_skd_by_whatsapp_chat(
    runner: StackRunner, first_run: Stack, journey: Journey
) -> None:
    """Issue 17's acceptance: the resident chats (signed webhook payloads shaped as the Cloud
    API sends them) from the menu to "Kirim", staff approve every step, and the signed letter
    arrives in the same chat as a short-lived link, never as an attachment. The dev sink holds
    no media, so the two syarat are the KTP and KK kept from an earlier upload ("Pakai yang
    tersimpan"); downloading photos through the media endpoint is tested in tests/notification."""
    ep = first_run.endpoints
    operator = journey.staff_token("operator.pamanukan", PASSWORD)
    registered = journey.http.post(
        f"{ep.verification}/api/v1/residents",
        headers=_bearer(operator),
        json={
            "nik": NIK_C,
            "name": NAME_C,
            "sex": 1,
            "dusun": "Krajan",
            "rw": "001",
            "rt": "003",
            "address": "Dusun Krajan RT 003 RW 001",
            "phones": [PHONE_C],
        },
    )
    assert registered.status_code == 201, registered.text
    # KTP and KK uploaded once at the portal (a draft left unsubmitted): kept on their record.
    portal = journey.resident_sign_in(NIK_C, PHONE_C)
    draft = journey.create_application(
        portal, "Persyaratan beasiswa", {"nama": NAME_C, "alamat": "Dusun Krajan RT 003 RW 001"}
    )
    for kind, name, content in (("KTP", "ktp.png", sample_png()), ("KK", "kk.pdf", sample_pdf())):
        assert journey.upload(portal, draft, kind, name, content).status_code == 201

    chat = _Chat(journey, _app_secret(runner))
    menu = chat.say(chat.text("Halo"))[0]
    assert menu["interactive"]["body"]["text"].startswith("Halo, Dadang.")
    types = chat.say(chat.choose(menu, "Ajukan surat"))[0]
    assert types["interactive"]["type"] == "list"
    data = chat.say(chat.choose(types, "SKD"))[0]
    assert "Data Anda yang tercatat di desa" in _text(data)
    assert NIK_C not in _text(data)  # masked
    purpose = chat.say(chat.choose(data, "Benar"))[0]
    assert "keperluan" in _text(purpose)
    asked = chat.say(chat.text("Persyaratan membuka rekening bank"))[0]
    # The letter's own questions (what the register does not fill), one at a time.
    while _text(asked).startswith("("):
        if asked["type"] == "interactive":
            asked = chat.say(chat.choose(asked, _titles(asked)[0]))[0]
        else:
            asked = chat.say(chat.text("lewati" if "lewati" in _text(asked) else "Bank BJB"))[0]
    for index, syarat in enumerate(("*KTP", "*Kartu Keluarga"), start=1):
        assert syarat in _text(asked) and f"({index}/2)" in _text(asked), _text(asked)
        asked = chat.say(chat.choose(asked, "Pakai yang tersimpan"))[0]
    assert "Berkas: 2 terlampir" in _text(asked)
    sent = chat.say(chat.choose(asked, "Kirim"))[0]
    assert "Surat Keterangan Domisili" in _text(sent)

    # It is the same application as the portal's: in the resident's list, and to staff with
    # its channel, "whatsapp".
    def filed() -> str | None:
        r = journey.http.get(f"{ep.intake}/api/v1/applications", headers=_bearer(portal))
        assert r.status_code == 200, r.text
        found = [a["id"] for a in r.json() if a["id"] != draft and a["status"] == "in_review"]
        return found[0] if found else None

    app_id = wait_until("the chat's application", filed)
    steps = (("pemerintahan.pamanukan", 0), ("sekdes.pamanukan", 1), ("kades.pamanukan", 2))
    for username, step in steps:
        token = journey.staff_token(username, PASSWORD)
        journey.wait_for_task(token, app_id, step)
        if step == 0:
            detail = journey.task_detail(token, app_id)
            assert detail.status_code == 200, detail.text
            assert detail.json()["application"]["channel"] == "whatsapp"
            assert {a["kind"] for a in detail.json()["attachments"]} == {"KTP", "KK"}
        decided = journey.decide(token, app_id, "approve")
        assert decided.status_code == 200, decided.text
    application = journey.wait_for_status(portal, app_id, "issued")
    number, letter = application["number"], application["letter"]

    # The same chat: the submitted and step notices, then the letter as a short-lived signed
    # link (the resident never opened a browser).
    def issued_notice() -> dict[str, Any] | None:
        kept = chat.messages()
        return next((m for m in kept if letter["number"] in m["body"]), None)

    notice = wait_until("the letter's link in the chat", issued_notice)
    notices = [m["body"] for m in chat.messages() if _payload(m) is None]
    assert any(f"nomor {number}" in b for b in notices), notices  # submitted
    assert sum(f"{number}: Sekarang diperiksa" in b for b in notices) == 2, notices
    [link] = re.findall(r"https?://\S+?/api/v1/letter-links/\S+?(?=\s|$)", notice["body"])
    link = link.rstrip(".,)")
    assert app_id in link and "sig=" in link and "expires=" in link
    pdf = httpx.get(link)  # no sign-in: the signature is the permission
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    # Never a file in the chat: no reply or notice carries a document or other media.
    for m in chat.messages():
        try:
            payload = json.loads(m["body"])
        except ValueError:
            continue  # a notice: plain text
        assert payload.get("type") in ("text", "interactive", "template"), payload
        assert not {"document", "image"} & set(payload), payload


class _Chat:
    """One phone writing to the stack's WhatsApp number, as the Cloud API delivers it."""

    def __init__(self, journey: Journey, secret: str) -> None:
        self.journey = journey
        self.secret = secret
        self.sent_at = int(time.time())

    def messages(self) -> list[dict[str, Any]]:
        """What the dev sink kept for this number, oldest first."""
        return list(reversed(self.journey.dev_messages(PHONE_C)))

    def _message(self, kind: str, content: dict[str, Any]) -> dict[str, Any]:
        self.sent_at += 1
        return {
            "from": "62" + PHONE_C[1:],
            "id": f"wamid.{uuid.uuid4().hex}",
            "timestamp": str(self.sent_at),
            "type": kind,
            kind: content,
        }

    def text(self, body: str) -> dict[str, Any]:
        return self._message("text", {"body": body})

    def choose(self, reply: dict[str, Any], title: str) -> dict[str, Any]:
        interactive = reply["interactive"]
        if interactive["type"] == "button":
            ids = {b["reply"]["title"]: b["reply"]["id"] for b in interactive["action"]["buttons"]}
            kind = "button_reply"
        else:
            rows = [r for s in interactive["action"]["sections"] for r in s["rows"]]
            ids = {r["title"]: r["id"] for r in rows}
            kind = "list_reply"
        return self._message(
            "interactive", {"type": kind, kind: {"id": ids[title], "title": title}}
        )

    def say(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Posts it signed as Meta signs, and returns the chat's replies it caused (a reply
        that asks something ends them)."""
        before = len(self.messages())
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6226000000", "phone_number_id": "dev"},
            "contacts": [{"profile": {"name": "Warga"}, "wa_id": message["from"]}],
            "messages": [message],
        }
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [{"id": "dev", "changes": [{"field": "messages", "value": value}]}],
            }
        ).encode()
        signature = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        r = self.journey.http.post(
            f"{self.journey.ep.notification}/api/v1/webhooks/whatsapp",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": f"sha256={signature}",
            },
        )
        assert r.status_code == 200, r.text

        def replies() -> list[dict[str, Any]] | None:
            fresh = [_payload(m) for m in self.messages()[before:]]
            chat = [p for p in fresh if p is not None]
            return chat if chat else None

        return wait_until("the chat's reply", replies, within=30)


def _payload(message: dict[str, Any]) -> dict[str, Any] | None:
    """A chat reply as the Cloud API got it; None for a notice (plain text)."""
    try:
        payload = json.loads(message["body"])
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _text(reply: dict[str, Any]) -> str:
    if reply["type"] == "interactive":
        return str(reply["interactive"]["body"]["text"])
    return str(reply.get("text", {}).get("body", ""))


def _titles(reply: dict[str, Any]) -> list[str]:
    interactive = reply["interactive"]
    if interactive["type"] == "button":
        return [b["reply"]["title"] for b in interactive["action"]["buttons"]]
    return [r["title"] for s in interactive["action"]["sections"] for r in s["rows"]]


def _app_secret(runner: StackRunner) -> str:
    """The app secret the stack verifies signatures with: as `make run` (and `make chat`)."""
    return os.environ.get(WHATSAPP_SECRET_VARIABLES[0]) or _dev_secret(
        runner.data_dir / "whatsapp" / "app-secret"
    )


def test_events_are_cloudevents_without_personal_data() -> None:
    events = STORED["events"]
    types = [e["headers"]["ce-type"] for e in events]
    assert types[0] == "id.go.subang.smartdesa.application.submitted.v1"
    assert types.count("id.go.subang.smartdesa.application.step_assigned.v1") == 3
    assert types[-1] == "id.go.subang.smartdesa.letter.issued.v1"
    for event in events:
        assert event["subject"].startswith("smartdesa.events.3213.321311.3213112004.")
        assert event["headers"]["ce-specversion"] == "1.0"
        assert event["headers"]["Nats-Msg-Id"] == event["headers"]["ce-id"]
        raw = event["raw"]
        for secret in (NIK_A, "Budi Santoso", PHONE_A, "6281234567890"):
            assert secret not in raw


def test_no_personal_data_in_logs_or_workflow_history(
    runner: StackRunner, first_run: Stack
) -> None:
    # The services', the worker's and Temporal's logs after the journeys above (sign-in, a
    # letter issued, a revision, a rejection, a letter requested by WhatsApp chat), and the
    # letter's workflow history: the resident's NIK, name and phone number reach none of them
    # (intake and the letter keep them).
    secrets: tuple[str, ...] = (
        *(NIK_A, NIK_B, "Budi Santoso", PHONE_A, PHONE_B, "6281234567890", "6281298765432"),
        # And the chat's resident: the webhook, the conversation and its filing log none of it.
        *(NIK_C, NAME_C, NAME_C.upper(), PHONE_C, "62" + PHONE_C[1:]),
    )
    logs = [first_run.log, *sorted(p for p in (runner.data_dir / "logs").iterdir() if p.is_file())]
    assert len(logs) > 5
    texts = {log.name: log.read_text(errors="replace") for log in logs}
    # The logs are the stack's and say what happened (by id).
    assert any(STORED["app_id"] in text for text in texts.values())
    for name, text in texts.items():
        assert [s for s in secrets if s in text] == [], name

    async def history() -> str:
        client = await Client.connect(f"127.0.0.1:{first_run.env['SMARTDESA_DEV_TEMPORAL_PORT']}")
        handle = client.get_workflow_handle(workflow_id(STORED["app_id"]))
        events = (await handle.fetch_history()).events
        # Protobuf bytes hold the payloads as they are (JSON); to_json() would base64 them.
        return b"".join(e.SerializeToString() for e in events).decode(errors="replace")

    text = asyncio.run(history())
    assert STORED["letter"]["number"] in text  # the history is the letter's, and readable
    assert [s for s in secrets if s in text] == []


def test_ctrl_c_stops_everything_and_a_second_run_keeps_it_all(
    runner: StackRunner, first_run: Stack
) -> None:
    # The supervisor, NATS, Temporal, four services and the worker; and signing's helpers while
    # its pool runs (started by the first letter, released when idle): its forkserver,
    # multiprocessing's resource tracker and up to two letter-signing worker processes.
    processes = _stack_processes(runner.data_dir)
    helpers = [p for p in processes if "multiprocessing" in p]
    assert len(processes) - len(helpers) == 8
    assert len(helpers) <= 4
    assert StackRunner.stop(first_run) == 0
    # Every child stopped with it (each carries the stack's data folder in its environment).
    assert _stack_processes(runner.data_dir) == []
    second = runner.start(2)
    try:
        j = Journey(second.endpoints)
        try:
            resident = j.resident_sign_in(NIK_A, STORED["resident_phone"])
            application = j.application(resident, STORED["app_id"])
            assert application.status_code == 200
            assert application.json()["status"] == "issued"
            assert application.json()["letter"]["number"] == STORED["letter"]["number"]
            assert j.letter_pdf(resident, STORED["app_id"]).content == STORED["pdf"]
            page = httpx.get(
                STORED["letter"]["verification_url"].replace(
                    first_run.endpoints.signing, second.endpoints.signing
                )
            )
            assert page.status_code == 200 and STORED["letter"]["number"] in page.text
            assert j.verify_pdf(STORED["pdf"])["conclusion"] == "valid"
        finally:
            j.close()
        assert StackRunner.stop(second) == 0
    finally:
        StackRunner.ensure_stopped(second)


async def _events_for(nats_url: str, application_id: str) -> list[dict[str, Any]]:
    """Read the public stream as an outside consumer would (ephemeral, from the start), up to
    the last event stored when we began."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        last = (await js.stream_info("SMARTDESA_EVENTS")).state.last_seq
        sub = await js.pull_subscribe(
            "smartdesa.events.>",
            stream="SMARTDESA_EVENTS",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        found: list[dict[str, Any]] = []
        seen = 0
        deadline = asyncio.get_running_loop().time() + 60
        while seen < last:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"read {seen} of {last} events")
            try:
                msgs = await sub.fetch(batch=100, timeout=2)
            except TimeoutError:  # nothing delivered within the wait; ask again
                continue
            for msg in msgs:
                await msg.ack()
                seen = max(seen, msg.metadata.sequence.stream)
                headers = dict(msg.headers or {})
                if headers.get("ce-subject") == application_id:
                    found.append(
                        {
                            "subject": msg.subject,
                            "headers": headers,
                            "raw": msg.data.decode() + repr(headers),
                        }
                    )
        return found
    finally:
        await nc.close()


def _stack_processes(data_dir: Path) -> list[str]:
    """Command lines of the running processes started for the stack on `data_dir`."""
    marker = f"SMARTDESA_DATA_DIR={data_dir}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
