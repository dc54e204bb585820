"""survey answers and complaints

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "survey_answer",
        sa.Column("id", _S(), nullable=False),
        sa.Column("desa_code", _S(), nullable=False),
        sa.Column("letter_type", _S(), nullable=False),
        sa.Column("period", _S(), nullable=False),
        *[sa.Column(f"u{n}", sa.Integer(), nullable=False) for n in range(1, 10)],
        sa.Column("comment", _S(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_survey_answer_desa_code", "survey_answer", ["desa_code"])
    op.create_index("ix_survey_answer_period", "survey_answer", ["period"])
    op.create_table(
        "survey_link_used",
        sa.Column("application_id", _S(), nullable=False),
        sa.PrimaryKeyConstraint("application_id"),
    )
    op.create_table(
        "complaint",
        sa.Column("id", _S(), nullable=False),
        sa.Column("tracking_number", _S(), nullable=False),
        sa.Column("secret_hash", _S(), nullable=False),
        sa.Column("desa_code", _S(), nullable=False),
        sa.Column("kabupaten_code", _S(), nullable=False),
        sa.Column("subject", _S(), nullable=False),
        sa.Column("letter_type", _S(), nullable=False),
        sa.Column("application_reference", _S(), nullable=False),
        sa.Column("body", _S(), nullable=False),
        sa.Column("resident_id", _S(), nullable=True),
        sa.Column("attachment_name", _S(), nullable=False),
        sa.Column("attachment_type", _S(), nullable=False),
        sa.Column("status", _S(), nullable=False),
        sa.Column("filed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("deadline_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_complaint_tracking_number", "complaint", ["tracking_number"], unique=True)
    op.create_index("ix_complaint_desa_code", "complaint", ["desa_code"])
    op.create_index("ix_complaint_kabupaten_code", "complaint", ["kabupaten_code"])
    op.create_index("ix_complaint_resident_id", "complaint", ["resident_id"])
    op.create_index("ix_complaint_status", "complaint", ["status"])
    op.create_table(
        "complaint_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", _S(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("kind", _S(), nullable=False),
        sa.Column("actor", _S(), nullable=False),
        sa.Column("actor_role", _S(), nullable=False),
        sa.Column("actor_desa", _S(), nullable=False),
        sa.Column("text", _S(), nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_complaint_entry_complaint_id", "complaint_entry", ["complaint_id"])


def downgrade() -> None:
    op.drop_index("ix_complaint_entry_complaint_id", table_name="complaint_entry")
    op.drop_table("complaint_entry")
    for name in ("status", "resident_id", "kabupaten_code", "desa_code", "tracking_number"):
        op.drop_index(f"ix_complaint_{name}", table_name="complaint")
    op.drop_table("complaint")
    op.drop_table("survey_link_used")
    op.drop_index("ix_survey_answer_period", table_name="survey_answer")
    op.drop_index("ix_survey_answer_desa_code", table_name="survey_answer")
    op.drop_table("survey_answer")
