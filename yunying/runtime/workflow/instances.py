"""Instance rows and the locks that serialise actions (runtime layer, workflow engine).

An instance (``yy_wf_instance``) is one run of a workflow on one record. At
most one is *open* (status ``running`` or ``returned``) per record. Every
action starts by locking:

- an action on an instance: ``UPDATE yy_wf_instance SET version = version + 1
  WHERE id = :id`` — the row lock on PostgreSQL (a second actor waits, then
  re-reads and sees the first one's outcome); on SQLite the write
  transaction (``Database.begin(write=True)``) already serialises writers;
- firing a transition on a record (a submit creates the instance):
  ``UPDATE <entity table> SET version = version WHERE id = :id``, so two
  submits of one record queue and the second finds the open instance.

``data`` is the run's working memory (JSON): ``submit`` (the transition that
started the chain), ``chosen`` (initiator_choice by node), ``rounds``
(activations per node), ``joins`` (open parallel nodes → branches still
running), ``passed`` (approval nodes passed, in order), ``sequential`` (node
→ whether its current round acts in order), ``returned_from`` (the node that
returned it to the initiator), ``previous_choice`` / ``choice`` (approvers
named by the previous approver).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from yunying.platform.errors import NotFound
from yunying.platform.i18n import Text
from yunying.platform.tables import wf_instance
from yunying.runtime.registry import Registry

__all__ = ["OPEN_STATUSES", "ENDED_STATUSES", "lock_record", "lock_instance", "read_instance",
           "latest_instance", "insert_instance", "save_instance", "no_instance"]

OPEN_STATUSES = ("running", "returned")
ENDED_STATUSES = ("approved", "rejected", "withdrawn", "cancelled", "closed")
_MAX_ID = 2 ** 63 - 1


def lock_record(conn: Connection, registry: Registry, entity: str, record_id: Any) -> None:
    """Lock the record's main row for the rest of the transaction (NotFound if missing)."""
    tables = registry.tables(entity)
    spec = registry.entity(entity)
    if tables is None or spec is None:
        raise NotFound(Text(f"未知实体 {entity}", f"unknown entity {entity}"),
                       code="unknown_entity", details={"entity": entity})
    table = tables.table
    found = _is_id(record_id, 2 ** 31 - 1) and conn.execute(
        update(table).where(table.c.id == record_id)
        .values(version=table.c.version)).rowcount == 1
    if not found:
        raise NotFound(Text(f"{spec.label.zh} 中没有 id 为 {record_id} 的记录",
                            f"{spec.label.en}: there is no record with id {record_id}"),
                       details={"entity": entity, "id": record_id})


def lock_instance(conn: Connection, instance_id: Any) -> dict[str, Any]:
    """Bump the instance's version (its row lock) and read it; NotFound if missing."""
    if not _is_id(instance_id, _MAX_ID) or conn.execute(
            update(wf_instance).where(wf_instance.c.id == instance_id)
            .values(version=wf_instance.c.version + 1)).rowcount != 1:
        raise no_instance(instance_id)
    found = read_instance(conn, instance_id)
    assert found is not None
    return found


def read_instance(conn: Connection, instance_id: Any) -> dict[str, Any] | None:
    if not _is_id(instance_id, _MAX_ID):
        return None
    row = conn.execute(select(wf_instance).where(wf_instance.c.id == instance_id)).first()
    return _as_dict(row) if row is not None else None


def latest_instance(conn: Connection, entity: str, record_id: int) -> dict[str, Any] | None:
    """The record's most recent instance (the open one if there is one)."""
    i = wf_instance.c
    row = conn.execute(select(wf_instance).where(i.entity == entity, i.record_id == record_id)
                       .order_by(i.id.desc()).limit(1)).first()
    return _as_dict(row) if row is not None else None


def insert_instance(conn: Connection, **values: Any) -> dict[str, Any]:
    """A new instance row (``version`` 1); returns it as a dict."""
    new_id = conn.execute(insert(wf_instance).values(version=1, **values)
                          .returning(wf_instance.c.id)).scalar_one()
    found = read_instance(conn, new_id)
    assert found is not None
    return found


def save_instance(conn: Connection, instance: dict[str, Any]) -> None:
    """Write back what actions change: state, status, chain, end and data."""
    conn.execute(update(wf_instance).where(wf_instance.c.id == instance["id"]).values(
        state=instance["state"], status=instance["status"], chain=instance["chain"],
        ended_at=instance["ended_at"], data=instance["data"]))


def no_instance(instance_id: Any) -> NotFound:
    shown = instance_id if isinstance(instance_id, (int, str)) else repr(instance_id)
    return NotFound(Text(f"没有 id 为 {shown} 的流程实例",
                         f"there is no workflow instance with id {shown}"),
                    code="instance_not_found", details={"instance_id": shown})


def _as_dict(row: Any) -> dict[str, Any]:
    values = dict(row._mapping)
    values["data"] = dict(values.get("data") or {})
    return values


def _is_id(value: Any, largest: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= largest
