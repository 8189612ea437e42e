"""Cross-reference checks of schema-valid packages (metadata layer).

After every file has passed its JSON Schema, these checks look across files
and packages: duplicate codes, references to unknown entities, dictionaries
and fields, undeclared or unsatisfied requirements, reserved field codes,
defaults that do not fit their field, invalid patterns, numbering rules and
dimensions (org, date, person), dictionary parents, seed rows naming unknown
fields, rule codes and fields, the reserved package code ``platform``; then
the checks of
roles (:mod:`yunying.metadata.roles`), workflows
(:mod:`yunying.metadata.workflow_check`, :mod:`yunying.metadata.chain_check`),
posting rules (:mod:`yunying.metadata.posting_check`), indicators
(:mod:`yunying.metadata.indicator_check`) and org data
(:mod:`yunying.metadata.org_check`), which report through the same
:class:`Checker`. Each finding is an :class:`Issue` located by file, JSON
path and line; nothing stops at the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from yunying.metadata.builder import (
    RESETS, default_problem, finest_reset, numbering_tokens, rendered_length,
    sequence_width,
)
from yunying.metadata.indicator_check import check_indicators
from yunying.metadata.issues import Issue
from yunying.metadata.org_check import check_org, visible_trees
from yunying.metadata.org_data import OrgDirectory
from yunying.metadata.posting_check import check_postings
from yunying.metadata.roles import check_roles
from yunying.metadata.spec import (
    CHILD_SYSTEM_COLUMNS, SYSTEM_COLUMNS, DictionarySpec, EntitySpec, FieldSpec,
    PackageSpec, RuleSpec, split_qualified,
)
from yunying.metadata.versions import parse_range, satisfies
from yunying.metadata.view_check import check_views
from yunying.metadata.workflow_check import check_workflows
from yunying.metadata.yaml_source import Source
from yunying.platform.errors import YunyingError
from yunying.platform.i18n import Text

__all__ = ["PackageSources", "Known", "Checker", "check_package", "RESERVED_PACKAGES"]

#: package codes a package may not take: ``platform`` names the platform's own
#: roles (``platform.admin``) and the casbin object of platform actions.
RESERVED_PACKAGES = ("platform",)

_CHILD_RESERVED = frozenset(SYSTEM_COLUMNS) | frozenset(CHILD_SYSTEM_COLUMNS)
_FINDERS: Mapping[str, Callable[[PackageSpec, str], Any]] = MappingProxyType({
    "entity": PackageSpec.entity, "dictionary": PackageSpec.dictionary,
    "role": PackageSpec.role, "posting": PackageSpec.posting})
_KIND_NAMES = MappingProxyType({"entity": "实体", "dictionary": "字典", "role": "角色",
                                "posting": "记账规则"})
_KIND_EN = MappingProxyType({"posting": "posting rule"})
_DATE_TYPES = ("date", "datetime")
_SKIP = object()  # a reference into something broken or missing: already reported


@dataclass(frozen=True)
class PackageSources:
    """The schema-valid sources of one package, keyed like its documents."""

    code: str
    manifest: Source
    entities: Mapping[str, Source] = field(default_factory=dict)
    dictionaries: Mapping[str, Source] = field(default_factory=dict)
    seeds: Mapping[str, Source] = field(default_factory=dict)   # seed and demo, by file
    roles: Mapping[str, Source] = field(default_factory=dict)
    org: Mapping[str, Source] = field(default_factory=dict)     # by file
    workflows: Mapping[str, Source] = field(default_factory=dict)
    postings: Mapping[str, Source] = field(default_factory=dict)
    indicators: Mapping[str, Source] = field(default_factory=dict)
    generators: Mapping[str, Source] = field(default_factory=dict)


@dataclass(frozen=True)
class Known:
    """What references resolve against: installed and loaded packages, plus
    items that exist but failed their schema (not reported twice), and the
    packages with an org document that failed its schema."""

    packages: Mapping[str, PackageSpec]
    broken_packages: frozenset[str] = frozenset()
    broken_items: frozenset[tuple[str, str]] = frozenset()   # (kind, qualified code)
    broken_org: frozenset[str] = frozenset()


def check_package(spec: PackageSpec, sources: PackageSources, known: Known) -> list[Issue]:
    """Every cross-reference issue of one package, in file order."""
    check = Checker(spec, known)
    check.requirements(sources.manifest)
    for dictionary in spec.dictionaries:
        check.dictionary(dictionary, sources.dictionaries[dictionary.code])
    for entity in spec.entities:
        check.entity(entity, sources.entities[entity.code])
    directory = OrgDirectory(known.packages.values())
    trees = visible_trees(check, directory)
    check_roles(check, sources.roles, trees)
    check_workflows(check, sources.workflows, trees)
    check_postings(check, sources.postings)
    check_indicators(check, sources.indicators)
    for seed in (*spec.seeds, *spec.demo):
        check.seed(seed.entity, sources.seeds[seed.file])
    check_org(check, sources.org, directory)
    return check.issues


class Checker:
    """The checks of one package; collects issues in ``self.issues``."""

    def __init__(self, spec: PackageSpec, known: Known) -> None:
        self.spec = spec
        self.known = known
        self.required = {r.package for r in spec.requires}
        self.issues: list[Issue] = []

    def add(self, source: Source, code: str, path: str, zh: str, en: str) -> None:
        self.issues.append(source.issue(code, path, Text(zh, en), package=self.spec.code))

    # -- package ---------------------------------------------------------------

    def requirements(self, source: Source) -> None:
        if self.spec.code in RESERVED_PACKAGES:
            self.add(source, "reserved_code", "$.code",
                     f"包编码 {self.spec.code} 保留给平台自身，请换一个编码",
                     f"the package code {self.spec.code!r} is reserved for the platform; "
                     f"choose another code")
        for req in self.spec.requires:
            path = f"$.requires.{req.package}"
            try:
                parse_range(req.spec)
            except YunyingError as exc:
                self.add(source, "schema", path, exc.message.zh, exc.message.en)
                continue
            target = self.known.packages.get(req.package)
            if req.package in self.known.broken_packages or req.package == self.spec.code:
                continue
            if target is None:
                self.add(source, "requirement_unsatisfied", path,
                         f"需要的包 {req.package} 既未安装也不在本次安装之列",
                         f"required package {req.package} is neither installed nor being installed")
            elif not satisfies(target.version, req.spec):
                self.add(source, "requirement_unsatisfied", path,
                         f"需要 {req.package} {req.spec}，但可用版本为 {target.version}",
                         f"requires {req.package} {req.spec}, but {target.version} is available")

    def resolve(self, source: Source, path: str, qualified: str, kind: str) -> Any:
        """The entity / dictionary / role a reference names, None when unknown
        (reported), or _SKIP when its package or item is broken or missing
        (reported elsewhere)."""
        package, code = split_qualified(qualified)
        if package != self.spec.code and package not in self.required:
            self.add(source, "undeclared_dependency", path,
                     f"引用了包 {package}，但 requires 中未声明",
                     f"refers to package {package}, which `requires` does not name")
            return None
        target = self.known.packages.get(package)
        if (package in self.known.broken_packages or (kind, qualified) in self.known.broken_items
                or target is None):
            return _SKIP
        found = _FINDERS[kind](target, code)
        if found is None:
            self.add(source, f"unknown_{kind}", path, f"未知的{_KIND_NAMES[kind]} {qualified}",
                     f"unknown {_KIND_EN.get(kind, kind)} {qualified}")
        return found

    # -- dictionaries ----------------------------------------------------------

    def dictionary(self, spec: DictionarySpec, source: Source) -> None:
        codes: set[str] = set()
        for i, item in enumerate(spec.items):
            if item.code in codes:
                self.add(source, "duplicate_code", f"$.items[{i}].code",
                         f"字典项编码 {item.code} 重复", f"duplicate item code {item.code!r}")
            codes.add(item.code)
            if item.valid_from and item.valid_to and item.valid_from > item.valid_to:
                self.add(source, "schema", f"$.items[{i}].valid_to",
                         "valid_to 早于 valid_from", "valid_to is before valid_from")
        parents = {item.code: item.parent for item in spec.items}
        for i, item in enumerate(spec.items):
            if item.parent is not None:
                self._parent(spec, source, i, item.code, parents)

    def _parent(self, spec: DictionarySpec, source: Source, index: int, code: str,
                parents: Mapping[str, str | None]) -> None:
        path, parent = f"$.items[{index}].parent", parents[code]
        if not spec.hierarchical:
            self.add(source, "unknown_parent", path, "非层级字典的字典项不能有上级",
                     "items of a dictionary that is not hierarchical cannot have a parent")
        elif parent not in parents:
            self.add(source, "unknown_parent", path, f"上级 {parent} 不在此字典中",
                     f"parent {parent!r} is not an item of this dictionary")
        else:
            seen, current = {code}, parent
            while current is not None and current in parents and current not in seen:
                seen.add(current)
                current = parents[current]
            if current == code:
                self.add(source, "unknown_parent", path, f"字典项 {code} 的上级链形成循环",
                         f"the parent chain of item {code!r} loops back to it")

    # -- entities --------------------------------------------------------------

    def entity(self, spec: EntitySpec, source: Source) -> None:
        self.fields(spec.fields, source, "$.fields", frozenset(SYSTEM_COLUMNS))
        field_codes = {f.code for f in spec.fields}
        child_codes: set[str] = set()
        for j, child in enumerate(spec.children):
            path = f"$.children[{j}]"
            if child.code in child_codes or child.code in field_codes:
                self.add(source, "duplicate_code", f"{path}.code",
                         f"子表编码 {child.code} 与其他子表或字段重复",
                         f"child code {child.code!r} repeats another child's or a field's code")
            child_codes.add(child.code)
            self.fields(child.fields, source, f"{path}.fields", _CHILD_RESERVED)
            self.rules(child.rules, child.fields, source, path)
        self.rules(spec.rules, spec.fields, source, "$")
        self.entity_fields(spec, source)
        self.dimensions(spec, source)
        if spec.numbering is not None:
            self.numbering(spec, source)
        check_views(self, spec, source)

    def fields(self, fields: tuple[FieldSpec, ...], source: Source, prefix: str,
               reserved: frozenset[str]) -> None:
        seen: set[str] = set()
        for i, f in enumerate(fields):
            path = f"{prefix}[{i}]"
            if f.code in seen:
                self.add(source, "duplicate_code", f"{path}.code",
                         f"字段编码 {f.code} 重复", f"duplicate field code {f.code!r}")
            seen.add(f.code)
            if f.code in reserved:
                self.add(source, "reserved_field", f"{path}.code",
                         f"{f.code} 是系统列，不能用作字段编码",
                         f"{f.code!r} is a system column and cannot be a field code")
            self.field(f, source, path)

    def field(self, f: FieldSpec, source: Source, path: str) -> None:
        dictionary = None
        if f.default is not None and f.default_formula is not None:
            self.add(source, "schema", f"{path}.default_formula",
                     "default 与 default_formula 只能二选一",
                     "a field has either a default or a default_formula, not both")
        if f.dictionary:
            dictionary = self.resolve(source, f"{path}.dictionary", f.dictionary, "dictionary")
        if f.reference:
            self.resolve(source, f"{path}.entity", f.reference, "entity")
        if f.pattern is not None:
            try:
                re.compile(f.pattern)
            except re.error as exc:
                self.add(source, "invalid_pattern", f"{path}.pattern",
                         f"无效的正则表达式：{exc}", f"invalid regular expression: {exc}")
        self.bounds(f, source, path)
        raw = _document_at(source, path).get("default")
        if raw is not None:
            items = dictionary if isinstance(dictionary, DictionarySpec) else None
            problem = default_problem(f, raw, items)
            if problem is not None:
                self.add(source, "invalid_default", f"{path}.default", problem.zh, problem.en)

    def rules(self, rules: tuple[RuleSpec, ...], fields: tuple[FieldSpec, ...],
              source: Source, prefix: str) -> None:
        """Rule codes are unique; a rule's field is a field of its table."""
        codes: set[str] = set()
        known = {f.code for f in fields}
        for k, rule in enumerate(rules):
            path = f"{prefix}.rules[{k}]"
            if rule.code in codes:
                self.add(source, "duplicate_code", f"{path}.code",
                         f"规则编码 {rule.code} 重复", f"duplicate rule code {rule.code!r}")
            codes.add(rule.code)
            if rule.field is not None and rule.field not in known:
                self.add(source, "unknown_field", f"{path}.field",
                         f"规则 {rule.code} 的字段 {rule.field} 不存在",
                         f"rule {rule.code!r} names the field {rule.field!r}, which does not exist")

    def bounds(self, f: FieldSpec, source: Source, path: str) -> None:
        """Relations between limits that a JSON Schema cannot state."""
        if f.precision is not None and f.scale is not None and f.scale > f.precision:
            self.add(source, "schema", f"{path}.scale", f"小数位数 {f.scale} 超过精度 {f.precision}",
                     f"scale {f.scale} exceeds precision {f.precision}")
        if f.minimum is not None and f.maximum is not None and f.minimum > f.maximum:
            self.add(source, "schema", f"{path}.max", f"max {f.maximum} 小于 min {f.minimum}",
                     f"max {f.maximum} is less than min {f.minimum}")
        if f.min_length is not None and f.length is not None and f.min_length > f.length:
            self.add(source, "schema", f"{path}.min_length",
                     f"min_length {f.min_length} 超过 length {f.length}",
                     f"min_length {f.min_length} exceeds length {f.length}")

    def entity_fields(self, spec: EntitySpec, source: Source) -> None:
        """Key, title, search, sort and index fields must exist."""
        if spec.key_field is not None:
            key = spec.field(spec.key_field)
            if key is None or not key.unique:
                self.add(source, "unknown_field", "$.key_field",
                         f"key_field {spec.key_field} 必须是本实体的唯一字段（unique: true）",
                         f"key_field {spec.key_field!r} must be a unique field of this entity")
        if spec.title_field is not None:
            self.known_field(spec, source, "$.title_field", spec.title_field)
        for k, code in enumerate(spec.search_fields):
            self.known_field(spec, source, f"$.search_fields[{k}]", code)
        for k, code in enumerate(spec.default_sort):
            if code.lstrip("-") not in SYSTEM_COLUMNS:
                self.known_field(spec, source, f"$.default_sort[{k}]", code.lstrip("-"))
        for k, index in enumerate(spec.indexes):
            for m, code in enumerate(index.fields):
                self.known_field(spec, source, f"$.indexes[{k}].fields[{m}]", code)

    def known_field(self, spec: EntitySpec, source: Source, path: str,
                    code: str) -> FieldSpec | None:
        found = spec.field(code)
        if found is None:
            self.add(source, "unknown_field", path, f"实体 {spec.code} 没有字段 {code}",
                     f"entity {spec.code} has no field {code!r}")
        return found

    def dimensions(self, spec: EntitySpec, source: Source) -> None:
        for key, code, types, zh, en in (
                ("org_dimension", spec.org_dimension, ("org_unit",), "组织维度应为 org_unit 字段",
                 "the org dimension must be an org_unit field"),
                ("date_dimension", spec.date_dimension, _DATE_TYPES,
                 "日期维度应为 date 或 datetime 字段",
                 "the date dimension must be a date or datetime field"),
                ("person_dimension", spec.person_dimension, ("user",),
                 "人员维度应为 user 字段", "the person dimension must be a user field")):
            if code is None:
                continue
            found = self.known_field(spec, source, f"$.{key}", code)
            if found is not None and found.type not in types:
                self.add(source, "invalid_dimension", f"$.{key}", f"{zh}（{code} 为 {found.type}）",
                         f"{en} ({code!r} is {found.type})")

    def numbering(self, spec: EntitySpec, source: Source) -> None:
        rule = spec.numbering
        assert rule is not None
        target = self.known_field(spec, source, "$.numbering.field", rule.field)
        if target is not None and target.type != "string":
            self.add(source, "invalid_numbering", "$.numbering.field",
                     f"编号字段 {rule.field} 必须是 string 字段（当前为 {target.type}）",
                     f"the numbering field {rule.field!r} must be a string field, "
                     f"not {target.type}")
        problem = _pattern_problem(rule.pattern)
        if problem is not None:
            self.add(source, "invalid_numbering", "$.numbering.pattern", problem.zh, problem.en)
            return
        shown = finest_reset(numbering_tokens(rule.pattern))
        if RESETS.index(rule.reset) > RESETS.index(shown):
            self.add(source, "invalid_numbering", "$.numbering.reset",
                     f"按 {rule.reset} 重置需要编号格式中含有对应的日期标记（当前最细为 {shown}）",
                     f"a {rule.reset} reset needs the pattern to show that period "
                     f"(its finest date token gives {shown})")
        width = rendered_length(rule.pattern)
        if target is not None and target.length is not None and width > target.length:
            self.add(source, "invalid_numbering", "$.numbering.pattern",
                     f"生成的编号长 {width} 个字符，超过字段长度 {target.length}",
                     f"numbers are {width} characters long, more than the field's length "
                     f"{target.length}")

    # -- seed and demo ---------------------------------------------------------

    def seed(self, entity: str, source: Source) -> None:
        spec = self.resolve(source, "$.entity", entity, "entity")
        if not isinstance(spec, EntitySpec):
            return
        if "key" in source.data:
            found = spec.field(source.data["key"])
            if found is None or not found.unique:
                self.add(source, "unknown_field", "$.key",
                         f"key {source.data['key']} 必须是实体 {spec.code} 的唯一字段",
                         f"key {source.data['key']!r} must be a unique field of {spec.code}")
        fields = {f.code for f in spec.fields}
        children = {c.code: {f.code for f in c.fields} for c in spec.children}
        for i, row in enumerate(source.data["rows"]):
            self.row(source, f"$.rows[{i}]", row, fields, children, spec.code)

    def row(self, source: Source, path: str, row: Mapping[str, Any], fields: set[str],
            children: Mapping[str, set[str]], entity: str) -> None:
        for name, value in row.items():
            if name in fields:
                continue
            if name not in children:
                self.add(source, "unknown_field", f"{path}.{name}",
                         f"实体 {entity} 没有字段或子表 {name}",
                         f"entity {entity} has no field or child table {name!r}")
            elif not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                self.add(source, "schema", f"{path}.{name}", f"子表 {name} 的值应为行的列表",
                         f"child table {name!r} needs a list of lines (key: value)")
            else:
                for n, line in enumerate(value):
                    self.row(source, f"{path}.{name}[{n}]", line, children[name], {}, entity)


