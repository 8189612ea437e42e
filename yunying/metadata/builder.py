"""Validated package documents → frozen specs (metadata layer).

Pure functions: no I/O, no database. The loader calls them on freshly
validated YAML, the metadata store on the JSON it kept, and both get equal
specs. Every reference comes out qualified (``item`` in package
``materials`` → ``materials.item``; ``base.uom`` stays; role and org data
documents are built by :mod:`~yunying.metadata.roles` and
:mod:`~yunying.metadata.org_data`). Dates may arrive as
``date`` objects or ISO strings; decimals are built from ``str(value)``,
never through float arithmetic.

Seed keys: a seed's ``key`` defaults to its entity's ``key_field``. Entities
of the same package are resolved here; for an entity of another package the
key is left ``None`` and :func:`with_seed_keys` fills it once every package
is known (the loader and the store both call it).
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from yunying.metadata.convert import optional_text as _optional_text
from yunying.metadata.convert import text as _text
from yunying.metadata.convert import to_date
from yunying.metadata.generators import generator_from_document
from yunying.metadata.indicators import indicator_from_document
from yunying.metadata.org_data import org_from_document
from yunying.metadata.roles import role_from_document
from yunying.metadata.views import (
    form_from_document, list_view_from_document, menu_from_document,
)
from yunying.metadata.workflows import posting_from_document, workflow_from_document
from yunying.metadata.spec import (
    ChildSpec, DictionaryItemSpec, DictionarySpec, EntitySpec, FieldSpec,
    IndexSpec, NumberingSpec, PackageSpec, Requirement, RuleSpec, SeedSpec, qualify,
)
from yunying.platform.i18n import Text

__all__ = [
    "DOCUMENT_KINDS", "MONEY_PRECISION", "MONEY_SCALE",
    "package_from_documents", "entity_from_document", "child_from_document",
    "field_from_document", "rule_from_document", "dictionary_from_document",
    "seed_from_document",
    "with_seed_keys", "freeze_documents", "numbering_tokens", "finest_reset",
    "sequence_width", "rendered_length", "RESETS", "to_decimal", "to_date",
    "to_datetime", "default_problem",
]

#: the kinds of ``PackageSpec.documents`` besides the manifest ("package");
#: seed, demo and org documents are keyed by file, the others by code.
DOCUMENT_KINDS = ("entity", "dictionary", "seed", "demo", "role", "org", "workflow", "posting",
                  "indicator", "generator")
MONEY_PRECISION = 18
MONEY_SCALE = 2

_TOKEN = re.compile(r"\{([^{}]*)\}")
_SEQ = re.compile(r"^seq:([1-9])$")
_DATE_TOKENS = {"yyyy": 4, "yy": 2, "mm": 2, "dd": 2}
#: reset periods from coarsest to finest, and the token that shows each.
RESETS = ("never", "year", "month", "day")
_TOKEN_RESET = {"yyyy": "year", "yy": "year", "mm": "month", "dd": "day"}


def package_from_documents(documents: Mapping[str, Any], *, checksum: str = "") -> PackageSpec:
    """Build the package spec from its validated documents.

    ``documents`` = ``{"package": manifest, "entity": {code: doc},
    "dictionary": {code: doc}, "seed": {file: doc}, "demo": {file: doc},
    "role": {code: doc}, "org": {file: doc}, "workflow": {code: doc},
    "posting": {code: doc}, "indicator": {code: doc}}`` (kinds may be left out).
    """
    manifest = documents["package"]
    code = manifest["code"]
    entities = tuple(entity_from_document(code, doc)
                     for doc in documents.get("entity", {}).values())
    by_code = {e.qualified_code: e for e in entities}
    return PackageSpec(
        code=code,
        version=manifest["version"],
        label=_text(manifest["name"]),
        requires=tuple(Requirement(p, r) for p, r in manifest.get("requires", {}).items()),
        entities=entities,
        dictionaries=tuple(dictionary_from_document(code, doc)
                           for doc in documents.get("dictionary", {}).values()),
        seeds=tuple(seed_from_document(code, file, doc, entities=by_code)
                    for file, doc in documents.get("seed", {}).items()),
        demo=tuple(seed_from_document(code, file, doc, entities=by_code, demo=True)
                   for file, doc in documents.get("demo", {}).items()),
        description=_optional_text(manifest.get("description")),
        checksum=checksum,
        roles=tuple(role_from_document(code, doc)
                    for doc in documents.get("role", {}).values()),
        org=tuple(org_from_document(code, file, doc)
                  for file, doc in documents.get("org", {}).items()),
        workflows=tuple(workflow_from_document(code, doc)
                        for doc in documents.get("workflow", {}).values()),
        postings=tuple(posting_from_document(code, doc)
                       for doc in documents.get("posting", {}).values()),
        menus=tuple(menu_from_document(m) for m in manifest.get("menus", ())),
        indicators=tuple(indicator_from_document(code, item, doc)
                         for item, doc in documents.get("indicator", {}).items()),
        generators=tuple(generator_from_document(code, doc)
                         for doc in documents.get("generator", {}).values()),
        documents=freeze_documents(documents),
    )


def freeze_documents(documents: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    """A private deep copy, read-only at the top two levels (the inner
    documents stay plain JSON so they can be serialised as they are)."""
    frozen: dict[str, Mapping[str, Any]] = {
        "package": copy.deepcopy(dict(documents["package"]))}
    for kind in DOCUMENT_KINDS:
        items = documents.get(kind, {})
        frozen[kind] = MappingProxyType({k: copy.deepcopy(_thaw(v)) for k, v in items.items()})
    return MappingProxyType(frozen)


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def entity_from_document(package: str, doc: Mapping[str, Any]) -> EntitySpec:
    code = doc["code"]
    numbering = doc.get("numbering")
    return EntitySpec(
        package=package,
        code=code,
        label=_text(doc["name"]),
        fields=tuple(field_from_document(package, f) for f in doc["fields"]),
        children=tuple(child_from_document(package, code, c) for c in doc.get("children", ())),
        indexes=tuple(IndexSpec(tuple(i["fields"]), bool(i.get("unique", False)))
                      for i in doc.get("indexes", ())),
        numbering=_numbering(numbering) if numbering else None,
        org_dimension=doc.get("org_dimension"),
        date_dimension=doc.get("date_dimension"),
        person_dimension=doc.get("person_dimension"),
        title_field=doc.get("title_field"),
        key_field=doc.get("key_field"),
        search_fields=tuple(doc.get("search_fields", ())),
        default_sort=tuple(doc.get("default_sort", ("-id",))),
        description=_optional_text(doc.get("description")),
        rules=tuple(rule_from_document(r) for r in doc.get("rules", ())),
        list_view=list_view_from_document(doc["list"]) if "list" in doc else None,
        form=form_from_document(doc["form"]) if "form" in doc else None,
        menu=doc.get("menu"),
    )


def child_from_document(package: str, entity: str, doc: Mapping[str, Any]) -> ChildSpec:
    return ChildSpec(
        code=doc["code"],
        label=_text(doc["name"]),
        fields=tuple(field_from_document(package, f) for f in doc["fields"]),
        table_name=f"{package}_{entity}__{doc['code']}",
        rules=tuple(rule_from_document(r) for r in doc.get("rules", ())),
        totals=tuple(doc["totals"]) if "totals" in doc else None,
    )


def field_from_document(package: str, doc: Mapping[str, Any]) -> FieldSpec:
    kind = doc["type"]
    precision, scale = doc.get("precision"), doc.get("scale")
    if kind == "money" or (kind == "computed" and doc.get("result") == "money"):
        precision = MONEY_PRECISION if precision is None else precision
        scale = MONEY_SCALE if scale is None else scale
    dictionary, entity = doc.get("dictionary"), doc.get("entity")
    return FieldSpec(
        code=doc["code"],
        type=kind,
        label=_text(doc["name"]),
        required=bool(doc.get("required", False)),
        unique=bool(doc.get("unique", False)),
        indexed=bool(doc.get("indexed", False)),
        default=_DEFAULTS.get(kind, _same)(doc.get("default")),
        length=doc.get("length"),
        min_length=doc.get("min_length"),
        precision=precision,
        scale=scale,
        minimum=to_decimal(doc.get("min")),
        maximum=to_decimal(doc.get("max")),
        pattern=doc.get("pattern"),
        dictionary=qualify(package, dictionary) if dictionary else None,
        reference=qualify(package, entity) if entity else None,
        formula=doc.get("formula"),
        renamed_from=doc.get("renamed_from"),
        description=_optional_text(doc.get("description")),
        result=doc.get("result"),
        default_formula=doc.get("default_formula"),
    )


def rule_from_document(doc: Mapping[str, Any]) -> RuleSpec:
    """One validation rule of an entity or child table."""
    return RuleSpec(code=doc["code"], formula=doc["formula"], message=_text(doc["message"]),
                    field=doc.get("field"))


def dictionary_from_document(package: str, doc: Mapping[str, Any]) -> DictionarySpec:
    return DictionarySpec(
        package=package,
        code=doc["code"],
        label=_text(doc["name"]),
        items=tuple(
            DictionaryItemSpec(
                code=i["code"], label=_text(i["name"]), parent=i.get("parent"),
                sort=int(i.get("sort", 0)), valid_from=to_date(i.get("valid_from")),
                valid_to=to_date(i.get("valid_to")), active=bool(i.get("active", True)))
            for i in doc["items"]),
        hierarchical=bool(doc.get("hierarchical", False)),
    )


def seed_from_document(package: str, file: str, doc: Mapping[str, Any], *,
                       entities: Mapping[str, EntitySpec], demo: bool = False) -> SeedSpec:
    """One seed (or demo) file; ``entities`` (by qualified code) supply the
    default key. Rows are frozen; floats become ``Decimal(str(value))``."""
    entity = qualify(package, doc["entity"])
    key = doc.get("key")
    if key is None and entity in entities:
        key = entities[entity].key_field
    return SeedSpec(package=package, entity=entity, key=key,  # type: ignore[arg-type]
                    rows=tuple(_freeze(row) for row in doc["rows"]), file=file, demo=demo)


def with_seed_keys(spec: PackageSpec, entities: Mapping[str, EntitySpec]) -> PackageSpec:
    """Fill seed keys that default to the key field of another package's entity."""
    def fill(seeds: tuple[SeedSpec, ...]) -> tuple[SeedSpec, ...]:
        return tuple(
            replace(s, key=entities[s.entity].key_field)
            if s.key is None and s.entity in entities else s
            for s in seeds)
    return replace(spec, seeds=fill(spec.seeds), demo=fill(spec.demo))


