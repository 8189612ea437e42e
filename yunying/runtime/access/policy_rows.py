"""Package roles as casbin policy rows (runtime layer).

:func:`policy_rows` is the pure function from the roles packages declare to
the rows the access policy stores: for a role R (qualified code)

* ``p, role:R, *, <entity>, <action>`` per action of each of its grants,
* ``p, role:R, *, platform, <action>`` per platform action,
* ``g, role:R, role:PARENT, *`` per role it inherits,

plus the built-in superuser ``p, role:platform.admin, *, *, *``. Data scopes
and field permissions are not casbin's business: the record service reads
them from the role specs. :func:`sync_policies` stores the rows of every
installed package's roles (the installer calls it after an install).
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection

from yunying.metadata.spec import RoleSpec
from yunying.platform.access import PLATFORM_OBJECT, AccessControl, PolicyRow
from yunying.platform.context import Context
from yunying.runtime.access.grants import SUPERUSER_ROLE
from yunying.runtime.registry import Registry

__all__ = ["policy_rows", "sync_policies"]


def policy_rows(roles: Iterable[RoleSpec]) -> list[PolicyRow]:
    """The policy rows of ``roles``: the superuser's first, then each role's
    (by qualified code) entity permissions in declaration order, platform
    permissions and inheritance links. Duplicates appear once."""
    rows = [PolicyRow.permission(SUPERUSER_ROLE, "*", "*")]
    for role in sorted(roles, key=lambda r: r.qualified_code):
        rows.extend(_role_rows(role))
    return list(dict.fromkeys(rows))


def _role_rows(role: RoleSpec) -> list[PolicyRow]:
    code = role.qualified_code
    rows = [PolicyRow.permission(code, grant.entity, action)
            for grant in role.grants for action in grant.actions]
    rows.extend(PolicyRow.permission(code, PLATFORM_OBJECT, action) for action in role.platform)
    rows.extend(PolicyRow.inheritance(code, parent) for parent in role.inherits)
    return rows


def sync_policies(conn: Connection, ctx: Context, access: AccessControl,
                  registry: Registry) -> None:
    """Store the policy rows of every role in ``registry`` (replacing the
    package rows stored before; user assignments stay), audited."""
    access.replace_package_policies(conn, ctx, policy_rows(registry.roles.values()))
