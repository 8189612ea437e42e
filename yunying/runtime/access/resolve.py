"""Resolving a signed-in user's :class:`Grants` (runtime layer).

The HTTP edge calls :func:`build_grants` once per request and attaches the
result to the request's Context: the roles the user holds in each domain
(inherited ones included), the org units the user is assigned to on
``today`` (primary first), and the platform actions the roles allow.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, or_, select

from yunying.metadata.spec import PLATFORM_ACTIONS
from yunying.platform.access import AccessControl
from yunying.platform.tables import org_assignment
from yunying.runtime.access.grants import Grants, RoleInDomain

__all__ = ["build_grants", "assigned_units"]


def build_grants(conn: Connection, access: AccessControl, user: str, today: date) -> Grants:
    """What ``user`` may do on ``today``, from the stored policy and org data."""
    roles = tuple(RoleInDomain(role, domain) for role, domain in access.roles_of(conn, user))
    platform = access.platform_actions(conn, user)
    if "*" in platform:  # the superuser
        platform = frozenset(PLATFORM_ACTIONS)
    return Grants(user=user, roles=roles, units=assigned_units(conn, user, today),
                  today=today, platform=frozenset(platform & set(PLATFORM_ACTIONS)))


def assigned_units(conn: Connection, user: str, today: date) -> tuple[str, ...]:
    """Codes of the org units ``user`` is assigned to on ``today`` (primary and
    secondary), the primary unit first, then by code."""
    a = org_assignment
    rows = conn.execute(
        select(a.c.unit_code, a.c.is_primary)
        .where(a.c.user_code == user, a.c.valid_from <= today,
               or_(a.c.valid_to.is_(None), a.c.valid_to > today))
        .order_by(a.c.is_primary.desc(), a.c.unit_code))
    return tuple(dict.fromkeys(code for code, _ in rows))
