"""Values between the HTML form and the record service (runtime layer, staff UI; pure).

Inbound, :func:`parse_form` turns HTML form data into a record payload;
outbound, :func:`input_text` / :func:`display_text` turn stored values into
the text of an input or of a read-only output.

The generated form posts ``application/x-www-form-urlencoded`` (or
multipart) fields; the record service takes the JSON API's payload. This
module translates one into the other and decides nothing else: every value
the service can judge is handed over as typed as it safely can be, so the
service reports a wrong value with its own located message.

- main fields by their code; line fields as ``<child>-<i>-<field>`` (and
  ``<child>-<i>-id`` for a stored line), lines taken in index order; a
  hidden ``<child>`` marker says the list was on the form, so a list whose
  last line was removed is sent empty (and an absent list keeps its lines);
- decimals and money as strings without thousands separators
  (``12,345.60`` → ``"12345.60"``); integers and ids as ints when they
  parse, else the text; booleans from a checkbox (a hidden ``0`` companion
  precedes a ``1`` checkbox); an empty value is None;
- fields that are not on the form are left out, so their stored values stay.

Hostile input never crashes it: an out-of-range or non-numeric line index,
or several different values for one field, become located problems in
:attr:`FormInput.errors` (the shape of ``ValidationFailed.details["fields"]``)
and the value is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from yunying.metadata.spec import EntitySpec, FieldSpec
from yunying.platform.i18n import Text
from yunying.runtime.entity.tables import MONEY_SCALE
from yunying.runtime.ui.display import Labels, format_decimal, format_value, to_local, to_utc

__all__ = ["FormInput", "parse_form", "is_attachment_input", "MAX_LINES", "line_name",
           "input_text", "display_text", "total_text"]

#: lines a form may send for one child table (indexes 0 .. MAX_LINES - 1).
MAX_LINES = 1000

_LINE_NAME = re.compile(r"(?P<child>[A-Za-z][A-Za-z0-9_]*)-(?P<index>[^-]*)-(?P<field>.+)",
                        re.DOTALL)
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_GROUPING = str.maketrans("", "", ", _\u00a0\u202f\uff0c")
_TRUE = frozenset({"1", "on", "true", "yes"})
_FALSE = frozenset({"0", "", "off", "false", "no"})
_SHOWN = 40  # characters of a hostile name or value echoed in a message


@dataclass
class FormInput:
    """The payload for the record service, and the problems of the form itself."""

    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add_error(self, path: str, code: str, message: Text, **params: Any) -> None:
        self.errors.setdefault(path, []).append(
            {"code": code, "message": message.as_dict(), "params": params})


def line_name(child: str, index: int | str, code: str) -> str:
    """The input name of a line cell: ``lines-0-quantity``."""
    return f"{child}-{index}-{code}"


# -- single values by field type ------------------------------------------------

def _text(raw: str) -> Any:
    return raw if raw.strip() else None


def _code(raw: str) -> Any:
    return raw.strip() or None


def _integer(raw: str) -> Any:
    value = raw.strip().translate(_GROUPING)
    if not value:
        return None
    return int(value) if _INTEGER.fullmatch(value) else raw


def _decimal(raw: str) -> Any:
    value = raw.strip().translate(_GROUPING)
    return value or None


def _identifier(raw: str) -> Any:
    value = raw.strip()
    if not value:
        return None
    return int(value) if _INTEGER.fullmatch(value) else raw


def _moment(raw: str, zone: tzinfo) -> Any:
    """A local date and time typed in ``zone`` as the UTC moment the service
    stores; text that is no moment goes on as typed (the service names it)."""
    text = raw.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text) if len(text) <= 64 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is not None:
        return text
    return to_utc(moment, zone).isoformat()


def _plain(convert: Callable[[str], Any]) -> Callable[[str, tzinfo], Any]:
    return lambda raw, zone: convert(raw)


_CONVERT: Mapping[str, Callable[[str, tzinfo], Any]] = MappingProxyType({
    "string": _plain(_text), "text": _plain(_text), "integer": _plain(_integer),
    "decimal": _plain(_decimal), "money": _plain(_decimal), "date": _plain(_code),
    "datetime": _moment, "enum": _plain(_code), "user": _plain(_code),
    "org_unit": _plain(_code), "reference": _plain(_identifier),
    "attachment": _plain(_identifier),
})


def _boolean(values: list[str]) -> Any:
    """A checkbox with its hidden ``0`` companion: checked when any value is true."""
    lowered = [v.strip().lower() for v in values]
    if any(v in _TRUE for v in lowered):
        return True
    if all(v in _FALSE for v in lowered):
        return False
    return values[-1]  # neither: the service names the type problem


def _shown(raw: str) -> str:
    return raw[:_SHOWN].encode("utf-8", "replace").decode("utf-8")


def _value(spec: FieldSpec, values: list[str], path: str, out: FormInput,
           zone: tzinfo) -> tuple[bool, Any]:
    """``(keep, value)`` of one field from its submitted values."""
    if spec.type == "boolean":
        return True, _boolean(values)
    distinct = list(dict.fromkeys(values))
    if len(distinct) > 1:
        out.add_error(path, "duplicate", Text(
            f"{spec.label.zh} 收到了 {len(distinct)} 个不同的值，只能有一个",
            f"{spec.label.en} was sent {len(distinct)} different values; it takes one"),
            count=len(distinct))
        return False, None
    return True, _CONVERT[spec.type](distinct[0], zone)


# -- the whole form ---------------------------------------------------------------

def _writable(fields: Iterable[FieldSpec]) -> dict[str, FieldSpec]:
    return {f.code: f for f in fields if f.type in _CONVERT or f.type == "boolean"}


def parse_form(entity: EntitySpec, form: Any, overrides: Mapping[str, str] | None = None,
               *, zone: tzinfo = timezone.utc) -> FormInput:
    """The record payload of a submitted form.

    ``form`` is a werkzeug MultiDict (``getlist``); ``overrides`` replace
    single inputs (an uploaded attachment's new id by its input name);
    datetimes are typed in ``zone`` (H2's ``display_zone()``).
    """
    values = _values_of(form, overrides or {})
    out = FormInput()
    for code, spec in _writable(entity.fields).items():
        if code in values:
            keep, value = _value(spec, values[code], code, out, zone)
            if keep:
                out.data[code] = value
    for child in entity.children:
        lines = _lines_of(entity, child.code, values, out, zone)
        if lines is not None:
            out.data[child.code] = lines
    return out


def _values_of(form: Any, overrides: Mapping[str, str]) -> dict[str, list[str]]:
    values = {str(name): [str(v) for v in form.getlist(name)] for name in form.keys()}
    values.update({name: [value] for name, value in overrides.items()})
    return values


def _lines_of(entity: EntitySpec, code: str, values: Mapping[str, list[str]],
              out: FormInput, zone: tzinfo) -> list[dict[str, Any]] | None:
    """The lines of child ``code`` in index order; None when the list is not on the form."""
    child = entity.child(code)
    assert child is not None
    fields = _writable(child.fields)
    rows: dict[int, dict[str, Any]] = {}
    present = code in values
    for name, given in values.items():
        found = _LINE_NAME.fullmatch(name)
        if found is None or found["child"] != code:
            continue
        present = True
        index = _index(found["index"], code, child.label, out)
        if index is None:
            continue
        row = rows.setdefault(index, {})
        _cell(row, found["field"], given, fields, f"{code}.{index}", out, zone)
    if not present:
        return None
    indexes = sorted(rows)
    if indexes != list(range(len(indexes))):  # gaps: report at the lines' positions
        out.errors = _renumbered(out.errors, code, indexes)
    return [_defaults_apply(rows[i], fields) for i in indexes]


def _defaults_apply(row: dict[str, Any], fields: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """A new line's empty cells of fields with a default formula are left out,
    so the formula fills them (a line's unit price from the catalogue) rather
    than an empty value being stored."""
    if "id" in row:
        return row
    return {k: v for k, v in row.items()
            if not (v is None and k in fields and fields[k].default_formula is not None)}


def _index(raw: str, code: str, label: Text, out: FormInput) -> int | None:
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_LINES)) \
            and int(raw) < MAX_LINES:
        return int(raw)
    out.add_error(code, "line_index", Text(
        f"{label.zh}：行号 {_shown(raw)!r} 无效，应为 0 到 {MAX_LINES - 1} 的整数，该值已忽略",
        f"{label.en}: line number {_shown(raw)!r} is invalid (a whole number from 0 to "
        f"{MAX_LINES - 1} expected); the value was ignored"),
        index=_shown(raw), max=MAX_LINES - 1)
    return None


def _cell(row: dict[str, Any], name: str, given: list[str], fields: Mapping[str, FieldSpec],
          path: str, out: FormInput, zone: tzinfo) -> None:
    """One cell of a line: a field, the stored line's id, or an unknown name
    handed on for the service to report."""
    if name == "id":
        distinct = list(dict.fromkeys(given))
        if len(distinct) > 1:
            out.add_error(f"{path}.id", "duplicate", Text(
                "明细行 id 收到了多个不同的值", "the line id was sent several different values"),
                count=len(distinct))
            return
        value = _identifier(distinct[0])
        if value is not None:
            row["id"] = value
        return
    spec = fields.get(name)
    if spec is None:
        row[name] = given[-1]
        return
    keep, value = _value(spec, given, f"{path}.{name}", out, zone)
    if keep:
        row[name] = value


def _renumbered(errors: dict[str, list[dict[str, Any]]], code: str,
                indexes: list[int]) -> dict[str, list[dict[str, Any]]]:
    """Error paths of lines sent with gaps, moved to the lines' positions."""
    position = {str(index): str(n) for n, index in enumerate(indexes)}
    moved: dict[str, list[dict[str, Any]]] = {}
    for path, entries in errors.items():
        parts = path.split(".", 2)
        if len(parts) >= 2 and parts[0] == code and parts[1] in position:
            parts[1] = position[parts[1]]
        moved.setdefault(".".join(parts), []).extend(entries)
    return moved


def is_attachment_input(entity: EntitySpec, name: str) -> bool:
    """Whether ``name`` is the input of an attachment field (main or line)."""
    spec = entity.field(name)
    if spec is not None:
        return spec.type == "attachment"
    found = _LINE_NAME.fullmatch(name)
    child = entity.child(found["child"]) if found else None
    line_field = child.field(found["field"]) if child is not None and found else None
    return line_field is not None and line_field.type == "attachment"


# -- values as text ----------------------------------------------------------------
# (display text is H2's display.format_value; an input shows the editable form:
# money grouped at its scale, decimals as stored, datetimes local ``YYYY-MM-DDTHH:MM``)

def _money(spec: FieldSpec, value: Any, zone: tzinfo) -> str:
    return format_decimal(value, spec.scale if spec.scale is not None else MONEY_SCALE,
                          grouped=True)


def _decimal(spec: FieldSpec, value: Any, zone: tzinfo) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _datetime_input(spec: FieldSpec, value: Any, zone: tzinfo) -> str:
    if not isinstance(value, datetime):
        return _iso(spec, value, zone)
    local = to_local(value, zone)
    precise = local.second or local.microsecond
    return local.isoformat() if precise else local.strftime("%Y-%m-%dT%H:%M")


def _iso(spec: FieldSpec, value: Any, zone: tzinfo) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


_INPUT: Mapping[str, Callable[[FieldSpec, Any, tzinfo], str]] = MappingProxyType({
    "money": _money, "decimal": _decimal, "date": _iso, "datetime": _datetime_input})


def input_text(spec: FieldSpec, value: Any, zone: tzinfo = timezone.utc) -> str:
    """The text an input shows for ``value`` (typed, or as the user typed it)."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str):
        return value
    return _INPUT.get(spec.value_type, lambda s, v, z: str(v))(spec, value, zone)


def display_text(spec: FieldSpec, value: Any, language: str,
                 zone: tzinfo = timezone.utc) -> str:
    """The text of a value shown read-only (computed outputs, totals): H2's
    ``format_value`` (computed results are never codes or ids)."""
    return format_value(spec, value, lang=language, labels=Labels.empty(None, language, zone=zone))


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    text = str(value).strip().translate(_GROUPING)
    if len(text) > 40:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def total_text(spec: FieldSpec, values: Iterable[Any], language: str = "zh-CN") -> str:
    """The formatted sum of the numbers among ``values`` (text being typed
    that is not a number counts as nothing)."""
    total = sum((n for n in map(_number, values) if n is not None), Decimal(0))
    return display_text(spec, total, language)
