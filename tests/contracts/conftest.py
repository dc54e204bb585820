"""Every event the code produces, made by the producers' own code paths against a real SQLite
database (intake's submission, RecordProgress and sign-in code), for the contract tests."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import intake_pb2, population_pb2_grpc
from sqlmodel import col, select

from common.auth import InternalAuth
from common.db import create_engine, create_tables, session_factory
from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_DECIDED,
    APPLICATION_ESCALATED,
    APPLICATION_EXPIRED,
    APPLICATION_REJECTED,
    APPLICATION_REMINDED,
    APPLICATION_RESUBMITTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
    LETTER_ISSUED,
    LETTER_REVOKED,
)
from common.events import CloudEvent, public_subject
from common.outbox import OutboxEvent, stage_event
from common.rpc import INTAKE, VERIFICATION, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets
from services.intake import complaints
from services.intake.applications import record_submission
from services.intake.config import Settings
from services.intake.models import TABLES, LetterApplication, Resident
from services.intake.otp import Limits, OtpKey, request_code
from services.intake.progress import record_progress
from services.intake.sign_in_bindings import change_phone
from services.signing.models import Letter, LetterStatus
from services.signing.revocation import revoked_event
from services.verification.population import models as population_models
from services.verification.population import servicer as population_servicer

PAMANUKAN = "32.13.11.2004"
# The personal data of the resident behind every event: none of it may reach a public event.
NIK = "3213115708900001"
PHONE = "6281234567890"
PHONE_LOCAL = "081234567890"
NAME = "Ani Suryani"
ADDRESS = "Jl. Raya Pamanukan No. 5"
REASON = "Foto KTP Ani Suryani buram"
PERSONAL = (NIK, PHONE, PHONE_LOCAL, PHONE[2:], NAME, "Suryani", ADDRESS, REASON)


@dataclass(frozen=True)
class Produced:
    nats_subject: str
    event: CloudEvent


def _progress(
    application_id: str,
    sequence: int,
    event: str,
    status: str,
    *,
    step: tuple[int, str] | None = None,
    **fields: object,
) -> intake_pb2.RecordProgressRequest:
    occurred_at = Timestamp()
    occurred_at.FromDatetime(datetime(2025, 6, 2, 1, 0, tzinfo=UTC) + timedelta(minutes=sequence))
    request = intake_pb2.RecordProgressRequest(
        application_id=application_id,
        sequence=sequence,
        event=event,
        status=status,
        occurred_at=occurred_at,
        **fields,  # type: ignore[arg-type]
    )
    if step is not None:
        request.current_step.CopyFrom(intake_pb2.StepRef(index=step[0], role=step[1]))
    return request


def _deadline() -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(datetime(2025, 6, 4, 9, 0, tzinfo=UTC))
    return ts


@asynccontextmanager
async def _population(
    data_dir: Path,
) -> AsyncIterator[population_pb2_grpc.PopulationServiceStub]:
    """Verification's real PopulationService on an empty register, as intake reaches it."""
    settings = Settings(data_dir=data_dir)
    ensure_dev_secrets(settings)
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'register.db'}")
    await create_tables(engine, population_models.TABLES)
    server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(settings, VERIFICATION),
        [population_servicer.SERVICE_NAME],
        population_servicer.register(session_factory(engine)),
    )
    await server.start()
    try:
        auth = InternalAuth.from_settings(settings, INTAKE)
        async with client_channel(f"127.0.0.1:{server.port}", auth, VERIFICATION) as channel:
            yield population_pb2_grpc.PopulationServiceStub(channel)
    finally:
        await server.stop(0)
        await engine.dispose()


