"""Reading an uploaded Excel workbook for an import of the staff UI (runtime
layer, staff UI; openpyxl, no Flask).

The workbook is read against the :class:`~yunying.runtime.ui.excel.SheetSpec`
layout that :mod:`yunying.runtime.ui.excel` writes: the main sheet first,
then the child sheets (found by code or label), columns matched by the codes
of the hidden row 2 or by the codes or labels of row 1, data from row 3 (row
2 when row 2 is missing).

Reading never trusts the file: a size and an unpacked-size limit, the
sheet's declared dimension checked and then ignored, rows and columns
capped, formula and error cells refused, long texts refused — each refusal
an :class:`ImportFileRefused` naming the sheet and cell.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from yunying.platform.errors import YunyingError
from yunying.platform.i18n import Text
from yunying.runtime.ui.excel import FIRST_DATA_ROW, LISTS_SHEET, Column, SheetSpec

__all__ = ["Limits", "ImportFileRefused", "ReadSheet", "ReadBook", "read_workbook"]


@dataclass(frozen=True)
class Limits:
    """What an upload may hold (app config ``IMPORT_MAX_*``)."""

    max_bytes: int = 10 * 1024 * 1024
    max_rows: int = 50_000
    max_columns: int = 200
    max_cell_chars: int = 5_000
    max_unpacked: int = 150 * 1024 * 1024


class ImportFileRefused(YunyingError):
    """An uploaded file is not an importable workbook; ``status`` is the HTTP
    status of the refusal (413 too large, 400 no file, else 422)."""

    code = "import_file_refused"

    def __init__(self, message: Text, *, reason: str, status: int = 422,
                 details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, details={"reason": reason, **(details or {})})
        self.status = status


@dataclass
class ReadSheet:
    """The data of one sheet: ``rows`` are ``(row number, {code: cell value})``
    of the importable columns; ``ignored`` the read-only columns found."""

    spec: SheetSpec
    title: str
    letters: dict[str, str]
    ignored: list[Column] = field(default_factory=list)
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    #: per column position: the code read there, "" for an ignored column, None for none
    positions: list[str | None] = field(default_factory=list)


@dataclass
class ReadBook:
    main: ReadSheet
    children: dict[str, ReadSheet]

    def sheets(self) -> list[ReadSheet]:
        return [self.main, *self.children.values()]


def _refuse(zh: str, en: str, reason: str, **details: Any) -> ImportFileRefused:
    return ImportFileRefused(Text(zh, en), reason=reason, details=details)


def _not_xlsx() -> ImportFileRefused:
    return _refuse("文件不是有效的 Excel 工作簿（.xlsx）；请用 Excel 或 WPS 另存为 .xlsx 后再上传",
                   "the file is not a valid Excel workbook (.xlsx); save it as .xlsx in "
                   "Excel or WPS and upload it again", "not_xlsx")


def _check_zip(path: str, limits: Limits) -> None:
    if not zipfile.is_zipfile(path):
        raise _not_xlsx()
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _not_xlsx() from exc
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise _not_xlsx()
    if unpacked > limits.max_unpacked:
        mb = limits.max_unpacked // (1024 * 1024)
        raise _refuse(f"文件解压后超过 {mb} MB，请拆分后分批导入",
                      f"the file unpacks to more than {mb} MB; split it and import the parts",
                      "too_large_unpacked")


def read_workbook(path: str, sheets: Sequence[SheetSpec], limits: Limits) -> ReadBook:
    """Read an uploaded workbook against ``sheets`` (main first; columns
    flagged read-only are recognised and ignored). Raises ImportFileRefused."""
    _check_zip(path, limits)
    try:
        book = load_workbook(path, read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds on a malformed part
        raise _not_xlsx() from exc
    try:
        return _read_book(book, sheets, limits)
    finally:
        book.close()


def _read_book(book: Any, sheets: Sequence[SheetSpec], limits: Limits) -> ReadBook:
    visible = [ws for ws in book.worksheets
               if ws.sheet_state == "visible" and ws.title != LISTS_SHEET]
    if not visible:
        raise _refuse("工作簿中没有可见的工作表", "the workbook has no visible sheet", "no_sheet")
    main_spec, children = sheets[0], {s.child: s for s in sheets[1:]}
    main = _read_sheet(visible[0], main_spec, limits)
    found: dict[str, ReadSheet] = {}
    for ws in visible[1:]:
        child = _child_of(ws.title, children.values())
        if child is None or child.child in found:
            names = "、".join(f"{c.label.zh}" for c in children.values()) or "—"
            names_en = ", ".join(c.label.en for c in children.values()) or "—"
            raise _refuse(f"无法识别工作表“{ws.title}”：第一个工作表是主表，其余应为明细表（{names}）",
                          f"sheet '{ws.title}' is not expected: the first sheet holds the "
                          f"records, the others their lines ({names_en})",
                          "unknown_sheet", sheet=ws.title)
        found[child.child or ""] = _read_sheet(ws, child, limits)
    if not main.rows:
        raise _refuse(f"工作表“{main.title}”中没有数据行", f"sheet '{main.title}' has no data rows",
                      "no_rows", sheet=main.title)
    return ReadBook(main, found)


def _child_of(title: str, children: Iterable[SheetSpec]) -> SheetSpec | None:
    wanted = title.strip().casefold()
    for child in children:
        names = {child.child or "", child.label.zh, child.label.en,
                 *(child.title(lang) for lang in ("zh-CN", "en"))}
        if wanted in {n.strip().casefold() for n in names}:
            return child
    return None


def _read_sheet(ws: Any, spec: SheetSpec, limits: Limits) -> ReadSheet:
    _check_dimension(ws, limits)
    ws.reset_dimensions()   # never trust the declared size again
    rows = ws.iter_rows(min_row=1, min_col=1, max_col=limits.max_columns + 1)
    first = _values(ws.title, 1, next(rows, ()), limits)
    second = _values(ws.title, 2, next(rows, ()), limits)
    sheet, start = _headers(ws.title, spec, first, second)
    if start == 2:
        _add_row(sheet, 2, second, limits)
    for number, cells in enumerate(rows, start=3):
        _add_row(sheet, number, _values(ws.title, number, cells, limits), limits)
    return sheet


def _check_dimension(ws: Any, limits: Limits) -> None:
    rows, columns = ws.max_row or 0, ws.max_column or 0
    if rows > limits.max_rows + FIRST_DATA_ROW or columns > limits.max_columns:
        raise _too_big(ws.title, limits)


def _too_big(title: str, limits: Limits) -> ImportFileRefused:
    return _refuse(f"工作表“{title}”过大：最多 {limits.max_rows} 行数据、{limits.max_columns} 列；"
                   "请删除多余的行列或拆分文件",
                   f"sheet '{title}' is too large: at most {limits.max_rows} data rows and "
                   f"{limits.max_columns} columns; delete unused rows and columns or split "
                   "the file", "too_many_rows", sheet=title)


def _values(title: str, number: int, cells: Sequence[Any], limits: Limits) -> list[Any]:
    """The values of one row, refusing formulas, error values and long texts."""
    out = [cell.value for cell in cells]
    for n, value in enumerate(out):
        if value is None:
            continue
        if n >= limits.max_columns:
            raise _too_big(title, limits)
        if cells[n].data_type in ("f", "e"):
            where = f"{get_column_letter(n + 1)}{number}"
            raise _refuse(f"工作表“{title}”的单元格 {where} 含有公式或错误值；请复制后“仅粘贴数值”再导入",
                          f"cell {where} of sheet '{title}' holds a formula or an error value; "
                          "paste values only and import again", "formula", sheet=title, cell=where)
        if isinstance(value, str) and len(value) > limits.max_cell_chars:
            where = f"{get_column_letter(n + 1)}{number}"
            raise _refuse(f"工作表“{title}”的单元格 {where} 过长（最多 {limits.max_cell_chars} 个字符）",
                          f"cell {where} of sheet '{title}' is too long (at most "
                          f"{limits.max_cell_chars} characters)", "cell_too_long",
                          sheet=title, cell=where)
    return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _add_row(sheet: ReadSheet, number: int, values: list[Any], limits: Limits) -> None:
    if all(_blank(v) for v in values):
        return
    if len(sheet.rows) >= limits.max_rows:
        raise _too_big(sheet.title, limits)
    row: dict[str, Any] = {}
    positions = sheet.positions
    for n, value in enumerate(values):
        if _blank(value):
            continue
        code = positions[n] if n < len(positions) else None
        if code is None:
            where = f"{get_column_letter(n + 1)}{number}"
            raise _refuse(f"工作表“{sheet.title}”的单元格 {where} 有数据但该列没有表头",
                          f"cell {where} of sheet '{sheet.title}' has a value but its column "
                          "has no header", "no_header", sheet=sheet.title, cell=where)
        if code:
            row[code] = value
    sheet.rows.append((number, row))


def _headers(title: str, spec: SheetSpec, first: list[Any], second: list[Any]
             ) -> tuple[ReadSheet, int]:
    """Columns by the codes of row 2, else by the codes or labels of row 1;
    returns the sheet and the first data row."""
    by_code = {c.code: c for c in spec.columns}
    codes = [str(v).strip() for v in second if not _blank(v)]
    if codes and all(code in by_code for code in codes):
        names, start, header = [by_code.get(str(v).strip()) if not _blank(v) else None
                                for v in second], FIRST_DATA_ROW, 2
    else:
        names, start, header = [_by_name(spec, v) for v in first], 2, 1
        unknown = [f"{get_column_letter(n)}{header} “{str(v)[:40]}”"
                   for n, (v, c) in enumerate(zip(first, names), start=1)
                   if c is None and not _blank(v)]
        if unknown:
            raise _bad_headers(title, spec, "、".join(unknown), ", ".join(unknown))
    sheet = ReadSheet(spec, title, {})
    sheet.positions = [None if c is None else "" if c.read_only else c.code for c in names]
    for n, column in enumerate(names, start=1):
        if column is None:
            continue
        if column.code in sheet.letters:
            raise _refuse(f"工作表“{title}”中“{column.label.zh}”列出现了两次",
                          f"column '{column.label.en}' appears twice in sheet '{title}'",
                          "duplicate_column", sheet=title, column=column.code)
        sheet.letters[column.code] = get_column_letter(n)
        if column.read_only:
            sheet.ignored.append(column)
    missing = [c for c in spec.columns if c.needed and c.code not in sheet.letters]
    if missing or len(sheet.letters) == len(sheet.ignored):
        zh = "、".join(c.label.zh for c in missing) or "—"
        en = ", ".join(c.label.en for c in missing) or "—"
        raise _bad_headers(title, spec, f"缺少必需的列：{zh}", f"required columns missing: {en}")
    return sheet, start


def _by_name(spec: SheetSpec, value: Any) -> Column | None:
    if _blank(value):
        return None
    wanted = str(value).strip().casefold()
    for column in spec.columns:
        if wanted in (column.code.casefold(), column.label.zh.casefold(),
                      column.label.en.casefold()):
            return column
    return None


def _bad_headers(title: str, spec: SheetSpec, zh: str, en: str) -> ImportFileRefused:
    known_zh = "、".join(c.label.zh for c in spec.columns if not c.read_only)
    known_en = ", ".join(c.label.en for c in spec.columns if not c.read_only)
    return _refuse(f"工作表“{title}”的表头不正确（{zh}）。可导入的列：{known_zh}。请下载导入模板对照",
                   f"the headers of sheet '{title}' are wrong ({en}). Importable columns: "
                   f"{known_en}. Download the import template to compare", "bad_headers",
                   sheet=title)
