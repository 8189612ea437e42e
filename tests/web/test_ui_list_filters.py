"""The list page's filter bar and query string (runtime/ui/list_filters.py).

First the translation on its own — page parameters → the record API's list
arguments, the controls of the bar per field type, the errors naming the
parameter — then through the page, over the ``uibench`` fixture package
(bench/fixtures/ui_bench: an order with a field of every filterable type):
each filter type narrows the rows to exactly the expected ones.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from yunying.app import services
from yunying.metadata.spec import DictionaryItemSpec, DictionarySpec, EntitySpec, FieldSpec
from yunying.metadata.views import ListViewSpec
from yunying.platform.errors import InvalidQuery
from yunying.platform.i18n import Text
from yunying.runtime.installer import install_packages
from yunying.runtime.ui.list_filters import (
    error_target, filter_bar, page_params, parse_page_query,
)
from ui_db_helpers import module_database
from ui_helpers import page_text
from web_helpers import INSTALLER, AuthActions, make_app, token_client

UI_BENCH = Path(__file__).resolve().parents[2] / "bench" / "fixtures" / "ui_bench"
ORDER = "uibench.order"


def _field(code: str, type_: str, **extra) -> FieldSpec:
    return FieldSpec(code=code, type=type_, label=Text(f"字段{code}", f"Field {code}"), **extra)


SPEC = EntitySpec(
    package="t", code="doc", label=Text("单据", "Document"), search_fields=("title",),
    fields=(_field("title", "string", length=50), _field("note", "text"),
            _field("amount", "money"), _field("count", "integer"),
            _field("day", "date"), _field("moment", "datetime"),
            _field("grade", "enum", dictionary="t.grade"), _field("done", "boolean"),
            _field("partner", "reference", reference="t.partner"),
            _field("owner", "user"), _field("unit", "org_unit"),
            _field("file", "attachment")))
VIEW = ListViewSpec(columns=("title", "amount"), filters=("grade", "day", "title"),
                    sort=("-day",), page_size=25)
GRADES = DictionarySpec(package="t", code="grade", label=Text("等级", "Grade"), items=(
    DictionaryItemSpec("b", Text("乙", "B"), sort=2), DictionaryItemSpec("a", Text("甲", "A"), sort=1),
    DictionaryItemSpec("x", Text("停用", "Retired"), sort=3, active=False)))


# -- translation ---------------------------------------------------------------------------

def test_defaults_come_from_the_list_view():
    query = parse_page_query(SPEC, VIEW, {})
    assert dict(query.args) == {"sort": ["-day"], "page_size": ["25"]}
    assert query.columns == () and query.search == "" and query.sort == ("-day",)


@pytest.mark.parametrize("params, filters", [
    ({"f.title": " pump "}, ["title:contains:pump"]),
    ({"f.note": "x"}, ["note:contains:x"]),
    ({"f.amount.from": "100", "f.amount.to": "2,5"}, ["amount:ge:100", "amount:le:2,5"]),
    ({"f.count.to": "7"}, ["count:le:7"]),
    ({"f.day.from": "2026-01-01", "f.day.to": "2026-01-31"},
     ["day:ge:2026-01-01", "day:le:2026-01-31"]),
    ({"f.moment.from": "2026-01-01", "f.moment.to": "2026-01-31"},
     ["moment:ge:2026-01-01T00:00:00", "moment:lt:2026-02-01T00:00:00"]),
    ({"f.grade": "a"}, ["grade:eq:a"]),
    ({"f.grade": ["a", "b"]}, ["grade:in:a,b"]),
    ({"f.done": "false"}, ["done:eq:false"]),
    ({"f.partner": "12"}, ["partner:eq:12"]),
    ({"f.owner": "alice"}, ["owner:eq:alice"]),
    ({"f.unit": ["CARD", "PHARM"]}, ["unit:in:CARD,PHARM"]),
    ({"f.title": "", "f.grade": [""]}, None),   # blank inputs of a submitted form
])
def test_each_filter_type_translates_to_record_api_filters(params, filters):
    args = dict(parse_page_query(SPEC, VIEW, {k: v if isinstance(v, list) else [v]
                                              for k, v in params.items()}).args)
    assert args.get("filter") == filters


def test_search_sort_paging_and_columns():
    query = parse_page_query(SPEC, VIEW, {"q": [" pump "], "sort": ["amount,-title"],
                                          "page": ["3"], "page_size": ["50"],
                                          "columns": ["amount,title", "owner", "title"],
                                          "lang": ["en"]})
    assert dict(query.args) == {"sort": ["amount,-title"], "page": ["3"], "page_size": ["50"],
                                "search": ["pump"]}
    assert query.columns == ("amount", "title", "owner")
    assert query.sort == ("amount", "-title")


def test_datetime_days_are_days_of_the_display_zone():
    shanghai = timezone(timedelta(hours=8))
    query = parse_page_query(SPEC, VIEW, {"f.moment.from": ["2026-01-01"],
                                          "f.moment.to": ["2026-01-01"]}, zone=shanghai)
    assert query.args["filter"] == ["moment:ge:2025-12-31T16:00:00",
                                    "moment:lt:2026-01-01T16:00:00"]


@pytest.mark.parametrize("params, parameter", [
    ({"f.nope": ["1"]}, "f.nope"),
    ({"f.title.from": ["1"]}, "f.title.from"),
    ({"f.amount": ["1"]}, "f.amount"),
    ({"f.day.between": ["1"]}, "f.day.between"),
    ({"f.file": ["1"]}, "f.file"),                       # attachments are not filtered
    ({"f.title": ["a", "b"]}, "f.title"),
    ({"f.moment.to": ["31/01/2026"]}, "f.moment.to"),
    ({"f.moment.from": ["x" * 10_000]}, "f.moment.from"),
    ({"f." + "y" * 10_000: ["1"]}, "f." + "y" * 48),
    ({"zzz": ["1"]}, "zzz"),
    ({"page": ["1", "2"]}, "page"),
    ({"columns": ["title,nope"]}, "columns"),
])
def test_bad_parameters_are_refused_naming_them(params, parameter):
    with pytest.raises(InvalidQuery) as caught:
        parse_page_query(SPEC, VIEW, params)
    assert caught.value.details["parameter"].startswith(parameter)
    assert len(caught.value.details["parameter"]) <= 60
    assert caught.value.message.zh and caught.value.message.en


def test_unreadable_fields_are_refused_like_unknown_ones():
    readable = frozenset(f.code for f in SPEC.fields) - {"amount"}
    without = replace(SPEC, fields=tuple(f for f in SPEC.fields if f.code != "amount"))
    for params in ({"f.amount.from": ["1"]}, {"columns": ["amount"]}):
        with pytest.raises(InvalidQuery) as hidden:
            parse_page_query(SPEC, VIEW, params, readable=readable)
        with pytest.raises(InvalidQuery) as unknown:
            parse_page_query(without, VIEW, params)
        assert (hidden.value.message, hidden.value.details) == \
            (unknown.value.message, unknown.value.details)


def test_error_target_names_the_control():
    cases = {("filter", "day:ge:bad"): "day", ("f.amount.from", None): "amount",
             ("search", "x"): "q", ("sort", "nope"): "sort", ("page", "0"): "page"}
    for (parameter, value), target in cases.items():
        error = InvalidQuery(Text("x", "x"), details={"parameter": parameter, "value": value})
        assert error_target(error) == target
    assert error_target(InvalidQuery(Text("x", "x"))) is None


def test_page_params_keep_the_others():
    pairs = [("f.grade", "a"), ("f.grade", "b"), ("sort", "x"), ("page", "3")]
    assert page_params(pairs, drop=("page",), sort="-x") == [
        ("f.grade", "a"), ("f.grade", "b"), ("sort", "-x")]
    assert page_params(pairs, page=None) == [("f.grade", "a"), ("f.grade", "b"), ("sort", "x")]
    assert page_params(pairs, columns=["a", "b"])[-2:] == [("columns", "a"), ("columns", "b")]


# -- the bar ----------------------------------------------------------------------------------

def _bar(params: dict, readable=None):
    return filter_bar(SPEC, VIEW, params, dictionaries={"t.grade": GRADES},
                      lookup_url=lambda field: f"/lookup/{field.value_type}",
                      describe=lambda field, value: f"name of {value}", readable=readable)


def test_bar_has_the_list_view_filters_then_those_in_use():
    bar = _bar({"f.owner": ["alice"], "f.day.from": ["2026-01-01"], "f.title": [""]})
    assert [(c.field, c.control) for c in bar] == [
        ("grade", "select"), ("day", "date"), ("title", "text"), ("owner", "lookup")]
    grade, day, title, owner = bar
    assert [(o.value, o.label.en, o.selected) for o in grade.options] == [
        ("a", "A", False), ("b", "B", False)]              # sorted, retired item left out
    assert [(i.name, i.value) for i in day.inputs] == [("f.day.from", "2026-01-01"),
                                                       ("f.day.to", "")]
    assert day.active and not title.active and not grade.active
    assert owner.lookup_url == "/lookup/user"
    assert [(o.value, o.label, o.selected) for o in owner.options] == [
        ("alice", "name of alice", True)]


def test_bar_keeps_what_was_typed_and_chosen():
    bar = _bar({"f.grade": ["x", "zz"], "f.done": ["true"], "f.partner": ["7"],
                "f.day.to": ["not a date"]})
    by_field = {c.field: c for c in bar}
    assert [(o.value, o.selected) for o in by_field["grade"].options] == [
        ("a", False), ("b", False), ("x", True), ("zz", True)]   # retired, unknown: still shown
    assert [(o.value, o.selected) for o in by_field["done"].options] == [
        ("true", True), ("false", False)]
    assert by_field["partner"].control == "lookup" and by_field["partner"].lookup_url == \
        "/lookup/reference"
    assert by_field["day"].inputs[1].value == "not a date"


def test_bar_leaves_out_what_the_user_may_not_read():
    bar = _bar({"f.amount.from": ["1"]}, readable=frozenset({"title", "day"}))
    assert [c.field for c in bar] == ["day", "title"]


# -- through the page -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def orders(tmp_path_factory, _pg_worker_url):
    """An app with only the uibench package, three orders and the admin signed
    in (session cookie): ``(client, {title: id}, {vendor code: id})``, shared
    by the module (its tests only read)."""
    where = tmp_path_factory.mktemp("ui_list_filters")
    app = make_app(module_database(where, _pg_worker_url, "uilistfilters"), where / "instance",
                   install=False)
    install_packages(services(app).db, [str(UI_BENCH)], INSTALLER)
    api = token_client(app)
    vendors = {code: api.post("/api/v1/records/uibench.vendor",
                              json={"code": code, "name": name}).get_json()["id"]
               for code, name in (("V1", "Acme 医疗"), ("V2", "Beta 器械"))}
    rows = [("Pump alpha", "a", "2026-01-05", "2026-01-05T08:00:00", "100.00", 1, True, "V1",
             "ub.one", "UB1"),
            ("Monitor beta", "b", "2026-02-10", "2026-02-10T23:30:00", "2500.50", 5, False,
             "V2", "ub.two", "UB2"),
            ("Pump gamma", "c", "2026-03-15", "2026-03-15T12:00:00", "99999.99", 10, False,
             "V1", "ub.one", "UB2")]
    ids = {}
    for title, grade, day, moment, amount, pieces, urgent, vendor, owner, unit in rows:
        response = api.post(f"/api/v1/records/{ORDER}", json={
            "title": title, "grade": grade, "placed_on": day, "placed_at": moment,
            "amount": amount, "pieces": pieces, "urgent": urgent, "vendor": vendors[vendor],
            "owner": owner, "unit": unit, "code": f"C-{pieces}"})
        assert response.status_code == 201, response.get_json()
        ids[title] = response.get_json()["id"]
    client = app.test_client()
    assert AuthActions(client).login().status_code == 200
    yield client, ids, vendors
    services(app).close()


def _titles(client, query: str) -> set[str]:
    response = client.get(f"/records/{ORDER}?{query}")
    assert response.status_code == 200, page_text(response)[-2000:]
    html = page_text(response)
    return set(re.findall(r'data-testid="open-\d+">([^<]+)</a>', html))


@pytest.mark.parametrize("query, expected", [
    ("", {"Pump alpha", "Monitor beta", "Pump gamma"}),
    ("f.title=PUMP", {"Pump alpha", "Pump gamma"}),
    ("f.grade=b", {"Monitor beta"}),
    ("f.grade=a&f.grade=c", {"Pump alpha", "Pump gamma"}),
    ("f.placed_on.from=2026-02-01", {"Monitor beta", "Pump gamma"}),
    ("f.placed_on.to=2026-02-10", {"Pump alpha", "Monitor beta"}),
    ("f.placed_on.from=2026-02-01&f.placed_on.to=2026-02-28", {"Monitor beta"}),
    ("f.placed_at.to=2026-02-10", {"Pump alpha", "Monitor beta"}),   # the whole last day
    ("f.placed_at.from=2026-02-11", {"Pump gamma"}),
    ("f.owner=ub.two", {"Monitor beta"}),
    ("f.unit=UB2", {"Monitor beta", "Pump gamma"}),
    ("f.amount.from=100&f.amount.to=2500.50", {"Pump alpha", "Monitor beta"}),
    ("f.pieces.from=5", {"Monitor beta", "Pump gamma"}),
    ("f.urgent=true", {"Pump alpha"}),
    ("f.urgent=false", {"Monitor beta", "Pump gamma"}),
    ("q=gamma", {"Pump gamma"}),
    ("q=pump&f.grade=c", {"Pump gamma"}),
    ("f.grade=old", set()),
])
def test_each_filter_narrows_the_rows(orders, query, expected):
    client, _, _ = orders
    assert _titles(client, query) == expected


def test_reference_filter_shows_the_chosen_record_by_its_title(orders):
    client, _, vendors = orders
    assert _titles(client, f"f.vendor={vendors['V1']}") == {"Pump alpha", "Pump gamma"}
    html = page_text(client.get(f"/records/{ORDER}?f.vendor={vendors['V1']}&f.owner=ub.one"))
    vendor = re.search(r'<select id="filter-vendor"[^>]*>(.*?)</select>', html, re.S)
    assert 'data-lookup-url="/lookup/records/uibench.vendor"' in html
    assert f'<option value="{vendors["V1"]}" selected>Acme 医疗</option>' in vendor.group(1)
    owner = re.search(r'<select id="filter-owner"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert '<option value="ub.one" selected>甲某</option>' in owner
    assert 'data-lookup-url="/lookup/users"' in html and 'data-lookup-url="/lookup/units"' in html


def test_bad_filter_value_is_shown_next_to_its_filter(orders):
    client, _, _ = orders
    response = client.get(f"/records/{ORDER}?f.placed_at.to=31.02.2026&f.grade=b")
    assert response.status_code == 400 and response.mimetype == "text/html"
    html = page_text(response)
    error = re.search(r'data-testid="filter-error-placed_at">([^<]+)<', html).group(1)
    assert "f.placed_at.to" in error and "YYYY-MM-DD" in error
    assert 'value="31.02.2026"' in html                 # what was typed stays
    assert '<option value="b" selected>' in html
    assert 'data-testid="record-list"' not in html
