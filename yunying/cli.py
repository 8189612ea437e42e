"""The ``yunying`` command line (a Flask click group).

``init``, ``package validate|install|list``, ``user create|set-password|token``,
``serve`` and ``demo``. Errors
print their bilingual message and located details and exit with status 1;
nothing is left half-done because every command runs its work in one
transaction.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any

import click
from werkzeug.serving import run_simple
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from yunying.app import create_app, services
from yunying.cli_access import add_user_commands
from yunying.cli_support import cli_context as _ctx, fail as _fail
from yunying.cli_indicators import indicators_group
from yunying.cli_org import org_group
from yunying.cli_generate import generate_command, run_demo_generators
from yunying.cli_workflow import workflow_group
from yunying.cli_setup import (
    ADMIN_NAME, DEMO_ADMIN, administrators, create_first_admin, ensure_demo_admin,
    ensure_secret,
)
from yunying.metadata.loader import load_packages
from yunying.platform import identity, migrate
from yunying.platform.errors import YunyingError
from yunying.platform.i18n import Text
from yunying.runtime.formula.package_check import FORMULA_CHECKS
from yunying.runtime.installer import InstallReport, bundled_package_paths, install_packages
from yunying.runtime.schema import render

__all__ = ["cli", "main"]


def _make_app() -> Flask:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_make_app, add_version_option=False,
             help="Yunying (运营): metadata-driven hospital operations platform.")
def cli() -> None:
    pass


def main() -> None:
    cli.main(prog_name="yunying")


def _say(message: str) -> None:
    click.echo(f"… {message}")


@cli.command("init")
@click.option("--admin", "admin", default=None, metavar="CODE",
              help="Create the first administrator CODE (only while there is none).")
@click.option("--name", default=None, help="The administrator's display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from one stdin line.")
@with_appcontext
def init_command(admin: str | None, name: str | None, password_stdin: bool) -> None:
    """Create or upgrade the platform tables (Alembic migrations), write a
    SECRET_KEY into the instance config if none is set, and create the first
    administrator (--admin; the password is prompted twice)."""
    db = services(current_app).db
    click.echo(f"database: {db.url.render_as_string(hide_password=True)}")
    try:
        ensure_secret(current_app)
    except YunyingError as exc:
        _fail(exc)
    migrate.upgrade(db)
    click.echo(f"platform schema at revision {migrate.current_revision(db)}")
    if admin is None:
        if not administrators(services(current_app)):
            click.echo("no administrator yet: run `yunying init --admin CODE`")
        return
    label = Text(name, name) if name else ADMIN_NAME
    try:
        create_first_admin(services(current_app), _ctx(), admin, label,
                           _read_password(password_stdin))
    except YunyingError as exc:
        _fail(exc)
    click.echo(f"created administrator {admin} (role platform.admin)")


@cli.group("package")
def package_group() -> None:
    """Validate, install and list configuration packages."""


@package_group.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def validate_command(paths: tuple[str, ...]) -> None:
    """Validate packages (folders or .zip); bundled packages satisfy `requires`."""
    given = {os.path.realpath(p) for p in paths}
    others = [p for p in bundled_package_paths() if os.path.realpath(p) not in given]
    try:
        available = {p.code: p for p in load_packages(others)}
        specs = load_packages(list(paths), installed=available, checks=FORMULA_CHECKS)
    except YunyingError as exc:
        _fail(exc)
        return
    for spec in specs:
        click.echo(f"ok  {spec.code} {spec.version}: {len(spec.entities)} entities, "
                   f"{len(spec.dictionaries)} dictionaries, {len(spec.seeds)} seed files")


@package_group.command("install")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--dry-run", is_flag=True, help="Print the schema plan; change nothing.")
@click.option("--allow-lossy", is_flag=True, help="Apply changes that lose or violate data.")
@click.option("--drop-removed", is_flag=True, help="Drop columns of removed fields.")
@click.option("--demo", "with_demo", is_flag=True, help="Also load the packages' demo data.")
@with_appcontext
def install_command(paths: tuple[str, ...], dry_run: bool, allow_lossy: bool,
                    drop_removed: bool, with_demo: bool) -> None:
    """Install or upgrade packages (one transaction; prints the schema plan)."""
    _install(list(paths), dry_run=dry_run, allow_lossy=allow_lossy,
             drop_removed=drop_removed, with_demo=with_demo)


def _install(paths: list[str], **options: Any) -> InstallReport | None:
    db = services(current_app).db
    try:
        report = install_packages(db, paths, _ctx(), progress=_say, **options)
    except YunyingError as exc:
        _fail(exc)
        return None
    for spec in report.packages:
        click.echo(f"{report.actions[spec.code]:9} {spec.code} {spec.version}")
    click.echo(render(report.plan, report.refusals))
    for file, rows in report.seeded.items():
        click.echo(f"seeded    {file}: {rows} row(s)")
    click.echo("dry run: nothing changed" if not report.applied else "done")
    return report


@package_group.command("list")
@with_appcontext
def list_command() -> None:
    """List installed packages."""
    svc = services(current_app)
    with svc.db.connect() as conn:
        packages = svc.store.installed(conn)
    if not packages:
        click.echo("no packages installed")
    for spec in packages:
        click.echo(f"{spec.code:16} {spec.version:10} {spec.label.zh} / {spec.label.en}")


@cli.group("user")
def user_group() -> None:
    """Create users, set passwords and issue API tokens."""


add_user_commands(user_group)  # grant, revoke, roles


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("password / 密码", hide_input=True,
                        confirmation_prompt="repeat / 再次输入")


@user_group.command("create")
@click.argument("code")
@click.option("--name", required=True, help="Display name (Chinese, or both languages).")
@click.option("--name-en", default=None, help="English display name (defaults to --name).")
@click.option("--password-stdin", is_flag=True, help="Read the password from one stdin line.")
@with_appcontext
def user_create_command(code: str, name: str, name_en: str | None,
                        password_stdin: bool) -> None:
    """Create a user; prompts for the password twice unless --password-stdin."""
    password = _read_password(password_stdin)
    try:
        with services(current_app).db.begin(write=True) as conn:
            identity.create_user(conn, _ctx(), code, Text(name, name_en or name), password)
    except YunyingError as exc:
        _fail(exc)
        return
    click.echo(f"created user {code}")


@user_group.command("set-password")
@click.argument("code")
@click.option("--password-stdin", is_flag=True, help="Read the password from one stdin line.")
@with_appcontext
def user_set_password_command(code: str, password_stdin: bool) -> None:
    """Set a user's password (and clear a login lock)."""
    password = _read_password(password_stdin)
    try:
        with services(current_app).db.begin(write=True) as conn:
            identity.set_password(conn, _ctx(), code, password)
    except YunyingError as exc:
        _fail(exc)
        return
    click.echo(f"password of {code} changed")


