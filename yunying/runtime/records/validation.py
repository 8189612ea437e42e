"""Validating a record payload without the database (runtime layer).

Screens keys (unknown fields, system columns), applies defaults on create,
runs the entity's marshmallow schema, checks dictionary membership for the
context's date and splits out child lines. Every problem is collected into an
:class:`ErrorBag`; existence and uniqueness checks that need the database
follow in ``checks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

from marshmallow import ValidationError

from yunying.metadata.spec import FieldSpec
from yunying.platform.i18n import Text
from yunying.runtime.records.fields import INT32_MAX
from yunying.runtime.records.messages import ErrorBag, Location, Problem, problems_of
from yunying.runtime.records.plan import EntityPlan, Part

__all__ = ["Line", "Payload", "clean_record", "default_value", "RECORD_PATH"]

#: error path for a payload that is not an object at all.
RECORD_PATH = "_record"

_LINE_ID_LABEL = Text("明细行 id", "line id")
_LINE_LABEL = Text("该行", "The line")
_MAX_KEY = 100


@dataclass
class Line:
    """One child line of a payload: its position, its id (update) and values."""

    row: int
    id: int | None
    values: dict[str, Any]


@dataclass
class Payload:
    """A cleaned record: valid main values and the child lists that were given."""

    values: dict[str, Any]
    children: dict[str, list[Line]] = field(default_factory=dict)


def clean_record(plan: EntityPlan, data: Any, *, creating: bool, now: datetime,
                 errors: ErrorBag) -> Payload:
    """Validate ``data`` for a create (``creating``) or an update.

    Returns the values that passed; problems go to ``errors``.
    """
    if not isinstance(data, Mapping):
        errors.add(RECORD_PATH, Problem("type", {"expected": "object"}), plan.label)
        return Payload({})
    own = {k: v for k, v in data.items() if k not in plan.children}
    payload = Payload(clean_part(plan.main, own, creating=creating, now=now,
                                 errors=errors, location=Location()))
    for code, part in plan.children.items():
        if code in data:
            payload.children[code] = _clean_lines(part, data[code], creating=creating,
                                                  now=now, errors=errors)
    return payload


def clean_part(part: Part, raw: Mapping[Any, Any], *, creating: bool, now: datetime,
               errors: ErrorBag, location: Location) -> dict[str, Any]:
    """Validate the values of one row of ``part``; returns those that passed."""
    data: dict[str, Any] = {}
    for key, value in raw.items():
        if key in part.fields:
            data[key] = value
        else:
            # a hostile key is echoed short and encodable
            name = str(key)[:_MAX_KEY].encode("utf-8", "replace").decode("utf-8")
            if key in part.computed:
                errors.add(name, Problem("read_only", template="computed"),
                           part.computed[key].label, location)
                continue
            problem = (Problem("read_only") if key in part.read_only
                       else Problem("unknown_field", {"entity": part.label}))
            errors.add(name, problem, Text(name, name), location)
    if creating:
        for spec, default in part.defaults:
            if spec.code not in data:
                data[spec.code] = _default(spec, default, now)
    try:
        values = part.schema.load(data, partial=not creating)
    except ValidationError as exc:
        values = dict(exc.valid_data or {})
        for code, problems in exc.normalized_messages().items():
            values.pop(code, None)
            for problem in problems_of(problems):
                if creating and problem.code == "null":
                    problem = Problem("required")
                spec = part.fields.get(code)
                errors.add(code, problem, spec.label if spec else Text(code, code), location)
    _check_choices(part, values, now, errors, location)
    return values


def _clean_lines(part: Part, raw: Any, *, creating: bool, now: datetime,
                 errors: ErrorBag) -> list[Line]:
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        errors.add("", Problem("type", {"expected": "list"}), part.label, Location(part.code))
        return []
    lines = []
    for row, item in enumerate(raw):
        location = Location(part.code, part.label, row)
        if not isinstance(item, Mapping):
            errors.add("", Problem("type", {"expected": "object"}), _LINE_LABEL, location)
            continue
        values = dict(item)
        line_id = _line_id(values.pop("id", None), creating, errors, location) \
            if "id" in item else None
        cleaned = clean_part(part, values, creating=creating or line_id is None,
                             now=now, errors=errors, location=location)
        lines.append(Line(row, line_id, cleaned))
    return lines


def _line_id(value: Any, creating: bool, errors: ErrorBag, location: Location) -> int | None:
    """The id of an existing line named in an update (not allowed on create)."""
    if creating:
        errors.add("id", Problem("read_only"), Text("id", "id"), location)
        return None
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= INT32_MAX:
        return value
    errors.add("id", Problem("type", {"expected": "id"}), _LINE_ID_LABEL, location)
    return None


def _check_choices(part: Part, values: dict[str, Any], now: datetime, errors: ErrorBag,
                   location: Location) -> None:
    today = now.date()
    for code, choices in part.choices:
        value = values.get(code)
        if value is not None and not choices.allows(value, today):
            del values[code]
            errors.add(code, Problem("enum", {"value": value, "dictionary": choices.label}),
                       part.fields[code].label, location)


def _default(spec: FieldSpec, default: Any, now: datetime) -> Any:
    if spec.type == "date" and default == "today":
        return now.date()
    if spec.type == "datetime" and default == "now":
        return now
    return default


def default_value(spec: FieldSpec, now: datetime) -> Any:
    """The value a create stores for ``spec`` when none is given (before validation)."""
    return None if spec.default is None else _default(spec, spec.default, now)
