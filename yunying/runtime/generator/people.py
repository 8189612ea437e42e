"""The org units and people a generator fills (runtime layer, data generator).

Resolves a generator's unit groups against the organisation model (units of
the given types or codes that exist during the generated window), gives each
unit its random size factor, and creates the generated people as users
without a password (:func:`yunying.platform.identity.create_user`) assigned
to their unit (:func:`yunying.platform.org.assign`). Running a generator
again reuses the people it created before: a user that exists is kept, an
assignment that exists is not repeated.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Mapping

from sqlalchemy import Connection, and_, or_, select

from yunying.metadata.generators import GeneratorSpec, PeopleSpec
from yunying.platform import identity, org
from yunying.platform.context import Context
from yunying.platform.i18n import Text
from yunying.platform.tables import org_assignment, org_unit, user
from yunying.runtime.generator.draws import render_code

__all__ = ["Unit", "Staff", "resolve_units", "create_people"]


@dataclass(frozen=True)
class Unit:
    """An org unit the generator fills, with its life span and size factor."""

    code: str
    unit_type: str
    valid_from: date
    valid_to: date | None
    size: float

    def active(self, first: date, last: date) -> bool:
        """Whether the unit exists on some day of [first, last]."""
        return self.valid_from <= last and (self.valid_to is None or self.valid_to > first)


#: role → unit code → (person codes, cumulative activity weights)
Staff = Mapping[str, Mapping[str, tuple[tuple[str, ...], tuple[float, ...]]]]


def _size(spec: GeneratorSpec, code: str) -> float:
    s = spec.unit_size
    rng = random.Random(f"{spec.seed}|size|{code}")
    factor = rng.lognormvariate(0, float(s.sd)) if s.sd > 0 else 1.0
    return min(max(factor, float(s.minimum)), float(s.maximum))


def resolve_units(conn: Connection, spec: GeneratorSpec, first: date, last: date
                  ) -> dict[str, tuple[Unit, ...]]:
    """Group code → the units of the group that exist during [first, last], by code."""
    rows = conn.execute(
        select(org_unit.c.code, org_unit.c.unit_type, org_unit.c.valid_from, org_unit.c.valid_to)
        .where(org_unit.c.valid_from <= last,
               or_(org_unit.c.valid_to.is_(None), org_unit.c.valid_to > first))
        .order_by(org_unit.c.code)).all()
    units = [Unit(r.code, r.unit_type, r.valid_from, r.valid_to, _size(spec, r.code))
             for r in rows]
    return {g.code: tuple(u for u in units
                          if (u.unit_type in g.types or u.code in g.codes)
                          and u.code not in g.exclude)
            for g in spec.groups}


def members(groups: Mapping[str, tuple[Unit, ...]], names: tuple[str, ...]) -> tuple[Unit, ...]:
    """The units of the named groups, each once, by code."""
    found = {u.code: u for name in names for u in groups.get(name, ())}
    return tuple(found[code] for code in sorted(found))


def _name(rng: random.Random, people: PeopleSpec) -> str:
    given = "".join(rng.choice(people.given_names) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(people.surnames) + given


def _count(rng: random.Random, people: PeopleSpec, unit: Unit) -> int:
    low, high = float(people.count.low), float(people.count.high)
    return max(1 if high >= 1 else 0, round(rng.uniform(low, high) * unit.size))


def create_people(conn: Connection, ctx: Context, spec: GeneratorSpec,
                  groups: Mapping[str, tuple[Unit, ...]], first: date) -> tuple[Staff, int]:
    """Create (or reuse) every person of ``spec`` and assign them to their unit
    from ``first`` (or the unit's start); returns the staff and how many users
    were created."""
    staff: dict[str, dict[str, tuple[tuple[str, ...], tuple[float, ...]]]] = {}
    created = 0
    existing = set(conn.execute(select(user.c.code)).scalars())
    for people in spec.people:
        by_unit = staff.setdefault(people.role, {})
        for unit in members(groups, people.units):
            rng = random.Random(f"{spec.seed}|people|{people.role}|{unit.code}")
            codes: list[str] = []
            weights: list[float] = []
            for n in range(1, _count(rng, people, unit) + 1):
                code = render_code(people.code, {"unit": unit.code, "n": n})
                name = _name(rng, people)
                weights.append((weights[-1] if weights else 0.0) + rng.lognormvariate(0, 0.4))
                codes.append(code)
                if code not in existing:
                    identity.create_user(conn, ctx, code, Text(name, name), None)
                    existing.add(code)
                    created += 1
                _assign(conn, code, unit, first)
            by_unit[unit.code] = (tuple(codes), tuple(weights))
    return staff, created


def _assign(conn: Connection, code: str, unit: Unit, first: date) -> None:
    a = org_assignment
    found = conn.execute(select(a.c.id).where(and_(
        a.c.user_code == code, a.c.unit_code == unit.code))).first()
    if found is None:
        org.assign(conn, code, unit.code, max(first, unit.valid_from), primary=True,
                   until=unit.valid_to)

