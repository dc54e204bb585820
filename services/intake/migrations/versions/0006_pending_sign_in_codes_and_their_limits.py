"""pending sign-in codes and their limits

Codes asked for before this revision are dropped: they live five minutes, and the resident
asks again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 23:45:50.278517
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_code",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("nik_hmac", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("resident_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("code_hmac", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("consumed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_code_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sign_in_code_nik_hmac"), ["nik_hmac"], unique=False)

    op.create_table(
        "sign_in_guard",
        sa.Column("nik_hmac", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_failure_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nik_hmac"),
    )
    with op.batch_alter_table("sign_in_guard", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_guard_last_failure_at"), ["last_failure_at"], unique=False
        )

    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", "period"),
    )
    with op.batch_alter_table("sign_in_throttle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_throttle_ends_at"), ["ends_at"], unique=False)

    with op.batch_alter_table("otp_challenge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_otp_challenge_created_at"))
        batch_op.drop_index(batch_op.f("ix_otp_challenge_resident_id"))

    op.drop_table("otp_challenge")


def downgrade() -> None:
    op.create_table(
        "otp_challenge",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("resident_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("code_hmac", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("consumed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("otp_challenge", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_otp_challenge_resident_id"), ["resident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_otp_challenge_created_at"), ["created_at"], unique=False
        )

    with op.batch_alter_table("sign_in_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_throttle_ends_at"))

    op.drop_table("sign_in_throttle")
    with op.batch_alter_table("sign_in_guard", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_guard_last_failure_at"))

    op.drop_table("sign_in_guard")
    with op.batch_alter_table("sign_in_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_code_nik_hmac"))
        batch_op.drop_index(batch_op.f("ix_sign_in_code_expires_at"))

    op.drop_table("sign_in_code")
