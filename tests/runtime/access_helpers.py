"""Fixtures for the access-control tests of the record service.

The ``acl`` package declares one role per data scope (and a few for field
permissions, inheritance and writes) over the record-helper entities
``materials.requisition`` (org dimension ``department``), ``materials.item``
and ``lab.sample``. The org model::

    admin tree:  hosp → med → card          hosp2 → dept2
                 hosp → surg → ortho
                 med → resp  (ended yesterday)   surg → resp (from today)
    cost tree:   med → ortho

Users: ``ann`` works in ``med``, ``bob`` in ``ortho``. Requisitions are
created by ``setup`` in every unit, plus one by ``ann`` in ``dept2``.
"""

from __future__ import annotations

from datetime import date, timedelta
from types import MappingProxyType

import pytest

from yunying.metadata.spec import GrantSpec, PackageSpec, RoleSpec
from yunying.platform import org
from yunying.platform.context import Context
from yunying.platform.i18n import Text
from yunying.runtime.access import Grants, RoleInDomain
from yunying.runtime.formula import sql_functions
from yunying.runtime.records import RecordService
from yunying.runtime.registry import Registry

from record_helpers import (
    ITEM, ITEM_ROWS, NOW, REQ, SAMPLE, TODAY, base_package, create_tables, lab_package,
    materials_package,
)

YESTERDAY = TODAY - timedelta(days=1)
START = date(2020, 1, 1)
UNITS = ("hosp", "med", "card", "resp", "surg", "ortho", "hosp2", "dept2")
ADMIN_EDGES = (("hosp", "med"), ("hosp", "surg"), ("med", "card"), ("surg", "ortho"),
               ("hosp2", "dept2"))


def G(entity: str, actions, scope: str = "all", **kw) -> GrantSpec:
    fields = MappingProxyType(kw.pop("fields", {}))
    return GrantSpec(entity=entity, actions=tuple(actions), scope=scope, fields=fields, **kw)


def role(code: str, *grants: GrantSpec, inherits=()) -> RoleSpec:
    return RoleSpec(package="acl", code=code, label=Text(code, code), grants=grants,
                    inherits=tuple(inherits))


ROLES = (
    role("all_reader", G(REQ, ["read"])),
    role("unit_reader", G(REQ, ["read"], "own_unit")),
    role("tree_reader", G(REQ, ["read"], "unit_tree")),
    role("cost_reader", G(REQ, ["read"], "unit_tree", tree="cost")),
    role("own_reader", G(REQ, ["read", "update", "delete"], "own_records")),
    role("urgent_reader", G(REQ, ["read"], "formula", filter="urgency = 'urgent'")),
    role("broken_filter", G(REQ, ["read"], "formula", filter="no_such_field = 1")),
    role("office_samples", G(SAMPLE, ["read"], "formula", filter="item.category = '02'")),
    role("child_role", inherits=["acl.unit_reader"]),
    role("unit_writer", G(REQ, ["read", "create", "update", "delete"], "own_unit"),
         G(ITEM, ["read"])),
    role("tree_updater", G(REQ, ["read", "update"], "unit_tree")),
    role("item_reader", G(ITEM, ["read"], "formula", filter="category = '02'")),
    role("viewer", G(REQ, ["read"], fields={"total_amount": "hidden",
                                             "lines.unit_price": "hidden",
                                             "reason": "hidden"})),
    role("clerk", G(REQ, ["read", "create", "update"], "own_unit",
                    fields={"reason": "read_only", "lines.quantity": "read_only",
                            "total_amount": "hidden"}),
         G(ITEM, ["read"])),
    role("drop_box", G(REQ, ["create"]), G(ITEM, ["read"])),
    role("sample_writer", G(SAMPLE, ["read", "create", "update"]),
         G(ITEM, ["read"], "formula", filter="category = '02'")),
    role("exporter", G(REQ, ["read"]), G(REQ, ["export"], "own_unit",
                                         fields={"reason": "hidden"})),
)


