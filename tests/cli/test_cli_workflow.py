"""``yunying workflow tick | delegate | delegations | revoke | show`` over the
wfapi fixture package (tests/fixtures/wf_api: bob or carol reviews within
24 hours, else they are reminded)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from yunying.platform.context import Context, utcnow
from yunying.platform.tables import notification, wf_delegation, wf_task
from yunying.runtime.container import Services

WF_API = Path(__file__).resolve().parent.parent / "fixtures" / "wf_api"
EXPENSE = "wfapi.expense"


@pytest.fixture
def installed(run):
    result = run("package", "install", str(WF_API))
    assert result.exit_code == 0, result.output
    return run


def _submit_days_ago(database, days: int) -> int:
    """alice raises and submits a claim ``days`` ago; the instance id."""
    then = utcnow() - timedelta(days=days)
    alice = Context(actor="alice", clock=lambda: then)
    services = Services(database, {})
    with database.begin(write=True) as conn:
        runtime = services.runtime(conn)
        record = runtime.records.create(conn, alice, EXPENSE,
                                        {"title": "Taxi", "amount": "35.00"})
        view = runtime.workflow.fire(conn, alice, EXPENSE, record["id"], "submit")
    return view["instance"]["id"]


def _count(database, table, *where) -> int:
    with database.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_tick_reminds_once(installed, database):
    overdue = _submit_days_ago(database, 2)
    _submit_days_ago(database, 0)  # not due yet
    first = installed("workflow", "tick")
    assert first.exit_code == 0, first.output
    assert "reminded 2, approved 0, rejected 0, failed 0" in first.output  # bob and carol
    reminders = _count(database, notification, notification.c.kind == "timeout")
    assert reminders == 2  # on the overdue claim only
    assert _count(database, wf_task, wf_task.c.reminded_at.is_not(None),
                  wf_task.c.instance_id == overdue) == 2
    second = installed("workflow", "tick")
    assert second.exit_code == 0
    assert "reminded 0" in second.output
    assert _count(database, notification, notification.c.kind == "timeout") == reminders


def test_tick_with_nothing_to_do(installed):
    result = installed("workflow", "tick")
    assert result.exit_code == 0
    assert "reminded 0" in result.output and "approved 0" in result.output


def test_delegate_list_and_revoke(installed, database):
    made = installed("workflow", "delegate", "bob", "frank", "--from", "2026-07-01",
                     "--to", "2026-07-14")
    assert made.exit_code == 0, made.output
    listed = installed("workflow", "delegations", "bob")
    assert "frank" in listed.output and "2026-07-01" in listed.output
    assert "1 delegation(s)" in listed.output
    delegation_id = _count(database, wf_delegation)  # the first row: id 1
    revoked = installed("workflow", "revoke", str(delegation_id))
    assert revoked.exit_code == 0
    assert "revoked" in installed("workflow", "delegations", "bob").output
    with database.connect() as conn:
        assert conn.execute(select(wf_delegation.c.revoked_at)).scalar_one() is not None


@pytest.mark.parametrize("args,code,says", [
    (("bob", "frank", "--from", "2026-07-14", "--to", "2026-07-01"), 1, "valid_to"),
    (("bob", "bob", "--from", "2026-07-01", "--to", "2026-07-02"), 1, "substitute"),
    (("nobody", "frank", "--from", "2026-07-01", "--to", "2026-07-02"), 1, "nobody"),
    (("bob", "frank", "--from", "July", "--to", "2026-07-02"), 2, "YYYY-MM-DD"),
])
def test_bad_delegations_fail_and_write_nothing(installed, database, args, code, says):
    result = installed("workflow", "delegate", *args)
    assert result.exit_code == code
    assert says in result.output
    assert _count(database, wf_delegation) == 0


def test_show_prints_the_timeline(installed, database):
    instance_id = _submit_days_ago(database, 0)
    result = installed("workflow", "show", str(instance_id))
    assert result.exit_code == 0, result.output
    assert f"instance {instance_id}" in result.output
    assert "wfapi.expense_flow" in result.output and "reviewing" in result.output
    assert "alice" in result.output and "submit" in result.output
    assert "bob" in result.output and "carol" in result.output


def test_show_an_unknown_instance_fails(installed):
    result = installed("workflow", "show", "999")
    assert result.exit_code == 1
    assert "error" in result.output
