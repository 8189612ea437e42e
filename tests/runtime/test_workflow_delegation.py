"""Delegation while on leave: naming a substitute, the dates (inclusive),
one hop, revoking, who may do it, the audit trail, and refusals that write
nothing — on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from yunying.platform import identity
from yunying.platform.audit import query_events
from yunying.platform.context import Context
from yunying.platform.errors import NotFound, PermissionDenied, ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.tables import wf_delegation
from yunying.runtime.access.grants import Grants, RoleInDomain
from yunying.runtime.workflow.delegation import (
    add_delegation, list_delegations, revoke_delegation, substitute_for, substitutes,
)

NOW = datetime(2026, 11, 25, 9, 0)
TODAY = NOW.date()
DAY = timedelta(days=1)
CTX = Context(actor="tester", clock=lambda: NOW)
LATER = Context(actor="tester", clock=lambda: NOW + timedelta(hours=2))


def as_user(user: str, *, superuser: bool = False, platform=frozenset()) -> Context:
    roles = (RoleInDomain("platform.admin", "*"),) if superuser else ()
    return Context(actor=user, clock=lambda: NOW,
                   grants=Grants(user=user, roles=roles, today=TODAY,
                                 platform=frozenset(platform)))


@pytest.fixture
def world(db, monkeypatch):
    monkeypatch.setattr(identity, "generate_password_hash",
                        functools.partial(generate_password_hash, method="pbkdf2:sha256:1"))
    with db.begin(write=True) as conn:
        for code in ("ann", "bob", "cat", "dan", "old"):
            identity.create_user(conn, CTX, code, Text(code, code), "s3cret-pass")
        identity.set_active(conn, CTX, "old", False)
    return db


def add(db, user="ann", substitute="bob", since=TODAY, until=TODAY + 2 * DAY, ctx=CTX) -> int:
    with db.begin(write=True) as conn:
        return add_delegation(conn, ctx, user, substitute, since, until)


def sub(db, user: str, on: date) -> str | None:
    with db.begin() as conn:
        return substitute_for(conn, user, on)


def rows(db) -> int:
    with db.begin() as conn:
        return conn.execute(select(func.count()).select_from(wf_delegation)).scalar_one()


def delegation_events(db) -> list[dict]:
    with db.begin() as conn:
        return list(reversed(query_events(conn, kind="workflow.delegation")))


# ---------------------------------------------------------------- the dates

def test_substitute_on_the_dates_inclusive(world):
    add(world, since=TODAY, until=TODAY + 2 * DAY)
    assert [sub(world, "ann", TODAY + n * DAY) for n in (-1, 0, 1, 2, 3)] == \
        [None, "bob", "bob", "bob", None]
    assert sub(world, "bob", TODAY) is None


def test_one_day_delegation(world):
    add(world, since=TODAY, until=TODAY)
    assert sub(world, "ann", TODAY) == "bob"
    assert sub(world, "ann", TODAY + DAY) is None


def test_one_hop_only(world):
    add(world, "ann", "bob")
    add(world, "bob", "cat")
    assert sub(world, "ann", TODAY) == "bob"      # bob is on leave too: he keeps it
    assert sub(world, "bob", TODAY) == "cat"


def test_loops_are_harmless(world):
    add(world, "ann", "bob")
    add(world, "bob", "ann")
    with world.begin() as conn:
        assert substitutes(conn, ["ann", "bob", "cat"], TODAY) == {"ann": "bob", "bob": "ann"}


def test_substitute_deactivated_later_is_not_used(world):
    add(world, "ann", "bob")
    with world.begin(write=True) as conn:
        identity.set_active(conn, CTX, "bob", False)
    assert sub(world, "ann", TODAY) is None


def test_successive_delegations(world):
    add(world, "ann", "bob", TODAY, TODAY + DAY)
    add(world, "ann", "cat", TODAY + 2 * DAY, TODAY + 3 * DAY)
    assert [sub(world, "ann", TODAY + n * DAY) for n in range(4)] == \
        ["bob", "bob", "cat", "cat"]


def test_unknown_codes_have_no_substitute(world):
    with world.begin() as conn:
        assert substitute_for(conn, "ghost", TODAY) is None
        assert substitutes(conn, [None, 7, "x" * 500, "nul\x00"], TODAY) == {}


# ---------------------------------------------------------------- refusals

def _field_error(err: ValidationFailed) -> tuple[str, str]:
    (field, problems), = err.details["fields"].items()
    return field, problems[0]["code"]


@pytest.mark.parametrize("substitute, since, until, expected", [
    ("bob", TODAY, TODAY - DAY, ("valid_to", "range")),
    ("ann", TODAY, TODAY, ("substitute", "self")),
    ("ghost", TODAY, TODAY, ("substitute", "unknown_user")),
    (42, TODAY, TODAY, ("substitute", "unknown_user")),
    ("old", TODAY, TODAY, ("substitute", "inactive_user")),
    ("bob", "2026-11-25", TODAY, ("valid_from", "type")),
    ("bob", TODAY, NOW, ("valid_to", "type")),
])
def test_bad_delegations_are_refused_and_write_nothing(world, substitute, since, until,
                                                       expected):
    with pytest.raises(ValidationFailed) as err:
        add(world, "ann", substitute, since, until)
    assert _field_error(err.value) == expected
    assert err.value.message.zh and err.value.message.en
    assert rows(world) == 0 and delegation_events(world) == []


@pytest.mark.parametrize("since, until", [
    (TODAY + 2 * DAY, TODAY + 5 * DAY),   # touches the last day (inclusive)
    (TODAY - 3 * DAY, TODAY),              # touches the first day
    (TODAY + DAY, TODAY + DAY),            # inside
    (TODAY - DAY, TODAY + 9 * DAY),        # around
])
def test_overlapping_delegations_are_refused(world, since, until):
    add(world, "ann", "bob", TODAY, TODAY + 2 * DAY)
    with pytest.raises(ValidationFailed) as err:
        add(world, "ann", "cat", since, until)
    assert _field_error(err.value) == ("valid_from", "overlap")
    assert "bob" in err.value.message.en and "bob" in err.value.message.zh
    assert rows(world) == 1


def test_other_users_may_delegate_the_same_days(world):
    add(world, "ann", "bob")
    add(world, "cat", "bob")
    assert sub(world, "cat", TODAY) == "bob"


def test_revoked_delegation_does_not_block_a_new_one(world):
    did = add(world, "ann", "bob")
    with world.begin(write=True) as conn:
        revoke_delegation(conn, CTX, did)
    add(world, "ann", "cat")
    assert sub(world, "ann", TODAY) == "cat"


def test_unknown_user_is_not_found(world):
    with pytest.raises(NotFound):
        add(world, "ghost", "bob")
    assert rows(world) == 0


# ---------------------------------------------------------------- who may

def test_users_manage_their_own_delegations(world):
    did = add(world, "ann", "bob", ctx=as_user("ann"))
    with world.begin(write=True) as conn:
        revoke_delegation(conn, as_user("ann"), did)
    assert sub(world, "ann", TODAY) is None


def test_others_may_not_add_or_revoke(world):
    with pytest.raises(PermissionDenied):
        add(world, "ann", "bob", ctx=as_user("cat"))
    did = add(world, "ann", "bob")
    with pytest.raises(PermissionDenied), world.begin(write=True) as conn:
        revoke_delegation(conn, as_user("cat"), did)
    assert sub(world, "ann", TODAY) == "bob"


@pytest.mark.parametrize("ctx", [as_user("root", superuser=True),
                                 as_user("hr", platform={"manage_users"}), CTX])
def test_superuser_user_admin_and_trusted_manage_anyone(world, ctx):
    did = add(world, "ann", "bob", ctx=ctx)
    with world.begin(write=True) as conn:
        revoke_delegation(conn, ctx, did)
    assert sub(world, "ann", TODAY) is None


# ---------------------------------------------------------------- revoke, list, audit

def test_revoke_unknown_delegation(world):
    for bad in (999, 0, -1, 2 ** 40, "1", None, True):
        with pytest.raises(NotFound), world.begin(write=True) as conn:
            revoke_delegation(conn, CTX, bad)


def test_revoking_twice_keeps_the_first_time(world):
    did = add(world, "ann", "bob")
    for ctx in (CTX, LATER):
        with world.begin(write=True) as conn:
            revoke_delegation(conn, ctx, did)
    with world.begin() as conn:
        (listed,) = list_delegations(conn, "ann")
    assert listed["revoked_at"] == NOW
    assert [e["detail"]["action"] for e in delegation_events(world)] == ["add", "revoke"]


def test_list_delegations_given_and_received(world):
    first = add(world, "ann", "bob", TODAY + 5 * DAY, TODAY + 6 * DAY)
    second = add(world, "cat", "ann", TODAY, TODAY)
    with world.begin() as conn:
        assert list_delegations(conn, "ann") == [
            {"id": second, "user": "cat", "substitute": "ann", "valid_from": TODAY,
             "valid_to": TODAY, "created_at": NOW, "revoked_at": None},
            {"id": first, "user": "ann", "substitute": "bob", "valid_from": TODAY + 5 * DAY,
             "valid_to": TODAY + 6 * DAY, "created_at": NOW, "revoked_at": None},
        ]
        assert list_delegations(conn, "dan") == []
        assert list_delegations(conn, 5) == []


def test_changes_are_audited(world):
    did = add(world, "ann", "bob", TODAY, TODAY + DAY, ctx=as_user("ann"))
    with world.begin(write=True) as conn:
        revoke_delegation(conn, as_user("ann"), did)
    added, revoked = delegation_events(world)
    assert added["actor"] == "ann" and added["detail"] == {
        "action": "add", "delegation": did, "user": "ann", "substitute": "bob",
        "valid_from": TODAY.isoformat(), "valid_to": (TODAY + DAY).isoformat()}
    assert revoked["detail"] == {"action": "revoke", "delegation": did, "user": "ann",
                                 "substitute": "bob"}
