"""Schema migrations of every service, on SQLite and on PostgreSQL: the models and the
migrations agree (autogenerate finds nothing to add), and an existing database is upgraded
without losing its rows, whether it was made at an older revision or, before migrations
existed, by create_all."""

import asyncio
import importlib
import re
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, Table, and_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel
from sqlmodel import select as orm_select

from common.db import create_engine, session_factory
from common.migrations import (
    SERVICES,
    TEMPLATES_ENV,
    current_revision,
    migrations_dir,
    pending_model_changes,
    revisions,
    service_metadata,
    template_key,
    upgrade,
)
from services.verification.calendars import step_working_seconds
from services.verification.models import DesaSettings, StepRollup
from services.verification.routes import DayHours, hours_from_json, rules_of
from tests.support.postgres import PostgresDatabases

T0 = datetime(2026, 8, 17, 3, 0, tzinfo=UTC)

# Rows as the first revision's tables hold them: every later revision must keep them readable.
# (table, row); foreign keys point at earlier rows.
ROWS_AT_FIRST_REVISION: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "intake": [
        ("resident", {"id": "r-1", "nik": "3213115708900001", "phone": "6281234567890", "created_at": T0}),
        ("otp_challenge", {"id": "o-1", "resident_id": "r-1", "code_hmac": "ab12", "expires_at": T0,
                           "attempts": 1, "consumed_at": None, "created_at": T0}),
        ("letter_application", {"id": "a-1", "resident_id": "r-1", "desa_code": "32.13.11.2004",
                                "letter_type": "SKD", "purpose": "Melamar pekerjaan",
                                "fields_json": '{"nama": "Ani"}', "status": "issued",
                                "current_step_index": None, "current_step_role": None,
                                "current_step_assigned_at": None, "letter_id": "l-1",
                                "letter_number": "470/001/32.13.11.2004/VIII/2026",
                                "letter_verification_url": "http://x/verifikasi/c",
                                "created_at": T0, "submitted_at": T0}),
        ("application_attachment", {"id": "f-1", "application_id": "a-1", "kind": "KTP",
                                    "content_type": "image/png", "size_bytes": 1234,
                                    "sha256": "00ff", "created_at": T0}),
        ("application_timeline", {"id": 1, "application_id": "a-1", "sequence": 3, "at": T0,
                                  "event": "letter.issued", "status": "issued", "step_index": None,
                                  "step_role": None, "decision": "", "actor_role": "",
                                  "reason": ""}),
        ("outbox_event", {"id": "e-1", "nats_subject": "smartdesa.events.x", "ce_type": "t",
                          "ce_source": "intake", "ce_subject": "a-1", "ce_time": T0,
                          "data_json": "{}", "created_at": T0, "published_at": None,
                          "attempts": 0}),
    ],
    "verification": [
        ("staff", {"id": 1, "username": "kades.pamanukan", "password_hash": "$argon2id$x",
                   "role": "kades", "desa_code": "32.13.11.2004", "active": True,
                   "created_at": T0}),
        ("verification_task", {"id": 1, "application_id": "a-1", "step_index": 0,
                               "role": "kasi_pemerintahan", "desa_code": "32.13.11.2004",
                               "letter_type": "SKD", "status": "open", "assigned_at": T0,
                               "closed_at": None}),
        ("verification_processed_event", {"event_id": "e-1", "application_id": "a-1",
                                          "occurred_at": T0, "processed_at": T0}),
    ],
    "signing": [
        ("desa_profile", {"code": "32.13.11.2004", "name": "Pamanukan", "kecamatan": "Pamanukan",
                          "kabupaten": "Subang", "address": "Jl. Raya", "kode_pos": "41254",
                          "kades_name": "H. Kades"}),
        ("number_counter", {"desa_code": "32.13.11.2004", "kode_klasifikasi": "470",
                            "year": 2026, "value": 7}),
        ("letter", {"id": "l-1", "application_id": "a-1", "desa_code": "32.13.11.2004",
                    "letter_type": "SKD", "kode_klasifikasi": "470", "year": 2026, "sequence": 7,
                    "number": "470/007/32.13.11.2004/VIII/2026", "verification_code": "c0de",
                    "signer_role": "kades", "template_version": "1", "sha256": "ab",
                    "pdf_path": "letters/l-1.pdf", "status": "valid", "issued_at": T0,
                    "created_at": T0}),
    ],
    "notification": [
        ("notification_processed_event", {"event_id": "e-1", "event_type": "letter.issued",
                                          "processed_at": T0}),
        ("notification", {"id": 1, "recipient": "resident:r-1", "title": "Surat terbit",
                          "body": "Surat Anda terbit", "link": None, "template": "issued",
                          "template_version": "1", "event_id": "e-1", "created_at": T0,
                          "read_at": None}),
        ("notification_delivery", {"id": 1, "channel": "whatsapp", "recipient": "resident:r-1",
                                   "to_address": "6281234567890", "body": "Surat Anda terbit",
                                   "template": "issued", "template_version": "1",
                                   "event_id": "e-1", "status": "delivered", "attempts": 1,
                                   "next_attempt_at": T0, "expires_at": None,
                                   "redact_when_final": False, "provider_message_id": "m-1",
                                   "created_at": T0, "updated_at": T0}),
        ("notification_delivery_attempt", {"id": 1, "delivery_id": 1, "number": 1,
                                           "started_at": T0, "finished_at": T0,
                                           "outcome": "delivered", "provider_message_id": "m-1",
                                           "error": None}),
        ("notification_dev_message", {"id": 1, "channel": "whatsapp",
                                      "to_address": "6281234567890", "body": "hai",
                                      "created_at": T0}),
    ],
}  # fmt: skip


