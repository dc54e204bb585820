"""sign-in by the population register: bindings, notices, resident session versions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("resident") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("resident") as batch:
        batch.alter_column("session_version", server_default=None)
    op.create_table(
        "sign_in_binding",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("resident_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("bound_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("undone_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("undone_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_binding") as batch:
        batch.create_index(batch.f("ix_sign_in_binding_bound_at"), ["bound_at"], unique=False)
        batch.create_index(batch.f("ix_sign_in_binding_desa_code"), ["desa_code"], unique=False)
        batch.create_index(batch.f("ix_sign_in_binding_resident_id"), ["resident_id"], unique=False)
    op.create_table(
        "sign_in_notice",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_notice") as batch:
        batch.create_index(batch.f("ix_sign_in_notice_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sign_in_notice") as batch:
        batch.drop_index(batch.f("ix_sign_in_notice_created_at"))
    op.drop_table("sign_in_notice")
    with op.batch_alter_table("sign_in_binding") as batch:
        batch.drop_index(batch.f("ix_sign_in_binding_resident_id"))
        batch.drop_index(batch.f("ix_sign_in_binding_desa_code"))
        batch.drop_index(batch.f("ix_sign_in_binding_bound_at"))
    op.drop_table("sign_in_binding")
    with op.batch_alter_table("resident") as batch:
        batch.drop_column("session_version")
