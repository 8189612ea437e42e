"""Spec builders and database helpers for the schema-sync tests.

Entities are built directly in Python (package ``sync``), independent of the
package loader. ``sync_to`` plans and applies inside
``Database.schema_transaction()`` as the installer does; ``snapshot`` captures
the entity tables' structure and rows so a test can assert "nothing changed".
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import MetaData, Table, inspect, insert, select, text

from yunying.metadata.spec import ChildSpec, EntitySpec, FieldSpec, IndexSpec
from yunying.platform.database import Database
from yunying.platform.i18n import Text
from yunying.runtime.entity.tables import EntityModel, build_model
from yunying.runtime.schema import Plan, Refusal, apply_plan, check_plan, plan_sync
from yunying.runtime.schema.coltype import column_type_of

PACKAGE = "sync"
NOW = datetime(2026, 1, 2, 3, 4, 5)


def f(code: str, type_: str, **kw: Any) -> FieldSpec:
    """A field with a generated bilingual label."""
    return FieldSpec(code=code, type=type_, label=Text(f"字段{code}", f"field {code}"), **kw)


def child(entity_code: str, code: str, *fields: FieldSpec) -> ChildSpec:
    return ChildSpec(code=code, label=Text(code, code), fields=tuple(fields),
                     table_name=f"{PACKAGE}_{entity_code}__{code}")


def entity(code: str, *fields: FieldSpec, children: Iterable[ChildSpec] = (),
           indexes: Iterable[IndexSpec] = ()) -> EntitySpec:
    return EntitySpec(package=PACKAGE, code=code, label=Text(code, code),
                      fields=tuple(fields), children=tuple(children),
                      indexes=tuple(indexes))


def model(*specs: EntitySpec) -> EntityModel:
    return build_model(specs)


def plan_for(db: Database, *specs: EntitySpec, drop_removed: bool = False) -> Plan:
    with db.connect() as conn:
        return plan_sync(conn, model(*specs), drop_removed=drop_removed)


def refusals_for(db: Database, *specs: EntitySpec, drop_removed: bool = False) -> list[Refusal]:
    with db.connect() as conn:
        return check_plan(conn, plan_sync(conn, model(*specs), drop_removed=drop_removed))


def sync_to(db: Database, *specs: EntitySpec, drop_removed: bool = False,
            allow_lossy: bool = False) -> Plan:
    """Plan and apply in one schema transaction; the applied plan is returned."""
    with db.schema_transaction() as conn:
        plan = plan_sync(conn, model(*specs), drop_removed=drop_removed)
        apply_plan(conn, plan, allow_lossy=allow_lossy)
    return plan


def ops_of(plan: Plan, kind: str) -> list:
    return [op for op in plan.ops if op.kind == kind]


def add_rows(db: Database, table_name: str, *rows: dict[str, Any]) -> None:
    """Insert rows, filling the system columns of entity tables."""
    with db.begin() as conn:
        reflected = Table(table_name, MetaData(), autoload_with=conn)
        system = {"created_at": NOW, "updated_at": NOW, "version": 1}
        for row in rows:  # one by one: rows may name different columns
            conn.execute(insert(reflected),
                         {**{k: v for k, v in system.items() if k in reflected.c}, **row})


def values(db: Database, sql: str, **params: Any) -> list[tuple]:
    """Rows of a raw query (as the driver returns them)."""
    with db.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


def typed(db: Database, table_name: str, *columns: str) -> list[tuple]:
    """Values of ``columns`` typed by the reflected column types, ordered by id."""
    with db.connect() as conn:
        reflected = Table(table_name, MetaData(), autoload_with=conn)
        query = select(*(reflected.c[c] for c in columns)).order_by(reflected.c.id)
        return [tuple(row) for row in conn.execute(query)]


def columns_of(db: Database, table_name: str) -> dict[str, dict]:
    return {c["name"]: c for c in inspect(db.engine).get_columns(table_name)}


def snapshot(db: Database) -> dict[str, Any]:
    """Structure and rows of every non-platform table, comparable with ``==``."""
    insp = inspect(db.engine)
    result: dict[str, Any] = {}
    for name in sorted(n for n in insp.get_table_names() if not n.startswith("yy_")):
        result[name] = {
            "columns": [(c["name"], str(column_type_of(c["type"])), c["nullable"])
                        for c in insp.get_columns(name)],
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in insp.get_indexes(name)),
            "uniques": sorted((u["name"], tuple(u["column_names"]))
                              for u in insp.get_unique_constraints(name)),
            "fks": sorted((k["name"], tuple(k["constrained_columns"]), k["referred_table"])
                          for k in insp.get_foreign_keys(name)),
            "rows": _rows(db, name),
        }
    return result


def _rows(db: Database, name: str) -> list[tuple]:
    with db.connect() as conn:
        reflected = Table(name, MetaData(), autoload_with=conn)
        return [tuple(r) for r in conn.execute(select(reflected).order_by(*reflected.c))]


def json_roundtrip(plan: Plan) -> list[dict]:
    """``plan.as_dicts()`` through JSON, as the metadata history stores it."""
    return json.loads(json.dumps(plan.as_dicts(), ensure_ascii=False))


__all__ = [
    "PACKAGE", "NOW", "f", "child", "entity", "model", "plan_for", "refusals_for",
    "sync_to", "ops_of", "add_rows", "values", "typed", "columns_of", "snapshot", "json_roundtrip",
    "Decimal", "IndexSpec",
]
