"""The workbook layer of the staff UI's Excel export and import
(runtime/ui/excel.py) and the cell conversions of imports (Converter), without
Flask: what is written reads back, headers are found by code or label in
either language, sheet titles are valid, cells become record values (enum
labels, boolean words, grouped numbers, slash dates, local datetimes), and
references resolve by key on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from yunying.metadata.loader import load_packages
from yunying.platform import migrate
from yunying.platform.context import Context
from yunying.platform.database import Database
from yunying.runtime.installer import bundled_package_paths, install_packages
from yunying.runtime.registry import Registry
from yunying.runtime.ui import excel
from yunying.runtime.ui.excel import export_specs, import_specs
from yunying.runtime.ui.excel_read import ImportFileRefused, Limits, read_workbook
from yunying.runtime.ui.import_values import Converter, PendingRecord as _Pending
from web.ui_db_helpers import module_database
from web.ui_workbook_helpers import book_bytes

REQ, ITEM = "materials.requisition", "materials.item"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_packages(load_packages(bundled_package_paths()))


@pytest.fixture(scope="module")
def installed(tmp_path_factory, _pg_worker_url):
    """A database with the bundled packages, shared by the module's tests
    (a Converter only reads)."""
    url = module_database(tmp_path_factory.mktemp("excel_rows"), _pg_worker_url, "excel_rows")
    database = Database(url)
    migrate.upgrade(database)
    install_packages(database, bundled_package_paths(), Context(actor="tester"))
    yield database
    database.dispose()


def _save(tmp_path, data: bytes, name: str = "f.xlsx") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_layout_marks_what_an_import_never_writes(registry):
    main, lines = import_specs(registry, registry.entity(REQ))
    flags = {c.code: c.read_only for c in main.columns}
    assert flags["number"] and flags["status"] and flags["attachment"]
    assert not flags["department"] and not flags["total_amount"]
    assert [c.code for c in lines.columns] == ["_row", "item", "quantity", "unit_price",
                                               "amount", "note"]
    assert lines.column("amount").read_only and lines.column("_row").needed
    exported = export_specs(registry, registry.entity(REQ),
                            shown={"number", "department", "lines.item"})
    assert [c.code for c in exported[0].columns] == ["number", "department"]
    assert [c.code for c in exported[1].columns] == ["_row", "item"]
    locked = import_specs(registry, registry.entity(REQ), locked={"lines.unit_price"})
    assert locked[1].column("unit_price").read_only
    assert [c.code for c in locked[1].importable().columns] == ["_row", "item", "quantity",
                                                                "note"]


def test_number_formats_by_kind(registry):
    columns = {c.code: c for c in import_specs(registry, registry.entity(ITEM))[0].columns}
    assert columns["unit_price"].number_format() == "#,##0.00##"      # money, scale 4
    assert columns["code"].number_format() == "@"
    assert columns["high_value"].number_format() == "General"
    line = import_specs(registry, registry.entity(REQ))[1]
    assert line.column("quantity").number_format() == "#,##0.00"
    assert line.column("_row").number_format() == "0"


def test_written_workbook_reads_back(registry, tmp_path):
    main, lines = export_specs(registry, registry.entity(REQ))
    row = {"number": "LY-1", "department": "HOSP", "requester": "zhang",
           "request_date": date(2025, 1, 2), "urgency": "urgent", "reason": "=cmd|' /C calc'!A0",
           "urgent_reason": "急", "total_amount": Decimal("1234567.80"), "status": "draft"}
    data = excel.write_workbook([
        (main, [[row.get(c.code) for c in main.columns]]),
        (lines, [[3, 1, Decimal("2.50"), Decimal("1.2500"), Decimal("3.13"), None]]),
    ], "en")
    book = read_workbook(_save(tmp_path, data), import_specs(registry, registry.entity(REQ)),
                         Limits())
    assert book.main.title == "Material requisition" and list(book.children) == ["lines"]
    number, values = book.main.rows[0]
    assert number == 3
    assert values["request_date"] == datetime(2025, 1, 2)
    assert values["reason"] == "=cmd|' /C calc'!A0"                 # text, not a formula
    assert values["total_amount"] == 1234567.8 and "number" not in values
    assert [c.code for c in book.main.ignored] == ["number", "status"]
    assert book.children["lines"].rows == [(3, {"_row": 3, "item": 1, "quantity": 2.5,
                                                "unit_price": 1.25})]


def test_headers_by_code_or_label_in_either_language(registry, tmp_path):
    specs = import_specs(registry, registry.entity(ITEM))
    for header in (["code", "name", "category", "uom", "unit_price"],
                   ["物资编码", "物资名称", "物资分类", "计量单位", "单价"],
                   ["Item code", "ITEM NAME", "Category", "Unit of measure", "Unit price"]):
        data = book_bytes(("whatever", [header, ["A-1", "x", "02", "box", 1]]))
        book = read_workbook(_save(tmp_path, data), specs, Limits())
        assert book.main.rows == [(2, {"code": "A-1", "name": "x", "category": "02",
                                       "uom": "box", "unit_price": 1})]
        assert book.main.letters["unit_price"] == "E"


def test_refusals_name_the_sheet_and_cell(registry, tmp_path):
    specs = import_specs(registry, registry.entity(ITEM))
    header = ["code", "name", "category", "uom", "unit_price"]
    cases = {
        "formula": book_bytes(("s", [header, ["A-1", "=1+1", "02", "box", 1]])),
        "cell_too_long": book_bytes(("s", [header, ["A-1", "y" * 60, "02", "box", 1]])),
        "too_many_rows": book_bytes(("s", [header] + [["A", "n", "02", "box", 1]] * 4)),
        "bad_headers": book_bytes(("s", [["code", "nom"], ["A", "n"]])),
        "no_header": book_bytes(("s", [header, ["A", "n", "02", "box", 1, None, "x"]])),
    }
    limits = Limits(max_rows=3, max_cell_chars=50, max_columns=10)
    for reason, data in cases.items():
        with pytest.raises(ImportFileRefused) as refused:
            read_workbook(_save(tmp_path, data), specs, limits)
        assert refused.value.details["reason"] == reason
        assert refused.value.status == 422
    with pytest.raises(ImportFileRefused) as refused:
        read_workbook(_save(tmp_path, cases["formula"]), specs, Limits())
    assert refused.value.details["cell"] == "B2" and "B2" in refused.value.message.en
    wide = book_bytes(("s", [header + [None] * 20 + ["far"], ["A", "n", "02", "box", 1]]))
    with pytest.raises(ImportFileRefused) as refused:
        read_workbook(_save(tmp_path, wide), specs, limits)
    assert refused.value.details["reason"] == "too_many_rows"


def test_sheet_titles_are_valid_and_unique():
    label = excel.Text("明细:[一]/二?*" + "长" * 40, "Lines")
    a = excel.SheetSpec("a", label, ())
    titles = excel._titles([a, a, excel.SheetSpec(None, excel.Text("_lists", "_lists"), ())],
                           "zh-CN")
    assert all(len(t) <= 31 and not set(t) & set("[]:*?/\\'") for t in titles)
    assert len({t.casefold() for t in titles}) == 3 and "_lists" not in titles


def _converter(db, registry, book) -> Converter:
    with db.connect() as conn:
        return Converter(conn, registry, book, ZoneInfo("Asia/Shanghai"))


def test_cells_become_record_values(installed, registry, tmp_path):
    specs = import_specs(registry, registry.entity(ITEM))
    data = book_bytes(("s", [["code", "name", "category", "uom", "unit_price", "high_value",
                         "active"],
                        [1001.0, 12, "办公用品", "Box", "12,345.60", "是", 0],
                        ["B", "n", "02", "box", 0.1, "FALSE", "maybe"]]))
    book = read_workbook(_save(tmp_path, data), specs, Limits())
    converter = _converter(installed, registry, book)
    first, _, _ = converter.payload(_Pending(2, book.main.rows[0][1], {}))
    assert first == {"code": "1001", "name": "12", "category": "02", "uom": "box",
                     "unit_price": "12345.60", "high_value": True, "active": False}
    second, problems, _ = converter.payload(_Pending(3, book.main.rows[1][1], {}))
    assert second["unit_price"] == Decimal("0.1") and second["high_value"] is False
    assert second["active"] == "maybe" and not problems       # the service reports it


def test_dates_datetimes_and_references(installed, registry, tmp_path):
    specs = import_specs(registry, registry.entity("materials.consumption"))
    header = ["department", "use_date", "visit_type", "patient_no", "item", "supplier",
              "quantity"]
    data = book_bytes(("s", [header,
                        ["CARD", "2025/3/4", "住院", "P1", "WS-0001", "NONE", 1],
                        ["CARD", datetime(2025, 3, 5), "outpatient", "P2", "NOPE", None, 1],
                        ["CARD", datetime(2025, 3, 5, 10), "inpatient", "P3", None, None, 1]]))
    book = read_workbook(_save(tmp_path, data), specs, Limits())
    converter = _converter(installed, registry, book)
    rows = [converter.payload(_Pending(n, values, {})) for n, values in book.main.rows]
    first, problems, keys = rows[0]
    assert first["use_date"] == "2025-03-04" and first["visit_type"] == "inpatient"
    assert isinstance(first["item"], int) and "supplier" not in first
    assert "NONE" in problems["supplier"].en and "供应商" in problems["supplier"].zh
    assert "WS-0001" in keys["item"].en
    assert rows[1][0]["use_date"] == date(2025, 3, 5) and "NOPE" in rows[1][1]["item"].zh
    assert rows[2][0]["use_date"] == datetime(2025, 3, 5, 10)      # a time: the service refuses


def test_datetimes_are_read_in_the_display_zone(installed, registry, tmp_path):
    from yunying.runtime.ui.excel import Column, SheetSpec
    from yunying.runtime.ui.excel_read import ReadBook, ReadSheet
    spec = SheetSpec(None, excel.Text("s", "s"),
                     (Column("at", excel.Text("at", "at"), "datetime"),))
    sheet = ReadSheet(spec, "s", {"at": "A"}, rows=[(3, {"at": datetime(2025, 1, 1, 8)}),
                                                    (4, {"at": "2025-01-01 08:00"}),
                                                    (5, {"at": "2025-01-01T08:00+00:00"})])
    converter = _converter(installed, registry, ReadBook(sheet, {}))
    got = [converter.payload(_Pending(n, v, {}))[0]["at"] for n, v in sheet.rows]
    # naive local times (Shanghai, UTC+8) become the naive UTC the record service stores
    assert got == [datetime(2025, 1, 1, 0), datetime(2025, 1, 1, 0), datetime(2025, 1, 1, 8)]
