"""Cells to record values for an import of the staff UI (runtime layer,
staff UI; no Flask).

The cells of one record of an uploaded workbook (:class:`PendingRecord`: its
main row and its lines per child) become the payload of the record service
(:class:`Converter`): enum items by code or label, references by the
target's key (or title) value — looked up in chunks, once per file — numbers
from Excel's floats through ``repr`` (``0.1`` stays ``0.1``), local datetimes
to UTC, booleans from TRUE/FALSE, 是/否, yes/no, 1/0. A reference that
resolves to no record or to several is reported with its cell, never
guessed; any other value that is still wrong is left as it is for the record
service to refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Callable, Mapping

from sqlalchemy import Connection, select

from yunying.platform.i18n import Text
from yunying.runtime.registry import Registry
from yunying.runtime.ui.display import to_utc
from yunying.runtime.ui.excel import Column
from yunying.runtime.ui.excel_read import ReadBook

__all__ = ["PendingRecord", "Converter"]

_CHUNK = 500
_TRUE = frozenset({"true", "1", "yes", "y", "是", "√", "✓"})
_FALSE = frozenset({"false", "0", "no", "n", "否", "×", "✗"})
_GROUPED = re.compile(r"[+-]?\d{1,3}([,，]\d{3})+(\.\d+)?")
_SLASH_DATE = re.compile(r"(\d{4})[/.年-](\d{1,2})[/.月-](\d{1,2})日?")


@dataclass(frozen=True)
class PendingRecord:
    """One record of the file: its main row and its lines per child."""

    row: int
    values: Mapping[str, Any]
    lines: Mapping[str, tuple[tuple[int, Mapping[str, Any]], ...]]


class Converter:
    """Turns the cells of a record into the record service's payload."""

    def __init__(self, conn: Connection, registry: Registry, book: ReadBook,
                 zone: tzinfo) -> None:
        self.registry, self.zone = registry, zone
        self._keys: dict[str, dict[str, list[int]]] = {}
        for sheet in book.sheets():
            for code in sheet.letters:
                column = sheet.spec.column(code)
                if column is not None and column.kind == "reference" and column.target:
                    wanted = {_code_text(values[code]) for _, values in sheet.rows
                              if code in values}
                    self._resolve(conn, column.target, wanted)
        self._columns = {(s.spec.child, c.code): c for s in book.sheets() for c in s.spec.columns}

    def payload(self, pending: PendingRecord
                ) -> tuple[dict[str, Any], dict[str, Text], dict[str, Text]]:
        """``(payload, problems by path, reference messages by path)``: a cell
        that cannot be read is left out of the payload and reported."""
        problems: dict[str, Text] = {}
        keys: dict[str, Text] = {}
        data = self._values(None, pending.values, "", problems, keys)
        for child, lines in pending.lines.items():
            data[child] = [self._values(child, values, f"{child}.{i}.", problems, keys)
                           for i, (_, values) in enumerate(lines)]
        return data, problems, keys

    def _values(self, child: str | None, raw: Mapping[str, Any], prefix: str,
                problems: dict[str, Text], keys: dict[str, Text]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for code, value in raw.items():
            column = self._columns[(child, code)]
            if column.kind == "reference":
                found = self._reference(column, value)
                if isinstance(found, Text):
                    problems[prefix + code] = found
                    continue
                keys[prefix + code] = self._no_key(column, _code_text(value))
                out[code] = found
            else:
                out[code] = _CONVERT.get(column.kind, _same)(value, column, self)
        return out

    def _resolve(self, conn: Connection, target: str, wanted: set[str]) -> None:
        spec, tables = self.registry.entity(target), self.registry.tables(target)
        found = self._keys.setdefault(target, {})
        key = (spec.key_field or spec.title_field) if spec is not None else None
        if tables is None or key is None:
            return
        column = tables.table.c[key]
        numeric = spec is not None and spec.field(key) is not None \
            and spec.field(key).value_type == "integer"
        texts: list[Any] = sorted(int(t) for t in wanted if t.isdigit()) if numeric \
            else sorted(wanted)
        for start in range(0, len(texts), _CHUNK):
            chunk = texts[start:start + _CHUNK]
            for rid, value in conn.execute(select(tables.table.c.id, column)
                                           .where(column.in_(chunk))):
                found.setdefault(str(value), []).append(rid)

    def _reference(self, column: Column, value: Any) -> int | Text:
        target = column.target or ""
        spec = self.registry.entity(target)
        text = _code_text(value)
        if spec is not None and not (spec.key_field or spec.title_field):
            return int(text) if text.isdigit() else self._no_key(column, text)
        ids = self._keys.get(target, {}).get(text, [])
        if len(ids) == 1:
            return ids[0]
        if ids:
            return Text(f"{column.label.zh}：有多条记录为“{text}”，请改用编码",
                        f"{column.label.en}: several records are named '{text}'; use the code")
        return self._no_key(column, text)

    def _no_key(self, column: Column, text: str) -> Text:
        spec = self.registry.entity(column.target or "")
        what = spec.label if spec is not None else Text(column.target or "", column.target or "")
        return Text(f"{column.label.zh}：找不到{what.zh}“{text[:60]}”（或您无权使用）",
                    f"{column.label.en}: there is no {what.en} '{text[:60]}' you may use")


def _same(value: Any, column: Column, conv: Converter) -> Any:
    return value


def _code_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _text_value(value: Any, column: Column, conv: Converter) -> Any:
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return _code_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() \
            else value.isoformat(" ")
    return str(value)


def _code_value(value: Any, column: Column, conv: Converter) -> Any:
    return value if isinstance(value, bool) else _code_text(value)


def _enum(value: Any, column: Column, conv: Converter) -> Any:
    text = _code_text(value) if not isinstance(value, bool) else value
    for code, label in column.choices:
        if text in (code, label.zh) or str(text).casefold() == label.en.casefold():
            return code
    return text


def _number(value: Any, column: Column, conv: Converter) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str) and _GROUPED.fullmatch(value.strip()):
        return value.strip().replace(",", "").replace("，", "")
    return value


def _boolean(value: Any, column: Column, conv: Converter) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().casefold()
        return True if word in _TRUE else False if word in _FALSE else value
    return value


def _date(value: Any, column: Column, conv: Converter) -> Any:
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    if isinstance(value, str):
        found = _SLASH_DATE.fullmatch(value.strip())
        if found:
            y, m, d = (int(g) for g in found.groups())
            return f"{y:04d}-{m:02d}-{d:02d}"
    return value


def _datetime(value: Any, column: Column, conv: Converter) -> Any:
    if isinstance(value, str) and len(value) <= 64:
        try:
            value = datetime.fromisoformat(value.strip().replace("/", "-"))
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return to_utc(value, conv.zone) if isinstance(value, datetime) else value


_CONVERT: Mapping[str, Callable[[Any, Column, Converter], Any]] = {
    "string": _text_value, "text": _text_value, "user": _code_value, "org_unit": _code_value,
    "enum": _enum, "integer": _number, "decimal": _number, "money": _number,
    "boolean": _boolean, "date": _date, "datetime": _datetime,
}
