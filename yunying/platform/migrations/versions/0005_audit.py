"""The append-only audit trail.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "yy_audit_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64)),
        sa.Column("request_id", sa.String(128)),
        sa.Column("entity", sa.String(128)),
        sa.Column("record_id", sa.Integer),
        sa.Column("changes", sa.JSON),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_yy_audit_event_record", "yy_audit_event", ["entity", "record_id"])
    op.create_index("ix_yy_audit_event_at", "yy_audit_event", ["at"])
    op.create_index("ix_yy_audit_event_actor", "yy_audit_event", ["actor", "at"])


def downgrade() -> None:
    op.drop_table("yy_audit_event")
