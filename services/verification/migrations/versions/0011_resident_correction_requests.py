"""residents' correction requests to the population register

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "population_correction_request",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("resident_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("current_value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("proposed_value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("decline_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("accepted_value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("document", sa.LargeBinary(), nullable=True),
        sa.Column("document_content_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("population_correction_request", schema=None) as batch_op:
        for column in ("created_at", "desa_code", "resident_id", "status"):
            batch_op.create_index(
                batch_op.f(f"ix_population_correction_request_{column}"), [column], unique=False
            )


def downgrade() -> None:
    op.drop_table("population_correction_request")
