"""Which grants apply: a user's roles → the grants for one entity and action
(runtime layer, access control).

A :class:`~.grants.Grants` lists the roles a user holds, each in a domain
(inherited roles included, as casbin resolves them). The package metadata
(``Registry.roles``) says what each role grants. This module joins the two:
for an entity and an action, every (role, domain, grant) the user holds —
:class:`Held` — in a stable order. Inheritance declared in the metadata is
followed here as well, so hand-built grants and casbin-resolved ones give the
same answer; a role reached twice in one domain counts once.

The superuser role and a context without grants (trusted internal callers)
are *unrestricted*: they skip every check (see :func:`unrestricted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from yunying.metadata.spec import ENTITY_ACTIONS, GrantSpec
from yunying.runtime.access.grants import Grants
from yunying.runtime.registry import Registry

__all__ = ["Held", "HeldRole", "unrestricted", "roles_held", "held_grants", "entity_grants"]

_MAX_INHERIT = 32  # guards against corrupt (cyclic or absurdly deep) inheritance


@dataclass(frozen=True)
class HeldRole:
    """A role the user holds in ``domain``; ``via`` is the role held directly
    (the same as ``role`` unless ``role`` is inherited)."""

    role: str
    domain: str
    via: str


@dataclass(frozen=True)
class Held:
    """One grant the user holds: grant number ``index`` of ``role``, in ``domain``."""

    role: str
    domain: str
    via: str
    index: int
    grant: GrantSpec

    @property
    def key(self) -> tuple[str, int]:
        """The grant's identity in the metadata (role, position)."""
        return (self.role, self.index)


def unrestricted(grants: Grants | None) -> bool:
    """Whether no check applies: a trusted internal caller or the superuser."""
    return grants is None or grants.superuser


def roles_held(grants: Grants, registry: Registry) -> tuple[HeldRole, ...]:
    """Every role the user holds, in each domain, with the roles they inherit."""
    found: dict[tuple[str, str], HeldRole] = {}
    for held in grants.roles:
        for role in _with_inherited(held.role, registry):
            found.setdefault((role, held.domain), HeldRole(role, held.domain, held.role))
    return tuple(found.values())


def _with_inherited(role: str, registry: Registry) -> Iterator[str]:
    seen = {role}
    queue = [role]
    while queue and len(seen) <= _MAX_INHERIT:
        current = queue.pop(0)
        yield current
        spec = registry.role(current)
        for parent in spec.inherits if spec is not None else ():
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)


def entity_grants(grants: Grants, registry: Registry, entity: str) -> tuple[Held, ...]:
    """Every grant the user holds on ``entity``, whatever its actions."""
    out = []
    for held in roles_held(grants, registry):
        spec = registry.role(held.role)
        if spec is None:  # a role the metadata does not know grants nothing
            continue
        out += [Held(held.role, held.domain, held.via, n, g)
                for n, g in enumerate(spec.grants) if g.entity == entity]
    return tuple(out)


def held_grants(grants: Grants, registry: Registry, entity: str,
                action: str) -> tuple[Held, ...]:
    """The grants allowing ``action`` on ``entity`` (empty: the action is denied)."""
    if action not in ENTITY_ACTIONS:
        raise ValueError(f"unknown entity action {action!r}")
    return tuple(h for h in entity_grants(grants, registry, entity)
                 if action in h.grant.actions)
