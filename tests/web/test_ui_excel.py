"""Excel export and import template of the staff UI (runtime/ui/excel.py,
excel_pages.py) through the Flask test client, signed in with the session
cookie: typed cells, labels in the page language, the frozen header and the
hidden row of codes, read-only columns marked, child sheets linked to their
records' rows, the list page's filters, data scope and hidden fields of a
restricted user, the template's importable columns and drop-downs, and the
refusals (403, 404, 400) — on SQLite and PostgreSQL.

The fixture package ``xlt`` (written to a temporary folder) has an entity of
every field type with a child table, and the roles the tests need."""

from __future__ import annotations

import io
import textwrap
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from yunying.app import services
from yunying.platform.access import ANY_DOMAIN
from yunying.runtime.installer import bundled_package_paths, install_packages
from ui_helpers import page_text, ui_client
from web_helpers import INSTALLER, ITEM, REQUISITION, ensure_user

SAMPLE = "xlt.sample"
PASSWORD = "excel-tests-secret-1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_FILES = {
    "package.yaml": """
        code: xlt
        version: 1.0.0
        name: {zh: 导入导出测试, en: Excel tests}
        requires:
          materials: ">=1.0,<2"
        """,
    "dictionaries/kind.yaml": """
        code: kind
        name: {zh: 种类, en: Kind}
        items:
          - {code: a, name: {zh: 甲类, en: Alpha}, sort: 1}
          - {code: b, name: {zh: 乙类, en: Beta}, sort: 2}
        """,
    "entities/sample.yaml": """
        code: sample
        name: {zh: 样本, en: Sample}
        key_field: code
        title_field: title
        search_fields: [code, title]
        default_sort: [code]
        numbering: {field: number, pattern: "YB{yyyy}-{seq:4}"}
        fields:
          - {code: code, type: string, length: 32, required: true, unique: true,
             name: {zh: 编码, en: Code}}
          - {code: number, type: string, length: 32, unique: true, name: {zh: 单号, en: Number}}
          - {code: title, type: string, length: 100, required: true, name: {zh: 名称, en: Title}}
          - {code: qty, type: integer, min: 0, name: {zh: 件数, en: Count}}
          - {code: ratio, type: decimal, precision: 10, scale: 3, name: {zh: 比例, en: Ratio}}
          - {code: amount, type: money, min: 0, name: {zh: 金额, en: Amount}}
          - {code: flag, type: boolean, default: false, name: {zh: 标记, en: Flag}}
          - {code: day, type: date, name: {zh: 日期, en: Day}}
          - {code: moment, type: datetime, name: {zh: 时刻, en: Moment}}
          - {code: kind, type: enum, dictionary: kind, required: true, name: {zh: 种类, en: Kind}}
          - {code: item, type: reference, entity: materials.item, name: {zh: 物资, en: Item}}
          - {code: owner, type: user, name: {zh: 负责人, en: Owner}}
          - {code: unit, type: org_unit, name: {zh: 科室, en: Unit}}
          - {code: note, type: text, name: {zh: 备注, en: Note}}
          - {code: total, type: computed, formula: "amount * qty", result: money,
             name: {zh: 合计, en: Total}}
        children:
          - code: parts
            name: {zh: 部件, en: Parts}
            fields:
              - {code: item, type: reference, entity: materials.item, required: true,
                 name: {zh: 物资, en: Item}}
              - {code: count, type: decimal, precision: 12, scale: 2, min: 0.01, required: true,
                 name: {zh: 数量, en: Count}}
              - {code: note, type: string, length: 50, name: {zh: 说明, en: Note}}
              - {code: double, type: computed, formula: "count * 2", result: decimal,
                 precision: 12, scale: 2, name: {zh: 双倍, en: Double}}
        """,
    "roles/exporter.yaml": """
        code: exporter
        name: {zh: 导出者, en: Exporter}
        grants:
          - entity: sample
            actions: [read, export]
            scope: formula
            filter: "kind = 'a'"
            fields: {amount: hidden, parts.note: hidden}
        """,
    "roles/importer.yaml": """
        code: importer
        name: {zh: 导入者, en: Importer}
        grants:
          - entity: sample
            actions: [read, create, import, export]
            fields: {note: read_only}
          - {entity: materials.item, actions: [read]}
        """,
    "roles/creator.yaml": """
        code: creator
        name: {zh: 录入者, en: Creator}
        grants:
          - {entity: sample, actions: [read, create]}
          - {entity: materials.item, actions: [read]}
        """,
}


