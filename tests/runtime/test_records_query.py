"""List queries: parsing, every operator on every type, sort, paging, search,
and hostile input that must stay a value."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, text

from yunying.platform.errors import InvalidQuery
from yunying.runtime.records import ListQuery, Page

from record_helpers import (  # noqa: F401 - fixtures
    CTX, ITEM, REQ, SAMPLE, at, items, registry, requisition, service,
    tables,
)

ROWS = [
    dict(code="S-1", title="Alpha 100%", notes="first_note", count=1, ratio="1.5", price="10.00",
         flag=True, day="2026-01-05", moment="2026-01-05T08:00:00", uom="box", owner="zhang",
         dept="0301", rack="A", slot=1),
    dict(code="S-2", title="beta", notes="second", count=5, ratio="-2.25", price="20.50",
         flag=False, day="2026-02-10", moment="2026-02-10T12:30:00", uom="pcs", owner="li",
         dept="0302", rack="A", slot=2),
    dict(code="S-3", title="Gamma_x", notes=None, count=10, ratio="0", price="20.50",
         flag=True, day="2026-03-15", moment="2026-03-15T18:45:00", uom="bottle", owner="wang",
         dept="0301", rack="B", slot=1),
    dict(code="S-4", title=None, notes="o'brien; DROP", count=None, ratio=None, price=None,
         flag=None, day=None, moment=None, uom=None, owner=None, dept=None, rack=None, slot=None),
]


@pytest.fixture
def samples(tables, service, items):
    ids = {}
    with tables.begin() as conn:
        for n, row in enumerate(ROWS):
            data = {k: v for k, v in row.items() if v is not None}
            if n < 2:
                data["item"] = items["WS-0001"] if n == 0 else items["BG-0001"]
            ids[row["code"]] = service.create(conn, at(datetime(2026, 11, 1 + n)), SAMPLE,
                                              data)["id"]
    return ids


def _list(db, service, entity=SAMPLE, **args) -> Page:
    spec = service.spec(entity)
    query = ListQuery.from_args(spec, {k: v if isinstance(v, list) else [v]
                                       for k, v in args.items()})
    with db.connect() as conn:
        return service.list(conn, CTX, entity, query)


def _codes(db, service, *filters, **args) -> list[str]:
    if filters:
        args["filter"] = list(filters)
    args.setdefault("sort", "code")
    return [row["code"] for row in _list(db, service, **args).items]


def _invalid(service, entity=SAMPLE, **args) -> InvalidQuery:
    with pytest.raises(InvalidQuery) as info:
        ListQuery.from_args(service.spec(entity), {k: v if isinstance(v, list) else [v]
                                                   for k, v in args.items()})
    error = info.value
    assert set(error.details) == {"parameter", "value"}
    assert error.message.zh and error.message.en and error.message.zh != error.message.en
    return error


@pytest.mark.parametrize("condition, expected", [
    # strings (case-insensitive contains / startswith, LIKE wildcards are literal)
    ("title:eq:beta", ["S-2"]),
    ("title:ne:beta", ["S-1", "S-3", "S-4"]),
    ("code:lt:S-3", ["S-1", "S-2"]),      # (same case: collation-independent)
    ("code:ge:S-3", ["S-3", "S-4"]),
    ("title:in:beta,Gamma_x,none", ["S-2", "S-3"]),
    ("title:contains:ALPHA", ["S-1"]),
    ("title:contains:100%", ["S-1"]),
    ("title:contains:%", ["S-1"]),
    ("title:contains:_", ["S-3"]),
    ("title:startswith:gam", ["S-3"]),
    ("title:startswith:_", []),
    ("title:isnull:true", ["S-4"]),
    ("title:isnull:false", ["S-1", "S-2", "S-3"]),
    ("title:between:b,c", ["S-2"]),
    ("notes:contains:_note", ["S-1"]),
    ("notes:contains:o'brien", ["S-4"]),
    # integers
    ("count:eq:5", ["S-2"]), ("count:ne:5", ["S-1", "S-3", "S-4"]),
    ("count:lt:5", ["S-1"]), ("count:le:5", ["S-1", "S-2"]),
    ("count:gt:5", ["S-3"]), ("count:ge:5", ["S-2", "S-3"]),
    ("count:in:1,10", ["S-1", "S-3"]), ("count:between:2,10", ["S-2", "S-3"]),
    ("count:isnull:1", ["S-4"]),
    # decimals and money
    ("ratio:lt:0", ["S-2"]), ("ratio:ge:0", ["S-1", "S-3"]), ("ratio:eq:1.50", ["S-1"]),
    ("ratio:between:-3,0", ["S-2", "S-3"]), ("price:eq:20.5", ["S-2", "S-3"]),
    ("price:in:10,99", ["S-1"]), ("price:gt:10.001", ["S-2", "S-3"]),
    # booleans
    ("flag:eq:true", ["S-1", "S-3"]), ("flag:eq:0", ["S-2"]), ("flag:ne:true", ["S-2", "S-4"]),
    ("flag:isnull:true", ["S-4"]),
    # dates and datetimes
    ("day:eq:2026-02-10", ["S-2"]), ("day:lt:2026-02-10", ["S-1"]),
    ("day:between:2026-02-01,2026-03-31", ["S-2", "S-3"]),
    ("day:in:2026-01-05,2026-03-15", ["S-1", "S-3"]),
    ("moment:ge:2026-02-10T12:30:00", ["S-2", "S-3"]),
    ("moment:lt:2026-02-10", ["S-1"]),
    ("moment:le:2026-02-10T20:30:00+08:00", ["S-1", "S-2"]),
    # codes: enum, user, org unit
    ("uom:eq:box", ["S-1"]), ("uom:in:pcs,bottle", ["S-2", "S-3"]),
    ("owner:startswith:zh", ["S-1"]), ("dept:eq:0301", ["S-1", "S-3"]),
    # references and system columns
    ("item:isnull:false", ["S-1", "S-2"]),
    ("id:gt:0", ["S-1", "S-2", "S-3", "S-4"]), ("version:eq:1", ["S-1", "S-2", "S-3", "S-4"]),
    ("created_at:ge:2026-11-03", ["S-3", "S-4"]),
    ("created_by:eq:tester", ["S-1", "S-2", "S-3", "S-4"]),
])
def test_filter_operators(tables, service, samples, condition, expected):
    assert _codes(tables, service, condition) == expected


def test_filters_combine_with_and_and_references_by_id(tables, service, samples, items):
    assert _codes(tables, service, "dept:eq:0301", "flag:eq:true", "count:gt:1") == ["S-3"]
    assert _codes(tables, service, f"item:eq:{items['BG-0001']}") == ["S-2"]
    both = f"item:in:{items['BG-0001']},{items['WS-0001']}"
    assert _codes(tables, service, both) == ["S-1", "S-2"]


def test_sort_default_and_nulls_last(tables, service, samples):
    assert _codes(tables, service, sort="-count") == ["S-3", "S-2", "S-1", "S-4"]
    assert _codes(tables, service, sort="count") == ["S-1", "S-2", "S-3", "S-4"]
    assert _codes(tables, service, sort=["rack,-slot"]) == ["S-2", "S-1", "S-3", "S-4"]
    assert _codes(tables, service, sort=["-rack", "slot"]) == ["S-3", "S-1", "S-2", "S-4"]
    assert _codes(tables, service, sort="-id") == ["S-4", "S-3", "S-2", "S-1"]
    assert _codes(tables, service, sort="-created_at") == ["S-4", "S-3", "S-2", "S-1"]
    page = _list(tables, service)                                   # spec default: code
    assert [r["code"] for r in page.items] == ["S-1", "S-2", "S-3", "S-4"]


def test_paging_and_total(tables, service, samples):
    first = _list(tables, service, page_size="3", sort="code")
    assert first.total == 4 and first.page == 1 and first.page_size == 3
    assert [r["code"] for r in first.items] == ["S-1", "S-2", "S-3"]
    second = _list(tables, service, page_size="3", page="2", sort="code")
    assert [r["code"] for r in second.items] == ["S-4"] and second.total == 4
    beyond = _list(tables, service, page="9")
    assert beyond.items == [] and beyond.total == 4
    filtered = _list(tables, service, filter="rack:eq:A", page_size="1", sort="-slot")
    assert filtered.total == 2 and [r["code"] for r in filtered.items] == ["S-2"]
    assert ListQuery.from_args(service.spec(SAMPLE), {}).page_size == 20


def test_list_rows_are_main_table_values_without_lines(tables, service, samples):
    row = _list(tables, service, filter="code:eq:S-1").items[0]
    assert "entries" not in row
    assert row["ratio"] == Decimal("1.500") and row["price"] == Decimal("10.00")
    assert row["day"] == date(2026, 1, 5) and row["moment"] == datetime(2026, 1, 5, 8)
    assert row["flag"] is True and row["version"] == 1 and row["created_by"] == "tester"


def test_search_is_case_insensitive_over_search_fields(tables, service, samples):
    assert _codes(tables, service, search="gamma") == ["S-3"]
    assert _codes(tables, service, search="S-") == ["S-1", "S-2", "S-3", "S-4"]
    assert _codes(tables, service, search="second") == ["S-2"]         # notes is searched
    assert _codes(tables, service, search="100%") == ["S-1"]
    assert _codes(tables, service, search="%") == ["S-1"]
    assert _codes(tables, service, search="zhang") == []                # owner is not
    assert _codes(tables, service, "flag:eq:true", search="a") == ["S-1", "S-3"]
    assert _codes(tables, service, search="") == ["S-1", "S-2", "S-3", "S-4"]


def test_list_is_exactly_two_queries(tables, service, samples):
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    query = ListQuery.from_args(service.spec(SAMPLE), {"filter": ["count:gt:1"],
                                                       "search": ["a"], "sort": ["-day"]})
    event.listen(tables.engine, "before_cursor_execute", seen)
    try:
        with tables.connect() as conn:
            service.list(conn, CTX, SAMPLE, query)
    finally:
        event.remove(tables.engine, "before_cursor_execute", seen)
    assert [s.split()[0].upper() for s in statements if s.upper() != "BEGIN"] == \
        ["SELECT", "SELECT"]


@pytest.mark.parametrize("args, parameter", [
    ({"filter": "colour:eq:red"}, "filter"),
    ({"filter": "count:like:1"}, "filter"),
    ({"filter": "count:contains:1"}, "filter"),
    ({"filter": "flag:lt:true"}, "filter"),
    ({"filter": "item:gt:3"}, "filter"),
    ({"filter": "count:eq:abc"}, "filter"),
    ({"filter": "count:eq:1.5"}, "filter"),
    ({"filter": "count:eq:99999999999999999999"}, "filter"),
    ({"filter": "ratio:eq:NaN"}, "filter"),
    ({"filter": "ratio:eq:1e999"}, "filter"),
    ({"filter": "day:eq:2026-02-30"}, "filter"),
    ({"filter": "day:eq:20260201"}, "filter"),
    ({"filter": "moment:gt:noon"}, "filter"),
    ({"filter": "moment:gt:0001-01-01T00:00:00+01:00"}, "filter"),
    ({"filter": "flag:eq:yes"}, "filter"),
    ({"filter": "count:between:1"}, "filter"),
    ({"filter": "count:between:1,2,3"}, "filter"),
    ({"filter": "count:isnull:maybe"}, "filter"),
    ({"filter": "count"}, "filter"),
    ({"filter": "count:eq"}, "filter"),
    ({"filter": "title:eq:a\x00b"}, "filter"),
    ({"filter": "title:contains:\ud800"}, "filter"),
    ({"search": "\udfff"}, "search"),
    ({"filter": "title:eq:" + "x" * 5000}, "filter"),
    ({"filter": "entries:eq:1"}, "filter"),
    ({"filter": "n" * 100_000 + ":eq:1"}, "filter"),
    ({"filter": "code:" + "o" * 10_000 + ":1"}, "filter"),
    ({"sort": "s" * 10_000}, "sort"),
    ({"sort": "colour"}, "sort"),
    ({"sort": "-"}, "sort"),
    ({"sort": "code;DROP TABLE lab_sample"}, "sort"),
    ({"page": "0"}, "page"),
    ({"page": "-1"}, "page"),
    ({"page": "abc"}, "page"),
    ({"page": "99999999999999"}, "page"),
    ({"page": ["1", "2"]}, "page"),
    ({"page_size": "0"}, "page_size"),
    ({"page_size": "201"}, "page_size"),
    ({"page_size": "1.5"}, "page_size"),
    ({"search": "a\x00"}, "search"),
    ({"search": ["a", "b"]}, "search"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_parameters_are_refused_before_any_sql(service, args, parameter):
    error = _invalid(service, **args)
    assert error.details["parameter"] == parameter
    assert error.code == "invalid_query"
    # hostile input is not echoed at length
    assert len(error.message.zh) < 300 and len(error.message.en) < 300
    assert len(str(error.details["value"])) < 300


def test_search_without_search_fields_is_refused(service):
    spec = replace(service.spec(SAMPLE), search_fields=())
    with pytest.raises(InvalidQuery) as info:
        ListQuery.from_args(spec, {"search": ["x"]})
    assert info.value.details == {"parameter": "search", "value": "x"}
    assert ListQuery.from_args(spec, {"search": [""]}).search is None


def test_a_query_built_for_another_entity_is_refused(tables, service, samples):
    query = ListQuery.from_args(service.spec(ITEM), {})
    with tables.connect() as conn:
        with pytest.raises(InvalidQuery):
            service.list(conn, CTX, SAMPLE, query)


@pytest.mark.parametrize("value", [
    "1; DROP TABLE lab_sample", "' OR 1=1 --", "'; DELETE FROM lab_sample; --",
    "\" OR \"\"=\"", "x" * 3999, "%' OR '%'='", "\\", "'); DROP TABLE materials_item; --",
    "S-1' UNION SELECT * FROM yy_number_sequence --",
])
def test_hostile_values_are_only_values(tables, service, samples, value):
    for condition in (f"title:eq:{value}", f"title:contains:{value}",
                      f"notes:startswith:{value}", f"title:in:{value}"):
        assert _list(tables, service, filter=condition).items == []
    assert _list(tables, service, search=value).total == 0
    with tables.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM lab_sample")).scalar() == 4
        assert conn.execute(text("SELECT count(*) FROM materials_item")).scalar() == 3


def test_hostile_values_in_typed_fields_are_invalid_queries(tables, service, samples):
    for condition in ("count:eq:1; DROP TABLE lab_sample", "day:eq:' OR 1=1 --",
                      "ratio:gt:1 OR 1=1", "flag:eq:true OR 1=1", "id:in:1,2) OR (1=1"):
        _invalid(service, filter=condition)
    with tables.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM lab_sample")).scalar() == 4


def test_requisition_list_default_sort(tables, service, items):
    with tables.begin() as conn:
        for day in ("2026-11-02", "2026-11-05", "2026-11-03"):
            service.create(conn, CTX, REQ, requisition(items, request_date=day))
    page = _list(tables, service, REQ, filter="urgency:eq:normal")
    assert [r["request_date"].day for r in page.items] == [5, 3, 2]
    assert "lines" not in page.items[0]
