"""The permission matrix, generated from the bundled materials roles.

For every role the materials package declares (plus the superuser and a user
without roles) × entity × action, the expected answer is computed here by an
independent oracle — scopes evaluated in Python over the records this test
wrote (the org tree walked in Python, filter formulas run by the formula
evaluator) — and compared with what the HTTP API and the export service do:

- read: the list's items and total, every get (200 or the 404 of a missing
  record), hidden fields absent from list, get, export and error bodies;
- update: 200, 403 (no grant / read-only field) or 404 (out of scope);
- create: 201 inside the create scope, 403 outside it, nothing written;
- delete: 204 inside the delete scope, else 403 / 404, nothing deleted;
- export: exactly the rows in the export scope, without hidden fields.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from yunying.app import services
from yunying.platform import identity, org
from yunying.platform.context import Context
from yunying.platform.i18n import Text
from yunying.runtime.access.resolve import build_grants
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.entity_context import context_for
from yunying.runtime.formula.evaluator import evaluate
from web_helpers import ADMIN, INSTALLER, ITEM, REQUISITION, error_of, token_client

SINCE = date(2020, 1, 1)
#: the administrative tree of the fixture: HOSP → CARD → CARD-W1, HOSP → PHARM
EDGES = {"CARD": "HOSP", "CARD-W1": "CARD", "PHARM": "HOSP"}
USERS = {  # user → (role, unit)
    "u.requester": ("materials.requester", "CARD"),
    "u.storekeeper": ("materials.storekeeper", "PHARM"),
    "u.auditor": ("materials.auditor", "PHARM"),
    "u.viewer": ("materials.viewer", "CARD-W1"),
    "u.manager": ("materials.manager", "CARD-W1"),
    "u.nobody": (None, "CARD"),
    ADMIN: ("platform.admin", None),
}
#: requisitions written by the fixture: (department, urgency, creator)
RECORDS = [("CARD", "normal", "u.requester"), ("CARD-W1", "urgent", "u.manager"),
           ("PHARM", "urgent", "u.storekeeper"), ("PHARM", "normal", "u.auditor"),
           ("HOSP", "normal", "u.nobody"), ("CARD-W1", "normal", "u.viewer")]


def _below(unit: str) -> set[str]:
    """``unit`` and its descendants, walked in Python."""
    found = {unit}
    while True:
        more = {c for c, p in EDGES.items() if p in found} - found
        if not more:
            return found
        found |= more


def _roles(registry, role: str | None) -> list:
    """The role and every role it inherits."""
    if role is None:
        return []
    seen, todo = [], [role]
    while todo:
        spec = registry.role(todo.pop())
        if spec is not None and spec not in seen:
            seen.append(spec)
            todo.extend(spec.inherits)
    return seen


class Oracle:
    """Expected answers, from the role specs, computed without the record service."""

    def __init__(self, registry, user: str, rows: dict[int, dict]) -> None:
        role, self.unit = USERS[user]
        self.user, self.rows, self.registry = user, rows, registry
        self.superuser = role == "platform.admin"
        self.grants = [g for spec in _roles(registry, role) for g in spec.grants]

    def _in_scope(self, grant, row: dict) -> bool:
        scope = grant.scope
        if scope == "all":
            return True
        if scope == "own_unit":
            return row["department"] == self.unit
        if scope == "unit_tree":
            return self.unit is not None and row["department"] in _below(self.unit)
        if scope == "own_records":
            return row["created_by"] == self.user
        spec = self.registry.entity(grant.entity)
        checked = check(grant.filter, context_for(spec, self.registry))
        return evaluate(checked, row, today=date.today(), now=None) is True

    def grants_for(self, entity: str, action: str) -> list:
        return [g for g in self.grants if g.entity == entity and action in g.actions]

    def allowed(self, entity: str, action: str) -> bool:
        return self.superuser or bool(self.grants_for(entity, action))

    def ids(self, action: str) -> set[int]:
        if self.superuser:
            return set(self.rows)
        return {rid for rid, row in self.rows.items()
                if any(self._in_scope(g, row) for g in self.grants_for(REQUISITION, action))}

    def hidden(self, action: str, row: dict) -> set[str]:
        """Fields hidden by every grant of ``action`` that reaches ``row``."""
        if self.superuser:
            return set()
        covering = [g for g in self.grants_for(REQUISITION, action) if self._in_scope(g, row)]
        if not covering:
            return set()
        hidden = [{f for f, a in g.fields.items() if a == "hidden"} for g in covering]
        return set.intersection(*hidden)


@pytest.fixture
def world(app, item_ids):
    """Org units, users holding one role each, and the fixture requisitions."""
    svc = services(app)
    with svc.db.begin(write=True) as conn:
        for code in ("HOSP", "CARD", "CARD-W1", "PHARM"):
            org.add_unit(conn, org.OrgUnit(code, code, code,
                                           "hospital" if code == "HOSP" else "department",
                                           SINCE))
        for child, parent in EDGES.items():
            org.add_edge(conn, "admin", parent, child, SINCE)
        for user, (role, unit) in USERS.items():
            if user != ADMIN:
                identity.create_user(conn, INSTALLER, user, Text(user, user), "secret-pass-1")
            if unit is not None:
                org.assign(conn, user, unit, SINCE, primary=True)
            if role is not None and user != ADMIN:
                svc.access.grant_role(conn, INSTALLER, user, role, "*")
    clients = {user: token_client(app, user) for user in USERS}
    records = svc.runtime().records
    rows: dict[int, dict] = {}
    with svc.db.begin(write=True) as conn:
        for department, urgency, creator in RECORDS:
            record = records.create(conn, Context(actor=creator), REQUISITION, {
                "department": department, "urgency": urgency, "total_amount": "10.00",
                "urgent_reason": "急用" if urgency == "urgent" else None,
                "request_date": str(date.today() - timedelta(days=1)),
                "lines": [{"item": item_ids["WS-0001"], "quantity": "1"}]})
            rows[record["id"]] = record
    return clients, rows, svc.runtime().registry


#: the superuser last: its deletes would empty the table for the others
USER_CODES = sorted(u for u in USERS if u != ADMIN) + [ADMIN]


def _read_list_get_and_hidden_fields(world, user):
    clients, rows, registry = world
    oracle = Oracle(registry, user, rows)
    client = clients[user]
    listed = client.get(f"/api/v1/records/{REQUISITION}?page_size=200")
    if not oracle.allowed(REQUISITION, "read"):
        assert listed.status_code == 403
        assert error_of(listed)["code"] == "permission_denied"
        for rid in rows:
            assert client.get(f"/api/v1/records/{REQUISITION}/{rid}").status_code == 403
        return
    visible = oracle.ids("read")
    body = listed.get_json()
    assert {item["id"] for item in body["items"]} == visible
    assert body["total"] == len(visible)  # counts never leak
    for item in body["items"]:
        assert not oracle.hidden("read", rows[item["id"]]) & set(item)
    missing = client.get(f"/api/v1/records/{REQUISITION}/999999")
    for rid, row in rows.items():
        got = client.get(f"/api/v1/records/{REQUISITION}/{rid}")
        if rid in visible:
            assert got.status_code == 200
            record = got.get_json()
            hidden = oracle.hidden("read", row)
            assert not hidden & set(record)
            line_hidden = {f.split(".", 1)[1] for f in hidden if f.startswith("lines.")}
            assert all(not line_hidden & set(line) for line in record["lines"])
        else:  # the same answer as a record that does not exist
            assert got.status_code == 404
            assert got.get_data(as_text=True) == missing.get_data(as_text=True).replace(
                "999999", str(rid))


def _filtering_on_a_hidden_field_is_an_unknown_field(world, user):
    clients, rows, registry = world
    oracle = Oracle(registry, user, rows)
    if not oracle.allowed(REQUISITION, "read"):
        return
    hidden = set().union(*(oracle.hidden("read", row) for row in rows.values()))
    for field in sorted(f for f in hidden if "." not in f):
        probe = clients[user].get(
            f"/api/v1/records/{REQUISITION}?filter={field}:gt:0")
        unknown = clients[user].get(f"/api/v1/records/{REQUISITION}?filter=nosuch:gt:0")
        assert probe.status_code == unknown.status_code == 400
        assert error_of(probe)["code"] == error_of(unknown)["code"]


def _refusal(oracle: Oracle, action: str, rid: int, readable: set[int]) -> int:
    """No grant of the action at all, or a record the user can read: 403;
    a record the user cannot read: the 404 of a missing record."""
    if not oracle.allowed(REQUISITION, action) or rid in readable:
        return 403
    return 404


def _update_obeys_action_scope_and_read_only_fields(world, user, count_rows):
    clients, rows, registry = world
    oracle = Oracle(registry, user, rows)
    readable, updatable = oracle.ids("read"), oracle.ids("update")
    for rid, row in list(rows.items()):
        response = clients[user].patch(
            f"/api/v1/records/{REQUISITION}/{rid}",
            json={"reason": f"changed by {user}", "version": row["version"]})
        if oracle.allowed(REQUISITION, "update") and rid in updatable:
            assert response.status_code == 200, response.get_data(as_text=True)
            row["version"] = response.get_json()["version"]
        else:
            assert response.status_code == _refusal(oracle, "update", rid, readable), \
                response.get_data(as_text=True)


def _read_only_line_price_cannot_change(world, user, item_ids):
    clients, rows, registry = world
    oracle = Oracle(registry, user, rows)
    locked = {f for g in oracle.grants_for(REQUISITION, "update")
              for f, a in g.fields.items() if a == "read_only"}
    for rid in sorted(oracle.ids("update")):
        record = clients[user].get(f"/api/v1/records/{REQUISITION}/{rid}").get_json()
        lines = [{"id": line["id"], "item": line["item"], "quantity": line["quantity"],
                  "unit_price": "999.0000"} for line in record["lines"]]
        response = clients[user].patch(f"/api/v1/records/{REQUISITION}/{rid}",
                                       json={"lines": lines, "version": record["version"]})
        if "lines.unit_price" in locked and not oracle.superuser:
            assert response.status_code == 403
            error = error_of(response)
            assert error["code"] == "read_only_field"
            assert "unit_price" in str(error["details"])
            after = clients[user].get(f"/api/v1/records/{REQUISITION}/{rid}").get_json()
            assert after["version"] == record["version"]
        else:
            assert response.status_code == 200, response.get_data(as_text=True)


def _create_inside_and_outside_the_create_scope(world, user, department, item_ids,
                                                     count_rows):
    clients, rows, registry = world
    oracle = Oracle(registry, user, rows)
    before = count_rows("materials_requisition")
    response = clients[user].post(f"/api/v1/records/{REQUISITION}", json={
        "department": department, "urgency": "normal",
        "lines": [{"item": item_ids["WS-0001"], "quantity": "1"}]})
    probe = {"department": department, "urgency": "normal", "created_by": user}
    in_scope = oracle.superuser or any(
        oracle._in_scope(g, probe) for g in oracle.grants_for(REQUISITION, "create"))
    if in_scope:
        assert response.status_code == 201, response.get_data(as_text=True)
        assert count_rows("materials_requisition") == before + 1
    else:
        assert response.status_code == 403
        assert count_rows("materials_requisition") == before


def _delete_obeys_scope_and_leaves_others(world, user, count_rows):
    clients, rows, registry = world
    oracle = Oracle(registry, user, rows)
    readable, deletable = oracle.ids("read"), oracle.ids("delete")
    for rid in sorted(list(rows)):
        before = count_rows("materials_requisition")
        response = clients[user].delete(f"/api/v1/records/{REQUISITION}/{rid}")
        if oracle.allowed(REQUISITION, "delete") and rid in deletable:
            assert response.status_code == 204
            assert count_rows("materials_requisition") == before - 1
            del rows[rid]
        else:
            assert response.status_code == _refusal(oracle, "delete", rid, readable)
            assert count_rows("materials_requisition") == before


def _export_rows_and_fields(app, world, user):
    clients, rows, registry = world
    oracle = Oracle(registry, user, rows)
    svc = services(app)
    runtime = svc.runtime()
    with svc.db.begin() as conn:
        grants = build_grants(conn, svc.access, user, date.today())
        ctx = Context(actor=user, grants=grants)
        query = runtime.records.query(Context(actor="tester"), REQUISITION, {})
        if not oracle.allowed(REQUISITION, "export"):
            with pytest.raises(Exception) as caught:
                list(runtime.records.export_rows(conn, ctx, REQUISITION, query))
            assert getattr(caught.value, "code", None) == "permission_denied"
            return
        exported = list(runtime.records.export_rows(conn, ctx, REQUISITION, query))
    assert {row["id"] for row in exported} == oracle.ids("export")
    for row in exported:
        assert not oracle.hidden("export", rows[row["id"]]) & set(row)


def _catalogue_actions(world, user, item_ids):
    clients, rows, registry = world
    oracle = Oracle(registry, user, rows)
    listed = clients[user].get(f"/api/v1/records/{ITEM}")
    assert listed.status_code == (200 if oracle.allowed(ITEM, "read") else 403)
    if listed.status_code == 200:
        hidden = {f for g in oracle.grants_for(ITEM, "read")
                  for f, a in g.fields.items() if a == "hidden"}
        if oracle.superuser or any(not g.fields for g in oracle.grants_for(ITEM, "read")):
            hidden = set()
        assert all(not hidden & set(item) for item in listed.get_json()["items"])
    created = clients[user].post(f"/api/v1/records/{ITEM}", json={
        "code": f"T-{user}", "name": "测试物资", "category": "0101",
        "uom": "box", "unit_price": "1.00"})
    assert (created.status_code != 403) == oracle.allowed(ITEM, "create"), \
        created.get_data(as_text=True)


def test_formula_eval_cannot_read_through_references_for_restricted_users(world, item_ids):
    clients, rows, registry = world
    rid = next(rid for rid, row in rows.items() if row["department"] == "CARD")
    line = clients["u.requester"].get(f"/api/v1/records/{REQUISITION}/{rid}").get_json()
    response = clients["u.requester"].post("/api/v1/formula/eval", json={
        "formula": "item.unit_price * 2", "entity": REQUISITION, "child": "lines",
        "record_id": line["lines"][0]["id"]})
    assert response.status_code == 403
    assert error_of(response)["code"] == "formula_reads_unseen"
    superuser = clients[ADMIN].post("/api/v1/formula/eval", json={
        "formula": "item.unit_price * 2", "entity": REQUISITION, "child": "lines",
        "record_id": line["lines"][0]["id"]})
    assert superuser.status_code == 200


def test_read_list_get_and_hidden_fields(world):
    for user in USER_CODES:
        _read_list_get_and_hidden_fields(world, user)


def test_filtering_on_a_hidden_field_is_an_unknown_field(world):
    for user in USER_CODES:
        _filtering_on_a_hidden_field_is_an_unknown_field(world, user)


def test_update_obeys_action_scope_and_read_only_fields(world, count_rows):
    for user in USER_CODES:
        _update_obeys_action_scope_and_read_only_fields(world, user, count_rows)


def test_read_only_line_price_cannot_change(world, item_ids):
    for user in USER_CODES:
        _read_only_line_price_cannot_change(world, user, item_ids)


@pytest.mark.parametrize("department", ["CARD-W1", "PHARM"])
def test_create_inside_and_outside_the_create_scope(world, department, item_ids, count_rows):
    for user in USER_CODES:
        _create_inside_and_outside_the_create_scope(world, user, department, item_ids, count_rows)


def test_delete_obeys_scope_and_leaves_others(world, count_rows):
    for user in USER_CODES:
        _delete_obeys_scope_and_leaves_others(world, user, count_rows)


def test_export_rows_and_fields(app, world):
    for user in USER_CODES:
        _export_rows_and_fields(app, world, user)


def test_catalogue_actions(world, item_ids):
    for user in USER_CODES:
        _catalogue_actions(world, user, item_ids)
