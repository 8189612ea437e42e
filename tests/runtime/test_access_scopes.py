"""Data scopes in the record service: every scope, unions, inheritance, domain
restriction, as-of-today trees, 404 for out-of-scope records, counts that do
not leak, writes that must stay inside the scope (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from yunying.platform.context import Context
from yunying.platform.errors import NotFound, PermissionDenied, ValidationFailed
from yunying.platform.tables import number_sequence
from yunying.runtime.access import Grants, RoleInDomain
from yunying.runtime.records import ListQuery

from access_helpers import (  # noqa: F401  (fixtures)
    YESTERDAY, as_user, registry, requisition_data, service, setup_ctx, unit_ids, units_of,
    world,
)
from record_helpers import ITEM, NOW, REQ, SAMPLE, field_errors


def listed(db, service, ctx, entity=REQ, **args):
    spec = service.spec(entity)
    query = ListQuery.from_args(spec, {"page_size": ["200"], **{k: [v] for k, v in args.items()}})
    with db.connect() as conn:
        page = service.list(conn, ctx, entity, query)
    assert page.total == len(page.items) or query.page > 1
    return page


def ids_of(page) -> set[int]:
    return {r["id"] for r in page.items}


def test_all_scope_reaches_every_record(db, service, world):
    page = listed(db, service, as_user("ann", "all_reader", units=["med"]))
    assert page.total == 9


def test_own_unit_reaches_the_users_units_only(db, service, world):
    page = listed(db, service, as_user("ann", "unit_reader", units=["med"]))
    assert units_of(page.items) == {"med"} and page.total == 1
    page = listed(db, service, as_user("zoe", "unit_reader", units=["card", "surg"]))
    assert units_of(page.items) == {"card", "surg"}


def test_a_user_without_units_reaches_nothing_by_unit(db, service, world):
    assert listed(db, service, as_user("nobody", "unit_reader", "tree_reader")).total == 0


def test_unit_tree_follows_todays_admin_edges(db, service, world):
    # resp left med yesterday: it is below surg today
    assert units_of(listed(db, service, as_user("ann", "tree_reader", units=["med"])).items) \
        == {"med", "card"}
    assert units_of(listed(db, service, as_user("sam", "tree_reader", units=["surg"])).items) \
        == {"surg", "ortho", "resp"}


def test_unit_tree_as_of_yesterday_still_has_the_ended_edge(db, service, world):
    ctx = as_user("ann", "tree_reader", units=["med"], today=YESTERDAY)
    assert units_of(listed(db, service, ctx).items) == {"med", "card", "resp"}


def test_scopes_built_for_one_day_or_unit_set_are_not_reused_for_another(db, service, world):
    for _ in range(2):
        assert units_of(listed(db, service, as_user("ann", "tree_reader", units=["med"],
                                                    today=YESTERDAY)).items) \
            == {"med", "card", "resp"}
        assert units_of(listed(db, service, as_user("ann", "tree_reader", units=["med"])).items) \
            == {"med", "card"}
        assert units_of(listed(db, service, as_user("ann", "tree_reader", units=["surg"])).items) \
            == {"surg", "ortho", "resp"}


def test_unit_tree_uses_the_grants_tree(db, service, world):
    ctx = as_user("ann", "cost_reader", units=["med"])
    assert units_of(listed(db, service, ctx).items) == {"med", "ortho"}


def test_own_records_are_those_the_user_created(db, service, world):
    page = listed(db, service, as_user("ann", "own_reader", units=["med"]))
    assert ids_of(page) == {world["ann_dept2"]}


def test_formula_scope_is_compiled_to_sql(db, service, world):
    page = listed(db, service, as_user("ann", "urgent_reader"))
    assert page.total == 4 and {r["urgency"] for r in page.items} == {"urgent"}


def test_formula_scope_follows_references(db, service, world):
    items = world["items"]
    with db.begin(write=True) as conn:
        for n, code in enumerate(("WS-0001", "BG-0001", None)):
            service.create(conn, setup_ctx(), SAMPLE,
                           {"code": f"S-{n}", "item": items[code] if code else None})
    page = listed(db, service, as_user("ann", "office_samples"), entity=SAMPLE)
    assert [r["code"] for r in page.items] == ["S-1"]


def test_a_filter_that_does_not_check_reaches_nothing(db, service, world):
    assert listed(db, service, as_user("ann", "broken_filter")).total == 0
    page = listed(db, service, as_user("ann", "broken_filter", "unit_reader", units=["med"]))
    assert units_of(page.items) == {"med"}


def test_two_roles_give_the_union(db, service, world):
    page = listed(db, service, as_user("ann", "unit_reader", "own_reader", units=["med"]))
    assert ids_of(page) == unit_ids(world, "med") | {world["ann_dept2"]}


def test_an_inherited_role_grants_its_parents_grants(db, service, world):
    page = listed(db, service, as_user("ann", "child_role", units=["med"]))
    assert units_of(page.items) == {"med"}


def test_a_domain_restricts_to_its_admin_subtree(db, service, world):
    page = listed(db, service, as_user("ann", "all_reader", domain="hosp2"))
    assert units_of(page.items) == {"hosp2", "dept2"} and page.total == 3
    page = listed(db, service, as_user("ann", "unit_reader", units=["med"], domain="hosp"))
    assert units_of(page.items) == {"med"}
    assert listed(db, service, as_user("ann", "unit_reader", units=["med"],
                                       domain="hosp2")).total == 0


def test_the_same_role_in_two_domains_reaches_both(db, service, world):
    grants = Grants("ann", (RoleInDomain("acl.all_reader", "hosp2"),
                            RoleInDomain("acl.all_reader", "surg")), (), NOW.date())
    ctx = Context(actor="ann", clock=lambda: NOW, grants=grants)
    assert units_of(listed(db, service, ctx).items) == {"hosp2", "dept2", "surg", "ortho",
                                                         "resp"}


def test_domains_do_not_restrict_entities_without_an_org_dimension(db, service, world):
    ctx = as_user("ann", "unit_writer", domain="hosp2")
    assert listed(db, service, ctx, entity=ITEM).total == 3


def test_the_superuser_and_internal_callers_are_unrestricted(db, service, world):
    su = Context(actor="root", clock=lambda: NOW,
                 grants=Grants("root", (RoleInDomain("platform.admin", "*"),)))
    assert listed(db, service, su).total == 9
    assert listed(db, service, setup_ctx()).total == 9


def test_counts_never_include_records_out_of_scope(db, service, world):
    ctx = as_user("ann", "unit_reader", units=["med"])
    assert listed(db, service, ctx, filter="department:eq:surg").total == 0
    assert listed(db, service, ctx, filter="department:ne:med").total == 0
    assert listed(db, service, ctx, search="reason").total == 1
    page = listed(db, service, ctx, page="2")
    assert page.total == 1 and page.items == []


def test_no_read_grant_is_403_for_list_get_and_row(db, service, world):
    ctx = as_user("ann", "item_reader")
    rid = world["req"]["med"]
    with db.connect() as conn:
        for call in (lambda: service.list(conn, ctx, REQ, ListQuery(REQ)),
                     lambda: service.get(conn, ctx, REQ, rid),
                     lambda: service.row(conn, ctx, REQ, rid),
                     lambda: service.query(ctx, REQ, {})):
            with pytest.raises(PermissionDenied) as caught:
                call()
            assert caught.value.details == {"entity": REQ, "action": "read"}
            assert "Material requisition" in caught.value.message.en


def _missing_error(db, service, rid) -> NotFound:
    with db.begin(write=True) as conn:
        service.delete(conn, setup_ctx(), REQ, rid)
    with db.connect() as conn, pytest.raises(NotFound) as caught:
        service.get(conn, setup_ctx(), REQ, rid)
    return caught.value


def _same_not_found(error: NotFound, other: NotFound, rid: int, other_id: int) -> None:
    assert type(error) is type(other) and error.code == other.code == "not_found"
    assert error.message.zh.replace(str(rid), "#") == other.message.zh.replace(str(other_id), "#")
    assert error.message.en.replace(str(rid), "#") == other.message.en.replace(str(other_id), "#")
    assert {**error.details, "id": "#"} == {**other.details, "id": "#"}


def test_out_of_scope_is_the_same_not_found_as_missing(db, service, world):
    ctx = as_user("ann", "unit_reader", "own_reader", units=["med"])
    outside = world["req"]["surg"]
    with db.connect() as conn:
        assert service.get(conn, ctx, REQ, world["req"]["med"])["department"] == "med"
        errors = []
        for call in (lambda: service.get(conn, ctx, REQ, outside),
                     lambda: service.row(conn, ctx, REQ, outside)):
            with pytest.raises(NotFound) as caught:
                call()
            errors.append(caught.value)
    with db.begin(write=True) as conn:
        for call in (lambda: service.update(conn, ctx, REQ, outside, {"reason": "x"}, version=1),
                     lambda: service.delete(conn, ctx, REQ, outside)):
            with pytest.raises(NotFound) as caught:
                call()
            errors.append(caught.value)
    gone = world["req"]["card"]
    missing = _missing_error(db, service, gone)
    for error in errors:
        _same_not_found(error, missing, outside, gone)


def test_a_line_of_an_out_of_scope_record_is_not_found(db, service, world):
    ctx = as_user("ann", "unit_reader", units=["med"])
    with db.connect() as conn:
        mine = service.get(conn, setup_ctx(), REQ, world["req"]["med"])["lines"][0]["id"]
        theirs = service.get(conn, setup_ctx(), REQ, world["req"]["surg"])["lines"][0]["id"]
        assert service.row(conn, ctx, REQ, mine, child="lines")["id"] == mine
        with pytest.raises(NotFound):
            service.row(conn, ctx, REQ, theirs, child="lines")


def test_readable_but_not_updatable_is_403(db, service, world):
    ctx = as_user("ann", "all_reader", "own_reader", units=["med"])
    with db.begin(write=True) as conn:
        with pytest.raises(PermissionDenied) as caught:
            service.update(conn, ctx, REQ, world["req"]["surg"], {"reason": "x"}, version=1)
        assert caught.value.details == {"entity": REQ, "action": "update"}
        with pytest.raises(PermissionDenied):
            service.delete(conn, ctx, REQ, world["req"]["surg"])
        own = service.update(conn, ctx, REQ, world["ann_dept2"], {"reason": "mine"}, version=1)
        assert own["reason"] == "mine"
        service.delete(conn, ctx, REQ, world["ann_dept2"])


def test_no_grant_for_the_action_is_403(db, service, world):
    ctx = as_user("ann", "all_reader", units=["med"])
    with db.begin(write=True) as conn:
        with pytest.raises(PermissionDenied) as caught:
            service.create(conn, ctx, REQ, requisition_data(world["items"], "med"))
        assert caught.value.details["action"] == "create"
        with pytest.raises(PermissionDenied):
            service.update(conn, ctx, REQ, 999999, {}, version=1)
        with pytest.raises(PermissionDenied):
            service.delete(conn, ctx, REQ, 999999)


def _counts(db):
    with db.connect() as conn:
        return (conn.execute(text("SELECT count(*) FROM materials_requisition")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM materials_requisition__lines"))
                .scalar_one(),
                conn.execute(select(func.sum(number_sequence.c.value))).scalar_one())


def test_create_outside_the_scope_is_403_and_writes_nothing(db, service, world):
    ctx = as_user("ann", "unit_writer", units=["med"])
    before = _counts(db)
    with db.begin(write=True) as conn:
        with pytest.raises(PermissionDenied) as caught:
            service.create(conn, ctx, REQ, requisition_data(world["items"], "surg"))
        assert caught.value.code == "out_of_scope"
        assert "surg" not in str(caught.value.message)
    assert _counts(db) == before
    with db.begin(write=True) as conn:
        created = service.create(conn, ctx, REQ, requisition_data(world["items"], "med"))
    assert created["department"] == "med" and created["created_by"] == "ann"


def test_an_update_moving_a_record_out_of_scope_is_403_and_changes_nothing(db, service, world):
    ctx = as_user("ann", "unit_writer", units=["med"])
    rid = world["req"]["med"]
    with db.begin(write=True) as conn:
        with pytest.raises(PermissionDenied) as caught:
            service.update(conn, ctx, REQ, rid, {"department": "surg"}, version=1)
        assert caught.value.code == "out_of_scope"
    with db.connect() as conn:
        stored = service.get(conn, setup_ctx(), REQ, rid)
    assert stored["department"] == "med" and stored["version"] == 1
    with db.begin(write=True) as conn:
        assert service.update(conn, ctx, REQ, rid, {"reason": "ok"}, version=1)["version"] == 2


def test_an_update_inside_a_wider_tree_scope_passes(db, service, world):
    ctx = as_user("ann", "tree_updater", units=["med"])
    with db.begin(write=True) as conn:
        moved = service.update(conn, ctx, REQ, world["req"]["med"], {"department": "card"},
                               version=1)
    assert moved["department"] == "card"


def test_references_must_name_records_the_user_may_read(db, service, world):
    items = world["items"]
    ctx = as_user("ann", "sample_writer")
    with db.begin(write=True) as conn:
        with pytest.raises(ValidationFailed) as hidden_item:
            service.create(conn, ctx, SAMPLE, {"code": "S-1", "item": items["WS-0001"]})
        with pytest.raises(ValidationFailed) as missing_item:
            service.create(conn, ctx, SAMPLE, {"code": "S-1", "item": 999999})
    one = hidden_item.value.details["fields"]["item"][0]
    other = missing_item.value.details["fields"]["item"][0]
    assert one["code"] == other["code"] == "reference"
    assert one["message"]["en"].replace(str(items["WS-0001"]), "#") == \
        other["message"]["en"].replace("999999", "#")
    with db.begin(write=True) as conn:
        made = service.create(conn, ctx, SAMPLE, {"code": "S-2", "item": items["BG-0001"]})
    assert made["item"] == items["BG-0001"]


def test_a_reference_the_record_already_has_may_stay(db, service, world):
    items = world["items"]
    with db.begin(write=True) as conn:
        rid = service.create(conn, setup_ctx(), SAMPLE,
                             {"code": "S-7", "item": items["WS-0001"]})["id"]
    ctx = as_user("ann", "sample_writer")
    with db.begin(write=True) as conn:
        kept = service.update(conn, ctx, SAMPLE, rid,
                              {"title": "kept", "item": items["WS-0001"]}, version=1)
        assert kept["item"] == items["WS-0001"]
        with pytest.raises(ValidationFailed) as caught:
            service.update(conn, ctx, SAMPLE, rid, {"item": items["WS-0002"]}, version=2)
    assert field_errors(caught.value) == {"item": ["reference"]}


def test_export_needs_the_export_action_and_uses_its_scope_and_fields(db, service, world):
    query = ListQuery.from_args(service.spec(REQ), {"page_size": ["1"]})
    with db.connect() as conn:
        rows = list(service.export_rows(conn, as_user("ann", "exporter", units=["med"]),
                                        REQ, query))
        assert units_of(rows) == {"med"} and all("reason" not in r for r in rows)
        everything = list(service.export_rows(conn, setup_ctx(), REQ, query))
        assert len(everything) == 9
        with pytest.raises(PermissionDenied) as caught:
            service.export_rows(conn, as_user("ann", "all_reader"), REQ, query)
        assert caught.value.details["action"] == "export"
