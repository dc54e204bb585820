"""room for the desa's wording in the version an application keeps

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 07:40:00.000000

An application now keeps the desa's wording it started with as well as the type's version,
in the same column: `SKD-v2-desa-32.13.11.2004-3` (docs/letter-catalogue.md#desa-wording).
A 16-letter code with a desa code and both version numbers passes 40 characters, so the column
widens to 64. Rows from before keep what they hold (the kabupaten's version only).
"""

from collections.abc import Sequence

import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("letter_application", schema=None) as batch_op:
        batch_op.alter_column(
            "letter_type_version",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=40),
            type_=sqlmodel.sql.sqltypes.AutoString(length=64),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("letter_application", schema=None) as batch_op:
        batch_op.alter_column(
            "letter_type_version",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            type_=sqlmodel.sql.sqltypes.AutoString(length=40),
            existing_nullable=False,
        )
