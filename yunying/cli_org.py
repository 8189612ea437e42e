"""``yunying org …``: the organisation model from the command line.

Lists (``units``, ``trees``, ``locations``), a tree printed indented
(``tree``), the changes — ``add-unit``, ``add-tree``, ``add-location``,
``reparent``, ``split``, ``merge``, ``move``, ``head``, ``assign`` — each
one transaction happening ``--on`` a date, and ``load``: one org document
(the package ``org/*.yaml`` format) applied outside any package. The CLI
operator is a trusted internal caller. Errors print in English and Chinese,
located (field, or file:line and JSON path), and exit with status 1; bad
arguments are click's usage errors (status 2). ``cli.py`` registers
:data:`org_group`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Connection

from yunying.app import services
from yunying.cli_support import DATE, cli_context as _ctx, fail as _fail
from yunying.cli_support import run_in_transaction as _run
from yunying.metadata.org_data import LOCATION_KINDS, TREE_KINDS, UNIT_TYPES, org_from_document
from yunying.metadata.schema_check import SchemaChecker
from yunying.metadata.yaml_source import parse_yaml
from yunying.platform import org, org_admin
from yunying.platform.access import AccessControl
from yunying.platform.errors import InvalidPackage
from yunying.platform.org import OrgUnit
from yunying.platform.org_changes import merge, reparent, split
from yunying.runtime.org_seed import apply_org_data

__all__ = ["org_group"]


def _today() -> date:
    return _ctx().now().date()


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``KEY=VALUE`` options as a dict; a malformed one is a usage error."""
    result: dict[str, str] = {}
    for value in values:
        key, sep, target = value.partition("=")
        if not sep or not key or not target:
            raise click.BadParameter(f"{value!r}: use KEY=VALUE / 格式应为 KEY=VALUE",
                                     param_hint=option)
        result[key] = target
    return result


def _new_unit(value: str, option: str) -> OrgUnit:
    """``CODE:TYPE:中文名[:English name]`` → a unit starting with the change."""
    parts = value.split(":", 3)
    if len(parts) < 3 or parts[1] not in UNIT_TYPES:
        raise click.BadParameter(
            f"{value!r}: use CODE:TYPE:中文名[:English name], TYPE one of "
            f"{', '.join(UNIT_TYPES)}", param_hint=option)
    return OrgUnit(parts[0], parts[2], parts[3] if len(parts) == 4 else parts[2], parts[1])


@click.group("org")
def org_group() -> None:
    """Org units, trees, locations, heads and assignments (as of dates)."""


# -- reading -----------------------------------------------------------------------------

def _period(unit: dict) -> str:
    return f"{unit['valid_from']}…{unit['valid_to'] or ''}"


@org_group.command("units")
@click.option("--as-of", type=DATE, default=None, help="Only units existing on this date.")
@click.option("--type", "unit_type", type=click.Choice(UNIT_TYPES), default=None)
@with_appcontext
def units_command(as_of: date | None, unit_type: str | None) -> None:
    """List org units by code."""
    def work(conn: Connection) -> list[dict]:
        found: list[dict] = []
        page = 1
        while True:
            batch = org_admin.list_units(conn, unit_type=unit_type, as_of=as_of, page=page,
                                         page_size=500)
            found.extend(batch.items)
            if len(found) >= batch.total or not batch.items:
                return found
            page += 1
    units = _run(work, write=False)
    for unit in units:
        click.echo(f"{unit['code']:16} {unit['type']:11} {_period(unit):23} "
                   f"{unit['name']['zh']} / {unit['name']['en']}")
    click.echo(f"{len(units)} unit(s)")


@org_group.command("tree")
@click.argument("tree")
@click.argument("unit")
@click.option("--as-of", type=DATE, default=None, help="The date (default today).")
@with_appcontext
def tree_command(tree: str, unit: str, as_of: date | None) -> None:
    """Print UNIT and everything below it in TREE, indented."""
    when = as_of or _today()
    rows = _run(lambda conn: org_admin.subtree(conn, tree, unit, when), write=False)
    click.echo(f"{tree} as of {when}:")
    for depth, found in rows:
        click.echo(f"{'  ' * depth}{found['code']}  {found['name']['zh']} / "
                   f"{found['name']['en']} ({found['type']})")


