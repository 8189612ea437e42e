"""The audit trail is append-only: triggers refuse UPDATE and DELETE (and, on
PostgreSQL, TRUNCATE) on ``yy_audit_event``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_MESSAGE = "yy_audit_event is append-only"

_SQLITE_UP = [
    f"CREATE TRIGGER yy_audit_event_no_{verb.lower()} BEFORE {verb} ON yy_audit_event "
    f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
    for verb in ("UPDATE", "DELETE")
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS yy_audit_event_no_update",
    "DROP TRIGGER IF EXISTS yy_audit_event_no_delete",
]

_POSTGRESQL_UP = [
    "CREATE FUNCTION yy_audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'restrict_violation'; END $$",
    "CREATE TRIGGER yy_audit_event_no_change BEFORE UPDATE OR DELETE ON yy_audit_event "
    "FOR EACH ROW EXECUTE FUNCTION yy_audit_event_append_only()",
    "CREATE TRIGGER yy_audit_event_no_truncate BEFORE TRUNCATE ON yy_audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION yy_audit_event_append_only()",
]
_POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS yy_audit_event_no_truncate ON yy_audit_event",
    "DROP TRIGGER IF EXISTS yy_audit_event_no_change ON yy_audit_event",
    "DROP FUNCTION IF EXISTS yy_audit_event_append_only()",
]

_UP = {"sqlite": _SQLITE_UP, "postgresql": _POSTGRESQL_UP}
_DOWN = {"sqlite": _SQLITE_DOWN, "postgresql": _POSTGRESQL_DOWN}


def _run(statements: dict[str, list[str]]) -> None:
    dialect = op.get_bind().dialect.name
    for statement in statements.get(dialect, []):
        op.execute(statement)


def upgrade() -> None:
    _run(_UP)


def downgrade() -> None:
    _run(_DOWN)
