"""``yunying user grant|revoke|roles``: role assignment from the command line.

The CLI operator is a trusted internal caller (no grants on the Context);
each command is one transaction in which the change and its audit event
commit together. ``cli.py`` adds these commands to its ``user`` group with
:func:`add_user_commands`.
"""

from __future__ import annotations


import click
from flask import current_app
from flask.cli import with_appcontext

from yunying.app import services
from yunying.platform import identity
from yunying.cli_support import cli_context as _ctx, fail as _fail
from yunying.platform.access import ANY_DOMAIN
from yunying.platform.errors import YunyingError

__all__ = ["add_user_commands"]


@click.command("grant")
@click.argument("code")
@click.argument("role")
@click.option("--domain", default=ANY_DOMAIN, show_default=True,
              help="Org unit code the role is held in; * = every domain.")
@with_appcontext
def grant_command(code: str, role: str, domain: str) -> None:
    """Grant user CODE the role ROLE (qualified: materials.clerk) in a domain."""
    svc = services(current_app)
    try:
        with svc.db.begin(write=True) as conn:
            svc.access.grant_role(conn, _ctx(), code, role, domain)
    except YunyingError as exc:
        _fail(exc)
        return
    click.echo(f"granted {role} to {code} in {domain}")


@click.command("revoke")
@click.argument("code")
@click.argument("role")
@click.option("--domain", default=ANY_DOMAIN, show_default=True,
              help="Org unit code the role is held in; * = every domain.")
@with_appcontext
def revoke_command(code: str, role: str, domain: str) -> None:
    """Revoke user CODE's role ROLE in a domain."""
    svc = services(current_app)
    try:
        with svc.db.begin(write=True) as conn:
            svc.access.revoke_role(conn, _ctx(), code, role, domain)
    except YunyingError as exc:
        _fail(exc)
        return
    click.echo(f"revoked {role} from {code} in {domain}")


@click.command("roles")
@click.argument("code")
@with_appcontext
def roles_command(code: str) -> None:
    """List user CODE's role assignments and the roles they resolve to."""
    svc = services(current_app)
    try:
        with svc.db.begin() as conn:
            identity.get_user(conn, code)
            assignments = svc.access.assignments(conn, code)
            held = svc.access.roles_of(conn, code)
    except YunyingError as exc:
        _fail(exc)
        return
    if not held:
        click.echo(f"{code} holds no role")
        return
    direct = {(a.role, a.domain) for a in assignments}
    for role, domain in held:
        how = "" if (role, domain) in direct else "  (inherited)"
        click.echo(f"{role:40} {domain}{how}")


def add_user_commands(group: click.Group) -> None:
    """Add grant, revoke and roles to the ``user`` command group."""
    for command in (grant_command, revoke_command, roles_command):
        group.add_command(command)
