"""Excel workbooks of the staff UI: their layout, and the writing of the
export and the import template (runtime layer, staff UI; openpyxl, no Flask).
Reading an uploaded workbook back is :mod:`yunying.runtime.ui.excel_read`.

Every workbook Yunying writes has the layout the import reads back:

- the **main sheet** first (titled by the entity's label), then one sheet per
  child table (titled by the child's label); a hidden sheet ``_lists``
  holds the code lists of the template's drop-downs;
- **row 1**: the column labels in the page language, bold, frozen; the
  columns an import ignores (computed fields, the numbering field, the
  workflow state field) have a grey header and a comment saying so;
- **row 2** (hidden): the field codes — an import matches columns by them, so
  a file exported in English imports in Chinese and columns may be moved.
  A hand-made file may leave row 2 out and name its columns in row 1 by
  code or by label (either language);
- data from row 3: numbers as numbers (money ``#,##0.00``, decimals at their
  scale), dates as dates, booleans as TRUE/FALSE, enum items, users and org
  units by **code**, references by the target's key (or title) value;
- a child sheet's first column ``_row`` is the main-sheet row of the line's
  record.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Iterable, Mapping, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from yunying.metadata.spec import EntitySpec, FieldSpec
from yunying.platform.i18n import Text
from yunying.runtime.entity.tables import MONEY_SCALE
from yunying.runtime.registry import Registry
from yunying.runtime.workflow.fields import state_fields

__all__ = ["XLSX_TYPE", "PARENT_ROW", "FIRST_DATA_ROW", "LISTS_SHEET", "Column", "SheetSpec",
           "export_specs", "import_specs", "write_workbook"]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: the code of a child sheet's link column (the parent's main-sheet row).
PARENT_ROW = "_row"
FIRST_DATA_ROW = 3
#: the hidden sheet holding the code lists of the template's drop-downs
LISTS_SHEET = "_lists"
_DECIMAL_SCALE = 2
_READ_ONLY_FILL = PatternFill("solid", fgColor="D9D9D9")
_BOLD = Font(bold=True)
_AUTHOR = "Yunying"
_BAD_TITLE = re.compile(r"[\[\]:*?/\\']")
#: the number format of a column by kind (given its scale); text kinds show as text
_FORMATS: Mapping[str, Callable[[int], str]] = {
    "integer": lambda scale: "0", "row": lambda scale: "0",
    "date": lambda scale: "yyyy-mm-dd", "datetime": lambda scale: "yyyy-mm-dd hh:mm:ss",
    "money": lambda scale: "#,##0.00" + "#" * max(scale - 2, 0),
    "decimal": lambda scale: "#,##0" + ("." + "0" * scale if scale else ""),
    **{kind: (lambda scale: "@") for kind in
       ("string", "text", "enum", "user", "org_unit", "reference")},
}
_READ_ONLY_NOTE = Text("只读：由系统生成，导入时忽略", "Read-only: set by the system, ignored on import")
_ROW_LABEL = Text("主表行号", "Main sheet row")
_ROW_NOTE = Text("该明细所属单据在主表中的行号", "The row of the line's record in the main sheet")


# ---------------------------------------------------------------- layout

@dataclass(frozen=True)
class Column:
    """One column of a sheet: a field (``code``), or the child sheets' link."""

    code: str
    label: Text
    kind: str                    # the field's value type; ``row`` for the link
    read_only: bool = False      # exported for reading, ignored by an import
    scale: int | None = None
    choices: tuple[tuple[str, Text], ...] = ()   # enum items: code, label
    target: str | None = None    # reference: the qualified target entity
    needed: bool = False         # required without any default: the column must be there

    def number_format(self) -> str:
        found = _FORMATS.get(self.kind)
        return found(self.scale or 0) if found is not None else "General"


@dataclass(frozen=True)
class SheetSpec:
    """The columns of the main sheet (``child`` None) or of one child sheet."""

    child: str | None
    label: Text
    columns: tuple[Column, ...]

    def column(self, code: str) -> Column | None:
        return next((c for c in self.columns if c.code == code), None)

    def importable(self) -> "SheetSpec":
        return SheetSpec(self.child, self.label, tuple(c for c in self.columns if not c.read_only))

    def title(self, lang: str) -> str:
        """The sheet's title in ``lang`` in a workbook of its own (see ``_titles``)."""
        return _titles([self], lang)[0]


def _column(registry: Registry, f: FieldSpec, read_only: bool) -> Column:
    choices: tuple[tuple[str, Text], ...] = ()
    if f.type == "enum" and f.dictionary:
        found = registry.dictionary(f.dictionary)
        choices = tuple((i.code, i.label) for i in found.items if i.active) if found else ()
    scale = f.scale if f.scale is not None else (
        MONEY_SCALE if f.value_type == "money" else _DECIMAL_SCALE)
    needed = f.required and f.default is None and f.default_formula is None
    return Column(f.code, f.label, f.value_type, read_only, scale, choices, f.reference,
                  needed and not read_only)


def export_specs(registry: Registry, spec: EntitySpec,
                 shown: Iterable[str] | None = None) -> list[SheetSpec]:
    """The sheets of an export of ``spec``: main first, then each child.
    ``shown`` (``field`` / ``child.field`` paths; None: all) are the fields
    the caller may see; attachments are left out (an id means nothing in a
    sheet). Columns an import ignores are marked read-only."""
    return _sheets(registry, spec, None if shown is None else set(shown), frozenset(),
                   ("attachment",))


