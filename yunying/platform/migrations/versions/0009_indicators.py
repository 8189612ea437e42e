"""The indicator snapshot: computed indicator values for the dashboards.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "yy_indicator_value",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("indicator", sa.String(100), nullable=False),
        sa.Column("tree", sa.String(64), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("period_kind", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("value", sa.Numeric(38, 10)),
        sa.Column("numerator", sa.Numeric(38, 10)),
        sa.Column("denominator", sa.Numeric(38, 10)),
        sa.Column("computed_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("indicator", "tree", "period", "unit", "person",
                            name="uq_yy_indicator_value_key"),
    )


def downgrade() -> None:
    op.drop_table("yy_indicator_value")
