"""office message request id, linked number's desa

A "petugas" message carries the workflow's id for it, so a retried activity stores it once; a
linked number keeps its desa and time, for the desa's operators to list and undo.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A linked number's desa and time: the desa's operators list and undo links.
    op.add_column(
        "notification_whatsapp_chat",
        sa.Column("linked_desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    )
    op.add_column(
        "notification_whatsapp_chat",
        sa.Column("linked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.create_index(
        "ix_notification_whatsapp_chat_linked_desa_code",
        "notification_whatsapp_chat",
        ["linked_desa_code"],
    )
    op.add_column(
        "notification_office_message",
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    )
    op.create_index(
        "ix_notification_office_message_request_id",
        "notification_office_message",
        ["request_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_notification_whatsapp_chat_linked_desa_code", "notification_whatsapp_chat")
    with op.batch_alter_table("notification_whatsapp_chat") as batch:
        batch.drop_column("linked_at")
        batch.drop_column("linked_desa_code")
    op.drop_index("ix_notification_office_message_request_id", "notification_office_message")
    with op.batch_alter_table("notification_office_message") as batch:
        batch.drop_column("request_id")
