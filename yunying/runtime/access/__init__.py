"""Access control at run time: grants, data scopes, field permissions (runtime layer)."""

from yunying.runtime.access.grants import (
    ANY_DOMAIN, SUPERUSER_ROLE, Grants, RoleInDomain, require_platform,
)

__all__ = ["ANY_DOMAIN", "SUPERUSER_ROLE", "Grants", "RoleInDomain", "require_platform"]