def acl_package() -> PackageSpec:
    return PackageSpec(code="acl", version="1.0.0", label=Text("权限", "ACL"), roles=ROLES)


def make_registry() -> Registry:
    return Registry.from_packages([base_package(), materials_package(), lab_package(),
                                   acl_package()])


def grants(user: str, *roles: str, units=(), domain: str = "*", today: date = TODAY) -> Grants:
    return Grants(user=user, roles=tuple(RoleInDomain(f"acl.{r}" if "." not in r else r,
                                                      domain) for r in roles),
                  units=tuple(units), today=today)


def as_user(user: str, *roles: str, units=(), domain: str = "*", **kw) -> Context:
    """The context of ``user`` holding ``roles`` (in ``domain``), assigned to ``units``."""
    return Context(actor=user, clock=lambda: NOW, language=kw.pop("language", "zh-CN"),
                   grants=grants(user, *roles, units=units, domain=domain, **kw))


def setup_ctx(actor: str = "setup") -> Context:
    return Context(actor=actor, clock=lambda: NOW)


def build_org(db) -> None:
    with db.begin(write=True) as c:
        org.add_tree(c, "admin", "行政", "Administrative", "administrative", START)
        org.add_tree(c, "cost", "核算", "Cost", "cost", START)
        for code in UNITS:
            kind = "hospital" if code.startswith("hosp") else "department"
            org.add_unit(c, org.OrgUnit(code, f"{code}中文", code, kind, START))
        for parent, child in ADMIN_EDGES:
            org.add_edge(c, "admin", parent, child, START)
        org.add_edge(c, "admin", "med", "resp", START, TODAY)   # last day: yesterday
        org.add_edge(c, "admin", "surg", "resp", TODAY)
        org.add_edge(c, "cost", "med", "ortho", START)
        org.assign(c, "ann", "med", START, primary=True)
        org.assign(c, "bob", "ortho", START, primary=True)


@pytest.fixture
def registry() -> Registry:
    return make_registry()


@pytest.fixture
def service(registry) -> RecordService:
    return RecordService(registry)


@pytest.fixture
def world(db, registry, service):
    """Tables, org model, items and one requisition per unit; returns the ids:
    ``{"items": {code: id}, "req": {unit: id}, "ann_dept2": id}``."""
    db.on_sqlite_connect(sql_functions.register)
    create_tables(db, registry)
    build_org(db)
    ids: dict = {"items": {}, "req": {}}
    with db.begin(write=True) as conn:
        for row in ITEM_ROWS:
            ids["items"][row["code"]] = service.create(conn, setup_ctx(), ITEM, row)["id"]
        for n, unit in enumerate(UNITS):
            data = requisition_data(ids["items"], unit, urgency="urgent" if n % 2 else "normal",
                                    reason=f"reason of {unit}", total_amount=f"{n + 1}00.00")
            ids["req"][unit] = service.create(conn, setup_ctx(), REQ, data)["id"]
        ids["ann_dept2"] = service.create(conn, setup_ctx("ann"), REQ, requisition_data(
            ids["items"], "dept2", reason="ann's own"))["id"]
    return ids


def requisition_data(items: dict[str, int], unit: str, **extra) -> dict:
    data = {"department": unit, "requester": "zhangsan",
            "lines": [{"item": items["WS-0001"], "quantity": "2", "unit_price": "32.5",
                       "amount": "65.00"}]}
    data.update(extra)
    return data


def units_of(records) -> set[str]:
    return {r["department"] for r in records}


def unit_ids(ids: dict, *units: str) -> set[int]:
    return {ids["req"][u] for u in units}


__all__ = ["G", "role", "ROLES", "acl_package", "make_registry", "grants", "as_user",
           "setup_ctx", "build_org", "registry", "service", "world", "requisition_data",
           "units_of", "unit_ids", "YESTERDAY"]
