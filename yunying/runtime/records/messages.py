"""Bilingual validation messages of the record service (runtime layer).

Validation collects :class:`Problem` values (a stable code plus parameters)
while it runs; :class:`ErrorBag` turns each into the wire shape
``{"code", "message": {"zh-CN", "en"}, "params"}`` under its field path and
finally raises one :class:`ValidationFailed` naming every problem.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from yunying.platform.errors import ValidationFailed
from yunying.platform.i18n import Text

__all__ = ["Problem", "ErrorBag", "Location", "CODES", "expected_text", "problems_of"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one value: a wire ``code`` and parameters.

    ``template`` picks a more precise message than the code's own (a NUL
    character is a ``type`` problem with its own wording).
    """

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)
    template: str | None = None


@dataclass(frozen=True)
class Location:
    """Where a value sits: ``lines.0.quantity`` is child ``lines`` row 0."""

    child: str | None = None
    child_label: Text | None = None
    row: int | None = None

    def path(self, code: str) -> str:
        if self.child is None:
            return code
        if self.row is None:
            return f"{self.child}.{code}" if code else self.child
        return f"{self.child}.{self.row}.{code}" if code else f"{self.child}.{self.row}"

    def prefix(self) -> Text:
        if self.child_label is None:
            return Text("", "")
        if self.row is None:
            return Text(f"{self.child_label.zh}：", f"{self.child_label.en}: ")
        n = self.row + 1
        return Text(f"{self.child_label.zh}第 {n} 行：", f"{self.child_label.en}, row {n}: ")


#: message templates by error code; ``{label}`` is the field's label.
CODES: Mapping[str, Text] = MappingProxyType({
    "required": Text("{label} 为必填项", "{label} is required"),
    "null": Text("{label} 不能为空", "{label} may not be empty"),
    "type": Text("{label} 应为{expected_zh}", "{label} must be {expected_en}"),
    "nul_char": Text("{label} 不能包含 NUL 字符", "{label} may not contain a NUL character"),
    "bad_char": Text("{label} 含有无效的字符（不成对的 Unicode 代理项）",
                     "{label} contains an invalid character (an unpaired Unicode surrogate)"),
    "length_max": Text("{label} 最多 {max} 个字符", "{label} must be at most {max} characters long"),
    "length_min": Text("{label} 至少 {min} 个字符", "{label} must be at least {min} characters long"),
    "min": Text("{label} 不能小于 {min}", "{label} must be at least {min}"),
    "max": Text("{label} 不能大于 {max}", "{label} must be at most {max}"),
    "pattern": Text("{label} 格式不正确，应符合 {pattern}",
                    "{label} does not match the required format {pattern}"),
    "precision": Text("{label} 的整数部分最多 {digits} 位",
                      "{label} may have at most {digits} digits before the decimal point"),
    "scale": Text("{label} 最多 {scale} 位小数", "{label} may have at most {scale} decimal places"),
    "enum": Text("{label} 的值 {value} 不是“{dictionary_zh}”中的有效选项",
                 "{label}: {value} is not a valid option of {dictionary_en}"),
    "reference": Text("{label} 引用的{target_zh}记录（id {value}）不存在",
                      "{label}: there is no {target_en} record with id {value}"),
    "line": Text("{label} {value} 不是本单据的明细行",
                 "{label} {value} is not a line of this record"),
    "attachment": Text("{label} 引用的附件（id {value}）不存在",
                       "{label}: there is no attachment with id {value}"),
    "unknown_field": Text("{entity_zh} 没有字段 {label}", "{entity_en} has no field {label}"),
    "read_only": Text("{label} 是系统字段，不能写入", "{label} is a system column and cannot be written"),
    "read_only_now": Text("{label} 在当前条件下只读，不能修改",
                          "{label} is read-only under the form's current conditions and "
                          "cannot be changed"),
    "computed": Text("{label} 由公式计算，不能写入",
                     "{label} is computed by a formula and cannot be written"),
    "formula": Text("{label} 的公式无法计算：{reason_zh}",
                    "{label}: its formula cannot be computed: {reason_en}"),
    "unique": Text("{label} 的值 {value} 已存在", "{label} {value} already exists"),
    "unique_taken": Text("{label} 的值已被其他记录使用",
                         "{label}: the value is already used by another record"),
    "reference_gone": Text("{label} 引用的记录不存在", "{label}: the referenced record does not exist"),
})