def numbering_tokens(pattern: str) -> list[str]:
    """The ``{…}`` tokens of a numbering pattern, in order.

    Raises ValueError on an unbalanced brace.
    """
    stripped = _TOKEN.sub("", pattern)
    if "{" in stripped or "}" in stripped:
        raise ValueError("unbalanced brace")
    return _TOKEN.findall(pattern)


def finest_reset(tokens: Iterable[str]) -> str:
    """The finest period the date tokens show: dd → day, mm → month,
    yyyy / yy → year, none → never."""
    shown = [_TOKEN_RESET[t] for t in tokens if t in _TOKEN_RESET]
    return max(shown, key=RESETS.index, default="never")


def sequence_width(token: str) -> int | None:
    """``"seq:4"`` → 4; None when the token is not a sequence token."""
    match = _SEQ.match(token)
    return int(match.group(1)) if match else None


def rendered_length(pattern: str) -> int:
    """The length of a number the pattern renders (sequence at its width)."""
    tokens = numbering_tokens(pattern)
    literal = len(_TOKEN.sub("", pattern))
    return literal + sum(_DATE_TOKENS.get(t) or sequence_width(t) or 0 for t in tokens)


def _numbering(doc: Mapping[str, Any]) -> NumberingSpec:
    reset = doc.get("reset")
    if reset is None:
        try:
            reset = finest_reset(numbering_tokens(doc["pattern"]))
        except ValueError:  # reported by the cross-reference check
            reset = "never"
    return NumberingSpec(field=doc["field"], pattern=doc["pattern"], reset=reset)


