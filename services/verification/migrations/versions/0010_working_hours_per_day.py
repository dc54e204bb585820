"""working hours per day

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:10:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_settings = sa.table(
    "verification_desa_settings",
    sa.column("desa_code", sa.String),
    sa.column("start_hour", sa.Integer),
    sa.column("end_hour", sa.Integer),
    sa.column("workdays_json", sa.String),
    sa.column("hours_json", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("verification_desa_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "hours_json",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
    with op.batch_alter_table("verification_desa_settings", schema=None) as batch_op:
        batch_op.alter_column("hours_json", server_default=None)
    # A stored schedule (one set of hours for every workday) becomes the same hours on each of
    # its workdays, so the settings page shows it per day and deadlines do not move.
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            _settings.c.desa_code,
            _settings.c.start_hour,
            _settings.c.end_hour,
            _settings.c.workdays_json,
        )
    ).all()
    for code, start, end, workdays in rows:
        hours = [
            {"weekday": int(d), "start": int(start) * 60, "end": int(end) * 60}
            for d in sorted(set(json.loads(workdays)))
        ]
        conn.execute(
            sa.update(_settings)
            .where(_settings.c.desa_code == code)
            .values(hours_json=json.dumps(hours))
        )


def downgrade() -> None:
    # start_hour, end_hour and workdays_json were kept up to date as a summary.
    with op.batch_alter_table("verification_desa_settings", schema=None) as batch_op:
        batch_op.drop_column("hours_json")
