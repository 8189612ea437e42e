"""Fixtures for the indicator engine tests: the ``indicators_small`` package
installed with base, a small cost tree and a handful of rows inserted by hand.

Cost tree (from 2020-01-01)::

    HOSP ─┬─ CARD ── CARD-W1
          ├─ ORTH
          └─ PHARM          (no rows: shows as an empty member)

Every value the tests expect is computed by hand in the test from the rows
below; the rows are inserted straight into the entity tables (the engine
reads tables, not the record service).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from yunying.metadata.store import MetadataStore
from yunying.platform import org
from yunying.platform.context import Context
from yunying.platform.tables import org_tree
from yunying.runtime.formula import sql_functions
from yunying.runtime.indicators.compute import IndicatorEngine
from yunying.runtime.installer import install_packages
from yunying.runtime.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [ROOT / "yunying" / "modules" / "base",
            ROOT / "tests" / "fixtures" / "packages" / "indicators_small"]
CTX = Context(actor="tester")
SINCE = date(2020, 1, 1)
T0 = datetime(2026, 1, 1, 8, 0, 0)      # when the rows were written
TODAY = date(2026, 6, 1)
UNITS = (("HOSP", "hospital", None), ("CARD", "department", "HOSP"),
         ("CARD-W1", "ward", "CARD"), ("ORTH", "department", "HOSP"),
         ("PHARM", "department", "HOSP"))

# visit: (visit_no, visit_date, department, doctor, payer, fee)
VISITS = [
    ("V1", date(2025, 3, 2), "CARD", "d1", "A", "100"),
    ("V2", date(2025, 3, 5), "CARD", "d1", "B", "200"),
    ("V3", date(2025, 3, 10), "CARD-W1", "d2", "A", "300.50"),
    ("V4", date(2025, 3, 31), "ORTH", "d3", "A", "50"),
    ("V5", date(2025, 3, 15), "HOSP", "d4", None, "10"),
    ("V6", date(2025, 4, 1), "CARD", "d1", "A", "1000"),
    ("V7", date(2025, 2, 28), "ORTH", "d3", "A", "70"),
    ("V8", date(2024, 3, 10), "CARD", "d1", "A", "80"),
    ("V9", date(2024, 3, 20), "ORTH", "d3", "B", "120"),
]
# discharge: (case_no, discharge_date, department, doctor, payer, los_days, surgery, fee)
DISCHARGES = [
    ("C1", date(2024, 12, 5), "CARD", "d1", "A", 10, True, "5000"),
    ("C2", date(2024, 12, 20), "CARD-W1", "d2", "A", 4, False, "2000"),
    ("C3", date(2024, 12, 11), "ORTH", "d3", "B", 7, False, "3000"),
    ("C4", date(2025, 1, 10), "CARD", "d1", "A", 12, True, "6000"),
    ("C5", date(2025, 1, 15), "CARD", "d2", "B", 6, False, "2500"),
    ("C6", date(2025, 1, 20), "ORTH", "d3", "A", 3, False, "1500"),
]


@dataclass
class World:
    db: object
    registry: Registry
    engine: IndicatorEngine

    def table(self, entity: str):
        return self.registry.tables(entity).table


def _org(conn) -> None:
    if conn.execute(select(org_tree.c.code).where(org_tree.c.code == "cost")).first() is None:
        org.add_tree(conn, "cost", "核算", "Cost accounting", "cost", SINCE)
    for code, kind, parent in UNITS:
        org.add_unit(conn, org.OrgUnit(code, code, code, kind, SINCE))
    for code, _, parent in UNITS:
        if parent:
            org.add_edge(conn, "cost", parent, code, SINCE)


def _system(at: datetime) -> dict:
    return {"version": 1, "created_at": at, "created_by": "tester", "updated_at": at,
            "updated_by": "tester"}


def insert_visits(conn, world: World, rows, at: datetime = T0) -> None:
    conn.execute(insert(world.table("ind.visit")), [
        {"visit_no": n, "visit_date": d, "department": u, "doctor": doc, "payer": p,
         "fee": Decimal(fee), **_system(at)} for n, d, u, doc, p, fee in rows])


def insert_discharges(conn, world: World, rows, at: datetime = T0) -> None:
    conn.execute(insert(world.table("ind.discharge")), [
        {"case_no": n, "discharge_date": d, "department": u, "doctor": doc, "payer": p,
         "los_days": los, "surgery": s, "fee": Decimal(fee), **_system(at)}
        for n, d, u, doc, p, los, s, fee in rows])


@pytest.fixture
def world(db) -> World:
    db.on_sqlite_connect(sql_functions.register)   # as the app's Services does
    install_packages(db, PACKAGES, CTX)
    with db.connect() as conn:
        registry = Registry.from_packages(MetadataStore().installed(conn))
    found = World(db, registry, IndicatorEngine(registry, db.dialect))
    with db.begin(write=True) as conn:
        _org(conn)
        insert_visits(conn, found, VISITS)
        insert_discharges(conn, found, DISCHARGES)
    return found