def install_sample(app, folder: Path) -> None:
    """Write the ``xlt`` package to ``folder`` and install it."""
    root = folder / "xlt"
    for name, text in _FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    install_packages(services(app).db, [*bundled_package_paths(), str(root)], INSTALLER)


def user_with(app, code: str, *roles: str):
    """A UI client signed in as ``code`` holding ``roles`` (everywhere)."""
    ensure_user(app, code, PASSWORD)
    with services(app).db.begin(write=True) as conn:
        for role in roles:
            services(app).access.grant_role(conn, INSTALLER, code, role, ANY_DOMAIN)
    return ui_client(app, code, PASSWORD)


def create(client, entity: str, body: dict) -> int:
    """A record created through the JSON API (the UI client's session + CSRF)."""
    c, token = client
    response = c.post(f"/api/v1/records/{entity}", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def workbook(response):
    """The workbook of an .xlsx response (asserting the response)."""
    assert response.status_code == 200, page_text(response)[-2000:]
    assert response.mimetype == XLSX
    assert "attachment" in response.headers["Content-Disposition"]
    return load_workbook(io.BytesIO(response.get_data()))


def values(ws) -> list[list]:
    return [list(row) for row in ws.iter_rows(values_only=True)]


def column_of(ws, code: str) -> int:
    """The 1-based column whose hidden code (row 2) is ``code``."""
    codes = [cell.value for cell in ws[2]]
    return codes.index(code) + 1


def sample_body(code: str, **extra) -> dict:
    body = {"code": code, "title": f"样本 {code}", "qty": 3, "ratio": "0.125",
            "amount": "12345.60", "flag": True, "day": "2025-03-04",
            "moment": "2025-03-04T08:30:00", "kind": "a", "owner": "admin", "unit": "HOSP",
            "note": "=1+2 stays text", "parts": [{"item": 1, "count": "2.50", "note": "n1"},
                                                  {"item": 2, "count": "1"}]}
    body.update(extra)
    return body


@pytest.fixture
def sample_app(app, tmp_path):
    install_sample(app, tmp_path / "packages")
    return app


@pytest.fixture
def admin(sample_app):
    return ui_client(sample_app)


# ---------------------------------------------------------------- export

def test_export_writes_typed_cells_labels_codes_and_a_frozen_header(sample_app, admin,
                                                                    item_ids):
    body = sample_body("S-1", item=item_ids["WS-0005"])
    create(admin, SAMPLE, body)
    book = workbook(admin[0].get(f"/records/{SAMPLE}/export.xlsx"))
    ws = book.worksheets[0]
    assert ws.title == "样本" and ws.freeze_panes == "A3"
    assert ws.row_dimensions[2].hidden
    codes = [cell.value for cell in ws[2]]
    assert codes == ["code", "number", "title", "qty", "ratio", "amount", "flag", "day",
                     "moment", "kind", "item", "owner", "unit", "note", "total"]
    assert [cell.value for cell in ws[1]][:3] == ["编码", "单号", "名称"]
    assert all(ws.column_dimensions[letter].width >= 8 for letter in "ABCDEFGHIJKLMNO")
    row = {code: ws.cell(3, n + 1) for n, code in enumerate(codes)}
    assert row["qty"].value == 3 and row["qty"].data_type == "n"
    assert Decimal(repr(row["ratio"].value)) == Decimal("0.125")
    assert row["ratio"].number_format == "#,##0.000"
    assert row["amount"].value == 12345.6 and row["amount"].number_format == "#,##0.00"
    assert row["total"].value == pytest.approx(37036.8)
    assert row["flag"].value is True
    assert row["day"].value == datetime(2025, 3, 4) and row["day"].is_date
    assert row["moment"].value == datetime(2025, 3, 4, 8, 30)
    assert row["kind"].value == "a"                   # codes, not labels: they round-trip
    assert row["item"].value == "WS-0005"             # a reference by its key value
    assert row["owner"].value == "admin" and row["unit"].value == "HOSP"
    assert row["note"].value == "=1+2 stays text" and row["note"].data_type == "s"
    assert row["number"].value.startswith("YB")
    # computed and numbering columns are marked read-only: grey, with a comment
    for code in ("number", "total"):
        header = ws.cell(1, codes.index(code) + 1)
        assert "导入时忽略" in header.comment.text
        assert header.fill.fgColor.rgb.endswith("D9D9D9")
    assert ws.cell(1, 1).comment is None and ws.cell(1, 1).font.bold


def test_export_child_sheet_links_lines_to_their_record_rows(sample_app, admin, item_ids):
    create(admin, SAMPLE, sample_body("S-1", parts=[{"item": item_ids["WS-0001"], "count": "1"}]))
    create(admin, SAMPLE, sample_body("S-2", parts=[
        {"item": item_ids["WS-0002"], "count": "2"}, {"item": item_ids["BG-0001"], "count": "3"}]))
    create(admin, SAMPLE, sample_body("S-3", parts=[]))
    book = workbook(admin[0].get(f"/records/{SAMPLE}/export.xlsx?lang=en"))
    main, parts = book.worksheets
    assert (main.title, parts.title) == ("Sample", "Parts")
    assert [c.value for c in parts[1]] == ["Main sheet row", "Item", "Count", "Note", "Double"]
    assert [c.value for c in parts[2]] == ["_row", "item", "count", "note", "double"]
    rows = values(parts)[2:]
    assert [(r[0], r[1], r[2]) for r in rows] == [(3, "WS-0001", 1), (4, "WS-0002", 2),
                                                  (4, "BG-0001", 3)]
    codes = [main.cell(r, 1).value for r in (3, 4, 5)]
    assert codes == ["S-1", "S-2", "S-3"]
    assert parts.cell(3, 3).number_format == "#,##0.00"
    assert "ignored on import" in parts.cell(1, 5).comment.text


def test_export_follows_the_list_page_query(sample_app, admin):
    for n, kind in enumerate("abab", start=1):
        create(admin, SAMPLE, sample_body(f"S-{n}", kind=kind, qty=n, parts=[]))
    c = admin[0]
    codes = lambda url: [r[0] for r in values(workbook(c.get(url)).worksheets[0])[2:]]  # noqa: E731
    assert codes(f"/records/{SAMPLE}/export.xlsx") == ["S-1", "S-2", "S-3", "S-4"]
    assert codes(f"/records/{SAMPLE}/export.xlsx?f.kind=b&sort=-qty") == ["S-4", "S-2"]
    assert codes(f"/records/{SAMPLE}/export.xlsx?q=S-3&page=2&page_size=1") == ["S-3"]
    assert codes(f"/records/{SAMPLE}/export.xlsx?filter=qty:ge:3&sort=-code") == ["S-4", "S-3"]
    bad = c.get(f"/records/{SAMPLE}/export.xlsx?f.nope=1")
    assert bad.status_code == 400 and bad.mimetype == "text/html"


def test_export_obeys_the_export_scope_and_hidden_fields(sample_app, admin, item_ids):
    create(admin, SAMPLE, sample_body("S-A", kind="a"))
    create(admin, SAMPLE, sample_body("S-B", kind="b"))
    client, _ = user_with(sample_app, "exp.user", "xlt.exporter")
    book = workbook(client.get(f"/records/{SAMPLE}/export.xlsx"))
    main, parts = book.worksheets
    codes = [c.value for c in main[2]]
    assert "amount" not in codes and "code" in codes and "total" in codes
    assert "金额" not in [c.value for c in main[1]]
    assert [r[0] for r in values(main)[2:]] == ["S-A"]          # the scope: kind = 'a'
    assert [c.value for c in parts[2]] == ["_row", "item", "count", "double"]
    assert len(values(parts)) == 2 + 2
    text = "".join(str(v) for r in values(main) + values(parts) for v in r)
    assert "12345" not in text and "n1" not in text


def test_export_of_nothing_shows_only_the_fields_the_user_may_see(sample_app):
    client, _ = user_with(sample_app, "exp.user", "xlt.exporter")
    book = workbook(client.get(f"/records/{SAMPLE}/export.xlsx"))
    main, parts = book.worksheets
    assert len(values(main)) == 2
    assert "amount" not in [c.value for c in main[2]]
    assert "note" not in [c.value for c in parts[2]]


def test_export_needs_the_export_grant_and_a_signed_in_user(sample_app, anon_client):
    response = anon_client.get(f"/records/{SAMPLE}/export.xlsx")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    client, _ = user_with(sample_app, "creator.user", "xlt.creator")
    response = client.get(f"/records/{SAMPLE}/export.xlsx")
    assert response.status_code == 403 and response.mimetype == "text/html"
    admin, _ = ui_client(sample_app)
    assert admin.get("/records/xlt.nothing/export.xlsx").status_code == 404


def test_export_of_requisitions_marks_number_and_state_read_only(app):
    client, token = ui_client(app)
    body = {"department": "HOSP", "urgency": "normal", "lines": [{"item": 1, "quantity": "2"}]}
    create((client, token), REQUISITION, body)
    main, lines = workbook(client.get(f"/records/{REQUISITION}/export.xlsx")).worksheets
    codes = [c.value for c in main[2]]
    assert "attachment" not in codes
    for code in ("number", "status", "total_amount"):
        note = main.cell(1, codes.index(code) + 1).comment
        assert (note is not None and "只读" in note.text) == (code != "total_amount"), code
    assert lines.cell(3, 1).value == 3
    assert lines.cell(1, column_of(lines, "amount")).comment is not None


def test_export_of_hostile_text_is_safe(sample_app, admin):
    create(admin, SAMPLE, sample_body("S-1", title="=HYPERLINK(\"http://x\")", note="a\x01b",
                                      parts=[]))
    ws = workbook(admin[0].get(f"/records/{SAMPLE}/export.xlsx")).worksheets[0]
    title, note = ws.cell(3, column_of(ws, "title")), ws.cell(3, column_of(ws, "note"))
    assert title.data_type == "s" and title.value.startswith("=HYPERLINK")
    assert note.value == "a\ufffdb"


def test_export_of_many_items(app, client):
    for n in range(250):
        response = client.post(f"/api/v1/records/{ITEM}", json={
            "code": f"X-{n:04d}", "name": f"物资 {n}", "category": "02", "uom": "box",
            "unit_price": f"{n}.5"})
        assert response.status_code == 201
    ui, _ = ui_client(app)
    rows = values(workbook(ui.get(f"/records/{ITEM}/export.xlsx")).worksheets[0])[2:]
    assert len(rows) == 259 and rows[-1][0] == "X-0249"


# ---------------------------------------------------------------- template

def test_template_has_the_importable_columns_codes_and_drop_downs(sample_app, admin):
    book = workbook(admin[0].get(f"/records/{SAMPLE}/template.xlsx?lang=en"))
    main, parts, lists = book.worksheets
    assert [c.value for c in main[2]] == ["code", "title", "qty", "ratio", "amount", "flag",
                                         "day", "moment", "kind", "item", "owner", "unit",
                                         "note"]
    assert [c.value for c in main[1]][:2] == ["Code", "Title"]
    assert [c.value for c in parts[2]] == ["_row", "item", "count", "note"]
    assert main.max_row == 2 and main.freeze_panes == "A3"
    assert lists.sheet_state == "hidden" and [c.value for c in lists["A"]] == ["a", "b"]
    rules = main.data_validations.dataValidation
    assert len(rules) == 1 and rules[0].type == "list"
    assert str(rules[0].sqref).startswith("I3:I") and "_lists" in rules[0].formula1
    assert "a = Alpha" in main.cell(1, 9).comment.text


def test_template_leaves_out_what_the_user_may_not_write(app):
    client, _ = ui_client(app)
    main, lines = workbook(client.get(f"/records/{REQUISITION}/template.xlsx")).worksheets[:2]
    assert "number" not in [c.value for c in main[2]]
    assert "status" not in [c.value for c in main[2]]
    assert [c.value for c in lines[2]] == ["_row", "item", "quantity", "unit_price", "note"]


def test_template_and_import_page_need_the_import_grant(sample_app):
    client, _ = user_with(sample_app, "creator.user", "xlt.creator")
    for url in (f"/records/{SAMPLE}/template.xlsx", f"/records/{SAMPLE}/import"):
        response = client.get(url)
        assert response.status_code == 403 and response.mimetype == "text/html"
        assert "导入" in page_text(response)
    importer, _ = user_with(sample_app, "imp.user", "xlt.importer")
    main = workbook(importer.get(f"/records/{SAMPLE}/template.xlsx")).worksheets[0]
    codes = [c.value for c in main[2]]
    assert "title" in codes and "note" not in codes          # read-only for the importer
