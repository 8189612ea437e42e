"""Cross-reference checks of org data documents (metadata layer).

Each org document of a package is checked against what it may see (see
:class:`~yunying.metadata.org_data.OrgDirectory`): its own package's and the
required packages' declarations, non-demo ones only unless the document is
demo data. Issue codes:

- ``duplicate_code`` — a tree, location, unit or user code declared twice
  (in the package or by another known package); the same head (unit and
  date), assignment (user and unit) or role grant twice in a document; a
  user with two primary assignments;
- ``unknown_tree`` / ``unknown_unit`` / ``unknown_location`` /
  ``unknown_user`` — a code nothing visible declares (the message says when
  only demo data declares it);
- ``unknown_role`` / ``undeclared_dependency`` — a role grant's role;
- ``invalid_location`` — a location whose parent is not of a coarser kind
  (campus → building → floor → area);
- ``invalid_period`` — ``valid_to`` not after ``valid_from``; a parent, head
  or assignment starting when its unit does not exist;
- ``org_cycle`` — units that are their own ancestors in a tree;
- ``invalid_domain`` — a role grant's domain that is not a hospital or
  campus unit (or ``*``).

When an org document of a package in view failed its schema, codes it may
declare are not reported unknown (the schema issue stands for them).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Iterator, Mapping

from yunying.metadata.issues import json_path
from yunying.metadata.org_data import (
    ANY_DOMAIN, DOMAIN_TYPES, LOCATION_KINDS, ORG_KINDS, OrgDirectory, required_closure,
)
from yunying.metadata.roles import BUILTIN_ROLES
from yunying.metadata.spec import OrgDataSpec, OrgUnitSpec
from yunying.metadata.yaml_source import Source
from yunying.platform.i18n import Text

if TYPE_CHECKING:
    from yunying.metadata.crossref import Checker

__all__ = ["check_org", "visible_trees"]

_NAMES: Mapping[str, Text] = {
    "tree": Text("组织树", "org tree"), "location": Text("位置", "location"),
    "unit": Text("组织单元", "org unit"), "user": Text("用户", "user")}


def _in_view(check: Checker) -> tuple[frozenset[str], bool]:
    """The packages whose org data the package sees (itself and what it
    requires), and whether that view is incomplete: a required package is
    missing or broken, or an org document in view failed its schema — then
    codes are not reported unknown (those problems are reported already)."""
    known = check.known
    closure = required_closure(check.spec.code, known.packages)
    incomplete = any(p not in known.packages for p in closure) or bool(
        closure & (known.broken_packages | known.broken_org))
    return closure, incomplete


def visible_trees(check: Checker, directory: OrgDirectory) -> frozenset[str] | None:
    """The tree codes the package's roles may name; None when the view is
    incomplete (see :func:`_in_view`: every tree might exist)."""
    closure, incomplete = _in_view(check)
    return None if incomplete else directory.codes("tree", closure, demo=False)


def check_org(check: Checker, sources: Mapping[str, Source], directory: OrgDirectory) -> None:
    """Check every org document of ``check.spec``."""
    closure, lenient = _in_view(check)
    for org in check.spec.org:
        _Document(check, sources[org.file], org, directory, closure, lenient).run()


class _Document:
    """The checks of one org document."""

    def __init__(self, check: Checker, source: Source, org: OrgDataSpec,
                 directory: OrgDirectory, closure: frozenset[str], lenient: bool) -> None:
        self.check, self.source, self.org = check, source, org
        self.directory, self.closure, self.lenient = directory, closure, lenient

    def add(self, code: str, path: str, zh: str, en: str) -> None:
        self.check.add(self.source, code, path, zh, en)

    def run(self) -> None:
        self.duplicates()
        self.locations()
        for i, unit in enumerate(self.org.units):
            self.unit(i, unit)
        self.heads()
        self.assignments()
        self.role_grants()

    # -- lookups -----------------------------------------------------------------

    def find(self, kind: str, code: str, path: str):
        """The spec ``code`` declares for this document, or None (reported)."""
        usable, hidden = self.directory.visible(kind, code, self.closure, self.org.demo)
        if usable is not None:
            return usable.spec
        if self.lenient:
            return None
        name = _NAMES[kind]
        if hidden is not None:
            self.add(f"unknown_{kind}", path,
                     f"{name.zh} {code} 只在演示数据 {hidden.where} 中声明，非演示数据不能引用它",
                     f"{name.en} {code!r} is declared only in demo data ({hidden.where}); "
                     f"a document that is not demo data cannot use it")
        else:
            self.add(f"unknown_{kind}", path,
                     f"{name.zh} {code} 未在本包或其依赖包的组织数据中声明",
                     f"{name.en} {code!r} is not declared by the org data of this package "
                     f"or of a package it requires")
        return None

    # -- declarations ------------------------------------------------------------

    def duplicates(self) -> None:
        package, file = self.check.spec.code, self.org.file
        for kind, key in ORG_KINDS.items():
            for i, item in enumerate(getattr(self.org, key)):
                others = [d for d in self.directory.declarations(kind, item.code)
                          if (d.package, d.file, d.index) != (package, file, i)]
                earlier = next((d for d in others if d.package != package or
                                (d.file, d.index) < (file, i)), None)
                if earlier is not None:
                    name = _NAMES[kind]
                    self.add("duplicate_code", f"$.{key}[{i}].code",
                             f"{name.zh}编码 {item.code} 已在 {earlier.where} 中声明",
                             f"{name.en} code {item.code!r} is already declared in "
                             f"{earlier.where}")

    def locations(self) -> None:
        for i, loc in enumerate(self.org.locations):
            if loc.parent is None:
                continue
            path = f"$.locations[{i}].parent"
            parent = self.find("location", loc.parent, path)
            if parent is not None and (
                    LOCATION_KINDS.index(parent.kind) >= LOCATION_KINDS.index(loc.kind)):
                order = " → ".join(LOCATION_KINDS)
                self.add("invalid_location", path,
                         f"位置 {loc.code}（{loc.kind}）的上级 {parent.code} 是 {parent.kind}，"
                         f"上级必须是更大的类别（{order}）",
                         f"the parent of location {loc.code} ({loc.kind}) is {parent.code}, "
                         f"a {parent.kind}; a parent must be of a larger kind ({order})")

    # -- units -------------------------------------------------------------------

    def unit(self, i: int, unit: OrgUnitSpec) -> None:
        path = f"$.units[{i}]"
        self.period(f"{path}.valid_to", unit.valid_from, unit.valid_to)
        if unit.location is not None:
            self.find("location", unit.location, f"{path}.location")
        written = self.source.data["units"][i].get("parents", {})
        for tree in written:
            where = path + json_path(["parents", tree])[1:]
            self.find("tree", tree, where)
            parent = unit.parents.get(tree)
            if parent is None:
                continue
            found = self.find("unit", parent, where)
            if found is not None:
                self.starts_within(where, unit.valid_from, found, Text(
                    f"{unit.code} 在组织树 {tree} 中的上级关系",
                    f"the parent of {unit.code} in tree {tree!r}"))
                self.cycle(where, tree, unit.code)

    def cycle(self, path: str, tree: str, code: str) -> None:
        """Report when walking up ``tree`` from ``code`` comes back to it."""
        chain = [code]
        for current in self.ancestors(tree, code):
            if current == code:
                ring = " → ".join([*chain, code])
                self.add("org_cycle", path, f"组织树 {tree} 中的上级关系形成循环：{ring}",
                         f"parents in tree {tree!r} form a cycle: {ring}")
                return
            if current in chain:
                return  # a cycle above this unit: reported on its own units
            chain.append(current)

    def ancestors(self, tree: str, code: str) -> Iterator[str]:
        current: str | None = code
        while current is not None:
            usable, _ = self.directory.visible("unit", current, self.closure, self.org.demo)
            current = usable.spec.parents.get(tree) if usable is not None else None
            if current is not None:
                yield current

    def period(self, path: str, start: date, end: date | None) -> None:
        if end is not None and end <= start:
            self.add("invalid_period", path, f"失效日期 {end} 必须晚于生效日期 {start}",
                     f"valid_to {end} must be after valid_from {start}")

    def starts_within(self, path: str, on: date, unit: OrgUnitSpec, what: Text) -> None:
        """``what`` starts on ``on``: ``unit`` must exist that day."""
        if on < unit.valid_from or (unit.valid_to is not None and on >= unit.valid_to):
            zh, en = (("长期", "open-ended") if unit.valid_to is None
                      else (f"至 {unit.valid_to}", f"until {unit.valid_to}"))
            self.add("invalid_period", path,
                     f"{what.zh}始于 {on}，而组织单元 {unit.code} 的有效期为 "
                     f"{unit.valid_from} 起{zh}",
                     f"{what.en} starts on {on}, when org unit {unit.code} does not exist "
                     f"(it is valid from {unit.valid_from}, {en})")

    # -- people ------------------------------------------------------------------

    def heads(self) -> None:
        seen: set[tuple[str, date]] = set()
        for i, head in enumerate(self.org.heads):
            path = f"$.heads[{i}]"
            self.find("user", head.user, f"{path}.user")
            unit = self.find("unit", head.unit, f"{path}.unit")
            if unit is not None:
                self.starts_within(f"{path}.valid_from", head.valid_from, unit, Text(
                    f"{head.unit} 的负责人任期", f"the head of {head.unit}"))
            if (head.unit, head.valid_from) in seen:
                self.add("duplicate_code", path,
                         f"组织单元 {head.unit} 在 {head.valid_from} 已有负责人",
                         f"org unit {head.unit} already has a head from {head.valid_from}")
            seen.add((head.unit, head.valid_from))

    def assignments(self) -> None:
        seen: set[tuple[str, str]] = set()
        primary: set[str] = set()
        for i, a in enumerate(self.org.assignments):
            path = f"$.assignments[{i}]"
            self.find("user", a.user, f"{path}.user")
            unit = self.find("unit", a.unit, f"{path}.unit")
            if unit is not None:
                self.starts_within(f"{path}.valid_from", a.valid_from, unit, Text(
                    f"{a.user} 的岗位分配", f"the assignment of {a.user}"))
            if (a.user, a.unit) in seen:
                self.add("duplicate_code", f"{path}.unit",
                         f"用户 {a.user} 已分配到 {a.unit}",
                         f"user {a.user} is already assigned to {a.unit}")
            elif a.primary and a.user in primary:
                self.add("duplicate_code", f"{path}.primary",
                         f"用户 {a.user} 已有主岗；每人只有一个主岗，其余写 primary: false",
                         f"user {a.user} already has a primary unit; write primary: false "
                         f"for the others")
            seen.add((a.user, a.unit))
            if a.primary:
                primary.add(a.user)

    def role_grants(self) -> None:
        seen: set[tuple[str, str, str]] = set()
        for i, grant in enumerate(self.org.role_grants):
            path = f"$.role_grants[{i}]"
            self.find("user", grant.user, f"{path}.user")
            if grant.role not in BUILTIN_ROLES:
                self.check.resolve(self.source, f"{path}.role", grant.role, "role")
            if grant.domain != ANY_DOMAIN:
                self.domain(f"{path}.domain", grant.domain)
            key = (grant.user, grant.role, grant.domain)
            if key in seen:
                self.add("duplicate_code", path,
                         f"用户 {grant.user} 已在 {grant.domain} 拥有角色 {grant.role}",
                         f"user {grant.user} already holds {grant.role} in {grant.domain}")
            seen.add(key)

    def domain(self, path: str, code: str) -> None:
        unit = self.find("unit", code, path)
        if unit is not None and unit.type not in DOMAIN_TYPES:
            self.add("invalid_domain", path,
                     f"角色的适用范围必须是医院或院区（或 *），{code} 的类型为 {unit.type}",
                     f"a role's domain must be a hospital or campus unit (or *); "
                     f"{code} is a {unit.type}")
