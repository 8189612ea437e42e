"""Access policies (casbin RBAC with domains): storage, reload across
processes, inheritance, domains, the superuser, role assignment and its
audit trail — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, insert, select

from yunying.platform import org
from yunying.platform.access import AccessControl, Assignment, PolicyRow
from yunying.platform.context import Context
from yunying.platform.database import Database
from yunying.platform.errors import Conflict, NotFound, ValidationFailed
from yunying.platform.tables import access_state, audit_event, casbin_rule, user

CTX = Context(actor="tester", request_id="req-1")
REQ = "materials.requisition"
ITEM = "materials.item"

PACKAGE_ROWS = [
    PolicyRow.permission("platform.admin", "*", "*"),
    PolicyRow.permission("m.clerk", REQ, "read"),
    PolicyRow.permission("m.clerk", REQ, "create"),
    PolicyRow.permission("m.head", REQ, "approve"),
    PolicyRow.permission("m.designer", "platform", "design"),
    PolicyRow.permission("m.viewer", ITEM, "read"),
    PolicyRow.inheritance("m.head", "m.clerk"),
    PolicyRow.inheritance("m.director", "m.head"),
]


def add_users(conn, *codes: str) -> None:
    """Users without the cost of hashing a password (they never log in here)."""
    now = CTX.now()
    conn.execute(insert(user), [dict(
        code=code, name_zh=code, name_en=code, password_hash="-", active=True,
        created_at=now, updated_at=now, failed_logins=0, password_changed_at=now)
        for code in codes])


@pytest.fixture
def access(db) -> AccessControl:
    with db.begin(write=True) as conn:
        add_users(conn, "alice", "bob", "carol")
        for code in ("H1", "H2"):
            org.add_unit(conn, org.OrgUnit(code, code, code, "hospital", date(2020, 1, 1)))
    control = AccessControl(db)
    with db.begin(write=True) as conn:
        control.replace_package_policies(conn, CTX, PACKAGE_ROWS)
    return control


def _grant(db, access, user, role, domain="*"):
    with db.begin(write=True) as conn:
        access.grant_role(conn, CTX, user, role, domain)


def _ask(db, access, method, *args):
    with db.begin() as conn:
        return getattr(access, method)(conn, *args)


def _rules(db) -> set[tuple]:
    c = casbin_rule.c
    with db.connect() as conn:
        return {tuple(v for v in row if v is not None) for row in conn.execute(
            select(c.ptype, c.v0, c.v1, c.v2, c.v3, c.v4, c.v5))}


def _events(db, kind):
    with db.connect() as conn:
        return conn.execute(select(audit_event).where(audit_event.c.kind == kind)
                            .order_by(audit_event.c.id)).all()


# -- storage ------------------------------------------------------------------

def test_package_rows_are_stored_as_casbin_rules(db, access):
    assert _rules(db) == {(r.ptype, *r.values) for r in PACKAGE_ROWS}
    [event] = _events(db, "policy.sync")
    assert event.detail == {"rows": 8, "added": 8, "removed": 0}
    assert (event.actor, event.request_id) == ("tester", "req-1")
    assert _ask(db, access, "version") == 1


def test_replacing_package_rows_writes_the_difference_and_keeps_assignments(db, access):
    _grant(db, access, "alice", "m.clerk", "H1")
    rows = [r for r in PACKAGE_ROWS if r.values[0] != "role:m.viewer"]
    rows.append(PolicyRow.permission("m.viewer", ITEM, "export"))
    with db.begin(write=True) as conn:
        access.replace_package_policies(conn, CTX, rows + rows[:2])  # duplicates once
    assert _rules(db) == {(r.ptype, *r.values) for r in rows} | {
        ("g", "user:alice", "role:m.clerk", "H1")}
    assert _events(db, "policy.sync")[-1].detail == {"rows": 8, "added": 1, "removed": 1}
    assert _ask(db, access, "version") == 3
    assert _ask(db, access, "enforce", "alice", "H1", REQ, "read")


def test_an_unchanged_sync_is_audited_but_moves_no_version(db, access):
    with db.begin(write=True) as conn:
        access.replace_package_policies(conn, CTX, list(reversed(PACKAGE_ROWS)))
    assert _ask(db, access, "version") == 1
    assert _events(db, "policy.sync")[-1].detail == {"rows": 8, "added": 0, "removed": 0}


@pytest.mark.parametrize("row", [PolicyRow("g", ("user:alice", "role:m.clerk", "*")),
                                 PolicyRow("p", ("user:alice", "*", ITEM, "read"))])
def test_package_rows_are_about_roles_only(db, access, row):
    with pytest.raises(ValueError):
        with db.begin(write=True) as conn:
            access.replace_package_policies(conn, CTX, [*PACKAGE_ROWS, row])
    assert _rules(db) == {(r.ptype, *r.values) for r in PACKAGE_ROWS}


@pytest.mark.parametrize("ptype, values", [
    ("p", ("role:x", "*", "obj")), ("g", ("role:x", "role:y")), ("q", ("a", "b", "c")),
    ("p", ("role:x", "*", "", "read")), ("g", ("role:x", None, "*")),
])
def test_malformed_rows_are_refused(ptype, values):
    with pytest.raises(ValueError):
        PolicyRow(ptype, values)


def test_a_connection_of_another_database_is_refused(db, access, tmp_path):
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with other.connect() as conn, pytest.raises(ValueError):
            access.roles_of(conn, "alice")
    finally:
        other.dispose()


# -- domains, inheritance, superuser ------------------------------------------------

def test_a_role_held_in_a_domain_applies_there_only(db, access):
    _grant(db, access, "alice", "m.clerk", "H1")
    assert _ask(db, access, "enforce", "alice", "H1", REQ, "read")
    assert _ask(db, access, "enforce", "alice", "H1", REQ, "create")
    assert not _ask(db, access, "enforce", "alice", "H1", REQ, "approve")
    assert not _ask(db, access, "enforce", "alice", "H2", REQ, "read")
    assert not _ask(db, access, "enforce", "alice", "H1", ITEM, "read")
    assert not _ask(db, access, "enforce", "bob", "H1", REQ, "read")
    assert _ask(db, access, "roles_of", "alice") == (("m.clerk", "H1"),)


def test_a_role_held_in_every_domain_applies_in_each(db, access):
    _grant(db, access, "alice", "m.clerk")
    for domain in ("H1", "H2", "*"):
        assert _ask(db, access, "enforce", "alice", domain, REQ, "read")
    assert _ask(db, access, "roles_of", "alice") == (("m.clerk", "*"),)


def test_inherited_roles_are_resolved(db, access):
    _grant(db, access, "alice", "m.director", "H2")
    assert _ask(db, access, "roles_of", "alice") == (
        ("m.clerk", "H2"), ("m.director", "H2"), ("m.head", "H2"))
    assert _ask(db, access, "enforce", "alice", "H2", REQ, "approve")
    assert _ask(db, access, "enforce", "alice", "H2", REQ, "read")
    assert not _ask(db, access, "enforce", "alice", "H1", REQ, "read")


def test_a_role_held_everywhere_is_listed_once(db, access):
    _grant(db, access, "alice", "m.clerk")
    _grant(db, access, "alice", "m.head", "H1")
    _grant(db, access, "alice", "m.viewer", "H2")
    assert _ask(db, access, "roles_of", "alice") == (
        ("m.clerk", "*"), ("m.head", "H1"), ("m.viewer", "H2"))


def test_users_with_role_include_every_domain_holders_and_inheritors(db, access):
    _grant(db, access, "alice", "m.clerk", "H1")
    _grant(db, access, "bob", "m.clerk")
    _grant(db, access, "carol", "m.director", "H1")
    assert _ask(db, access, "users_with_role", "m.clerk", "H1") == ["alice", "bob", "carol"]
    assert _ask(db, access, "users_with_role", "m.clerk", "H2") == ["bob"]
    assert _ask(db, access, "users_with_role", "m.clerk", "*") == ["bob"]
    assert _ask(db, access, "users_with_role", "m.head", "H1") == ["carol"]
    assert _ask(db, access, "users_with_role", "m.viewer", "H1") == []


def test_the_superuser_may_do_everything_everywhere(db):
    access = AccessControl(db)  # no package rows stored at all
    with db.begin(write=True) as conn:
        add_users(conn, "root")
        access.grant_role(conn, CTX, "root", "platform.admin")
    assert _ask(db, access, "enforce", "root", "ANY", "anything", "whatever")
    assert _ask(db, access, "platform_actions", "root") == frozenset({"*"})
    assert _ask(db, access, "roles_of", "root") == (("platform.admin", "*"),)


def test_platform_actions_come_from_every_role_held(db, access):
    _grant(db, access, "alice", "m.designer", "H1")
    _grant(db, access, "alice", "m.clerk")
    assert _ask(db, access, "platform_actions", "alice") == frozenset({"design"})
    assert _ask(db, access, "platform_actions", "bob") == frozenset()


def test_assignments_are_the_stored_rows(db, access):
    _grant(db, access, "bob", "m.clerk", "H2")
    _grant(db, access, "alice", "m.director", "H1")
    _grant(db, access, "alice", "m.clerk")
    assert _ask(db, access, "assignments") == [
        Assignment("alice", "m.clerk", "*"), Assignment("alice", "m.director", "H1"),
        Assignment("bob", "m.clerk", "H2")]
    assert _ask(db, access, "assignments", "bob") == [Assignment("bob", "m.clerk", "H2")]


# -- grant / revoke ------------------------------------------------------------------

def test_grant_and_revoke_are_audited(db, access):
    _grant(db, access, "alice", "m.clerk", "H1")
    with db.begin(write=True) as conn:
        access.revoke_role(conn, CTX, "alice", "m.clerk", "H1")
    [grant], [revoke] = _events(db, "role.grant"), _events(db, "role.revoke")
    assert grant.detail == revoke.detail == {"user": "alice", "role": "m.clerk", "domain": "H1"}
    assert (grant.actor, grant.request_id) == ("tester", "req-1")
    assert not _ask(db, access, "enforce", "alice", "H1", REQ, "read")
    assert _ask(db, access, "version") == 3


def _fields(exc) -> dict[str, list[str]]:
    assert exc.message.zh and exc.message.en and exc.message.zh != exc.message.en
    return {name: [p["code"] for p in problems]
            for name, problems in exc.details["fields"].items()}


@pytest.mark.parametrize("role, domain, expected", [
    ("m.nobody", "*", {"role": ["unknown_role"]}),
    ("m.clerk", "H9", {"domain": ["unknown_domain"]}),
    ("m.nobody", "H9", {"role": ["unknown_role"], "domain": ["unknown_domain"]}),
    ("platform.admin", "H1", {"domain": ["superuser_domain"]}),
    ("m.clerk\x00", "H1\x00", {"role": ["unknown_role"], "domain": ["unknown_domain"]}),
    ("x" * 300, "\ud800", {"role": ["unknown_role"], "domain": ["unknown_domain"]}),
    ("", 7, {"role": ["unknown_role"], "domain": ["unknown_domain"]}),
])
def test_grant_refuses_unknown_roles_and_domains(db, access, role, domain, expected):
    with pytest.raises(ValidationFailed) as caught:
        _grant(db, access, "alice", role, domain)
    assert _fields(caught.value) == expected
    assert _ask(db, access, "assignments") == []
    assert _events(db, "role.grant") == []


@pytest.mark.parametrize("user", ["nobody", "bad\x00code", "u" * 300])
def test_grant_to_an_unknown_user_is_not_found(db, access, user):
    with pytest.raises(NotFound) as caught:
        _grant(db, access, user, "m.clerk")
    assert caught.value.message.zh.startswith("用户 ")
    assert caught.value.message.en.startswith("user ")
    assert _events(db, "role.grant") == []


def test_a_role_held_already_is_a_conflict(db, access):
    _grant(db, access, "alice", "m.clerk", "H1")
    with pytest.raises(Conflict) as caught:
        _grant(db, access, "alice", "m.clerk", "H1")
    assert "alice" in caught.value.message.zh and "H1" in caught.value.message.en
    _grant(db, access, "alice", "m.clerk", "H2")  # another domain is another grant
    assert len(_ask(db, access, "assignments", "alice")) == 2


def test_a_role_with_only_inheritance_rows_is_known(db, access):
    _grant(db, access, "alice", "m.director")
    assert ("m.director", "*") in _ask(db, access, "roles_of", "alice")


@pytest.mark.parametrize("role, domain", [("m.clerk", "H2"), ("m.head", "H1"),
                                          ("m.clerk", "\x00"), ("m.clerk", "*")])
def test_revoking_a_role_not_held_is_not_found(db, access, role, domain):
    _grant(db, access, "alice", "m.clerk", "H1")
    with pytest.raises(NotFound) as caught:
        with db.begin(write=True) as conn:
            access.revoke_role(conn, CTX, "alice", role, domain)
    assert caught.value.code == "role_not_held"
    assert caught.value.message.zh and caught.value.message.en
    assert _events(db, "role.revoke") == []


def test_a_rolled_back_grant_leaves_neither_rule_nor_audit_row(db, access):
    with pytest.raises(RuntimeError):
        with db.begin(write=True) as conn:
            access.grant_role(conn, CTX, "alice", "m.clerk", "H1")
            assert access.roles_of(conn, "alice") == (("m.clerk", "H1"),)  # own write seen
            raise RuntimeError("later step failed")
    assert _events(db, "role.grant") == []
    assert ("g", "user:alice", "role:m.clerk", "H1") not in _rules(db)
    assert _ask(db, access, "roles_of", "alice") == ()
    assert _ask(db, access, "version") == 1


def test_an_uncommitted_view_is_never_cached(db, access):
    """A rolled-back change and a later committed one reach the same version
    number; the answer must be the committed one."""
    assert _ask(db, access, "roles_of", "alice") == ()
    with pytest.raises(RuntimeError):
        with db.begin(write=True) as conn:
            access.grant_role(conn, CTX, "alice", "m.head", "H1")
            assert access.enforce(conn, "alice", "H1", REQ, "approve")
            raise RuntimeError("rolled back")
    _grant(db, access, "alice", "m.viewer", "H2")
    assert _ask(db, access, "roles_of", "alice") == (("m.viewer", "H2"),)
    assert not _ask(db, access, "enforce", "alice", "H1", REQ, "approve")


# -- reload across processes, threads -----------------------------------------------------

def test_a_change_by_another_process_is_seen(db, access, database_url):
    other_db = Database(database_url)  # a second process: its own engine and facade
    try:
        other = AccessControl(other_db)
        assert _ask(other_db, other, "roles_of", "alice") == ()
        _grant(db, access, "alice", "m.clerk", "H1")
        assert _ask(other_db, other, "roles_of", "alice") == (("m.clerk", "H1"),)
        _grant(other_db, other, "bob", "m.head")
        assert _ask(db, access, "enforce", "bob", "H2", REQ, "approve")
    finally:
        other_db.dispose()


def test_the_loaded_policy_is_reused_until_the_version_moves(db, access):
    assert not _ask(db, access, "enforce", "alice", "H1", REQ, "read")
    with db.begin(write=True) as conn:  # a rule written behind the facade's back
        conn.execute(insert(casbin_rule).values(ptype="g", v0="user:alice",
                                                v1="role:m.clerk", v2="H1"))
    assert not _ask(db, access, "enforce", "alice", "H1", REQ, "read")  # cached
    _grant(db, access, "bob", "m.viewer")  # moves the version: everything reloads
    assert _ask(db, access, "enforce", "alice", "H1", REQ, "read")


def test_the_state_row_is_created_when_missing(db):
    access = AccessControl(db)
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(access_state)).scalar() == 0
        assert access.version(conn) == 0
    with db.begin(write=True) as conn:
        access.replace_package_policies(conn, CTX, [PolicyRow.permission("m.a", ITEM, "read")])
    with db.connect() as conn:
        assert conn.execute(select(access_state.c.id, access_state.c.version)).all() == [(1, 1)]


def test_threads_share_one_facade(db, access):
    _grant(db, access, "alice", "m.director", "H1")
    results: list[tuple] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            for _ in range(20):
                results.append(_ask(db, access, "roles_of", "alice"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(results) == {(("m.clerk", "H1"), ("m.director", "H1"), ("m.head", "H1"))}


def test_concurrent_identical_grants_store_one_rule(db, access):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def grant() -> None:
        barrier.wait()
        try:
            _grant(db, access, "alice", "m.clerk", "H1")
            outcomes.append("granted")
        except Conflict:
            outcomes.append("conflict")
    threads = [threading.Thread(target=grant) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "granted"]
    assert _ask(db, access, "assignments", "alice") == [Assignment("alice", "m.clerk", "H1")]
