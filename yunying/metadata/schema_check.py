"""JSON Schema validation of package files (metadata layer).

The schemas in ``yunying/metadata/schemas/`` (draft 2020-12) are the
published contract of the package format. :class:`SchemaChecker` compiles one
validator per kind and turns every violation into a located ``schema`` issue
with a bilingual message: the most specific error of an ``anyOf``/``oneOf``
(jsonschema's ``best_match``), one issue per unknown key (so a typo is named),
and missing keys reported at the path where they belong.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from yunying.metadata.issues import Issue, json_path, path_key
from yunying.metadata.yaml_source import Source
from yunying.platform.i18n import Text

__all__ = ["KINDS", "SCHEMA_DIR", "schema_document", "SchemaChecker"]

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

#: kind of document → its schema file (demo files use the seed schema).
KINDS: Mapping[str, str] = {
    "package": "package.schema.json",
    "entity": "entity.schema.json",
    "dictionary": "dictionary.schema.json",
    "seed": "seed.schema.json",
    "demo": "seed.schema.json",
    "role": "role.schema.json",
    "org": "org.schema.json",
    "workflow": "workflow.schema.json",
    "posting": "posting.schema.json",
    "indicator": "indicator.schema.json",
    "generator": "generator.schema.json",
}
_COMMON = "common.schema.json"


@functools.cache
def _read(name: str) -> str:
    return (SCHEMA_DIR / name).read_text(encoding="utf-8")


def schema_document(name: str) -> dict[str, Any]:
    """A fresh copy of one schema file's JSON (``entity.schema.json`` …)."""
    return json.loads(_read(name))


class SchemaChecker:
    """Validators for every kind of package file, compiled once per instance."""

    def __init__(self) -> None:
        names = sorted(set(KINDS.values()) | {_COMMON})
        documents = {name: schema_document(name) for name in names}
        registry: Registry = Registry().with_resources(
            (doc["$id"], Resource.from_contents(doc)) for doc in documents.values())
        checker = FormatChecker(["date"])
        compiled = {name: Draft202012Validator(documents[name], registry=registry,
                                               format_checker=checker)
                    for name in set(KINDS.values())}
        self._validators = {kind: compiled[name] for kind, name in KINDS.items()}

    def check(self, kind: str, source: Source, *, package: str | None = None) -> list[Issue]:
        """Every schema violation of ``source`` as a located issue, in file order."""
        found: dict[tuple[str, str], Issue] = {}
        for error in self._validators[kind].iter_errors(source.data):
            specific = best_match([error]) if error.context else error
            for path, message in _describe(specific, source.data):
                found.setdefault((path, message.en), source.issue(
                    "schema", path, message, package=package))
        return sorted(found.values(), key=lambda i: (i.line or 0, path_key(i.path)))


