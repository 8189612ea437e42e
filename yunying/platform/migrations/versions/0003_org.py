"""Organisation model: org units, locations and their links, relation trees
and their effective-dated edges, heads of units, staff assignments.

Effective dates everywhere: ``valid_from`` inclusive, ``valid_to`` exclusive,
``valid_to`` NULL meaning open-ended.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _dates() -> list:
    return [sa.Column("valid_from", sa.Date, nullable=False),
            sa.Column("valid_to", sa.Date)]


def _names() -> list:
    return [sa.Column("name_zh", sa.String(200), nullable=False),
            sa.Column("name_en", sa.String(200), nullable=False)]


def _unit_fk(column: str, name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["yy_org_unit.code"], name=name)


def upgrade() -> None:
    op.create_table(
        "yy_org_unit",
        sa.Column("code", sa.String(64), primary_key=True),
        *_names(),
        sa.Column("unit_type", sa.String(32), nullable=False),
        *_dates(),
    )
    op.create_table(
        "yy_location",
        sa.Column("code", sa.String(64), primary_key=True),
        *_names(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_code", sa.String(64)),
        sa.ForeignKeyConstraint(["parent_code"], ["yy_location.code"],
                                name="fk_yy_location_parent"),
    )
    op.create_table(
        "yy_org_location",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("unit_code", sa.String(64), nullable=False),
        sa.Column("location_code", sa.String(64), nullable=False),
        *_dates(),
        _unit_fk("unit_code", "fk_yy_org_location_unit"),
        sa.ForeignKeyConstraint(["location_code"], ["yy_location.code"],
                                name="fk_yy_org_location_location"),
    )
    op.create_index("ix_yy_org_location_unit", "yy_org_location", ["unit_code"])
    op.create_table(
        "yy_org_tree",
        sa.Column("code", sa.String(64), primary_key=True),
        *_names(),
        sa.Column("kind", sa.String(16), nullable=False),
        *_dates(),
    )
    op.create_table(
        "yy_org_edge",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tree_code", sa.String(64), nullable=False),
        sa.Column("parent_code", sa.String(64), nullable=False),
        sa.Column("child_code", sa.String(64), nullable=False),
        *_dates(),
        sa.ForeignKeyConstraint(["tree_code"], ["yy_org_tree.code"],
                                name="fk_yy_org_edge_tree"),
        _unit_fk("parent_code", "fk_yy_org_edge_parent"),
        _unit_fk("child_code", "fk_yy_org_edge_child"),
    )
    op.create_index("ix_yy_org_edge_parent", "yy_org_edge", ["tree_code", "parent_code"])
    op.create_index("ix_yy_org_edge_child", "yy_org_edge", ["tree_code", "child_code"])
    op.create_table(
        "yy_org_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("unit_code", sa.String(64), nullable=False),
        sa.Column("user_code", sa.String(64), nullable=False),
        *_dates(),
        _unit_fk("unit_code", "fk_yy_org_head_unit"),
    )
    op.create_index("ix_yy_org_head_unit", "yy_org_head", ["unit_code"])
    op.create_table(
        "yy_org_assignment",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_code", sa.String(64), nullable=False),
        sa.Column("unit_code", sa.String(64), nullable=False),
        sa.Column("is_primary", sa.Boolean(create_constraint=False), nullable=False),
        *_dates(),
        _unit_fk("unit_code", "fk_yy_org_assignment_unit"),
    )
    op.create_index("ix_yy_org_assignment_user", "yy_org_assignment", ["user_code"])
    op.create_index("ix_yy_org_assignment_unit", "yy_org_assignment", ["unit_code"])


def downgrade() -> None:
    for name in ("yy_org_assignment", "yy_org_head", "yy_org_edge", "yy_org_tree",
                 "yy_org_location", "yy_location", "yy_org_unit"):
        op.drop_table(name)