@pytest.fixture
async def produced(tmp_path: Path) -> AsyncIterator[list[Produced]]:
    """One event of every kind, through the code that publishes it in production."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
    await create_tables(engine, TABLES)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            resident = Resident(nik=NIK, phone=PHONE)
            session.add(resident)
            await session.commit()
            applications = []
            for _ in range(2):
                application = LetterApplication(
                    resident_id=resident.id,
                    desa_code=PAMANUKAN,
                    letter_type="SKD",
                    # As intake records it from the catalogue when the application starts.
                    letter_type_version="SKD-v1",
                    letter_type_name="Surat Keterangan Domisili",
                    purpose=f"Melamar kerja, atas nama {NAME}",
                    fields_json=json.dumps({"nama": NAME, "alamat": ADDRESS, "nik": NIK}),
                )
                session.add(application)
                applications.append(application)
            await session.commit()
            app, other = (a.id for a in applications)

        async with sessions() as session:
            assert await record_submission(session, app, datetime(2025, 6, 2, 1, tzinfo=UTC))
        steps = [
            _progress(
                app,
                1,
                APPLICATION_STEP_ASSIGNED,
                "in_review",
                step=(0, "kasi_pemerintahan"),
                deadline=_deadline(),
            ),
            _progress(
                app,
                2,
                APPLICATION_REMINDED,
                "in_review",
                step=(0, "kasi_pemerintahan"),
                deadline=_deadline(),
            ),
            _progress(
                app,
                3,
                APPLICATION_ESCALATED,
                "in_review",
                step=(0, "kasi_pemerintahan"),
                deadline=_deadline(),
                escalated_to_role="sekdes",
                escalation_level=1,
            ),
            _progress(
                app,
                4,
                APPLICATION_REVISION_REQUESTED,
                "revision_requested",
                actor_role="kasi_pemerintahan",
                decision="revise",
                reason=REASON,
            ),
            _progress(app, 5, APPLICATION_RESUBMITTED, "in_review", step=(0, "kasi_pemerintahan")),
            _progress(
                app,
                6,
                APPLICATION_DECIDED,
                "in_review",
                step=(1, "sekdes"),
                actor_role="kasi_pemerintahan",
                decision="approve",
            ),
            _progress(
                app,
                70,
                APPLICATION_SIGNING_BLOCKED,
                "signing_blocked",
                step=(2, "kades"),
                reason=REASON,
            ),
            _progress(
                app,
                7,
                LETTER_ISSUED,
                "issued",
                letter=intake_pb2.LetterRef(
                    letter_id="surat-1",
                    number="470/1/32.13.11.2004/VI/2025",
                    verification_url="http://127.0.0.1:8002/verifikasi/abc",
                ),
            ),
            _progress(
                other,
                1,
                APPLICATION_REJECTED,
                "rejected",
                actor_role="sekdes",
                decision="reject",
                reason=REASON,
            ),
            _progress(other, 2, APPLICATION_CANCELLED, "cancelled"),
            _progress(other, 3, APPLICATION_EXPIRED, "expired"),
        ]
        for request in steps:
            async with sessions() as session:
                assert await record_progress(session, request)
        async with _population(tmp_path) as population, sessions() as session:
            await request_code(
                session,
                OtpKey(b"k" * 32),
                Limits.from_settings(Settings()),
                population,
                NIK,
                PHONE,
                "::1",
            )
        async with sessions() as session:
            # resident.sign_in_notice: the operator changed Ani's phone at the office.
            await change_phone(session, NIK, "6285712345678", [PHONE], PAMANUKAN)
        # letter.revoked comes from signing (its own outbox), made by its own code.
        revoked = Letter(
            id="surat-1",
            application_id=app,
            desa_code="32.13.11.2004",
            letter_type="SKD",
            kode_klasifikasi="400.12.2",
            year=2025,
            sequence=1,
            number="400.12.2/1/32.13.11.2004/VI/2025",
            verification_code="abc",
            signer_role="kades",
            template_version="SKD-2026.2",
            status=LetterStatus.REVOKED.value,
            nik_masked="3213********0001",
            revoked_at=datetime(2025, 6, 3, 2, tzinfo=UTC),
            revoked_by="kades.pamanukan",
            revocation_reason=REASON,
        )
        async with sessions() as session:
            await stage_event(
                session, public_subject(revoked.desa_code, LETTER_REVOKED), revoked_event(revoked)
            )
            await session.commit()

        # complaint.*: filed signed in with personal data in the text, escalated, answered.
        async with sessions() as session:
            filed = await complaints.file_complaint(
                session,
                tmp_path,
                complaints.NewComplaint(
                    PAMANUKAN,
                    "layanan",
                    f"{NAME}, NIK {NIK}, HP {PHONE}: {REASON}",
                    resident_id=resident.id,
                ),
                40,
                datetime(2025, 6, 2, 1, tzinfo=UTC),
            )
            await session.commit()
        async with sessions() as session:
            assert await complaints.escalate(session, filed.complaint.id)
        async with sessions() as session:
            await complaints.answer_complaint(
                session,
                complaints.StaffActor("operator.subang", "kabupaten_operator", "", "32.13"),
                filed.complaint.id,
                f"Maaf, Bapak/Ibu {NAME}, berkas sudah ditemukan.",
            )

        async with sessions() as session:
            rows = (
                await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.created_at)))
            ).all()
        yield [Produced(row.nats_subject, row.to_cloudevent()) for row in rows]
    finally:
        await engine.dispose()
