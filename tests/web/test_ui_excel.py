"""Excel export and import template of the staff UI (runtime/ui/excel.py,
excel_pages.py) through the Flask test client, signed in with the session
cookie: typed cells, labels in the page language, the frozen header and the
hidden row of codes, read-only columns marked, child sheets linked to their
records' rows, the list page's filters, data scope and hidden fields of a
restricted user, the template's importable columns and drop-downs, and the
refusals (403, 404, 400) — on SQLite and PostgreSQL.

The fixture package ``xlt`` (ui_excel_helpers) has an entity of every field
type with a child table, and the roles the tests need."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from ui_excel_helpers import (
    SAMPLE, admin_client, column_of, create, sample_body, user_with, values, workbook, xlt_app,
)
from ui_helpers import page_text, ui_client
from web_helpers import ITEM, REQUISITION


app = pytest.fixture(xlt_app, name="app")
admin = pytest.fixture(admin_client, name="admin")


# ---------------------------------------------------------------- export

def test_export_writes_typed_cells_labels_codes_and_a_frozen_header(app, admin,
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


def test_export_child_sheet_links_lines_to_their_record_rows(app, admin, item_ids):
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


def test_export_follows_the_list_page_query(app, admin):
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


def test_export_obeys_the_export_scope_and_hidden_fields(app, admin, item_ids):
    create(admin, SAMPLE, sample_body("S-A", kind="a"))
    create(admin, SAMPLE, sample_body("S-B", kind="b"))
    client, _ = user_with(app, "exp.user", "xlt.exporter")
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


def test_export_of_nothing_shows_only_the_fields_the_user_may_see(app):
    client, _ = user_with(app, "exp.user", "xlt.exporter")
    book = workbook(client.get(f"/records/{SAMPLE}/export.xlsx"))
    main, parts = book.worksheets
    assert len(values(main)) == 2
    assert "amount" not in [c.value for c in main[2]]
    assert "note" not in [c.value for c in parts[2]]


def test_export_needs_the_export_grant_and_a_signed_in_user(app, anon_client):
    response = anon_client.get(f"/records/{SAMPLE}/export.xlsx")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    client, _ = user_with(app, "creator.user", "xlt.creator")
    response = client.get(f"/records/{SAMPLE}/export.xlsx")
    assert response.status_code == 403 and response.mimetype == "text/html"
    admin, _ = ui_client(app)
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


def test_export_of_hostile_text_is_safe(app, admin):
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

def test_template_has_the_importable_columns_codes_and_drop_downs(app, admin):
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


def test_template_and_import_page_need_the_import_grant(app):
    client, _ = user_with(app, "creator.user", "xlt.creator")
    for url in (f"/records/{SAMPLE}/template.xlsx", f"/records/{SAMPLE}/import"):
        response = client.get(url)
        assert response.status_code == 403 and response.mimetype == "text/html"
        assert "导入" in page_text(response)
    importer, _ = user_with(app, "imp.user", "xlt.importer")
    main = workbook(importer.get(f"/records/{SAMPLE}/template.xlsx")).worksheets[0]
    codes = [c.value for c in main[2]]
    assert "title" in codes and "note" not in codes          # read-only for the importer