#: how to name what a value should have been, per expected kind.
_EXPECTED: Mapping[str, Text] = MappingProxyType({
    "string": Text("文本", "text"),
    "integer": Text("整数", "a whole number"),
    "decimal": Text("数字", "a number"),
    "boolean": Text("是或否（true / false）", "true or false"),
    "date": Text("日期（YYYY-MM-DD）", "a date (YYYY-MM-DD)"),
    "datetime": Text("日期时间（ISO 8601）", "a date and time (ISO 8601)"),
    "id": Text("记录 id（正整数）", "a record id (a positive whole number)"),
    "code": Text("代码（文本）", "a code (text)"),
    "list": Text("明细行列表", "a list of lines"),
    "object": Text("对象（字段名到值）", "an object of field values"),
})


def expected_text(kind: str) -> Text:
    return _EXPECTED.get(kind, Text(kind, kind))


def problems_of(messages: Any) -> list[Problem]:
    """The problems a marshmallow error carries (a Problem or a list of them)."""
    items = messages if isinstance(messages, list) else [messages]
    return [p if isinstance(p, Problem) else Problem("type", {"expected": str(p)})
            for p in items]


def _message(problem: Problem, label: Text, location: Location) -> Text:
    template = CODES[problem.template or problem.code]
    zh_params: dict[str, Any] = {}
    en_params: dict[str, Any] = {}
    for key, value in problem.params.items():
        if isinstance(value, Text):
            zh_params[f"{key}_zh"], en_params[f"{key}_en"] = value.zh, value.en
        else:
            zh_params[key] = en_params[key] = value
    expected = expected_text(str(problem.params.get("expected", "")))
    zh_params.setdefault("expected_zh", expected.zh)
    en_params.setdefault("expected_en", expected.en)
    prefix = location.prefix()
    zh = template.zh.format(label=label.zh, **zh_params, **_blank(template.zh, zh_params))
    en = template.en.format(label=label.en, **en_params, **_blank(template.en, en_params))
    return Text(prefix.zh + zh, prefix.en + en)


def _blank(template: str, params: Mapping[str, Any]) -> dict[str, str]:
    """Placeholders a template names but the problem did not supply."""
    names = {n for _, n, _, _ in string.Formatter().parse(template) if n}
    return {n: "" for n in names - set(params) - {"label"}}


def _wire_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value.as_dict() if isinstance(value, Text) else value
            for key, value in params.items()}


class ErrorBag:
    """Collects located problems, then raises them together."""

    def __init__(self) -> None:
        self.fields: dict[str, list[dict[str, Any]]] = {}

    def __bool__(self) -> bool:
        return bool(self.fields)

    def add(self, code: str, problem: Problem, label: Text,
            location: Location = Location()) -> None:
        """Record ``problem`` for the field ``code`` at ``location``."""
        entry = {
            "code": problem.code,
            "message": _message(problem, label, location).as_dict(),
            "params": _wire_params(problem.params),
        }
        self.fields.setdefault(location.path(code), []).append(entry)

    def add_message(self, code: str, problem: Problem, message: Text,
                    location: Location = Location()) -> None:
        """Record ``problem`` with a message of its own (a rule's) at ``code``."""
        prefix = location.prefix()
        entry = {
            "code": problem.code,
            "message": Text(prefix.zh + message.zh, prefix.en + message.en).as_dict(),
            "params": _wire_params(problem.params),
        }
        self.fields.setdefault(location.path(code), []).append(entry)

    def raise_if_any(self, entity_label: Text) -> None:
        if self.fields:
            raise self.failure(entity_label)

    def failure(self, entity_label: Text) -> ValidationFailed:
        count = sum(len(v) for v in self.fields.values())
        message = Text(f"{entity_label.zh} 校验未通过，共 {count} 个问题",
                       f"{entity_label.en} failed validation with {count} problem(s)")
        return ValidationFailed(message, details={"fields": self.fields})
