"""kecamatan tier: kecamatan staff and the letter types that go through the kecamatan

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 07:40:00.000000
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Subang's seed (kabupaten 32.13): the SKTM, the Pindah and the marriage letter go through the
# kecamatan: its kasi pelayanan checks, the camat signs "mengetahui". The operator edits it.
_STEPS = json.dumps(
    [
        {"role": "kasi_pelayanan_kecamatan", "deadline_working_hours": 8, "skippable": False},
        {"role": "camat", "deadline_working_hours": 8, "skippable": False},
    ]
)
SEED = ("SKTM", "SKPP", "SKNIKAH")


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(
            sa.Column(
                "kecamatan_code",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
        batch.create_index("ix_staff_kecamatan_code", ["kecamatan_code"], unique=False)
    # The default only fills existing rows; the model gives new ones theirs.
    with op.batch_alter_table("staff") as batch:
        batch.alter_column("kecamatan_code", server_default=None)
    table = op.create_table(
        "verification_kecamatan_letter_type",
        sa.Column("kabupaten_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("letter_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("steps_json", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kabupaten_code", "letter_type"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [
            {
                "kabupaten_code": "32.13",
                "letter_type": code,
                "steps_json": _STEPS,
                "updated_by": "",
                "updated_at": now,
            }
            for code in SEED
        ],
    )


def downgrade() -> None:
    op.drop_table("verification_kecamatan_letter_type")
    with op.batch_alter_table("staff") as batch:
        batch.drop_index("ix_staff_kecamatan_code")
        batch.drop_column("kecamatan_code")
