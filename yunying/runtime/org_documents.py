"""Org data documents as a whole (runtime layer): the order locations are
written in, and what the previously installed version of a package declared.

Helpers of :mod:`yunying.runtime.org_seed`, kept apart so the upsert reads
as one list of steps.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from yunying.metadata.spec import OrgDataSpec, OrgUnitSpec

__all__ = ["location_order", "Previous"]

Located = tuple[OrgDataSpec, str, Any]   # document, JSON path, item


def location_order(items: Sequence[Located]) -> tuple[list[Located], list[Located]]:
    """The located locations with every parent declared in the documents
    before its children (otherwise in document order), and those whose
    parents form a cycle (never written)."""
    pending = list(items)
    declared = {item.code for _, _, item in pending}
    done: set[str] = set()
    ordered: list[Located] = []
    while pending:
        ready = [e for e in pending
                 if e[2].parent is None or e[2].parent not in declared or e[2].parent in done]
        if not ready:
            return ordered, pending
        ordered.extend(ready)
        done.update(e[2].code for e in ready)
        pending = [e for e in pending if e not in ready]
    return ordered, []


#: what one aspect of a unit is, for comparing two versions of it.
_ASPECTS: dict[str, Callable[[OrgUnitSpec, str | None], Any]] = {
    "names": lambda unit, _tree: (unit.label, unit.type),
    "location": lambda unit, _tree: unit.location,
    "parent": lambda unit, tree: unit.parents.get(tree or ""),
}


class Previous:
    """The org declarations of the versions installed before, by package."""

    def __init__(self, docs: Iterable[OrgDataSpec]) -> None:
        self._declared: dict[tuple[str, str, str], Any] = {}
        self._items: set[tuple[str, str, Any]] = set()
        for doc in docs:
            for kind, key in (("tree", "trees"), ("location", "locations"),
                              ("unit", "units")):
                for item in getattr(doc, key):
                    self._declared[(doc.package, kind, item.code)] = item
            for key in ("heads", "assignments", "role_grants"):
                self._items.update((doc.package, key, item) for item in getattr(doc, key))

    def changed(self, kind: str, package: str, code: str, spec: Any) -> bool:
        """Whether ``spec`` is new or differs from the previous declaration."""
        return self._declared.get((package, kind, code)) != spec

    def unit_changed(self, package: str, spec: OrgUnitSpec, aspect: str,
                     tree: str | None = None) -> bool:
        """Whether one aspect of a unit is new or changed: ``names`` (names
        and type), ``location`` or ``parent`` in ``tree``."""
        old = self._declared.get((package, "unit", spec.code))
        if old is None:
            return True
        value = _ASPECTS[aspect]
        return value(old, tree) != value(spec, tree)

    def has(self, key: str, package: str, item: Any) -> bool:
        """Whether the same head, assignment or role grant was declared before."""
        return (package, key, item) in self._items

