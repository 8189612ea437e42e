"""What one signed-in user may do, resolved once per request (runtime layer).

:class:`Grants` is the value the HTTP edge attaches to the request's
:class:`~yunying.platform.context.Context`: the user, the roles the user
holds in each domain (inherited roles included, as casbin resolves them),
the org units the user is assigned to today, and the platform actions the
roles allow. The record service reads it to decide actions, data scopes and
field permissions; it never looks the user up again.

A Context without grants (``grants is None``) is the explicit internal
principal: the CLI operator, package installs, seed loading and background
jobs. Only the HTTP edge serves untrusted callers, and it always attaches
grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yunying.platform.access import ANY_DOMAIN, SUPERUSER_ROLE
from yunying.platform.context import Context
from yunying.platform.errors import PermissionDenied
from yunying.platform.i18n import Text

__all__ = ["ANY_DOMAIN", "SUPERUSER_ROLE", "RoleInDomain", "Grants", "require_platform"]

@dataclass(frozen=True)
class RoleInDomain:
    role: str      # qualified role code
    domain: str    # an org unit code (hospital or campus) or ANY_DOMAIN


@dataclass(frozen=True)
class Grants:
    user: str
    roles: tuple[RoleInDomain, ...] = ()
    units: tuple[str, ...] = ()          # the user's assigned org units today
    today: date | None = None
    platform: frozenset[str] = frozenset()   # platform actions allowed

    @property
    def superuser(self) -> bool:
        return any(r.role == SUPERUSER_ROLE for r in self.roles)


_PLATFORM_LABELS = {
    "design": Text("设计表单与流程", "design forms and workflows"),
    "manage_packages": Text("管理配置包", "manage packages"),
    "manage_users": Text("管理用户与角色", "manage users and roles"),
    "view_indicators": Text("查看指标与驾驶舱", "view indicators and dashboards"),
}


def require_platform(ctx: Context, action: str) -> None:
    """Raise PermissionDenied unless the context may take platform ``action``."""
    grants = ctx.grants
    if grants is None or grants.superuser or action in grants.platform:
        return
    what = _PLATFORM_LABELS.get(action, Text(action, action))
    raise PermissionDenied(Text(f"没有权限：{what.zh}", f"not allowed to {what.en}"),
                           details={"action": action})
