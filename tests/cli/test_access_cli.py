"""The `yunying user grant|revoke|roles` commands (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from yunying.platform.access import AccessControl, PolicyRow
from yunying.platform.context import Context
from yunying.platform.tables import audit_event


@pytest.fixture
def run(run):
    """The shared ``run`` with user alice created."""
    result = run("user", "create", "alice", "--name", "Alice", "--password-stdin",
                 input="long enough pw\n")
    assert result.exit_code == 0, result.output
    return run


def test_grant_roles_and_revoke(run, database):
    result = run("user", "grant", "alice", "platform.admin")
    assert result.exit_code == 0, result.output
    assert "granted platform.admin to alice in *" in result.output
    result = run("user", "roles", "alice")
    assert result.exit_code == 0
    assert result.output.split() == ["platform.admin", "*"]
    result = run("user", "revoke", "alice", "platform.admin")
    assert result.exit_code == 0, result.output
    assert run("user", "roles", "alice").output.strip() == "alice holds no role"
    with database.connect() as conn:
        kinds = [k for (k,) in conn.execute(select(audit_event.c.kind).where(
            audit_event.c.kind.in_(("role.grant", "role.revoke"))).order_by(audit_event.c.id))]
    assert kinds == ["role.grant", "role.revoke"]


def test_roles_shows_inherited_roles(run, database):
    with database.begin(write=True) as conn:
        AccessControl(database).replace_package_policies(conn, Context(), [
            PolicyRow.permission("m.clerk", "materials.item", "read"),
            PolicyRow.inheritance("m.head", "m.clerk")])
    assert run("user", "grant", "alice", "m.head").exit_code == 0
    lines = [line.split() for line in run("user", "roles", "alice").output.splitlines()]
    assert lines == [["m.clerk", "*", "(inherited)"], ["m.head", "*"]]


@pytest.mark.parametrize("args, code", [
    (("grant", "alice", "m.nobody"), "unknown_role"),
    (("grant", "alice", "platform.admin", "--domain", "NOWHERE"), "unknown_domain"),
    (("grant", "nobody", "platform.admin"), "not_found"),
    (("revoke", "alice", "platform.admin"), "role_not_held"),
    (("roles", "nobody"), "not_found"),
])
def test_refusals_exit_1_with_both_languages(run, args, code):
    result = run("user", *args)
    assert result.exit_code == 1
    assert code in result.output
    assert "error [" in result.output and "错误：" in result.output
