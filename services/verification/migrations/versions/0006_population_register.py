"""population register

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 23:44:06.114110
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
    # The population register (issue 13): residents, their change history, who read them.
    op.create_table(
        "population_resident",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("nik", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kk_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kk_level", sa.Integer(), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("birth_place", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.Integer(), nullable=False),
        sa.Column("religion", sa.Integer(), nullable=True),
        sa.Column("marital_status", sa.Integer(), nullable=True),
        sa.Column("occupation", sa.Integer(), nullable=True),
        sa.Column("education", sa.Integer(), nullable=True),
        sa.Column("education_ongoing", sa.Integer(), nullable=True),
        sa.Column("citizenship", sa.Integer(), nullable=True),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("dusun", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rw", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rt", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("father_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("father_nik", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("mother_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("mother_nik", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("blood_type", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phones", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("desa_code", "nik"),
    )
    with op.batch_alter_table("population_resident", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_population_resident_desa_code"), ["desa_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_population_resident_kk_number"), ["kk_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_population_resident_nik"), ["nik"], unique=False)
        batch_op.create_index(batch_op.f("ix_population_resident_status"), ["status"], unique=False)

    op.create_table(
        "population_resident_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("population_resident_access", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_population_resident_access_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_population_resident_access_desa_code"), ["desa_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_population_resident_access_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "population_resident_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("old_value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("new_value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("population_resident_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_population_resident_change_desa_code"), ["desa_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_population_resident_change_resident_id"), ["resident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("population_resident_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_population_resident_change_resident_id"))
        batch_op.drop_index(batch_op.f("ix_population_resident_change_desa_code"))

    op.drop_table("population_resident_change")
    with op.batch_alter_table("population_resident_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_population_resident_access_resident_id"))
        batch_op.drop_index(batch_op.f("ix_population_resident_access_desa_code"))
        batch_op.drop_index(batch_op.f("ix_population_resident_access_at"))

    op.drop_table("population_resident_access")
    with op.batch_alter_table("population_resident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_population_resident_status"))
        batch_op.drop_index(batch_op.f("ix_population_resident_nik"))
        batch_op.drop_index(batch_op.f("ix_population_resident_kk_number"))
        batch_op.drop_index(batch_op.f("ix_population_resident_desa_code"))

    op.drop_table("population_resident")
