"""the catalogue version (and name) of the letter type an application started with

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:30:00.000000

Rows from before are left "" here: which version is current is signing's to say (intake
holds no list of letter types), so intake pins them through CatalogueService right after
this migration, at the same start (services/intake/catalogue.py `pin_unpinned`), to the
version current then. docs/letter-catalogue.md#versions.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("letter_application", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "letter_type_version",
                sqlmodel.sql.sqltypes.AutoString(length=40),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "letter_type_name",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
    # The default only fills the rows already there; the model sets the value from now on.
    with op.batch_alter_table("letter_application", schema=None) as batch_op:
        batch_op.alter_column("letter_type_version", server_default=None)
        batch_op.alter_column("letter_type_name", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("letter_application", schema=None) as batch_op:
        batch_op.drop_column("letter_type_name")
        batch_op.drop_column("letter_type_version")
