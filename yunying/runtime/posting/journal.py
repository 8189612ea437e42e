"""The journal: writing a checked posting and reading a record's entries
(runtime layer, posting rules).

One posting is one ``yy_journal_entry`` (the rule, the source record, the
event, who and when) and its ``yy_journal_line`` rows numbered from 1, plus
the audit event ``journal.post`` — all in the caller's transaction, inside a
savepoint of their own so a failing write leaves nothing even when the
caller carries on. The lines reaching this module have passed every check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Sequence

from sqlalchemy import Connection, insert, select

from yunying.platform.audit import record_event
from yunying.platform.context import Context
from yunying.platform.tables import journal_entry, journal_line
from yunying.runtime.posting.checks import Totals
from yunying.runtime.posting.lines import JournalLine

__all__ = ["Source", "write_entry", "journal_of", "stamp"]


@dataclass(frozen=True)
class Source:
    """What a posting is about: the rule (qualified), the record, the event
    (``create`` or a transition code) and the workflow instance, if any."""

    rule: str
    entity: str
    record_id: int
    event: str
    instance_id: int | None = None


def stamp(ctx: Context) -> datetime:
    """The context's time as stored: naive UTC."""
    now = ctx.now()
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    return now


def write_entry(conn: Connection, ctx: Context, source: Source,
                lines: Sequence[JournalLine], totals: Totals) -> int:
    """Insert the entry, its lines and the audit event; returns the entry id."""
    with conn.begin_nested():
        entry_id = conn.execute(insert(journal_entry).values(
            rule=source.rule, entity=source.entity, record_id=source.record_id,
            event=source.event, instance_id=source.instance_id, posted_at=stamp(ctx),
            posted_by=ctx.actor[:64], request_id=ctx.request_id[:128],
        )).inserted_primary_key[0]
        if lines:
            conn.execute(insert(journal_line), [
                {"entry_id": entry_id, "line_no": n, "account": ln.account, "side": ln.side,
                 "amount": ln.amount, "unit": ln.unit, "project": ln.project,
                 "purpose": ln.purpose, "memo": ln.memo}
                for n, ln in enumerate(lines, start=1)])
        record_event(conn, ctx, "journal.post", entity=source.entity,
                     record_id=source.record_id, detail={
                         "rule": source.rule, "entry_id": entry_id, "event": source.event,
                         "debit": str(totals.debit), "credit": str(totals.credit),
                         "lines": len(lines)})
    return int(entry_id)


_LINE_KEYS = ("line_no", "account", "side", "amount", "unit", "project", "purpose", "memo")


def journal_of(conn: Connection, entity: str, record_id: int) -> list[dict[str, Any]]:
    """Every journal entry posted for the record, oldest first, each with its
    ``lines`` (in order) and its ``debit`` / ``credit`` totals (Decimals)."""
    entries = [dict(r._mapping) for r in conn.execute(
        select(journal_entry).where(journal_entry.c.entity == entity,
                                    journal_entry.c.record_id == record_id)
        .order_by(journal_entry.c.id))]
    if not entries:
        return []
    by_id = {e["id"]: e for e in entries}
    for entry in entries:
        entry["lines"] = []
    rows = conn.execute(select(journal_line).where(journal_line.c.entry_id.in_(list(by_id)))
                        .order_by(journal_line.c.entry_id, journal_line.c.line_no))
    for row in rows:
        by_id[row.entry_id]["lines"].append({k: row._mapping[k] for k in _LINE_KEYS})
    for entry in entries:
        entry["debit"] = _total(entry["lines"], "debit")
        entry["credit"] = _total(entry["lines"], "credit")
    return entries


def _total(lines: list[dict[str, Any]], side: str) -> Decimal:
    return sum((Decimal(ln["amount"]) for ln in lines if ln["side"] == side), Decimal("0.00"))
