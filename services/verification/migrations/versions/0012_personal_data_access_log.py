"""the residents' access log: staff reads of personal data (UU 27/2022 PDP)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Append-only in the database too, where the database can say so (PostgreSQL): an UPDATE or
# DELETE of a row is refused whoever asks. SQLite (dev) relies on the code only inserting.
_PG_GUARD = (
    """CREATE FUNCTION personal_data_access_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'personal_data_access is append-only';
END;
$$ LANGUAGE plpgsql""",
    """CREATE TRIGGER personal_data_access_append_only
  BEFORE UPDATE OR DELETE ON personal_data_access
  FOR EACH ROW EXECUTE FUNCTION personal_data_access_append_only()""",
)


def upgrade() -> None:
    op.create_table(
        "personal_data_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column(
            "register_resident_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reader_username", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reader_role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reader_desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reader_kabupaten_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("personal_data_access", schema=None) as batch_op:
        for column in ("at", "application_id", "register_resident_id"):
            batch_op.create_index(
                batch_op.f(f"ix_personal_data_access_{column}"), [column], unique=False
            )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_GUARD:  # one statement per call (asyncpg prepares each)
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER personal_data_access_append_only ON personal_data_access")
        op.execute("DROP FUNCTION personal_data_access_append_only()")
    op.drop_table("personal_data_access")
