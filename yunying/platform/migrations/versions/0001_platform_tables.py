"""Platform tables: packages, metadata versions and items, dictionary items,
numbering counters, attachments.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "yy_package",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("installed_at", sa.DateTime, nullable=False),
        sa.Column("installed_by", sa.String(64)),
        sa.Column("metadata_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "yy_metadata_version",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("package", sa.String(32), nullable=False),
        sa.Column("package_version", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.Column("diff", sa.Text, nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
    )
    op.create_table(
        "yy_metadata_item",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("package", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("layer", sa.String(16), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("metadata_version", sa.Integer, nullable=False),
        sa.UniqueConstraint("package", "kind", "code", "layer",
                            name="uq_yy_metadata_item_key"),
    )
    op.create_table(
        "yy_dictionary_item",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dictionary", sa.String(80), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("parent", sa.String(64)),
        sa.Column("sort", sa.Integer, nullable=False),
        sa.Column("valid_from", sa.Date),
        sa.Column("valid_to", sa.Date),
        sa.Column("active", sa.Boolean(create_constraint=False), nullable=False),
        sa.UniqueConstraint("dictionary", "code", name="uq_yy_dictionary_item_code"),
    )
    op.create_table(
        "yy_number_sequence",
        sa.Column("rule", sa.String(120), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )
    op.create_table(
        "yy_attachment",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(120), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_index("ix_yy_attachment_sha256", "yy_attachment", ["sha256"])


def downgrade() -> None:
    for name in ("yy_attachment", "yy_number_sequence", "yy_dictionary_item",
                 "yy_metadata_item", "yy_metadata_version", "yy_package"):
        op.drop_table(name)
