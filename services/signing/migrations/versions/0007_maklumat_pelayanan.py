"""the desa's maklumat pelayanan (issue 19, Permenpan-RB 15/2014)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Profiles before keep "": they show the default maklumat.
    with op.batch_alter_table("desa_profile", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "maklumat_pelayanan",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
    with op.batch_alter_table("desa_profile", schema=None) as batch_op:
        batch_op.alter_column("maklumat_pelayanan", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("desa_profile", schema=None) as batch_op:
        batch_op.drop_column("maklumat_pelayanan")