# Tables a later revision drops on purpose, so their rows need not survive.
DROPPED: dict[str, set[str]] = {
    # intake 0006: sign-in codes live five minutes; codes are now pending in sign_in_code, and
    # a resident whose code was dropped asks for a new one.
    "intake": {"otp_challenge"},
}


def kept(service: str, rows: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, row) for name, row in rows if name not in DROPPED.get(service, set())]


def tables_of(service: str) -> list[type[SQLModel]]:
    tables: list[type[SQLModel]] = importlib.import_module(f"services.{service}.models").TABLES
    return tables


@pytest.fixture(params=["sqlite", "postgresql"])
async def new_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[str], Any]]:
    """Makes empty databases of one backend; disposes of their engines afterwards."""
    engines: list[AsyncEngine] = []
    postgres: PostgresDatabases | None = (
        request.getfixturevalue("postgres") if request.param == "postgresql" else None
    )

    async def make(name: str) -> AsyncEngine:
        if postgres is not None:
            url = await postgres.create(name)
        else:
            url = f"sqlite+aiosqlite:///{tmp_path / name}.db"
        engine = create_engine(url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.dispose()


async def insert_rows(engine: AsyncEngine, rows: list[tuple[str, dict[str, Any]]]) -> None:
    """Insert through the database's own (reflected) tables, as they are at this revision."""

    def run(conn: Connection) -> None:
        metadata = MetaData()
        for name, row in rows:
            table = Table(name, metadata, autoload_with=conn)
            conn.execute(table.insert().values(**row))

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def rows_still_there(engine: AsyncEngine, rows: list[tuple[str, dict[str, Any]]]) -> None:
    def run(conn: Connection) -> None:
        metadata = MetaData()
        for name, row in rows:
            table = Table(name, metadata, autoload_with=conn)
            key = [table.c[c.name] == row[c.name] for c in table.primary_key.columns]
            found = conn.execute(select(table).where(and_(*key))).mappings().one_or_none()
            assert found is not None, f"{name} row {row} lost"
            for column, value in row.items():
                if not isinstance(value, datetime):  # stored per backend; read back below
                    assert found[column] == value, (name, column, found[column], value)

    async with engine.connect() as conn:
        await conn.run_sync(run)


async def read_through_models(engine: AsyncEngine, service: str) -> None:
    """Today's code reads every stored row, times in UTC."""
    expected = {name for name, _row in ROWS_AT_FIRST_REVISION[service]}
    async with session_factory(engine)() as session:
        for model in tables_of(service):
            table_name = model.__tablename__
            if table_name not in expected:
                continue
            found = (await session.exec(orm_select(model))).all()
            assert len(found) == 1, table_name
            for value in found[0].model_dump().values():
                if isinstance(value, datetime):
                    assert value == T0, (table_name, value)


@pytest.mark.parametrize("service", SERVICES)
async def test_models_and_migrations_agree(new_engine: Callable[[str], Any], service: str) -> None:
    """If this fails, a model changed without a migration: make migration SERVICE=... MSG=..."""
    engine = await new_engine(f"agree_{service}")
    await upgrade(engine, service)
    assert await current_revision(engine) == revisions(service)[-1]
    changes = await pending_model_changes(engine, service_metadata(tables_of(service)))
    assert changes == [], (
        f"{service}'s models differ from its migrations; run "
        f'`make migration SERVICE={service} MSG="..."` and commit the new revision: {changes}'
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_upgrade_from_the_first_revision_keeps_the_rows(
    new_engine: Callable[[str], Any], service: str
) -> None:
    engine = await new_engine(f"old_{service}")
    history = revisions(service)
    await upgrade(engine, service, history[0])
    rows = ROWS_AT_FIRST_REVISION[service]
    await insert_rows(engine, rows)

    await upgrade(engine, service)  # what the service does at every start
    await upgrade(engine, service)  # and again: nothing left to do, nothing lost

    assert await current_revision(engine) == history[-1]
    await rows_still_there(engine, kept(service, rows))
    await read_through_models(engine, service)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_database_made_before_migrations_is_adopted_with_its_rows(
    new_engine: Callable[[str], Any], service: str
) -> None:
    """Dev data folders from before migrations: the first revision's tables (which create_all
    made then), no version table."""
    engine = await new_engine(f"unversioned_{service}")
    await upgrade(engine, service, revisions(service)[0])
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE alembic_version"))
    rows = ROWS_AT_FIRST_REVISION[service]
    await insert_rows(engine, rows)
    assert await current_revision(engine) is None

    await upgrade(engine, service)

    assert await current_revision(engine) == revisions(service)[-1]
    await rows_still_there(engine, kept(service, rows))


async def sqlite_contents(engine: AsyncEngine) -> tuple[list[Any], dict[str, int], str | None]:
    """Schema (every table, index and trigger as SQLite stores its SQL), rows per table, and
    the revision. A table's clauses are compared as a set: a batch-mode copy writes the
    constraints in no fixed order, so two runs of the chain differ in it too."""
    async with engine.connect() as conn:
        schema = (
            await conn.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        ).all()
        counts = {
            name: (await conn.execute(text(f'SELECT count(*) FROM "{name}"'))).scalar_one()  # noqa: S608
            for kind, name, _table, _sql in schema
            if kind == "table"
        }
    clauses = [
        (
            kind,
            name,
            table,
            sorted(part.strip() for part in re.sub(r"\n\)$", "", sql or "").split(",")),
        )
        for kind, name, table, sql in schema
    ]
    return sorted(clauses), counts, await current_revision(engine)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_new_database_copied_from_the_template_is_what_the_chain_makes(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rest of the suite starts services on copies of a migrated template (tests/conftest.py):
    the copy must equal the chain's own result, and a database with tables is left to the chain."""
    chain = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'chain.db'}")
    copied = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'copied.db'}")
    unversioned = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unversioned.db'}")
    try:
        await upgrade(chain, service)
        await upgrade(unversioned, service, revisions(service)[0])
        async with unversioned.begin() as conn:
            await conn.execute(text("DROP TABLE alembic_version"))
        monkeypatch.setenv(TEMPLATES_ENV, str(tmp_path / "templates"))

        await upgrade(copied, service)
        await upgrade(unversioned, service)

        assert list((tmp_path / "templates").glob(f"{service}-*.db")), "no template made"
        assert await sqlite_contents(copied) == await sqlite_contents(chain)
        assert await current_revision(unversioned) == revisions(service)[-1]
    finally:
        for engine in (chain, copied, unversioned):
            await engine.dispose()


def test_a_template_is_named_by_its_migration_files(tmp_path: Path) -> None:
    """A changed or added revision file makes a new template; an old one is never reused."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrations_dir("intake"), scripts, ignore=shutil.ignore_patterns("__pycache__"))
    key = template_key(scripts)
    assert key == template_key(migrations_dir("intake"))
    first = sorted((scripts / "versions").glob("*.py"))[0]
    first.write_text(first.read_text() + "\n# changed\n")
    changed = template_key(scripts)
    assert changed != key
    (scripts / "versions" / "9002_test_origin.py").write_text(SECOND_REVISION)
    assert template_key(scripts) not in (key, changed)


SECOND_REVISION = '''
"""test: a column and an index on letter_application"""

import sqlalchemy as sa
from alembic import op

revision = "9002"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("letter_application") as batch_op:
        batch_op.add_column(
            sa.Column("test_origin", sa.String(), nullable=False, server_default="app")
        )
        batch_op.create_index("ix_letter_application_test_origin", ["test_origin"])


def downgrade() -> None:
    with op.batch_alter_table("letter_application") as batch_op:
        batch_op.drop_index("ix_letter_application_test_origin")
        batch_op.drop_column("test_origin")
'''


async def test_a_new_revision_that_rebuilds_a_table_keeps_its_rows_and_references(
    new_engine: Callable[[str], Any], tmp_path: Path
) -> None:
    """The kind of revision the next issues bring: a NOT NULL column added to a table other
    tables point at. On SQLite the batch mode copies the table; nothing may be lost."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrations_dir("intake"), scripts)
    head = revisions("intake")[-1]
    (scripts / "versions" / "9002_test_origin.py").write_text(
        SECOND_REVISION.replace("{head}", head)
    )
    engine = await new_engine("rebuild_intake")
    await upgrade(engine, "intake", revisions("intake")[0], script_location=scripts)
    rows = ROWS_AT_FIRST_REVISION["intake"]
    await insert_rows(engine, rows)
    await upgrade(engine, "intake", script_location=scripts)

    assert await current_revision(engine) == "9002"
    await rows_still_there(engine, kept("intake", rows))

    def read(conn: Connection) -> Any:
        table = Table("letter_application", MetaData(), autoload_with=conn)
        return conn.execute(select(table.c.test_origin)).scalar_one()

    async with engine.connect() as conn:
        assert await conn.run_sync(read) == "app"


async def test_replicas_starting_together_upgrade_once(postgres: PostgresDatabases) -> None:
    """Three replicas of a service start at once on an empty PostgreSQL database: one
    migrates, the others wait for it (advisory lock) and find nothing left to do."""
    url = await postgres.create("together")
    engines = [create_engine(url) for _ in range(3)]
    try:
        # Bounded: without the lock they block each other on the catalog.
        await asyncio.wait_for(
            asyncio.gather(*(upgrade(engine, "intake") for engine in engines)), timeout=120
        )
        assert await current_revision(engines[0]) == revisions("intake")[-1]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_signing_keeps_who_signed_when_the_label_becomes_facts(
    new_engine: Callable[[str], Any],
) -> None:
    """Revision 0003 replaces the register's label (signed_by) with the signer's name and
    whether they signed as Plt or a.n. the Kades; letters issued before keep their signer."""
    engine = await new_engine("signer_label")
    await upgrade(engine, "signing", "0002")
    base = dict(ROWS_AT_FIRST_REVISION["signing"])["letter"]
    labels = {
        "l-1": ("Dadang Suhendar (Kepala Desa)", "Dadang Suhendar", False, ""),
        "l-2": ("Hj. Nining (Plt. Kepala Desa)", "Hj. Nining", True, ""),
        "l-3": ("Asep (Sekretaris Desa, a.n. Kepala Desa)", "Asep", False, "kades"),
    }
    rows = [
        ("letter", {**base, "id": i, "application_id": f"a-{i}", "sequence": n,
                    "number": f"470/{n}", "verification_code": f"c-{i}", "purpose": "",
                    "addressee": "", "signed_by": label})
        for n, (i, (label, *_)) in enumerate(labels.items(), start=1)
    ]  # fmt: skip
    await insert_rows(engine, rows)

    await upgrade(engine, "signing")

    async with engine.connect() as conn:
        found = {
            row.id: (row.signer_name, bool(row.signer_is_plt), row.on_behalf_of_role)
            for row in await conn.execute(
                text("SELECT id, signer_name, signer_is_plt, on_behalf_of_role FROM letter")
            )
        }
    assert found == {i: tuple(expected) for i, (_label, *expected) in labels.items()}


async def test_a_stored_working_schedule_becomes_the_same_hours_on_each_workday(
    new_engine: Callable[[str], Any],
) -> None:
    """Revision 0010 gives each desa's stored schedule (one set of hours for every workday)
    per-day hours: the same hours on the same days, so no deadline moves."""
    engine = await new_engine("hours_per_day")
    await upgrade(engine, "verification", "0008")
    settings = {
        "start_hour": 7, "end_hour": 15, "local_days_off_json": '["2026-12-24"]',
        "max_revision_rounds": 3, "resubmit_days": 14, "operator_may_edit_routes": False,
        "updated_by": "sekdes.pamanukan", "updated_at": T0,
    }  # fmt: skip
    await insert_rows(
        engine,
        [
            ("verification_desa_settings",
             {**settings, "desa_code": "32.13.11.2004", "workdays_json": "[1, 2, 3, 4, 5, 6]"}),
            ("verification_desa_settings",
             {**settings, "desa_code": "32.13.11.2005", "workdays_json": "[5, 1]"}),
        ],
    )  # fmt: skip

    await upgrade(engine, "verification")

    async with session_factory(engine)() as session:
        stored = list((await session.exec(orm_select(DesaSettings))).all())
    hours = {r.desa_code: hours_from_json(r.hours_json) for r in stored}
    assert hours["32.13.11.2004"] == tuple(DayHours(d, 420, 900) for d in range(1, 7))
    assert hours["32.13.11.2005"] == (DayHours(1, 420, 900), DayHours(5, 420, 900))
    rules = {r.desa_code: rules_of(r) for r in stored}
    assert rules["32.13.11.2004"].schedule == hours["32.13.11.2004"]
    assert rules["32.13.11.2004"].local_days_off == ("2026-12-24",)


async def test_the_residents_access_log_is_append_only_on_postgresql(
    postgres: PostgresDatabases,
) -> None:
    """Revision 0012's trigger: a row of personal_data_access can be added, never changed or
    removed, whoever asks (docs/public-duties.md, the residents' access log)."""
    engine = create_engine(await postgres.create("access_log"))
    try:
        await upgrade(engine, "verification")
        await insert_rows(
            engine,
            [
                ("personal_data_access", {
                    "at": T0, "kind": "application", "application_id": "a-1",
                    "purpose": "SKD-2026-000001", "reader_username": "pemerintahan.pamanukan",
                    "reader_role": "kasi_pemerintahan", "reader_desa_code": "32.13.11.2004",
                    "reader_kabupaten_code": "32.13",
                }),
            ],
        )  # fmt: skip
        for statement in (
            "UPDATE personal_data_access SET reader_role = 'operator'",
            "DELETE FROM personal_data_access",
        ):
            with pytest.raises(Exception, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
        async with engine.connect() as conn:
            kept = await conn.execute(text("SELECT reader_role FROM personal_data_access"))
            assert kept.scalars().all() == ["kasi_pemerintahan"]
    finally:
        await engine.dispose()


async def test_steps_decided_before_revision_0018_get_their_working_seconds_once(
    new_engine: Callable[[str], Any],
) -> None:
    """Revision 0018 keeps each decided step's working seconds on its task. Steps decided
    before it get them once, in each desa's calendar as set at the upgrade (as the task
    projection counts them at a decision); open, cancelled and expired steps get none."""
    engine = await new_engine("working_seconds")
    await upgrade(engine, "verification", "0017")
    pamanukan, rancasari = "32.13.11.2004", "32.13.11.2002"
    friday, monday = datetime(2026, 11, 6, 8, tzinfo=UTC), datetime(2026, 11, 9, 2, tzinfo=UTC)
    task = {
        "application_number": "", "step_index": 0, "role": "sekdes", "letter_type": "SKD",
        "assigned_at": friday, "closed_at": monday, "deadline": None, "escalated_to_role": "",
        "supervisor_role": "", "escalation_level": 0, "reminders": 0,
        "kecamatan_code": "32.13.11", "kabupaten_code": "32.13", "kind": "decision",
    }  # fmt: skip
    statuses = {1: "done", 2: "revision_requested", 3: "cancelled", 4: "expired", 5: "open"}
    await insert_rows(
        engine,
        [
            ("verification_desa_settings", {
                "desa_code": rancasari, "start_hour": 8, "end_hour": 16,
                "workdays_json": "[1, 2, 3, 4, 5, 6]", "local_days_off_json": "[]",
                "max_revision_rounds": 3, "resubmit_days": 14, "operator_may_edit_routes": False,
                "hours_json": "", "updated_by": "sekdes.rancasari", "updated_at": T0,
            }),
            *(
                ("verification_task", {
                    **task, "id": i, "application_id": f"a-{i}", "status": status,
                    "desa_code": rancasari if i == 2 else pamanukan,
                    "closed_at": None if status == "open" else monday,
                })
                for i, status in statuses.items()
            ),
        ],
    )  # fmt: skip

    await upgrade(engine, "verification")

    async with engine.connect() as conn:
        stored = dict(
            (await conn.execute(text("SELECT id, working_seconds FROM verification_task"))).all()
        )
    # Friday 15:00 to Monday 09:00 WIB: 1 + 1 hours Monday to Friday; Saturday's 8 as well.
    assert stored == {1: 7200.0, 2: 36000.0, 3: None, 4: None, 5: None}
    async with session_factory(engine)() as session:
        rules = rules_of(await session.get(DesaSettings, rancasari))
    assert stored[2] == step_working_seconds(rules, friday, monday)


async def test_revision_0020_rolls_up_the_steps_decided_before_it(
    new_engine: Callable[[str], Any],
) -> None:
    """Revision 0020 keeps the kabupaten view's step times per WIB day, kecamatan and role
    group. The steps decided before it are rolled up once, from the tasks, as the projection
    rolls up a step at its decision (step_rollup.counted); open, cancelled and expired steps and
    signing-blocked tasks are left out."""
    engine = await new_engine("step_rollup")
    await upgrade(engine, "verification", "0019")
    monday = datetime(2026, 11, 9, 2, tzinfo=UTC)  # 09:00 WIB
    task = {
        "application_number": "", "step_index": 0, "letter_type": "SKD", "deadline": None,
        "escalated_to_role": "", "supervisor_role": "", "escalation_level": 0, "reminders": 0,
        "desa_code": "32.13.11.2004", "kecamatan_code": "32.13.11", "kabupaten_code": "32.13",
    }  # fmt: skip
    tasks = [  # status, role, kind, hours before Monday 09:00 WIB, working seconds
        ("done", "kasi_pemerintahan", "decision", 2.0, 7200.0),
        ("revision_requested", "kasi_kesra", "decision", 66.0, 7200.0),
        ("done", "sekdes", "decision", 10.0, None),  # the migration leaves None as it is
        ("done", "kades", "decision", 9.0, 0.0),  # closed 23:30 WIB Sunday: Sunday's cell
        ("cancelled", "sekdes", "decision", 3.0, None),
        ("expired", "sekdes", "decision", 3.0, None),
        ("done", "kades", "signing_blocked", 3.0, None),
    ]
    rows: list[tuple[str, dict[str, Any]]] = []
    for i, (status, role, kind, hours, _) in enumerate(tasks, start=1):
        closed = monday - timedelta(hours=9.5) if i == 4 else monday
        rows.append(("verification_task", {
            **task, "id": i, "application_id": f"a-{i}", "status": status, "role": role,
            "kind": kind, "assigned_at": monday - timedelta(hours=hours), "closed_at": closed,
        }))  # fmt: skip
    await insert_rows(engine, rows)
    async with engine.begin() as conn:
        for i, (*_, working) in enumerate(tasks, start=1):
            await conn.execute(
                text("UPDATE verification_task SET working_seconds = :w WHERE id = :i"),
                {"w": working, "i": i},
            )

    await upgrade(engine, "verification")

    async with session_factory(engine)() as session:
        stored = (await session.exec(orm_select(StepRollup))).all()
    got = {(r.day, r.role_group): (r.decided, r.working_seconds, r.elapsed_seconds) for r in stored}
    assert {r.kabupaten_code for r in stored} == {"32.13"}
    assert {r.kecamatan_code for r in stored} == {"32.13.11"}
    monday_wib, sunday_wib = date(2026, 11, 9), date(2026, 11, 8)
    assert got == {
        (monday_wib, "kasi"): (2, [7200.0, 7200.0], [7200.0, 66 * 3600.0]),
        (monday_wib, "sekdes"): (1, [], [36000.0]),
        (sunday_wib, "kades"): (1, [0.0], [0.0]),  # closed before assigned: 0, as the view
    }
