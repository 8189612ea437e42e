"""What ``yunying init`` and ``yunying demo`` set up besides the schema: the
secret key and the first administrator.

- :func:`ensure_secret` writes a random ``SECRET_KEY`` into the instance
  config when none is configured, so sessions and CSRF tokens survive a
  restart and every worker signs alike.
- :func:`create_first_admin` creates a user holding the superuser role
  ``platform.admin`` — only while no administrator exists (afterwards
  administrators grant roles with ``yunying user grant``).
- :func:`ensure_demo_admin` gives the demo a user ``admin`` with a random
  password printed once, so a newcomer can sign in.

The user and its role grant are written in one transaction (with their audit
events): no half-made administrator.
"""

from __future__ import annotations

import secrets

import click
from flask import Flask

from yunying.platform import identity
from yunying.platform.access import ANY_DOMAIN, SUPERUSER_ROLE
from yunying.platform.config import ensure_secret_key
from yunying.platform.context import Context
from yunying.runtime.container import Services
from yunying.platform.errors import Conflict, NotFound
from yunying.platform.i18n import Text

__all__ = ["DEMO_ADMIN", "ADMIN_NAME", "ensure_secret", "administrators",
           "create_first_admin", "ensure_demo_admin"]

#: the demo's administrator.
DEMO_ADMIN = "admin"
ADMIN_NAME = Text("管理员", "Administrator")


def ensure_secret(app: Flask) -> None:
    """Write a random SECRET_KEY into the config file if none is configured
    (and use it in this process too)."""
    written = ensure_secret_key(app.instance_path)
    if written is not None:
        file, key = written
        app.config["SECRET_KEY"] = key
        click.echo(f"wrote a random SECRET_KEY into {file}")


def administrators(svc: Services) -> list[str]:
    """Codes of the users holding the superuser role."""
    with svc.db.connect() as conn:
        return svc.access.users_with_role(conn, SUPERUSER_ROLE, ANY_DOMAIN)


def create_first_admin(svc: Services, ctx: Context, code: str, name: Text,
                       password: str) -> None:
    """Create ``code`` holding ``platform.admin``. Conflict when an
    administrator exists already; ValidationFailed for a bad code or
    password; nothing is written on any error."""
    with svc.db.begin(write=True) as conn:
        existing = svc.access.users_with_role(conn, SUPERUSER_ROLE, ANY_DOMAIN)
        if existing:
            raise Conflict(Text(
                f"已有管理员（{'、'.join(existing)}）；请用 yunying user grant 授予角色",
                f"an administrator exists already ({', '.join(existing)}); grant roles "
                f"with `yunying user grant CODE {SUPERUSER_ROLE}`"),
                details={"administrators": existing})
        identity.create_user(conn, ctx, code, name, password)
        svc.access.grant_role(conn, ctx, code, SUPERUSER_ROLE, ANY_DOMAIN)


def ensure_demo_admin(svc: Services, ctx: Context) -> str | None:
    """Create the demo administrator ``admin`` with a random password unless
    the user exists; the password when created (show it once), else ``None``."""
    with svc.db.connect() as conn:
        try:
            identity.get_user(conn, DEMO_ADMIN)
            return None
        except NotFound:
            pass
    password = secrets.token_urlsafe(9)
    with svc.db.begin(write=True) as conn:
        identity.create_user(conn, ctx, DEMO_ADMIN, ADMIN_NAME, password)
        svc.access.grant_role(conn, ctx, DEMO_ADMIN, SUPERUSER_ROLE, ANY_DOMAIN)
    return password
