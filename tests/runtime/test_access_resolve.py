"""A user's Grants, resolved from the stored policy and org assignments
(on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert

from yunying.metadata.spec import PLATFORM_ACTIONS
from yunying.platform import org
from yunying.platform.access import AccessControl, PolicyRow
from yunying.platform.context import Context
from yunying.platform.errors import PermissionDenied
from yunying.platform.tables import user as user_table
from yunying.runtime.access import Grants, RoleInDomain, require_platform
from yunying.runtime.access.resolve import assigned_units, build_grants

CTX = Context(actor="tester")
TODAY = date(2026, 6, 1)
REQ = "materials.requisition"


@pytest.fixture
def access(db) -> AccessControl:
    control = AccessControl(db)
    now = CTX.now()
    with db.begin(write=True) as conn:
        conn.execute(insert(user_table), [dict(
            code=code, name_zh=code, name_en=code, password_hash="-", active=True,
            created_at=now, updated_at=now, failed_logins=0, password_changed_at=now)
            for code in ("alice", "root", "bob")])
        for code in ("H1", "W1", "W2", "W3", "W4"):
            org.add_unit(conn, org.OrgUnit(code, code, code, "ward", date(2020, 1, 1)))
        control.replace_package_policies(conn, CTX, [
            PolicyRow.permission("m.clerk", REQ, "read"),
            PolicyRow.permission("m.admin", "platform", "manage_users"),
            PolicyRow.inheritance("m.head", "m.clerk"),
        ])
        org.assign(conn, "alice", "W2", date(2026, 1, 1), primary=False)
        org.assign(conn, "alice", "W3", date(2025, 1, 1), primary=True)
        org.assign(conn, "alice", "W1", date(2025, 1, 1), until=date(2026, 6, 1))  # ended
        org.assign(conn, "alice", "W4", date(2026, 6, 2))  # not yet
        control.grant_role(conn, CTX, "alice", "m.head", "H1")
        control.grant_role(conn, CTX, "alice", "m.admin")
        control.grant_role(conn, CTX, "root", "platform.admin")
    return control


def _grants(db, access, user) -> Grants:
    with db.begin() as conn:
        return build_grants(conn, access, user, TODAY)


def test_grants_carry_roles_units_and_platform_actions(db, access):
    grants = _grants(db, access, "alice")
    assert grants == Grants(
        user="alice",
        roles=(RoleInDomain("m.admin", "*"), RoleInDomain("m.clerk", "H1"),
               RoleInDomain("m.head", "H1")),
        units=("W3", "W2"), today=TODAY, platform=frozenset({"manage_users"}))
    assert not grants.superuser
    ctx = Context(actor="alice", grants=grants)
    require_platform(ctx, "manage_users")
    with pytest.raises(PermissionDenied):
        require_platform(ctx, "design")


def test_the_superuser_gets_every_platform_action(db, access):
    grants = _grants(db, access, "root")
    assert grants.superuser
    assert grants.roles == (RoleInDomain("platform.admin", "*"),)
    assert grants.platform == frozenset(PLATFORM_ACTIONS)


def test_a_user_without_roles_or_units_gets_nothing(db, access):
    grants = _grants(db, access, "bob")
    assert grants == Grants(user="bob", today=TODAY)
    with pytest.raises(PermissionDenied):
        require_platform(Context(actor="bob", grants=grants), "manage_users")


def test_units_follow_the_date(db, access):
    with db.connect() as conn:
        assert assigned_units(conn, "alice", date(2026, 6, 2)) == ("W3", "W2", "W4")
        assert assigned_units(conn, "alice", date(2025, 6, 1)) == ("W3", "W1")
        assert assigned_units(conn, "alice", date(2024, 1, 1)) == ()