@user_group.command("token")
@click.argument("code")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 3650),
              help="Days until the token expires.")
@with_appcontext
def user_token_command(code: str, name: str, days: int) -> None:
    """Issue an API token; it is printed this once and stored only hashed."""
    try:
        with services(current_app).db.begin(write=True) as conn:
            issued = identity.issue_token(conn, _ctx(), code, name, timedelta(days=days))
    except YunyingError as exc:
        _fail(exc)
        return
    click.echo(f"token {issued.id} for {code} expires {issued.expires_at:%Y-%m-%d %H:%M} UTC")
    click.echo("shown once, store it now / 仅显示一次，请立即保存:")
    click.echo(issued.token)


cli.add_command(org_group)  # yunying org …
cli.add_command(workflow_group)  # yunying workflow …
cli.add_command(indicators_group)  # yunying indicators …
cli.add_command(generate_command)  # yunying generate PKG.CODE


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int) -> None:
    """Serve the app (threaded development server)."""
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        click.echo("session cookies are Secure: browsers return them over HTTPS only "
                   "(put a TLS proxy in front, or set SESSION_COOKIE_SECURE: false)")
    _serve(host, port)


@cli.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the database, do not serve.")
@with_appcontext
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Init the database, install the bundled packages with demo data, serve."""
    db = services(current_app).db
    click.echo(f"[1/3] database {db.url.render_as_string(hide_password=True)}")
    try:
        ensure_secret(current_app)
    except YunyingError as exc:
        _fail(exc)
    migrate.upgrade(db)
    click.echo("[2/3] installing bundled packages with demo data")
    _install(bundled_package_paths(), with_demo=True)
    run_demo_generators()  # synthetic data of the bundled packages' generators
    _demo_login()
    if no_serve:
        return
    # the demo serves plain HTTP: a Secure cookie would never come back
    current_app.config["SESSION_COOKIE_SECURE"] = False
    click.echo(f"[3/3] serving the staff UI on http://{host}:{port}/ "
               f"(API: http://{host}:{port}/api/v1/openapi.json)")
    _serve(host, port)


def _demo_login() -> None:
    password = ensure_demo_admin(services(current_app), _ctx())
    if password is not None:
        click.echo(f"demo login / 演示账号: {DEMO_ADMIN} / {password}  "
                   f"(shown once; change it with `yunying user set-password {DEMO_ADMIN}`)")
    else:
        click.echo(f"demo login / 演示账号: {DEMO_ADMIN} (password as first shown; "
                   f"reset it with `yunying user set-password {DEMO_ADMIN}`)")


def _serve(host: str, port: int) -> None:
    # Flask.run refuses to block inside a `flask`-style CLI command; serve directly.
    run_simple(host, port, current_app._get_current_object(), threaded=True,
               use_reloader=False)


if __name__ == "__main__":  # python -m yunying.cli
    main()