@org_group.command("trees")
@with_appcontext
def trees_command() -> None:
    """List the relation trees."""
    for tree in _run(org_admin.list_trees, write=False):
        click.echo(f"{tree['code']:16} {tree['kind']:15} {_period(tree):23} "
                   f"{tree['name']['zh']} / {tree['name']['en']}")


@org_group.command("locations")
@with_appcontext
def locations_command() -> None:
    """List the locations with their parents."""
    for place in _run(org_admin.list_locations, write=False):
        click.echo(f"{place['code']:16} {place['kind']:9} {place['parent'] or '-':16} "
                   f"{place['name']['zh']} / {place['name']['en']}")


# -- building -----------------------------------------------------------------------------

@org_group.command("add-unit")
@click.argument("code")
@click.option("--name", required=True, help="Chinese name (also English unless --name-en).")
@click.option("--name-en", default=None, help="English name.")
@click.option("--type", "unit_type", required=True, type=click.Choice(UNIT_TYPES))
@click.option("--from", "valid_from", required=True, type=DATE, help="First day.")
@click.option("--to", "valid_to", type=DATE, default=None, help="Day it ends (exclusive).")
@click.option("--location", default=None, help="Location code from the first day.")
@click.option("--parent", "parents", multiple=True, metavar="TREE=UNIT",
              help="Parent in a tree (repeatable).")
@with_appcontext
def add_unit_command(code: str, name: str, name_en: str | None, unit_type: str,
                     valid_from: date, valid_to: date | None, location: str | None,
                     parents: tuple[str, ...]) -> None:
    """Create org unit CODE, with its location and parents."""
    unit = OrgUnit(code, name, name_en or name, unit_type, valid_from, valid_to)
    wanted = _pairs(parents, "--parent")
    _run(lambda conn: org_admin.create_unit(conn, unit, location_code=location,
                                            parents=wanted))
    click.echo(f"created org unit {code}")


@org_group.command("add-tree")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--name-en", default=None)
@click.option("--kind", required=True, type=click.Choice(TREE_KINDS))
@click.option("--from", "valid_from", required=True, type=DATE)
@click.option("--to", "valid_to", type=DATE, default=None)
@with_appcontext
def add_tree_command(code: str, name: str, name_en: str | None, kind: str,
                     valid_from: date, valid_to: date | None) -> None:
    """Create relation tree CODE (e.g. a temporary emergency tree)."""
    _run(lambda conn: org_admin.create_tree(conn, code, name, name_en or name, kind,
                                            valid_from, valid_to))
    click.echo(f"created org tree {code}")


@org_group.command("add-location")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--name-en", default=None)
@click.option("--kind", required=True, type=click.Choice(LOCATION_KINDS))
@click.option("--parent", default=None, help="The enclosing location.")
@with_appcontext
def add_location_command(code: str, name: str, name_en: str | None, kind: str,
                         parent: str | None) -> None:
    """Create location CODE (campus → building → floor → area)."""
    _run(lambda conn: org_admin.create_location(conn, code, name, name_en or name, kind,
                                                parent))
    click.echo(f"created location {code}")


# -- changes -----------------------------------------------------------------------------

_ON = click.option("--on", "on", required=True, type=DATE, help="The day it takes effect.")


@org_group.command("reparent")
@click.argument("tree")
@click.argument("unit")
@click.argument("parent")
@_ON
@with_appcontext
def reparent_command(tree: str, unit: str, parent: str, on: date) -> None:
    """From --on, UNIT (with its subtree) sits under PARENT in TREE."""
    _run(lambda conn: reparent(conn, tree, unit, parent, on))
    click.echo(f"{unit} is under {parent} in {tree} from {on}")


@org_group.command("split")
@click.argument("unit")
@click.option("--into", "into", multiple=True, required=True,
              metavar="CODE:TYPE:中文名[:English name]", help="A new unit (repeatable).")
@click.option("--reassign", multiple=True, metavar="USER=UNIT", help="Where a member goes.")
@click.option("--child", "children", multiple=True, metavar="CHILD=UNIT",
              help="Where a child unit goes.")
