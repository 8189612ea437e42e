"""The audit trail: append-only events written in the caller's transaction
(platform layer).

Every record change, login, token use, role or policy change and package
install appends one row to ``yy_audit_event`` on the same connection as the
change itself, so a rolled-back change leaves no audit row and a failed
audit write rolls the change back: no audit row, no change.
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import Connection, insert

from yunying.platform.context import Context
from yunying.platform.tables import audit_event

__all__ = ["EVENT_KINDS", "record_event"]

#: every kind of event the platform writes.
EVENT_KINDS = (
    "record.create", "record.update", "record.delete",
    "login.success", "login.failure", "logout", "token.use", "token.issue",
    "token.revoke", "user.create", "user.password", "user.active",
    "role.grant", "role.revoke", "policy.sync", "package.install",
)


def record_event(conn: Connection, ctx: Context, kind: str, *, entity: str | None = None,
                 record_id: int | None = None, changes: Mapping[str, Any] | None = None,
                 detail: Mapping[str, Any] | None = None) -> None:
    """Append one audit event (``changes``: field → [old, new], JSON-ready values)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown audit event kind {kind!r}")
    conn.execute(insert(audit_event).values(
        at=ctx.now(), kind=kind, actor=ctx.actor[:64], address=ctx.address,
        request_id=ctx.request_id[:128], entity=entity, record_id=record_id,
        changes=dict(changes) if changes is not None else None,
        detail=dict(detail) if detail is not None else None))
