"""working seconds of decided steps, kept at the decision

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from common.db import as_utc
from services.verification.calendars import step_working_seconds
from services.verification.models import DesaSettings
from services.verification.routes import DesaRules, rules_of

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_task = sa.table(
    "verification_task",
    sa.column("id", sa.Integer),
    sa.column("desa_code", sa.String),
    sa.column("status", sa.String),
    sa.column("assigned_at", sa.DateTime),
    sa.column("closed_at", sa.DateTime),
    sa.column("working_seconds", sa.Float),
)
_BATCH = 5000
_INDEX = "ix_verification_task_kabupaten_closed"
_INCLUDE = ["kind", "status", "role", "desa_code", "assigned_at"]


def upgrade() -> None:
    with op.batch_alter_table("verification_task") as batch:
        batch.add_column(sa.Column("working_seconds", sa.Float(), nullable=True))
    _backfill()
    # The kabupaten view aggregates the stored seconds from the index alone on PostgreSQL.
    op.drop_index(_INDEX, table_name="verification_task")
    op.create_index(
        _INDEX,
        "verification_task",
        ["kabupaten_code", "closed_at"],
        postgresql_include=[*_INCLUDE, "working_seconds"],
    )


def _backfill() -> None:
    """Steps decided before this revision get their working seconds once, here, in each desa's
    calendar as set at this upgrade (docs/performance.md); steps decided afterwards get them
    from the task projection at the decision, in the calendar as set then."""
    conn = op.get_bind()
    # The settings table as it is at this revision (reflected), read as the service reads it.
    stored = sa.Table("verification_desa_settings", sa.MetaData(), autoload_with=conn)
    settings = {
        row.desa_code: rules_of(DesaSettings.model_validate(dict(row._mapping)))
        for row in conn.execute(sa.select(stored))
    }
    default = rules_of(None)
    last_id = 0
    while True:
        rows = conn.execute(
            sa.select(_task.c.id, _task.c.desa_code, _task.c.assigned_at, _task.c.closed_at)
            .where(
                _task.c.id > last_id,
                _task.c.status.in_(("done", "revision_requested")),
                _task.c.closed_at.is_not(None),
            )
            .order_by(_task.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        values = []
        for task_id, desa_code, assigned_at, closed_at in rows:
            rules: DesaRules = settings.get(desa_code, default)
            seconds = step_working_seconds(rules, as_utc(assigned_at), as_utc(closed_at))
            values.append({"task_id": task_id, "seconds": seconds})
        conn.execute(
            sa.update(_task)
            .where(_task.c.id == sa.bindparam("task_id"))
            .values(working_seconds=sa.bindparam("seconds")),
            values,
        )
        last_id = rows[-1][0]


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="verification_task")
    op.create_index(
        _INDEX, "verification_task", ["kabupaten_code", "closed_at"], postgresql_include=_INCLUDE
    )
    with op.batch_alter_table("verification_task") as batch:
        batch.drop_column("working_seconds")