@_ON
@with_appcontext
def split_command(unit: str, into: tuple[str, ...], reassign: tuple[str, ...],
                  children: tuple[str, ...], on: date) -> None:
    """Close UNIT on --on and open the new units; every member and child moves."""
    new = [_new_unit(value, "--into") for value in into]
    members, kids = _pairs(reassign, "--reassign"), _pairs(children, "--child")

    def work(conn: Connection) -> None:
        for u in new:
            org_admin.check_unit(u)
        split(conn, unit, new, on, members, kids)
    _run(work)
    click.echo(f"split {unit} into {', '.join(u.code for u in new)} on {on}")


@org_group.command("merge")
@click.argument("units", nargs=-1, required=True)
@click.option("--into", default=None, help="An existing unit to merge into.")
@click.option("--into-new", default=None, metavar="CODE:TYPE:中文名[:English name]",
              help="A new unit to merge into.")
@_ON
@with_appcontext
def merge_command(units: tuple[str, ...], into: str | None, into_new: str | None,
                  on: date) -> None:
    """Merge UNITS on --on into one unit (existing or new)."""
    if (into is None) == (into_new is None):
        raise click.UsageError("give --into or --into-new / 须给出 --into 或 --into-new 之一")
    target: str | OrgUnit = into if into is not None else _new_unit(into_new or "",
                                                                     "--into-new")

    def work(conn: Connection) -> None:
        if isinstance(target, OrgUnit):
            org_admin.check_unit(target)
        merge(conn, list(units), target, on)
    _run(work)
    code = target if isinstance(target, str) else target.code
    click.echo(f"merged {', '.join(units)} into {code} on {on}")


@org_group.command("move")
@click.argument("unit")
@click.argument("location")
@_ON
@with_appcontext
def move_command(unit: str, location: str, on: date) -> None:
    """From --on, UNIT is at LOCATION."""
    _run(lambda conn: org.move_location(conn, unit, location, on))
    click.echo(f"{unit} is at {location} from {on}")


@org_group.command("head")
@click.argument("unit")
@click.argument("user")
@_ON
@with_appcontext
def head_command(unit: str, user: str, on: date) -> None:
    """From --on, USER heads UNIT (the previous head's term ends)."""
    _run(lambda conn: org_admin.head_unit(conn, unit, user, on))
    click.echo(f"{user} heads {unit} from {on}")


@org_group.command("assign")
@click.argument("user")
@click.argument("unit")
@click.option("--secondary", is_flag=True, help="Not the user's primary unit.")
@_ON
@with_appcontext
def assign_command(user: str, unit: str, secondary: bool, on: date) -> None:
    """From --on, USER works in UNIT (primary unless --secondary)."""
    _run(lambda conn: org_admin.assign_user(conn, user, unit, on, primary=not secondary))
    click.echo(f"{user} is assigned to {unit} ({'secondary' if secondary else 'primary'}) "
               f"from {on}")


# -- load ---------------------------------------------------------------------------------

@org_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--on", "on", type=DATE, default=None,
              help="When changed locations and parents take effect (default today).")
@with_appcontext
def load_command(file: str, on: date | None) -> None:
    """Apply one org document (the package org/*.yaml format) outside a package.

    Role grants name qualified roles (materials.requester). Existing units
    are updated to match the document; nothing is deleted."""
    name = Path(file).name
    source, issues = parse_yaml(Path(file).read_bytes(), name)
    if source is not None and not issues:
        issues = SchemaChecker().check("org", source)
    if source is None or issues:
        _fail(InvalidPackage(issues))
        return
    spec = org_from_document("", name, source.data)
    svc = services(current_app)

    def work(conn: Connection) -> Any:
        try:
            return apply_org_data(conn, _ctx(), [spec], access=AccessControl(svc.db), on=on)
        except InvalidPackage as exc:  # the document has the lines: name them
            raise InvalidPackage([replace(i, line=source.line(i.path)) for i in exc.issues]
                                 ) from exc
    report = _run(work)
    click.echo(f"loaded {file}: {report.summary()}")
    for code in report.new_users:
        click.echo(f"user {code} has no password yet: yunying user set-password {code}")
