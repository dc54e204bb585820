"""indexes for the inbox and the kabupaten view at a million applications

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 07:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # make bench-inbox (docs/performance.md): a desa's open tasks, the steps decided in a
    # period and the letters submitted in it, without scanning the whole kabupaten.
    op.create_index(
        "ix_verification_task_desa_status", "verification_task", ["desa_code", "status"]
    )
    op.create_index(
        "ix_verification_task_kabupaten_closed",
        "verification_task",
        ["kabupaten_code", "closed_at"],
        # Covering on PostgreSQL: the step times need no table rows (SQLite ignores it).
        postgresql_include=["kind", "status", "role", "desa_code", "assigned_at"],
    )
    op.create_index(
        "ix_verification_application_kabupaten_submitted",
        "verification_application",
        ["kabupaten_code", "submitted_at"],
        postgresql_include=["kecamatan_code", "desa_code", "status", "application_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_verification_application_kabupaten_submitted", "verification_application")
    op.drop_index("ix_verification_task_kabupaten_closed", "verification_task")
    op.drop_index("ix_verification_task_desa_status", "verification_task")
