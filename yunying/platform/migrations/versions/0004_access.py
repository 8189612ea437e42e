"""Access control: casbin policy rows and the access-policy version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "yy_casbin_rule",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        *[sa.Column(name, sa.String(255))
          for name in ("ptype", "v0", "v1", "v2", "v3", "v4", "v5")],
    )
    op.create_index("ix_yy_casbin_rule_v0", "yy_casbin_rule", ["ptype", "v0"])
    op.create_table(
        "yy_access_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("yy_access_state")
    op.drop_index("ix_yy_casbin_rule_v0", table_name="yy_casbin_rule")
    op.drop_table("yy_casbin_rule")
