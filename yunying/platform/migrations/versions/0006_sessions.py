"""Browser sessions (server side) and the per-address login throttle.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "yy_web_session",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_code", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime),
        sa.Column("address", sa.String(64)),
    )
    op.create_index("ix_yy_web_session_user", "yy_web_session", ["user_code"])
    op.create_table(
        "yy_address_throttle",
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_failure_at", sa.DateTime, nullable=False),
        sa.Column("locked_until", sa.DateTime),
    )


def downgrade() -> None:
    op.drop_table("yy_address_throttle")
    op.drop_index("ix_yy_web_session_user", table_name="yy_web_session")
    op.drop_table("yy_web_session")
