"""Org data documents (``org/*.yaml``): building org data specs and seeing
what they declare (metadata layer).

An org document ships organisation data with a package: relation trees,
locations, org units with their parents and location, heads, users (never
passwords), staff assignments and role grants. ``demo: true`` documents are
loaded only with demo data.

Org codes (trees, locations, units, users) are global — the platform tables
key them by code — so, unlike entities, they are not qualified by package.
:class:`OrgDirectory` indexes every declaration of the known packages so the
checks (:mod:`yunying.metadata.org_check`) can tell what one document may
refer to: what its own package and the packages it requires (transitively)
declare, and, for a non-demo document, only what non-demo documents declare
(a demo document may also use demo declarations).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from yunying.metadata.convert import text, to_date
from yunying.metadata.spec import (
    AssignmentSpec, LocationSpec, OrgDataSpec, OrgHeadSpec, OrgTreeSpec, OrgUnitSpec,
    OrgUserSpec, PackageSpec, RoleGrantSpec, qualify,
)
from yunying.platform.org import LOCATION_KINDS, TREE_KINDS

__all__ = ["UNIT_TYPES", "TREE_KINDS", "LOCATION_KINDS", "ANY_DOMAIN", "DOMAIN_TYPES",
           "ORG_KINDS", "org_from_document", "required_closure", "Declaration",
           "OrgDirectory"]

#: the types an org unit may have.
UNIT_TYPES = ("hospital", "campus", "department", "ward", "team", "group", "other")
#: the unit types a role may be held in (a domain), besides ANY_DOMAIN.
DOMAIN_TYPES = ("hospital", "campus")
#: a role grant in this domain applies in every domain.
ANY_DOMAIN = "*"
#: the kinds of org codes a document declares, with the document key holding them.
ORG_KINDS: Mapping[str, str] = MappingProxyType({
    "tree": "trees", "location": "locations", "unit": "units", "user": "users"})


def org_from_document(package: str, file: str, doc: Mapping[str, Any]) -> OrgDataSpec:
    """The org data spec of a validated org document. A unit's ``parents``
    keep only the trees with a parent (``null`` = a root: no edge)."""
    return OrgDataSpec(
        package=package,
        file=file,
        demo=bool(doc.get("demo", False)),
        trees=tuple(OrgTreeSpec(t["code"], text(t["name"]), t["kind"])
                    for t in doc.get("trees", ())),
        locations=tuple(LocationSpec(loc["code"], text(loc["name"]), loc["kind"],
                                     loc.get("parent"))
                        for loc in doc.get("locations", ())),
        units=tuple(_unit(u) for u in doc.get("units", ())),
        heads=tuple(OrgHeadSpec(h["unit"], h["user"], _date(h["valid_from"]))
                    for h in doc.get("heads", ())),
        users=tuple(OrgUserSpec(u["code"], text(u["name"])) for u in doc.get("users", ())),
        assignments=tuple(
            AssignmentSpec(a["user"], a["unit"], _date(a["valid_from"]),
                           bool(a.get("primary", True)))
            for a in doc.get("assignments", ())),
        role_grants=tuple(
            RoleGrantSpec(g["user"], qualify(package, g["role"]), g.get("domain", ANY_DOMAIN))
            for g in doc.get("role_grants", ())),
    )


def _unit(doc: Mapping[str, Any]) -> OrgUnitSpec:
    parents = {tree: parent for tree, parent in doc.get("parents", {}).items()
               if parent is not None}
    return OrgUnitSpec(
        code=doc["code"], label=text(doc["name"]), type=doc["type"],
        valid_from=_date(doc["valid_from"]), valid_to=to_date(doc.get("valid_to")),
        location=doc.get("location"), parents=MappingProxyType(parents))


def _date(value: Any) -> Any:
    found = to_date(value)
    if found is None:
        raise ValueError("a date is required")
    return found


def required_closure(code: str, packages: Mapping[str, PackageSpec]) -> frozenset[str]:
    """``code`` and every package it requires, directly or through known
    packages (a required package that is not known is included, not followed)."""
    seen = {code}
    todo = [code]
    while todo:
        spec = packages.get(todo.pop())
        for req in spec.requires if spec is not None else ():
            if req.package not in seen:
                seen.add(req.package)
                todo.append(req.package)
    return frozenset(seen)


@dataclass(frozen=True)
class Declaration:
    """Where one org code is declared: its package, document, demo flag,
    index in the document's list, and the declared spec."""

    kind: str
    code: str
    package: str
    file: str
    demo: bool
    index: int
    spec: Any

    @property
    def where(self) -> str:
        return f"{self.package}/{self.file}"


class OrgDirectory:
    """Every org declaration of a set of packages, by kind and code (in
    package order, then file, then position); immutable once built."""

    def __init__(self, packages: Iterable[PackageSpec]) -> None:
        found: dict[str, dict[str, list[Declaration]]] = {kind: {} for kind in ORG_KINDS}
        for spec in packages:
            for org in spec.org:
                for kind, key in ORG_KINDS.items():
                    for index, item in enumerate(getattr(org, key)):
                        found[kind].setdefault(item.code, []).append(Declaration(
                            kind, item.code, spec.code, org.file, org.demo, index, item))
        self._found = {kind: MappingProxyType({c: tuple(d) for c, d in codes.items()})
                       for kind, codes in found.items()}

    def declarations(self, kind: str, code: str) -> tuple[Declaration, ...]:
        return self._found[kind].get(code, ())

    def visible(self, kind: str, code: str, packages: frozenset[str],
                demo: bool) -> tuple[Declaration | None, Declaration | None]:
        """The first declaration of ``code`` in ``packages`` a document sees
        (non-demo ones, and demo ones when the document is demo data), and the
        first demo declaration hidden from a non-demo document."""
        seen = [d for d in self.declarations(kind, code) if d.package in packages]
        usable = next((d for d in seen if demo or not d.demo), None)
        hidden = next((d for d in seen if d.demo), None) if usable is None else None
        return usable, hidden

    def codes(self, kind: str, packages: frozenset[str], demo: bool) -> frozenset[str]:
        """Every code of ``kind`` a document of those packages sees."""
        return frozenset(
            code for code, found in self._found[kind].items()
            if any(d.package in packages and (demo or not d.demo) for d in found))