def to_decimal(value: Any) -> Decimal | None:
    """``0.01`` → ``Decimal("0.01")`` via ``str``; None passes; raises ValueError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        return value
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def to_datetime(value: Any) -> datetime:
    """A ``datetime`` or an ISO string → ``datetime``; raises ValueError."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    raise ValueError(f"not a datetime: {value!r}")


def _lenient(convert: Callable[[Any], Any], *keywords: str) -> Callable[[Any], Any]:
    """Convert a default, keeping keywords (today / now) and values that do not
    convert (the cross-reference check reports those as invalid_default)."""
    def build(value: Any) -> Any:
        if value is None or value in keywords:
            return value
        try:
            return convert(value)
        except (TypeError, ValueError):
            return value
    return build


def _same(value: Any) -> Any:
    return value


_DEFAULTS: Mapping[str, Callable[[Any], Any]] = MappingProxyType({
    "date": _lenient(to_date, "today"),
    "datetime": _lenient(to_datetime, "now"),
    "decimal": _lenient(to_decimal),
    "money": _lenient(to_decimal),
})


def default_problem(f: FieldSpec, value: Any,
                    dictionary: DictionarySpec | None = None) -> Text | None:
    """Why a default literal does not fit its field (None when it fits).

    ``dictionary`` is the enum's dictionary when it is known.
    """
    return _DEFAULT_CHECKS.get(f.type, _no_default)(f, value, dictionary)


