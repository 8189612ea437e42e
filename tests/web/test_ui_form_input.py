"""Form values both ways (runtime/ui/form_input.py) and the form model
(runtime/ui/form_model.py) — pure, no app and no database.

Inbound: the HTML form's fields become exactly the JSON API's payload, and
hostile input (huge or non-numeric line indexes, repeated fields, odd
names) becomes located problems, never an exception. Outbound: values
become input text; the form model places fields, conditions, permissions
and errors.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from yunying.metadata.spec import (
    ChildSpec, DictionaryItemSpec, DictionarySpec, EntitySpec, FieldSpec, NumberingSpec,
)
from yunying.metadata.views import FormFieldSpec, FormSectionSpec, FormSpec
from yunying.platform.i18n import Text
from yunying.runtime.ui.form_input import (
    MAX_LINES, display_text, input_text, is_attachment_input, parse_form, total_text,
)
from yunying.runtime.ui.form_model import (
    FieldAccess, FormData, FormEnv, build_form, state_answer, wanted_texts,
)


def _f(code: str, type_: str, **extra) -> FieldSpec:
    return FieldSpec(code=code, type=type_, label=Text(f"字段{code}", f"Field {code}"), **extra)


LINES = ChildSpec(code="lines", label=Text("明细", "Lines"), table_name="t_doc_lines", fields=(
    _f("item", "reference", reference="t.item", required=True),
    _f("qty", "integer"), _f("price", "money", scale=4), _f("ok", "boolean"),
    _f("scan", "attachment"),
    _f("amount", "computed", formula="qty * price", result="money")))
SPEC = EntitySpec(
    package="t", code="doc", label=Text("单据", "Document"),
    numbering=NumberingSpec(field="number", pattern="D{seq:4}", reset="never"),
    fields=(_f("number", "string", length=20), _f("title", "string", length=50, required=True),
            _f("note", "text"), _f("count", "integer"), _f("ratio", "decimal", scale=3),
            _f("amount", "money"), _f("done", "boolean"), _f("day", "date"),
            _f("moment", "datetime"), _f("grade", "enum", dictionary="t.grade"),
            _f("partner", "reference", reference="t.partner"), _f("owner", "user"),
            _f("unit", "org_unit"), _f("file", "attachment"),
            _f("twice", "computed", formula="amount * 2", result="money"),
            _f("why", "string", length=50), _f("state", "string", length=20)),
    children=(LINES,))


def _parse(pairs, **kwargs):
    return parse_form(SPEC, MultiDict(pairs), **kwargs)


# -- inbound ---------------------------------------------------------------------------

def test_values_take_the_api_shape():
    given_ = _parse([("title", "标题"), ("note", "  "), ("count", " 1,200 "), ("ratio", "0.125"),
                     ("amount", "12,345.60"), ("done", "0"), ("done", "1"), ("day", "2026-01-05"),
                     ("grade", " a "), ("partner", "7"), ("owner", "li.na"), ("unit", ""),
                     ("file", "3"), ("csrf_token", "t"), ("version", "2")])
    assert given_.errors == {}
    assert given_.data == {
        "title": "标题", "note": None, "count": 1200, "ratio": "0.125", "amount": "12345.60",
        "done": True, "day": "2026-01-05", "grade": "a", "partner": 7, "owner": "li.na",
        "unit": None, "file": 3}


def test_fields_not_on_the_form_are_left_out():
    assert _parse([("title", "x")]).data == {"title": "x"}
    # a computed value posted anyway is not taken; system columns are not fields
    assert _parse([("twice", "9"), ("id", "4"), ("created_by", "x")]).data == {}


@pytest.mark.parametrize("raw, value", [
    ("12", 12), ("-3", -3), ("1,000", 1000), ("1.5", "1.5"), ("abc", "abc"), ("", None),
    ("9" * 30, "9" * 30),
])
def test_integers_parse_or_go_on_as_text(raw, value):
    assert _parse([("count", raw)]).data == {"count": value}


@pytest.mark.parametrize("values, value", [
    (["0"], False), (["0", "1"], True), (["1"], True), (["on"], True), ([""], False),
    (["maybe"], "maybe"),
])
def test_checkboxes_with_their_hidden_companion(values, value):
    assert _parse([("done", v) for v in values]).data == {"done": value}


def test_ids_that_are_not_ids_go_on_as_text():
    assert _parse([("partner", "x7"), ("file", " ")]).data == {"partner": "x7", "file": None}


def test_datetimes_are_typed_in_the_page_zone():
    shanghai = ZoneInfo("Asia/Shanghai")
    assert _parse([("moment", "2026-01-05T08:30")], zone=shanghai).data == {
        "moment": "2026-01-05T00:30:00"}
    assert _parse([("moment", "2026-01-05T08:30")]).data == {"moment": "2026-01-05T08:30:00"}
    # an offset is the service's to convert; nonsense goes on for it to name
    assert _parse([("moment", "2026-01-05T08:30+08:00")], zone=shanghai).data == {
        "moment": "2026-01-05T08:30+08:00"}
    assert _parse([("moment", "soon")]).data == {"moment": "soon"}


def test_lines_in_index_order_with_ids():
    given_ = _parse([("lines", ""), ("lines-1-item", "5"), ("lines-1-qty", "2"),
                     ("lines-0-item", "4"), ("lines-0-id", "11"), ("lines-0-ok", "0"),
                     ("lines-0-price", "1,234.5000")])
    assert given_.errors == {}
    assert given_.data == {"lines": [
        {"item": 4, "id": 11, "ok": False, "price": "1234.5000"}, {"item": 5, "qty": 2}]}


def test_a_list_is_sent_only_when_it_was_on_the_form():
    assert "lines" not in _parse([("title", "x")]).data
    assert _parse([("lines", "")]).data == {"lines": []}   # every line removed


def test_gaps_in_line_indexes_close_up_and_errors_follow():
    given_ = _parse([("lines-0-item", "1"), ("lines-5-item", "2"), ("lines-5-qty", "1"),
                     ("lines-5-qty", "2")])
    assert given_.data == {"lines": [{"item": 1}, {"item": 2}]}
    assert list(given_.errors) == ["lines.1.qty"]


@pytest.mark.parametrize("name", ["lines-999999999-item", "lines-abc-item", "lines--item",
                                  "lines-1000-item", "lines-٣-item", "lines-+1-item"])
def test_hostile_line_indexes_are_located_problems(name):
    given_ = _parse([(name, "1"), ("lines-0-item", "3")])
    assert given_.data == {"lines": [{"item": 3}]}
    [entry] = given_.errors["lines"]
    assert entry["code"] == "line_index"
    assert "无效" in entry["message"]["zh-CN"] and "invalid" in entry["message"]["en"]
    assert len(entry["params"]["index"]) <= 40


def test_the_last_allowed_index():
    given_ = _parse([(f"lines-{MAX_LINES - 1}-item", "1")])
    assert given_.errors == {} and given_.data == {"lines": [{"item": 1}]}


def test_different_values_for_one_field_are_a_located_problem():
    given_ = _parse([("title", "a"), ("title", "b"), ("count", "1"), ("count", "1")])
    assert given_.data == {"count": 1}
    [entry] = given_.errors["title"]
    assert entry["code"] == "duplicate" and entry["params"] == {"count": 2}
    line = _parse([("lines-0-id", "1"), ("lines-0-id", "2"), ("lines-0-item", "3")])
    assert list(line.errors) == ["lines.0.id"] and line.data == {"lines": [{"item": 3}]}


def test_unknown_line_fields_go_on_for_the_service_to_name():
    assert _parse([("lines-0-bogus", "x"), ("nothing-0-item", "1")]).data == {
        "lines": [{"bogus": "x"}]}


def test_overrides_replace_inputs():
    assert _parse([("file", "3"), ("lines-0-scan", "")],
                  overrides={"file": "9", "lines-0-scan": "10"}).data == {
        "file": 9, "lines": [{"scan": 10}]}


def test_attachment_inputs():
    assert is_attachment_input(SPEC, "file") and is_attachment_input(SPEC, "lines-3-scan")
    assert not is_attachment_input(SPEC, "title")
    assert not is_attachment_input(SPEC, "lines-3-item")
    assert not is_attachment_input(SPEC, "nothing-0-scan")


_NAMES = st.one_of(
    st.sampled_from(["title", "count", "amount", "done", "moment", "partner", "lines",
                     "lines-0-item", "lines-1-qty", "lines-0-id", "lines-0-ok"]),
    st.builds(lambda i, f: f"lines-{i}-{f}", st.text(max_size=12),
              st.sampled_from(["item", "qty", "price", "id", "zz", ""])),
    st.text(max_size=30))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_NAMES, st.text(max_size=40)), max_size=25))
def test_no_form_data_crashes_the_parser(pairs):
    given_ = _parse(pairs, zone=ZoneInfo("Asia/Shanghai"))
    assert set(given_.data) <= {f.code for f in SPEC.fields} | {"lines"}
    for lines in [given_.data.get("lines", [])]:
        assert len(lines) <= MAX_LINES
    for path, entries in given_.errors.items():
        assert path.split(".")[0] in {f.code for f in SPEC.fields} | {"lines"}
        assert all(set(e["message"]) == {"zh-CN", "en"} for e in entries)


# -- outbound --------------------------------------------------------------------------

def test_input_text_per_type():
    spec = {f.code: f for f in SPEC.fields}
    assert input_text(spec["amount"], Decimal("12345.6")) == "12,345.60"
    assert input_text(spec["ratio"], Decimal("0.125")) == "0.125"
    assert input_text(spec["count"], 7) == "7"
    assert input_text(spec["day"], date(2026, 1, 5)) == "2026-01-05"
    moment = datetime(2026, 1, 5, 0, 30)
    assert input_text(spec["moment"], moment) == "2026-01-05T00:30"
    assert input_text(spec["moment"], moment, ZoneInfo("Asia/Shanghai")) == "2026-01-05T08:30"
    assert input_text(spec["moment"], datetime(2026, 1, 5, 0, 30, 15)) == "2026-01-05T00:30:15"
    assert input_text(spec["done"], True) == "" and input_text(spec["title"], None) == ""
    assert input_text(spec["amount"], "12,3 typed") == "12,3 typed"


def test_display_text_and_totals():
    twice = SPEC.field("twice")
    assert display_text(twice, Decimal("2469"), "zh-CN") == "2,469.00"
    assert display_text(_f("b", "computed", formula="x", result="boolean"), True, "en") == "Yes"
    assert display_text(twice, None, "en") == ""
    price = LINES.field("price")
    assert total_text(price, [Decimal("1.5"), "2,000", None, "abc", True]) == "2,001.5000"
    assert total_text(LINES.field("qty"), [2, 3]) == "5"


# -- the model ---------------------------------------------------------------------------

GRADES = DictionarySpec(package="t", code="grade", label=Text("等级", "Grade"), items=(
    DictionaryItemSpec("b", Text("乙", "B"), sort=2),
    DictionaryItemSpec("a", Text("甲", "A"), sort=1),
    DictionaryItemSpec("x", Text("停用", "Retired"), sort=3, active=False),
    DictionaryItemSpec("n", Text("新", "New"), sort=4, valid_from=date(2030, 1, 1))))
ENV = FormEnv(language="zh-CN", today=date(2026, 1, 5), dictionaries={"t.grade": GRADES},
              texts={("reference", "t.partner"): {7: "P-7 伙伴"},
                     ("user", ""): {"li.na": "李娜 (li.na)"}})
FORM = FormSpec(sections=(
    FormSectionSpec(code="a", label=Text("甲", "A"), columns=2, fields=(
        FormFieldSpec("number"), FormFieldSpec("title"), FormFieldSpec("note", span=2),
        FormFieldSpec("grade", widget="radio"), FormFieldSpec("partner"), FormFieldSpec("owner"),
        FormFieldSpec("twice"), FormFieldSpec("why", visible_when="done", required_when="done",
                                              help=Text("为何", "Why")),
        FormFieldSpec("state"), FormFieldSpec("amount"))),
    FormSectionSpec(code="b", label=Text("乙", "B"), children=("lines",)),
    FormSectionSpec(code="empty", label=Text("空", "Empty"), fields=(FormFieldSpec("nothing"),))))
MODEL_SPEC = EntitySpec(package="t", code="doc", label=SPEC.label, fields=SPEC.fields,
                        children=SPEC.children, numbering=SPEC.numbering, form=FORM)


def _fields(view):
    return {f.code: f for s in view.sections for f in s.fields}


def test_sections_rows_and_fields():
    view = build_form(MODEL_SPEC, FormData(values={"grade": "x", "partner": 7, "owner": "li.na",
                                                   "twice": Decimal("4")}), ENV)
    assert [s.code for s in view.sections] == ["a", "b"]   # a section with nothing is dropped
    rows = view.sections[0].rows
    assert [[f.code for f in row] for row in rows] == [
        ["number", "title"], ["note"], ["grade", "partner"], ["owner", "twice"],
        ["why", "state"], ["amount"]]
    fields = _fields(view)
    assert fields["title"].required and fields["title"].label == "字段title"
    assert fields["note"].widget == "textarea" and fields["note"].span == 2
    # enum: active items in dictionary order, and the stored value even when retired
    assert [(o.value, o.text, o.selected) for o in fields["grade"].options] == [
        ("a", "甲", False), ("b", "乙", False), ("x", "停用", True)]
    assert [(o.value, o.text) for o in fields["partner"].options] == [("7", "P-7 伙伴")]
    assert fields["partner"].lookup == ("reference", "t.partner")
    assert fields["owner"].lookup == ("user", "")
    assert fields["owner"].options[0].text == "李娜 (li.na)"
    assert fields["twice"].readonly and fields["twice"].value == "4.00"
    assert fields["number"].placeholder == "保存后自动生成"


def test_conditions_and_permissions():
    access = FieldAccess(hidden=frozenset({"amount", "lines.price"}),
                         read_only=frozenset({"number", "twice", "state", "lines.amount"}))
    data = FormData(values={}, conditions={"why": {"visible": False, "required": True,
                                                   "readonly": False}}, access=access)
    fields = _fields(build_form(MODEL_SPEC, data, ENV))
    assert "amount" not in fields
    assert fields["state"].readonly and not fields["state"].required
    assert not fields["why"].visible and not fields["why"].required and fields["why"].conditional
    assert fields["why"].help == "为何"
    shown = FormData(values={}, conditions={"why": {"visible": True, "required": True,
                                                    "readonly": True}})
    why = _fields(build_form(MODEL_SPEC, shown, ENV))["why"]
    assert why.visible and why.readonly and not why.required   # read-only: nothing to type
    lines = build_form(MODEL_SPEC, data, ENV).sections[1].lines[0]
    assert [c.code for c in lines.columns] == ["item", "qty", "ok", "scan", "amount"]
    locked = FormData(values={}, access=FieldAccess(read_only=frozenset({"lines"})))
    assert build_form(MODEL_SPEC, locked, ENV).sections[1].lines[0].readonly


def test_errors_next_to_fields_lines_and_on_top():
    def entry(text):
        return [{"code": "x", "message": {"zh-CN": text, "en": text.upper()}, "params": {}}]
    data = FormData(values={}, lines={"lines": [{"id": 3, "item": 1, "qty": "x"}, {}]},
                    errors={"title": entry("标题必填"), "lines.0.qty": entry("数量不对"),
                            "lines.1": entry("第二行不对"), "lines": entry("明细不对"),
                            "_record": entry("整体不对"), "hidden_one": entry("看不到")})
    view = build_form(MODEL_SPEC, data, ENV)
    fields = _fields(view)
    assert fields["title"].errors == ("标题必填",)
    editor = view.sections[1].lines[0]
    assert editor.errors == ("明细不对",)
    assert editor.lines[0].id == 3 and editor.lines[0].cells[1].errors == ("数量不对",)
    assert editor.lines[0].cells[1].value == "x" and editor.lines[0].cells[1].name == "lines-0-qty"
    assert editor.lines[1].errors == ("第二行不对",)
    assert view.top_errors == ("整体不对", "看不到")
    assert dict(view.summary) == {"标题必填": "f-title", "数量不对": "f-lines-0-qty",
                                  "第二行不对": "f-lines-1", "明细不对": "lines-lines",
                                  "整体不对": "", "看不到": ""}
    assert view.error_count == 6
    english = build_form(MODEL_SPEC, data, FormEnv("en", ENV.today, ENV.dictionaries))
    assert _fields(english)["title"].errors == ("标题必填".upper(),)
    assert editor.template.index == "__i__" and editor.template.cells[0].name == "lines-__i__-item"


def test_totals_and_wanted_texts():
    data = FormData(values={"partner": 7, "owner": "li.na", "unit": ""},
                    lines={"lines": [{"item": 1, "qty": 2, "amount": Decimal("3.5")},
                                     {"item": 2, "qty": "1", "amount": None}]})
    editor = build_form(MODEL_SPEC, data, ENV).sections[1].lines[0]
    assert editor.totals == {"amount": "3.50"}  # by default the computed money fields
    assert wanted_texts(MODEL_SPEC, data.values, data.lines) == {
        ("reference", "t.partner"): {7}, ("user", ""): {"li.na"},
        ("reference", "t.item"): {1, 2}}


def test_state_answer():
    preview = {"values": {"twice": Decimal("24691.2"), "title": "x"},
               "lines": {"lines": [{"qty": 2, "price": Decimal("1.5"), "amount": Decimal("3")},
                                   {"qty": 1}]},
               "conditions": {"why": {"visible": True, "required": True, "readonly": False}},
               "errors": {"title": []}}
    assert state_answer(MODEL_SPEC, preview, "zh-CN") == {
        "fields": {"why": {"visible": True, "required": True, "readonly": False}},
        "values": {"twice": "24,691.20"},
        "lines": {"lines": [{"amount": "3.00"}, {"amount": ""}]},
        "totals": {"lines": {"amount": "3.00"}}}
    hidden = state_answer(MODEL_SPEC, preview, "en", frozenset({"twice", "lines.amount", "why"}))
    assert hidden == {"fields": {}, "values": {}, "lines": {"lines": [{}, {}]},
                      "totals": {"lines": {}}}


def test_a_derived_form_has_every_field_and_a_section_per_child():
    plain = EntitySpec(package="t", code="doc", label=SPEC.label, fields=SPEC.fields[:3],
                       children=SPEC.children)
    view = build_form(plain, FormData(values={}), ENV)
    assert [[f.code for f in s.fields] for s in view.sections] == [
        ["number", "title", "note"], []]
    assert view.sections[1].lines[0].child == "lines"


def test_an_empty_cell_of_a_new_line_leaves_its_default_formula_to_work():
    from werkzeug.datastructures import MultiDict

    from yunying.metadata.builder import package_from_documents
    spec = package_from_documents({
        "package": {"code": "p", "version": "1.0.0", "name": {"zh": "包", "en": "P"}},
        "entity": {"e": {"code": "e", "name": {"zh": "实", "en": "E"}, "fields": [
            {"code": "x", "type": "integer", "name": {"zh": "x", "en": "x"}}],
            "children": [{"code": "rows", "name": {"zh": "行", "en": "Rows"}, "fields": [
                {"code": "q", "type": "integer", "name": {"zh": "q", "en": "q"}},
                {"code": "p", "type": "integer", "default_formula": "q * 2",
                 "name": {"zh": "p", "en": "p"}}]}]}}}).entity("e")
    given = parse_form(spec, MultiDict([("rows-0-q", "3"), ("rows-0-p", ""),
                                        ("rows-1-id", "7"), ("rows-1-q", "1"),
                                        ("rows-1-p", "")]))
    assert given.data["rows"] == [{"q": 3}, {"id": 7, "q": 1, "p": None}]
