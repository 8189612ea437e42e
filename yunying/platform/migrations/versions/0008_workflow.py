"""Workflow and approval runtime state (definitions, instances, tasks, timeline,
idempotent requests, delegations), in-app notifications and journal entries.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "yy_wf_definition",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workflow", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("metadata_version", sa.Integer, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "yy_wf_instance",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("definition_id", sa.Integer, sa.ForeignKey("yy_wf_definition.id"), nullable=False),
        sa.Column("workflow", sa.String(100), nullable=False),
        sa.Column("chain", sa.String(64)),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("initiator", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(64)),
        sa.Column("title", sa.String(200)),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_yy_wf_instance_record", "yy_wf_instance", ['entity', 'record_id'])
    op.create_index("ix_yy_wf_instance_initiator", "yy_wf_instance", ['initiator', 'started_at'])
    op.create_table(
        "yy_wf_task",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("instance_id", _ID, sa.ForeignKey("yy_wf_instance.id"), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(64), nullable=False),
        sa.Column("delegated_from", sa.String(64)),
        sa.Column("added_by", _ID),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("due_at", sa.DateTime),
        sa.Column("reminded_at", sa.DateTime),
        sa.Column("acted_at", sa.DateTime),
        sa.Column("comment", sa.Text),
        sa.Column("read_at", sa.DateTime),
    )
    op.create_index("ix_yy_wf_task_instance", "yy_wf_task", ['instance_id', 'node', 'round'])
    op.create_index("ix_yy_wf_task_assignee", "yy_wf_task", ['assignee', 'status'])
    op.create_table(
        "yy_wf_event",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("instance_id", _ID, sa.ForeignKey("yy_wf_instance.id"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("node", sa.String(64)),
        sa.Column("task_id", _ID),
        sa.Column("comment", sa.Text),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_yy_wf_event_instance", "yy_wf_event", ['instance_id', 'id'])
    op.create_table(
        "yy_wf_request",
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("instance_id", _ID),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "yy_wf_delegation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_code", sa.String(64), nullable=False),
        sa.Column("substitute", sa.String(64), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime),
    )
    op.create_index("ix_yy_wf_delegation_user", "yy_wf_delegation", ['user_code', 'valid_from'])
    op.create_table(
        "yy_notification",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("user_code", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title_zh", sa.String(300), nullable=False),
        sa.Column("title_en", sa.String(300), nullable=False),
        sa.Column("entity", sa.String(100)),
        sa.Column("record_id", sa.Integer),
        sa.Column("instance_id", _ID),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("read_at", sa.DateTime),
    )
    op.create_index("ix_yy_notification_user", "yy_notification", ['user_code', 'read_at', 'id'])
    op.create_table(
        "yy_journal_entry",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("instance_id", _ID),
        sa.Column("posted_at", sa.DateTime, nullable=False),
        sa.Column("posted_by", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128)),
    )
    op.create_index("ix_yy_journal_entry_source", "yy_journal_entry", ['entity', 'record_id'])
    op.create_table(
        "yy_journal_line",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("entry_id", _ID, sa.ForeignKey("yy_journal_entry.id"), nullable=False),
        sa.Column("line_no", sa.Integer, nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("side", sa.String(6), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("unit", sa.String(64)),
        sa.Column("project", sa.String(64)),
        sa.Column("purpose", sa.String(32)),
        sa.Column("memo", sa.String(300)),
    )
    op.create_index("ix_yy_journal_line_account", "yy_journal_line", ['account'])
    op.create_index("ix_yy_journal_line_entry", "yy_journal_line", ['entry_id', 'line_no'])


def downgrade() -> None:
    op.drop_table("yy_journal_line")
    op.drop_table("yy_journal_entry")
    op.drop_table("yy_notification")
    op.drop_table("yy_wf_delegation")
    op.drop_table("yy_wf_request")
    op.drop_table("yy_wf_event")
    op.drop_table("yy_wf_task")
    op.drop_table("yy_wf_instance")
    op.drop_table("yy_wf_definition")
