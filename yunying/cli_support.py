"""What every ``yunying`` command group shares: the operator's context, one
way to print a refusal (bilingual, with its fields, package issues and
refusals) and exit 1, one transaction per command, and the date option type.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from typing import Any, Callable

import click
from flask import current_app
from sqlalchemy import Connection

from yunying.app import services
from yunying.platform.context import Context
from yunying.platform.errors import YunyingError

__all__ = ["DATE", "cli_context", "fail", "run_in_transaction"]


class _Date(click.ParamType):
    """An ISO date (YYYY-MM-DD)."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: Any, ctx: Any) -> date:
        if isinstance(value, date):
            return value
        try:
            if isinstance(value, str) and len(value) == 10:
                return date.fromisoformat(value)
        except ValueError:
            pass
        self.fail(f"{value!r} is not a date YYYY-MM-DD / 不是日期", param, ctx)


DATE = _Date()


def cli_context() -> Context:
    """The trusted operator at the terminal (no grants: the CLI is not restricted)."""
    return Context(actor=os.environ.get("USER") or "cli", language="en")


def fail(exc: YunyingError) -> None:
    """Print a refusal in both languages with what it names, then exit 1."""
    click.secho(f"error [{exc.code}]: {exc.message.en}", fg="red", err=True)
    click.secho(f"错误：{exc.message.zh}", fg="red", err=True)
    details = exc.details if isinstance(exc.details, dict) else {}
    for name, problems in details.get("fields", {}).items():
        for problem in problems:
            click.echo(f"  {name} [{problem['code']}] {problem['message']['en']} / "
                       f"{problem['message']['zh-CN']}", err=True)
    issues = getattr(exc, "issues", None)
    if issues:
        for issue in issues:
            click.echo(f"  {issue.location} {issue.path} [{issue.code}] "
                       f"{issue.message.en} / {issue.message.zh}", err=True)
    else:
        for issue in details.get("issues", []):
            where = issue["file"] + (f":{issue['line']}" if issue.get("line") else "")
            click.echo(f"  {where} {issue['path']} [{issue['code']}] "
                       f"{issue['message']['en']} / {issue['message']['zh-CN']}", err=True)
    for refusal in details.get("refusals", []):
        click.echo(f"  {json.dumps(refusal, ensure_ascii=False, default=str)}", err=True)
    sys.exit(1)


def run_in_transaction(work: Callable[[Connection], Any], *, write: bool = True) -> Any:
    """``work`` in one transaction of the current app's database; a refusal
    prints and exits 1."""
    try:
        with services(current_app).db.begin(write=write) as conn:
            return work(conn)
    except YunyingError as exc:
        fail(exc)
