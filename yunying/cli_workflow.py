"""``yunying workflow …``: the approval engine from the command line.

``tick`` runs the timeouts (remind, approve or reject tasks past their due
time) as the ``system`` principal — idempotent, suitable for cron;
``delegate`` / ``delegations`` / ``revoke`` manage substitutes for a leave;
``show`` prints an instance and its timeline. Each command is one
transaction; the CLI operator is a trusted internal caller. Errors print in
English and Chinese and exit with status 1; bad arguments are click's usage
errors (status 2). ``cli.py`` registers :data:`workflow_group`.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Connection

from yunying.app import services
from yunying.cli_support import DATE, cli_context as _ctx
from yunying.cli_support import run_in_transaction as _run
from yunying.platform.context import SYSTEM, Context
from yunying.runtime.workflow.delegation import (
    add_delegation, list_delegations, revoke_delegation,
)

__all__ = ["workflow_group"]


def _engine(conn: Connection) -> Any:
    return services(current_app).runtime(conn).workflow


@click.group("workflow")
def workflow_group() -> None:
    """Approval engine: timeouts, delegations, instance timelines."""


@workflow_group.command("tick")
@with_appcontext
def tick_command() -> None:
    """Handle tasks past their due time (remind once / approve / reject) as
    the system principal; running it again acts only on what is newly due.
    A task whose consequences are refused is rolled back alone and listed
    under "failed"; the others still go through (exit 0)."""
    system = Context(actor=SYSTEM.actor, language="en")
    done = _run(lambda conn: _engine(conn).tick(conn, system))
    failed = done.get("failed", [])
    counts = [f"{name} {count}" for name, count in done.items() if name != "failed"]
    click.echo(", ".join([*counts, f"failed {len(failed)}"]))
    for failure in failed:  # rolled back one by one; the others went through
        click.echo(f"  task {failure['task_id']} (instance {failure['instance_id']}) "
                   f"[{failure['code']}] {failure['message']['en']} / "
                   f"{failure['message']['zh-CN']}", err=True)


@workflow_group.command("delegate")
@click.argument("user")
@click.argument("substitute")
@click.option("--from", "valid_from", required=True, type=DATE, help="First day of the leave.")
@click.option("--to", "valid_to", required=True, type=DATE,
              help="Last day of the leave (inclusive).")
@with_appcontext
def delegate_command(user: str, substitute: str, valid_from: date, valid_to: date) -> None:
    """While USER is on leave, new tasks of USER go to SUBSTITUTE."""
    new_id = _run(lambda conn: add_delegation(conn, _ctx(), user, substitute, valid_from,
                                              valid_to))
    click.echo(f"delegation {new_id}: tasks of {user} go to {substitute} from {valid_from} "
               f"to {valid_to}")


@workflow_group.command("delegations")
@click.argument("user")
@with_appcontext
def delegations_command(user: str) -> None:
    """List USER's delegations."""
    items = _run(lambda conn: list_delegations(conn, user), write=False)
    for item in items:
        revoked = f" revoked {item['revoked_at']}" if item.get("revoked_at") else ""
        click.echo(f"{item['id']:6} {item['substitute']:20} {item['valid_from']} … "
                   f"{item['valid_to']}{revoked}")
    click.echo(f"{len(items)} delegation(s)")


@workflow_group.command("revoke")
@click.argument("delegation_id", type=click.IntRange(1, 2 ** 31 - 1))
@with_appcontext
def revoke_command(delegation_id: int) -> None:
    """Revoke delegation DELEGATION_ID."""
    _run(lambda conn: revoke_delegation(conn, _ctx(), delegation_id))
    click.echo(f"delegation {delegation_id} revoked")


def _label(value: Any) -> str:
    if isinstance(value, dict):
        return f"{value.get('zh-CN', '')} / {value.get('en', '')}"
    return ""


@workflow_group.command("show")
@click.argument("instance_id", type=click.IntRange(1, 2 ** 63 - 1))
@with_appcontext
def show_command(instance_id: int) -> None:
    """Print instance INSTANCE_ID, its tasks and its timeline (oldest first)."""
    ctx = _ctx()

    def work(conn: Connection) -> tuple[dict, list[dict]]:
        engine = _engine(conn)
        return engine.instance(conn, ctx, instance_id), engine.timeline(conn, ctx, instance_id)
    view, events = _run(work, write=False)
    instance = view["instance"]
    click.echo(f"instance {instance['id']}: {instance['entity']} {instance['record_id']} "
               f"{instance.get('title') or ''}")
    click.echo(f"  workflow {instance['workflow']}  state {instance['state']} "
               f"({_label(instance.get('state_label'))})  status {instance['status']}  "
               f"initiator {instance['initiator']}")
    for task in view.get("tasks", []):
        click.echo(f"  task {task['id']:6} {task['node']:16} {task['assignee']:16} "
                   f"{task['status']}")
    click.echo("timeline:")
    for event in events:
        node = f" [{event['node']}]" if event.get("node") else ""
        comment = f" “{event['comment']}”" if event.get("comment") else ""
        detail = f" {json.dumps(event['detail'], ensure_ascii=False, default=str)}" \
            if event.get("detail") else ""
        click.echo(f"  {event['at']}  {event['actor']:16} {event['action']}{node}"
                   f"{comment}{detail}")
