"""Field permissions in the record service: hidden fields absent from every
record, line, list, export and error; filters and sorts on them refused like
unknown fields; read-only fields refused with 403 naming them when changed
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from yunying.platform.errors import InvalidQuery, NotFound, PermissionDenied, ValidationFailed
from yunying.runtime.records import ListQuery

from access_helpers import (  # noqa: F401  (fixtures)
    as_user, registry, requisition_data, service, setup_ctx, world,
)
from record_helpers import REQ

HIDDEN = ("total_amount", "reason")
HIDDEN_WORDS = ("total_amount", "合计金额", "Total amount", "reason", "申请事由", "Reason")


def _no_hidden(record: dict) -> None:
    assert not set(HIDDEN) & set(record)
    for line in record.get("lines", []):
        assert "unit_price" not in line and "quantity" in line


def test_hidden_fields_are_absent_from_get_row_and_list(db, service, world):
    ctx = as_user("ann", "viewer")
    rid = world["req"]["surg"]
    with db.connect() as conn:
        record = service.get(conn, ctx, REQ, rid)
        _no_hidden(record)
        assert record["lines"] and record["department"] == "surg"
        _no_hidden(service.row(conn, ctx, REQ, rid))
        line = service.row(conn, ctx, REQ, record["lines"][0]["id"], child="lines")
        assert "unit_price" not in line and line["amount"] is not None
        page = service.list(conn, ctx, REQ, service.query(ctx, REQ, {"page_size": ["200"]}))
    assert page.total == 9
    for item in page.items:
        _no_hidden(item)
    assert service.hidden_fields is not None
    with db.connect() as conn:
        assert service.hidden_fields(conn, ctx, REQ, rid) == frozenset(
            {"total_amount", "reason", "lines.unit_price"})


def test_one_role_showing_a_field_shows_it_on_the_records_it_reaches(db, service, world):
    ctx = as_user("ann", "viewer", "unit_reader", units=["med"])
    with db.connect() as conn:
        mine = service.get(conn, ctx, REQ, world["req"]["med"])
        theirs = service.get(conn, ctx, REQ, world["req"]["surg"])
        page = service.list(conn, ctx, REQ, ListQuery(REQ, page_size=200))
        assert service.hidden_fields(conn, ctx, REQ, world["req"]["med"]) == frozenset()
    assert mine["reason"] == "reason of med" and mine["lines"][0]["unit_price"] is not None
    _no_hidden(theirs)
    shown = {r["department"]: r for r in page.items}
    assert shown["med"]["total_amount"] is not None
    for unit, item in shown.items():
        if unit != "med":
            _no_hidden(item)


@pytest.mark.parametrize("args, unknown", [
    ({"filter": ["total_amount:gt:1"]}, {"filter": ["no_such:gt:1"]}),
    ({"filter": ["reason:contains:x"]}, {"filter": ["no_such:contains:x"]}),
    ({"sort": ["-total_amount"]}, {"sort": ["-no_such"]}),
])
def test_filters_and_sorts_on_hidden_fields_look_like_unknown_fields(db, service, world,
                                                                     args, unknown):
    ctx = as_user("ann", "viewer", "unit_reader", units=["med"])
    with pytest.raises(InvalidQuery) as hidden:
        service.query(ctx, REQ, args)
    with pytest.raises(InvalidQuery) as missing:
        service.query(ctx, REQ, unknown)
    name = next(iter(args.values()))[0].split(":")[0].lstrip("-")
    assert hidden.value.message.en.replace(name, "#") == \
        missing.value.message.en.replace("no_such", "#")
    assert hidden.value.details["parameter"] == missing.value.details["parameter"]
    # a query built without the caller (another path to the service) is refused too
    query = ListQuery.from_args(service.spec(REQ), args)
    with db.connect() as conn, pytest.raises(InvalidQuery) as again:
        service.list(conn, ctx, REQ, query)
    assert again.value.message == hidden.value.message


def test_search_skips_hidden_fields(db, service, world):
    with db.connect() as conn:
        found = service.list(conn, setup_ctx(), REQ,
                             service.query(setup_ctx(), REQ, {"search": ["reason of"]}))
        assert found.total == 8
        ctx = as_user("ann", "viewer")
        hidden = service.list(conn, ctx, REQ, service.query(ctx, REQ, {"search": ["reason of"]}))
    assert hidden.total == 0


def test_a_default_sort_on_a_hidden_field_is_skipped(db, service, world, registry):
    ctx = as_user("ann", "viewer")
    spec = service.spec(REQ)
    query = ListQuery.from_args(spec, {}, hidden=frozenset({"request_date"}))
    assert query.sort == (("id", True),)


def test_writing_a_hidden_field_is_403_naming_nothing(db, service, world):
    ctx = as_user("ann", "clerk", units=["med"])
    rid = world["req"]["med"]
    with db.begin(write=True) as conn:
        with pytest.raises(PermissionDenied) as caught:
            service.update(conn, ctx, REQ, rid, {"total_amount": "100.00"}, version=1)
        with pytest.raises(PermissionDenied) as created:
            service.create(conn, ctx, REQ, requisition_data(world["items"], "med",
                                                            total_amount="5.00"))
    for error in (caught.value, created.value):
        assert error.code == "hidden_field"
        text = json.dumps([error.message.as_dict(), error.details], ensure_ascii=False)
        assert not any(word in text for word in HIDDEN_WORDS[:3])


def test_hidden_fields_are_never_named_in_validation_errors(db, service, world):
    ctx = as_user("ann", "clerk", units=["med"])
    with db.begin(write=True) as conn, pytest.raises(ValidationFailed) as caught:
        service.create(conn, ctx, REQ, requisition_data(world["items"], "med",
                                                        total_amount="abc", urgency="nope"))
    fields = caught.value.details["fields"]
    assert set(fields) == {"urgency", "_record"}
    assert [e["code"] for e in fields["_record"]] == ["hidden_field"]
    text = json.dumps([caught.value.message.as_dict(), fields], ensure_ascii=False)
    assert not any(word in text for word in HIDDEN_WORDS[:3])
    assert "2" in caught.value.message.en  # two problems: urgency, and a hidden one


def test_changing_a_read_only_field_is_403_naming_it(db, service, world):
    ctx = as_user("ann", "clerk", units=["med"])
    rid = world["req"]["med"]
    with db.begin(write=True) as conn:
        with pytest.raises(PermissionDenied) as caught:
            service.update(conn, ctx, REQ, rid, {"reason": "changed"}, version=1)
    error = caught.value
    assert error.code == "read_only_field" and error.details["fields"] == ["reason"]
    assert "申请事由" in error.message.zh and "Reason" in error.message.en
    with db.begin(write=True) as conn:
        same = service.update(conn, ctx, REQ, rid, {"reason": "reason of med",
                                                    "urgency": "urgent"}, version=1)
    assert same["urgency"] == "urgent" and same["reason"] == "reason of med"
    assert "total_amount" not in same


def test_read_only_line_fields(db, service, world):
    ctx = as_user("ann", "clerk", units=["med"])
    rid = world["req"]["med"]
    with db.connect() as conn:
        line = service.get(conn, setup_ctx(), REQ, rid)["lines"][0]
    kept = {"id": line["id"], "item": line["item"], "quantity": "2.00", "note": "n"}
    with db.begin(write=True) as conn:
        with pytest.raises(PermissionDenied) as caught:
            service.update(conn, ctx, REQ, rid, {"lines": [{**kept, "quantity": "3"}]},
                           version=1)
        assert caught.value.details["fields"] == ["lines.quantity"]
        assert "领用明细" in caught.value.message.zh
        with pytest.raises(PermissionDenied):
            service.update(conn, ctx, REQ, rid, {"lines": [kept, {"item": line["item"],
                                                                  "quantity": "1"}]},
                           version=1)
        updated = service.update(conn, ctx, REQ, rid, {"lines": [kept]}, version=1)
    assert updated["lines"][0]["note"] == "n"


def test_read_only_on_create_allows_only_the_default(db, service, world):
    ctx = as_user("ann", "clerk", units=["med"])
    data = requisition_data(world["items"], "med")
    del data["lines"]
    with db.begin(write=True) as conn:
        with pytest.raises(PermissionDenied) as caught:
            service.create(conn, ctx, REQ, {**data, "reason": "set"})
        assert caught.value.details["fields"] == ["reason"]
        made = service.create(conn, ctx, REQ, {**data, "reason": None})
    assert "total_amount" not in made and made["department"] == "med"


def test_a_created_record_the_user_cannot_read_shows_only_its_id(db, service, world):
    ctx = as_user("ann", "drop_box")
    with db.begin(write=True) as conn:
        made = service.create(conn, ctx, REQ, requisition_data(world["items"], "med"))
    assert set(made) == {"id", "version"}
    with db.connect() as conn:
        assert service.get(conn, setup_ctx(), REQ, made["id"])["created_by"] == "ann"


def test_field_access_tells_what_a_form_may_show_and_change(db, service, world):
    ctx = as_user("ann", "clerk", units=["med"])
    system = {"number"}  # the numbering field: nobody writes it
    with db.connect() as conn:
        create = service.field_access(conn, ctx, REQ)
        update = service.field_access(conn, ctx, REQ, world["req"]["med"])
        with pytest.raises(NotFound):  # like the update: out of scope is missing
            service.field_access(conn, as_user("ann", "clerk", units=["surg"]), REQ,
                                 world["req"]["med"])
        superuser = service.field_access(conn, setup_ctx(), REQ, world["req"]["med"])
    for access in (create, update):
        assert access.hidden == {"total_amount"}
        assert access.read_only == {"reason", "lines.quantity"} | system
    assert superuser.hidden == frozenset() and superuser.read_only == system
