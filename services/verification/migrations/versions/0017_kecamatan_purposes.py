"""kecamatan letter types may be limited to some purposes (keperluan)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows keep going through the kecamatan for every purpose ("[]").
    with op.batch_alter_table("verification_kecamatan_letter_type") as batch:
        batch.add_column(
            sa.Column(
                "purposes_json",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="[]",
            )
        )
    with op.batch_alter_table("verification_kecamatan_letter_type") as batch:
        batch.alter_column("purposes_json", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("verification_kecamatan_letter_type") as batch:
        batch.drop_column("purposes_json")
