"""whatsapp chat

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_whatsapp_chat",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("last_inbound_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expects_secret", sa.Boolean(), nullable=False),
        sa.Column("link_failures", sa.Integer(), nullable=False),
        sa.Column("link_locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("linked_resident_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "notification_whatsapp_secret_answer",
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ref"),
    )
    op.create_index(
        "ix_notification_whatsapp_secret_answer_key",
        "notification_whatsapp_secret_answer",
        ["key"],
    )
    op.create_table(
        "notification_whatsapp_inbound",
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index(
        "ix_notification_whatsapp_inbound_key", "notification_whatsapp_inbound", ["key"]
    )
    op.create_index(
        "ix_notification_whatsapp_inbound_received_at",
        "notification_whatsapp_inbound",
        ["received_at"],
    )
    op.create_table(
        "notification_whatsapp_media",
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ref"),
    )
    op.create_index("ix_notification_whatsapp_media_key", "notification_whatsapp_media", ["key"])
    op.create_index(
        "ix_notification_whatsapp_media_created_at", "notification_whatsapp_media", ["created_at"]
    )
    op.create_table(
        "notification_office_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("resident_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("resident_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("answer", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("answered_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("answered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notification_office_message_key", "notification_office_message", ["key"])
    op.create_index(
        "ix_notification_office_message_desa_code", "notification_office_message", ["desa_code"]
    )
    op.create_index(
        "ix_notification_office_message_created_at", "notification_office_message", ["created_at"]
    )


def downgrade() -> None:
    op.drop_table("notification_office_message")
    op.drop_table("notification_whatsapp_media")
    op.drop_table("notification_whatsapp_inbound")
    op.drop_table("notification_whatsapp_secret_answer")
    op.drop_table("notification_whatsapp_chat")
