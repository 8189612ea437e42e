"""Field permissions: hidden and read-only fields (runtime layer, access control).

A grant's ``fields`` map names a main field (``amount``) or a child-table
field (``lines.unit_price``) as ``hidden`` or ``read_only``. Several grants
combine as unions of what they allow:

- **hidden** — a field is hidden on a record when *every* read grant that
  reaches the record hides it (one grant showing it is enough to see it).
  Because grants reach different records, visibility is decided per record
  (:func:`hidden_on` over the grants covering it); :func:`hidden_anywhere`
  is what some grant hides, used where no single record decides (list
  filters and sorting, error messages).
- **read-only** — a write may change a field when *some* write grant
  covering the record leaves it editable (neither read-only nor hidden);
  :func:`locked_on` gives the fields no covering grant lets it change.

Names are kept as written in the metadata: ``field`` or ``child.field``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from yunying.runtime.access.policy import Held

__all__ = ["FieldRules", "rules_of", "hidden_on", "locked_on", "hidden_anywhere",
           "visibility_groups", "split_names", "strip_record", "strip_line"]


@dataclass(frozen=True)
class FieldRules:
    """One grant's field permissions."""

    hidden: frozenset[str]
    read_only: frozenset[str]

    @property
    def locked(self) -> frozenset[str]:
        """What a holder may not change: read-only and hidden fields."""
        return self.hidden | self.read_only


def rules_of(held: Held) -> FieldRules:
    fields = held.grant.fields
    return FieldRules(
        hidden=frozenset(f for f, access in fields.items() if access == "hidden"),
        read_only=frozenset(f for f, access in fields.items() if access == "read_only"))


def hidden_on(covering: Iterable[Held]) -> frozenset[str]:
    """Fields hidden on a record reached by the read grants ``covering`` (not empty)."""
    sets = [rules_of(h).hidden for h in covering]
    return frozenset.intersection(*sets) if sets else frozenset()


def locked_on(covering: Iterable[Held]) -> frozenset[str]:
    """Fields a write may not change on a record reached by the write grants ``covering``."""
    sets = [rules_of(h).locked for h in covering]
    return frozenset.intersection(*sets) if sets else frozenset()


def hidden_anywhere(helds: Iterable[Held]) -> frozenset[str]:
    """Fields some of ``helds`` hides: hidden on at least some records."""
    out: frozenset[str] = frozenset()
    for held in helds:
        out |= rules_of(held).hidden
    return out


def visibility_groups(helds: Iterable[Held]) -> tuple[tuple[frozenset[str], tuple[Held, ...]], ...]:
    """The read grants grouped by the fields they hide, in first-seen order:
    a record's hidden fields are the intersection over the groups reaching it."""
    groups: dict[frozenset[str], list[Held]] = {}
    for held in helds:
        groups.setdefault(rules_of(held).hidden, []).append(held)
    return tuple((hidden, tuple(members)) for hidden, members in groups.items())


def split_names(names: Iterable[str]) -> tuple[frozenset[str], Mapping[str, frozenset[str]]]:
    """``{"a", "lines.b"}`` → (``{"a"}``, ``{"lines": {"b"}}``)."""
    main: set[str] = set()
    children: dict[str, set[str]] = {}
    for name in names:
        child, dot, field = name.partition(".")
        if dot:
            children.setdefault(child, set()).add(field)
        else:
            main.add(name)
    return frozenset(main), {c: frozenset(f) for c, f in children.items()}


def strip_line(line: dict[str, Any], child: str, hidden: Iterable[str]) -> dict[str, Any]:
    """A child line without the fields of ``child`` in ``hidden``."""
    _, children = split_names(hidden)
    gone = children.get(child, frozenset())
    return {k: v for k, v in line.items() if k not in gone}


def strip_record(record: dict[str, Any], hidden: Iterable[str],
                 children: Iterable[str]) -> dict[str, Any]:
    """A record (main values and child lists) without its ``hidden`` fields."""
    main, by_child = split_names(hidden)
    out = {k: v for k, v in record.items() if k not in main}
    for child in children:
        gone = by_child.get(child)
        if gone and isinstance(out.get(child), list):
            out[child] = [{k: v for k, v in line.items() if k not in gone}
                          for line in out[child]]
    return out
