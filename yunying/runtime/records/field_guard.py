"""Field permissions on record writes and errors (runtime layer).

Pure checks the record service's guard runs around a write:

- :func:`refuse_hidden` — a payload naming a field the caller may not see is
  refused with 403 before anything else looks at it. Even an unchanged value
  is refused: accepting it would let a caller guess a hidden value and learn
  from the answer whether the guess was right. The message names nothing.
- :func:`refuse_read_only` — a payload *changing* a read-only field is
  refused with 403 naming the fields; sending the stored value back passes.
  On create, "unchanged" means empty or the field's declared default; a new
  child line counts as a change when it gives a read-only field a value. A
  child code among the read-only names locks the list itself: adding or
  removing a line is a change (workflow states that lock a whole table).
- :func:`sanitize` — a validation failure never names a hidden field: its
  entries (and entries whose parameters name one, like a composite unique
  index) become one record-level entry saying a field the caller cannot see
  is invalid.

Field names follow the metadata: ``field`` or ``child.field``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from marshmallow import ValidationError

from yunying.platform.errors import PermissionDenied, ValidationFailed
from yunying.platform.i18n import Text
from yunying.runtime.access.fields import split_names
from yunying.runtime.records.messages import ErrorBag
from yunying.runtime.records.plan import EntityPlan, Part
from yunying.runtime.records.validation import RECORD_PATH, Payload, default_value

__all__ = ["refuse_hidden", "refuse_read_only", "sanitize", "HIDDEN_ENTRY"]

_HIDDEN_WRITE = Text("请求写入了您无权查看的字段，已拒绝；请只提交表单中显示的字段",
                     "the request writes a field you may not see and was refused; "
                     "send only the fields you are shown")
#: the record-level entry standing in for errors on hidden fields.
HIDDEN_ENTRY: Mapping[str, Any] = {
    "code": "hidden_field",
    "message": Text("有您无权查看的字段未通过校验，无法保存；请联系管理员",
                    "a field you may not see failed validation, so the record cannot "
                    "be saved; ask an administrator").as_dict(),
    "params": {},
}


def refuse_hidden(plan: EntityPlan, data: Any, hidden: frozenset[str]) -> None:
    """PermissionDenied (naming no field) when ``data`` writes a ``hidden`` field."""
    if not hidden or not isinstance(data, Mapping):
        return
    main, children = split_names(hidden)
    named = any(key in main for key in data)
    for child, fields in children.items():
        lines = data.get(child)
        if isinstance(lines, list):
            named = named or any(isinstance(line, Mapping) and any(k in fields for k in line)
                                 for line in lines)
    if named:
        raise PermissionDenied(_HIDDEN_WRITE, code="hidden_field",
                               details={"entity": plan.entity})


def refuse_read_only(plan: EntityPlan, data: Any, payload: Payload, locked: frozenset[str],
                     stored: Mapping[str, Any] | None,
                     stored_lines: Mapping[str, Mapping[int, Mapping[str, Any]]],
                     now: datetime) -> None:
    """PermissionDenied naming every ``locked`` field ``data`` changes.

    ``stored`` is the record before an update (None on create), ``stored_lines``
    its lines by child and id. A value that failed validation counts as a change.
    """
    if not locked or not isinstance(data, Mapping):
        return
    main, children = split_names(locked)
    tables = main & set(plan.children)
    changed = [code for code in sorted((main - tables) & set(data))
               if _changed(plan.main, code, payload.values, stored, now)]
    changed += [code for code in sorted(tables & set(data)) if code in payload.children
                and _lines_changed(payload.children[code], stored_lines.get(code, {}))]
    for child, fields in sorted(children.items()):
        raw = data.get(child)
        if not isinstance(raw, list) or child not in payload.children:
            continue
        part, old = plan.children[child], stored_lines.get(child, {})
        for line in payload.children[child]:
            given = raw[line.row] if line.row < len(raw) else {}
            before = old.get(line.id) if line.id is not None else None
            changed += [f"{child}.{code}" for code in sorted(fields & set(given))
                        if _changed(part, code, line.values, before, now)]
    if changed:
        raise _read_only(plan, list(dict.fromkeys(changed)))


def _lines_changed(lines: list, before: Mapping[int, Any]) -> bool:
    """Whether a child list adds or removes lines (a locked child table)."""
    return any(line.id is None for line in lines) or \
        {line.id for line in lines} != set(before)


def _changed(part: Part, code: str, values: Mapping[str, Any],
             before: Mapping[str, Any] | None, now: datetime) -> bool:
    if code not in values:
        return True
    if before is not None:
        return values[code] != before.get(code)
    return values[code] is not None and values[code] != _default(part, code, now)


def _default(part: Part, code: str, now: datetime) -> Any:
    spec = part.fields.get(code)
    raw = default_value(spec, now) if spec is not None else None
    if raw is None:
        return None
    try:
        return part.schema.fields[code].deserialize(raw)
    except ValidationError:
        return None


def _read_only(plan: EntityPlan, paths: list[str]) -> PermissionDenied:
    labels = [_label(plan, path) for path in paths]
    zh = "、".join(label.zh for label in labels)
    en = ", ".join(label.en for label in labels)
    return PermissionDenied(
        Text(f"{zh} 对您只读，不能修改", f"{en}: read-only for you, cannot be changed"),
        code="read_only_field", details={"entity": plan.entity, "fields": paths})


def _label(plan: EntityPlan, path: str) -> Text:
    child, dot, code = path.partition(".")
    if not dot and path in plan.children:
        return plan.children[path].label
    if not dot:
        spec = plan.main.fields.get(path)
        return spec.label if spec is not None else Text(path, path)
    part = plan.children[child]
    spec = part.fields.get(code)
    label = spec.label if spec is not None else Text(code, code)
    return Text(f"{part.label.zh}·{label.zh}", f"{part.label.en} / {label.en}")


def sanitize(error: ValidationFailed, hidden: frozenset[str],
             entity_label: Text) -> ValidationFailed:
    """``error`` without any mention of a ``hidden`` field (the same error if none)."""
    fields = error.details.get("fields") if isinstance(error.details, Mapping) else None
    if not hidden or not isinstance(fields, Mapping):
        return error
    main, _ = split_names(hidden)
    bag = ErrorBag()
    dropped = False
    for path, entries in fields.items():
        if _name_of(path) in hidden:
            dropped = True
            continue
        kept = [e for e in entries if not _names_hidden(e, main)]
        dropped = dropped or len(kept) < len(entries)
        if kept:
            bag.fields[path] = kept
    if not dropped:
        return error
    bag.fields.setdefault(RECORD_PATH, []).append(dict(HIDDEN_ENTRY))
    return bag.failure(entity_label)


def _name_of(path: str) -> str:
    """``lines.0.note`` → ``lines.note`` (the metadata's name of an error path)."""
    parts = path.split(".")
    return f"{parts[0]}.{parts[2]}" if len(parts) == 3 else path


def _names_hidden(entry: Mapping[str, Any], main: frozenset[str]) -> bool:
    params = entry.get("params")
    named = params.get("fields") if isinstance(params, Mapping) else None
    return isinstance(named, list) and any(name in main for name in named)