def import_specs(registry: Registry, spec: EntitySpec,
                 locked: Iterable[str] = ()) -> list[SheetSpec]:
    """The sheets an import of ``spec`` reads (a template: their importable
    columns). Read-only: computed fields, the numbering field, workflow
    state fields, attachments, and the caller's ``locked`` fields."""
    return _sheets(registry, spec, None, frozenset(locked), ())


def _sheets(registry: Registry, spec: EntitySpec, visible: set[str] | None,
            locked: frozenset[str], left_out: tuple[str, ...]) -> list[SheetSpec]:
    fixed = set(locked) | state_fields(registry, spec.qualified_code)
    if spec.numbering is not None:
        fixed.add(spec.numbering.field)

    def columns(fields: Sequence[FieldSpec], prefix: str) -> tuple[Column, ...]:
        return tuple(_column(registry, f, f.is_computed or f.type == "attachment"
                             or prefix + f.code in fixed)
                     for f in fields if f.type not in left_out
                     and (visible is None or prefix + f.code in visible))

    sheets = [SheetSpec(None, spec.label, columns(spec.fields, ""))]
    link = Column(PARENT_ROW, _ROW_LABEL, "row", needed=True)
    for child in spec.children:
        sheets.append(SheetSpec(child.code, child.label,
                                (link, *columns(child.fields, f"{child.code}."))))
    return sheets


def _titles(sheets: Sequence[SheetSpec], lang: str) -> list[str]:
    """Sheet titles: labels made valid (31 characters, no []:*?/\\') and unique."""
    titles: list[str] = []
    for sheet in sheets:
        base = _BAD_TITLE.sub(" ", sheet.label.get(lang)).strip()[:31] or (sheet.child or "data")
        title, n = base, 2
        while title.casefold() in {t.casefold() for t in titles} or title == LISTS_SHEET:
            title, n = f"{base[:28]} {n}", n + 1
        titles.append(title)
    return titles


# ---------------------------------------------------------------- writing

def _clean(value: Any) -> Any:
    """A text cell's value: characters XML cannot hold become U+FFFD."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value


def _width(label: str, samples: Iterable[Any]) -> float:
    longest = max([_shown_length(label), *(_shown_length(v) for v in samples)], default=8)
    return float(min(max(longest + 2, 8), 50))


def _shown_length(value: Any) -> int:
    if value is None:
        return 0
    text = value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text[:60])


def _note(column: Column, lang: str) -> str | None:
    parts = []
    if column.read_only:
        parts.append(_READ_ONLY_NOTE.get(lang))
    if column.kind == "row":
        parts.append(_ROW_NOTE.get(lang))
    if column.choices:
        shown = [f"{code} = {label.get(lang)}" for code, label in column.choices[:40]]
        parts.append("\n".join(shown))
    return "\n".join(parts) or None


def _header(ws: Any, sheet: SheetSpec, lang: str) -> list[WriteOnlyCell]:
    cells = []
    for column in sheet.columns:
        cell = WriteOnlyCell(ws, value=_clean(column.label.get(lang)))
        cell.font = _BOLD
        if column.read_only:
            cell.fill = _READ_ONLY_FILL
        note = _note(column, lang)
        if note:
            cell.comment = Comment(note, _AUTHOR, width=320, height=160)
        cells.append(cell)
    return cells


def _row_cells(ws: Any, columns: Sequence[Column], values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for column, value in zip(columns, values):
        if value is None:
            out.append(None)
        elif isinstance(value, str):
            cell = WriteOnlyCell(ws, value=_clean(value))
            cell.data_type = "s"        # "=..." stays text: no formula injection
            out.append(cell)
        elif isinstance(value, bool):
            out.append(value)
        else:
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = column.number_format()
            out.append(cell)
    return out


def write_workbook(sheets: Sequence[tuple[SheetSpec, Sequence[Sequence[Any]]]], lang: str, *,
                   drop_downs: bool = False) -> bytes:
    """The .xlsx bytes of ``sheets`` (each with its rows of cell values, in
    column order): labels in ``lang``, codes in the hidden row 2, typed
    cells. ``drop_downs`` adds list validations for enum columns (template)."""
    book = Workbook(write_only=True)
    titles = _titles([s for s, _ in sheets], lang)
    lists: list[tuple[str, ...]] = []
    for (sheet, rows), title in zip(sheets, titles):
        ws = book.create_sheet(title)
        ws.freeze_panes = f"A{FIRST_DATA_ROW}"
        ws.row_dimensions[2].hidden = True
        for n, column in enumerate(sheet.columns, start=1):
            letter = get_column_letter(n)
            samples = [row[n - 1] for row in rows[:100]]
            ws.column_dimensions[letter].width = _width(column.label.get(lang), samples)
            if drop_downs and column.choices:
                lists.append(tuple(code for code, _ in column.choices))
                ws.data_validations.append(_drop_down(len(lists), len(lists[-1]), letter))
        ws.append(_header(ws, sheet, lang))
        ws.append([c.code for c in sheet.columns])
        for values in rows:
            ws.append(_row_cells(ws, sheet.columns, values))
    if lists:
        _lists_sheet(book, lists)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _drop_down(n: int, size: int, letter: str) -> DataValidation:
    source = get_column_letter(n)
    rule = DataValidation(type="list", formula1=f"={LISTS_SHEET}!${source}$1:${source}${size}",
                          allow_blank=True)
    rule.add(f"{letter}{FIRST_DATA_ROW}:{letter}1048576")
    return rule


def _lists_sheet(book: Workbook, lists: list[tuple[str, ...]]) -> None:
    ws = book.create_sheet(LISTS_SHEET)
    ws.sheet_state = "hidden"
    for i in range(max(len(codes) for codes in lists)):
        ws.append([codes[i] if i < len(codes) else None for codes in lists])