def _no_default(f: FieldSpec, value: Any, _d: Any) -> Text:
    return Text(f"{f.type} 类型的字段不能有默认值", f"fields of type {f.type} cannot have a default")


def _expected(zh: str, en: str, value: Any) -> Text:
    return Text(f"默认值应为{zh}，实际为 {value!r}", f"the default must be {en}, not {value!r}")


def _check_text(f: FieldSpec, value: Any, _d: Any) -> Text | None:
    if not isinstance(value, str):
        return _expected("字符串", "a string", value)
    if f.length is not None and len(value) > f.length:
        return Text(f"默认值超过长度 {f.length}", f"the default is longer than {f.length}")
    if f.min_length is not None and len(value) < f.min_length:
        return Text(f"默认值短于 {f.min_length}", f"the default is shorter than {f.min_length}")
    try:
        if f.pattern is not None and re.search(f.pattern, value) is None:
            return Text(f"默认值不符合 pattern {f.pattern}",
                        f"the default does not match the pattern {f.pattern}")
    except re.error:
        return None  # reported as invalid_pattern
    return None


def _check_number(f: FieldSpec, value: Any, _d: Any) -> Text | None:
    if f.type == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return _expected("整数", "an integer", value)
    try:
        number = to_decimal(value)
    except ValueError:
        return _expected("数字", "a number", value)
    assert number is not None
    whole, _, fraction = format(number, "f").lstrip("-").partition(".")
    if f.scale is not None and len(fraction.rstrip("0")) > f.scale:
        return Text(f"默认值的小数位超过 {f.scale} 位", f"the default has more than {f.scale} decimals")
    if f.precision is not None and len(whole.lstrip("0")) > f.precision - (f.scale or 0):
        return Text(f"默认值超出精度 ({f.precision}, {f.scale})",
                    f"the default does not fit precision ({f.precision}, {f.scale})")
    if f.minimum is not None and number < f.minimum:
        return Text(f"默认值不能小于 {f.minimum}", f"the default must be at least {f.minimum}")
    if f.maximum is not None and number > f.maximum:
        return Text(f"默认值不能大于 {f.maximum}", f"the default must be at most {f.maximum}")
    return None


def _check_boolean(f: FieldSpec, value: Any, _d: Any) -> Text | None:
    return None if isinstance(value, bool) else _expected("true 或 false", "true or false", value)


def _check_moment(f: FieldSpec, value: Any, _d: Any) -> Text | None:
    keyword, convert = ("today", to_date) if f.type == "date" else ("now", to_datetime)
    shape = "YYYY-MM-DD" if f.type == "date" else "YYYY-MM-DD HH:MM:SS"
    try:
        if value == keyword or (isinstance(value, str) and convert(value)):
            return None
    except ValueError:
        pass
    return _expected(f"{keyword} 或 {shape}", f"{keyword} or {shape}", value)


def _check_enum(f: FieldSpec, value: Any, dictionary: DictionarySpec | None) -> Text | None:
    if not isinstance(value, str):
        return _expected("字典项编码", "an item code", value)
    if dictionary is not None and dictionary.item(value) is None:
        return Text(f"默认值 {value} 不是字典 {dictionary.qualified_code} 的字典项",
                    f"the default {value!r} is not an item of {dictionary.qualified_code}")
    return None


def _check_code(f: FieldSpec, value: Any, _d: Any) -> Text | None:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        return _expected("1-64 个字符的编码", "a code of 1-64 characters", value)
    return None


_DEFAULT_CHECKS: Mapping[str, Callable[[FieldSpec, Any, Any], Text | None]] = MappingProxyType({
    "string": _check_text, "text": _check_text,
    "integer": _check_number, "decimal": _check_number, "money": _check_number,
    "boolean": _check_boolean, "date": _check_moment, "datetime": _check_moment,
    "enum": _check_enum, "user": _check_code, "org_unit": _check_code,
})


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