def _document_at(source: Source, path: str) -> Mapping[str, Any]:
    """The mapping at a ``$.a[1].b`` path of the source (fields, children)."""
    node: Any = source.data
    for name, index in re.findall(r"\.([a-z_]+)|\[(\d+)\]", path):
        node = node[name] if name else node[int(index)]
    return node if isinstance(node, Mapping) else MappingProxyType({})


def _pattern_problem(pattern: str) -> Text | None:
    try:
        tokens = numbering_tokens(pattern)
    except ValueError:
        return Text("编号格式中的花括号不配对", "the numbering pattern has an unbalanced brace")
    unknown = [t for t in tokens if t not in ("yyyy", "yy", "mm", "dd")
               and sequence_width(t) is None]
    if unknown:
        listed = ", ".join("{" + t + "}" for t in unknown)
        return Text(f"未知的编号标记 {listed}；可用 {{yyyy}} {{yy}} {{mm}} {{dd}} {{seq:N}}（N 为 1-9）",
                    f"unknown numbering token(s) {listed}; use {{yyyy}} {{yy}} {{mm}} {{dd}} "
                    f"{{seq:N}} (N from 1 to 9)")
    sequences = sum(1 for t in tokens if sequence_width(t) is not None)
    if sequences != 1:
        return Text(f"编号格式必须恰好含有一个 {{seq:N}}（当前 {sequences} 个）",
                    f"the numbering pattern needs exactly one {{seq:N}} (found {sequences})")
    return None