def _describe(error: ValidationError, root: Any) -> list[tuple[str, Text]]:
    """(path, message) pairs for one error; some errors name several keys."""
    parts: list[str | int] = list(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path:
        key = str(error.instance)
        if error.validator == "not":  # a key that does not apply to the field type
            return [(json_path([*parts, key]), _not_applicable(parts, key, root))]
        reason = _MESSAGES.get(str(error.validator), _fallback)(error)
        return [(json_path([*parts, key]), Text(f"键名 {_show(key)} 无效：{reason.zh}",
                                                 f"invalid key {_show(key)}: {reason.en}"))]
    if error.validator == "required":
        return [(json_path([*parts, key]), _missing(error, key))
                for key in error.validator_value if key not in error.instance]
    if error.validator == "additionalProperties":
        return [(json_path([*parts, key]), _unknown_key(error, key))
                for key in _extra_keys(error)]
    describe = _MESSAGES.get(str(error.validator), _fallback)
    return [(json_path(parts), describe(error))]


def _show(value: Any) -> str:
    """A value as the user wrote it (JSON style), shortened."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_NAMES: Mapping[str, tuple[str, str]] = {
    "object": ("对象（键: 值）", "an object (key: value)"),
    "array": ("列表", "a list"),
    "string": ("字符串", "a string"),
    "integer": ("整数", "an integer"),
    "number": ("数字", "a number"),
    "boolean": ("布尔值 true/false", "a boolean true/false"),
    "null": ("空值 null", "null"),
}


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean",
             int: "integer", float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _type(error: ValidationError) -> Text:
    expected = error.validator_value
    types = [expected] if isinstance(expected, str) else list(expected)
    zh = "或".join(_TYPE_NAMES.get(t, (t, t))[0] for t in types)
    en = " or ".join(_TYPE_NAMES.get(t, (t, t))[1] for t in types)
    got = _TYPE_NAMES.get(_json_type(error.instance), (_json_type(error.instance),) * 2)
    return Text(f"应为{zh}，实际为{got[0]}（{_show(error.instance)}）",
                f"expected {en}, got {got[1]} ({_show(error.instance)})")


def _listing(values: Iterable[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _missing(error: ValidationError, key: str) -> Text:
    kind = error.instance.get("type") if isinstance(error.instance, dict) else None
    if "else" in error.absolute_schema_path and key in _EXCLUSIVE:
        return Text(f"缺少必填键 {key}：{_CHOICE.zh}", f"missing required key {key!r}: {_CHOICE.en}")
    if "then" in error.absolute_schema_path and isinstance(kind, str):
        return Text(f"类型为 {kind} 的字段必须有 {key}",
                    f"missing required key {key!r} (fields of type {kind} need it)")
    return Text(f"缺少必填键 {key}", f"missing required key {key!r}")


#: keys that exclude another key of the same object (indicator versions:
#: one formula, or a numerator and a denominator).
_EXCLUSIVE: Mapping[str, str] = {"numerator": "formula", "denominator": "formula"}
_CHOICE = Text("写一个 formula，或者同时写 numerator 和 denominator",
               "write one formula, or a numerator and a denominator")


def _extra_keys(error: ValidationError) -> list[str]:
    declared = set(error.schema.get("properties", {}))
    patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
    return [k for k in error.instance
            if k not in declared and not any(p.search(k) for p in patterns)]


def _unknown_key(error: ValidationError, key: str) -> Text:
    allowed = _listing(error.schema.get("properties", {}))
    return Text(f"未知的键 {key!r}；允许的键：{allowed}",
                f"unknown key {key!r}; allowed keys: {allowed}")


def _not_applicable(parts: list[str | int], key: str, root: Any) -> Text:
    parent = root
    for part in parts:
        parent = parent[part]
    kind = parent.get("type") if isinstance(parent, dict) else None
    if key in _EXCLUSIVE:
        other = _EXCLUSIVE[key]
        return Text(f"有 {other} 时不能再有 {key}：{_CHOICE.zh}",
                    f"{key!r} cannot go with {other!r}: {_CHOICE.en}")
    return Text(f"类型为 {kind} 的字段不能有 {key}",
                f"{key!r} does not apply to fields of type {kind}")


def _bound(zh: str, en: str) -> Callable[[ValidationError], Text]:
    return lambda e: Text(zh.format(v=e.validator_value, i=_show(e.instance)),
                          en.format(v=e.validator_value, i=_show(e.instance)))


def _pattern(error: ValidationError) -> Text:
    hint = _PATTERN_HINTS.get(error.validator_value)
    if hint is None and "~=" in error.validator_value:
        hint = Text('版本范围（逗号分隔的比较，如 ">=1.0,<2"）',
                    'a version range of comma-separated comparisons such as ">=1.0,<2"')
    if hint is None:
        hint = Text(f"格式 {error.validator_value}", f"the pattern {error.validator_value}")
    return Text(f"{_show(error.instance)} 不符合要求：应为{hint.zh}",
                f"{_show(error.instance)} is not valid: expected {hint.en}")


_CODE = ("小写字母开头，其后 {n} 个小写字母、数字或下划线",
         "a lower-case letter, then {n} lower-case letters, digits or underscores")


def _code_hint(n: str) -> Text:
    return Text(_CODE[0].format(n=n), _CODE[1].format(n=n))


#: readable explanations of the patterns the schemas use.
_PATTERN_HINTS: Mapping[str, Text] = {
    "^[a-z][a-z0-9_]{1,15}$": _code_hint("1-15"),
    "^[a-z][a-z0-9_]{1,23}$": _code_hint("1-23"),
    "^[a-z][a-z0-9_]{0,39}$": _code_hint("0-39"),
    "^[a-z][a-z0-9_]{1,39}$": _code_hint("1-39"),
    "^-?[a-z][a-z0-9_]{0,39}$": Text("字段编码，可加前缀 - 表示降序",
                                     "a field code, optionally prefixed with - for descending"),
    "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$": Text(
        "字母或数字开头，其后最多 63 个字母、数字或 _ . -",
        "a letter or digit, then up to 63 letters, digits, '_', '.' or '-'"),
    "^(?:[a-z][a-z0-9_]{1,15}\\.)?[a-z][a-z0-9_]{1,23}$": Text(
        "实体编码（本包）或 包编码.实体编码", "an entity code, or package.entity"),
    "^(?:[a-z][a-z0-9_]{1,15}\\.)?[a-z][a-z0-9_]{1,39}$": Text(
        "字典编码（本包）或 包编码.字典编码", "a dictionary code, or package.dictionary"),
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}$": Text("日期 YYYY-MM-DD", "a date YYYY-MM-DD"),
    "^[a-z][a-z0-9_]{1,31}$": _code_hint("1-31"),
    "^(?:[a-z][a-z0-9_]{1,15}\\.)?[a-z][a-z0-9_]{1,31}$": Text(
        "角色编码（本包）或 包编码.角色编码", "a role code, or package.role"),
    "^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$": Text(
        "字母或数字开头，其后最多 63 个字母、数字或 _ . @ -",
        "a letter or digit, then up to 63 letters, digits, '_', '.', '@' or '-'"),
    "^(?:\\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$": Text(
        "* 或组织单元编码", "* or an org unit code"),
    "^(?:[a-z][a-z0-9_]{1,15}\\.)?[a-z][a-z0-9_]{0,39}$": Text(
        "字段编码，或 子表编码.字段编码", "a field code, or child.field"),
    "^(?:[a-z][a-z0-9_]{1,15}[.])?[a-z][a-z0-9_]{1,39}$": Text(
        "记账规则编码（本包）或 包编码.规则编码", "a posting rule code, or package.rule"),
    "^(?:\\*|(?:[a-z][a-z0-9_]{1,15}\\.)?[a-z][a-z0-9_]{0,39})$": Text(
        "* 、字段编码，或 子表编码.字段编码", "*, a field code, or child.field"),
    "^(?:0|[1-9][0-9]*)\\.(?:0|[1-9][0-9]*)\\.(?:0|[1-9][0-9]*)$": Text(
        "语义化版本号 主版本.次版本.修订号（如 1.0.0）",
        "a semantic version MAJOR.MINOR.PATCH such as 1.0.0"),
}


def _fallback(error: ValidationError) -> Text:
    return Text(error.message, error.message)


_MESSAGES: Mapping[str, Callable[[ValidationError], Text]] = {
    "type": _type,
    "enum": lambda e: Text(
        f"应为以下之一：{_listing(e.validator_value)}；实际为 {_show(e.instance)}",
        f"must be one of: {_listing(e.validator_value)}; got {_show(e.instance)}"),
    "const": _bound("应为 {v!r}，实际为 {i}", "must be {v!r}, got {i}"),
    "pattern": _pattern,
    "format": _bound("{i} 不是有效的日期（格式 YYYY-MM-DD）",
                     "{i} is not a valid date (YYYY-MM-DD)"),
    "minLength": _bound("至少需要 {v} 个字符", "must have at least {v} character(s)"),
    "maxLength": _bound("最多 {v} 个字符", "must have at most {v} character(s)"),
    "minimum": _bound("不能小于 {v}（实际为 {i}）", "must be at least {v} (got {i})"),
    "maximum": _bound("不能大于 {v}（实际为 {i}）", "must be at most {v} (got {i})"),
    "exclusiveMinimum": _bound("必须大于 {v}（实际为 {i}）", "must be greater than {v} (got {i})"),
    "minProperties": _bound("至少需要 {v} 个键", "needs at least {v} key(s)"),
    "maxProperties": _bound("最多只能有 {v} 个键（实际为 {i}）", "allows at most {v} key(s) (got {i})"),
    "minItems": _bound("至少需要 {v} 项", "needs at least {v} item(s)"),
    "maxItems": _bound("最多 {v} 项", "allows at most {v} item(s)"),
    "uniqueItems": _bound("列表中有重复项：{i}", "has duplicate items: {i}"),
}
