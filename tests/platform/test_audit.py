"""The audit trail (platform): writing events, append-only storage, the query
and history reads, identity events and package installs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from yunying.platform import audit, identity, migrate
from yunying.platform.audit import audit_install, history, query_events, record_event
from yunying.platform.context import Context
from yunying.platform.errors import InvalidQuery, PermissionDenied
from yunying.platform.i18n import Text
from yunying.platform.tables import audit_event

START = datetime(2026, 11, 26, 8, 0, 0)
PASSWORD = "correct horse"
POLICY = identity.LockPolicy(max_failures=2, lock=timedelta(minutes=5))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def ctx(clock) -> Context:
    return Context(actor="admin", clock=clock, request_id="req-1", address="10.1.1.1")


def _events(db, kind: str | None = None) -> list[dict]:
    with db.connect() as conn:
        stmt = select(audit_event).order_by(audit_event.c.id)
        if kind is not None:
            stmt = stmt.where(audit_event.c.kind == kind)
        return [dict(r._mapping) for r in conn.execute(stmt)]


def _strip(event: dict) -> dict:
    return {k: v for k, v in event.items() if k not in ("id",)}


# ---------------------------------------------------------------- writing

def test_record_event_stores_who_when_where_and_the_json(db, ctx):
    with db.begin() as conn:
        record_event(conn, ctx, "record.update", entity="lab.sample", record_id=7,
                     changes={"price": ["1.10", "1.20"]}, detail={"version": 2})
    [event] = _events(db)
    assert _strip(event) == {
        "at": START, "kind": "record.update", "actor": "admin", "address": "10.1.1.1",
        "request_id": "req-1", "entity": "lab.sample", "record_id": 7,
        "changes": {"price": ["1.10", "1.20"]}, "detail": {"version": 2}}


def test_unknown_kind_is_refused_and_nothing_is_written(db, ctx):
    with db.begin() as conn, pytest.raises(ValueError):
        record_event(conn, ctx, "record.peek")
    assert _events(db) == []


def test_event_rolls_back_with_its_transaction(db, ctx):
    with pytest.raises(RuntimeError), db.begin() as conn:
        record_event(conn, ctx, "logout")
        raise RuntimeError("the change failed")
    assert _events(db) == []


# ---------------------------------------------------------------- append-only

@pytest.fixture
def one_event(db, ctx) -> int:
    with db.begin() as conn:
        record_event(conn, ctx, "logout", detail={"user": "alice"})
    return _events(db)[0]["id"]


@pytest.mark.parametrize("statement", [
    update(audit_event).values(actor="mallory"),
    delete(audit_event),
], ids=["update", "delete"])
def test_the_database_refuses_to_change_or_remove_events(db, one_event, statement):
    with pytest.raises(DBAPIError) as caught, db.begin() as conn:
        conn.execute(statement)
    assert "append-only" in str(caught.value)
    [event] = _events(db)
    assert event["actor"] == "admin" and event["detail"] == {"user": "alice"}


def test_truncate_is_refused_on_postgresql(db, one_event, dialect):
    if dialect != "postgresql":
        # SQLite has no TRUNCATE; its "DELETE FROM" is refused (test above)
        assert dialect == "sqlite"
        return
    with pytest.raises(DBAPIError), db.begin() as conn:
        conn.execute(text("TRUNCATE yy_audit_event"))
    assert len(_events(db)) == 1


def test_the_append_only_migration_downgrades_and_upgrades_cleanly(db, one_event):
    cfg = migrate._config()
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    with db.begin() as conn:                       # the triggers are gone
        conn.execute(update(audit_event).values(actor="migrated"))
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision()
    with pytest.raises(DBAPIError), db.begin() as conn:
        conn.execute(delete(audit_event))
    assert [e["actor"] for e in _events(db)] == ["migrated"]


def test_the_module_offers_no_way_to_change_an_event():
    public = set(audit.__all__)
    assert not any(name.startswith(("update", "delete", "purge", "remove")) for name in public)


# ---------------------------------------------------------------- reading

@pytest.fixture
def trail(db, clock) -> list[int]:
    """Six events over six minutes by two actors on two records."""
    plan = [("alice", "record.create", "lab.sample", 1), ("alice", "record.update", "lab.sample", 1),
            ("bob", "record.create", "lab.sample", 2), ("bob", "login.success", None, None),
            ("alice", "record.delete", "lab.sample", 1), ("bob", "record.update", "lab.sample", 2)]
    with db.begin() as conn:
        for minute, (actor, kind, entity, rid) in enumerate(plan):
            clock.now = START + timedelta(minutes=minute)
            record_event(conn, Context(actor=actor, clock=clock), kind, entity=entity,
                         record_id=rid, changes={"n": [None, minute]} if entity else None)
    return [e["id"] for e in _events(db)]


def test_query_returns_newest_first(db, trail):
    with db.connect() as conn:
        assert [e["id"] for e in query_events(conn)] == trail[::-1]


@pytest.mark.parametrize("filters, positions", [
    ({"kind": "record.create"}, [2, 0]),
    ({"actor": "alice"}, [4, 1, 0]),
    ({"entity": "lab.sample", "record_id": 2}, [5, 2]),
    ({"since": START + timedelta(minutes=2)}, [5, 4, 3, 2]),
    ({"until": START + timedelta(minutes=2)}, [1, 0]),
    ({"since": START + timedelta(minutes=1), "until": START + timedelta(minutes=3),
      "actor": "bob"}, [2]),
    ({"actor": "nobody"}, []),
])
def test_query_filters_combine(db, trail, filters, positions):
    with db.connect() as conn:
        assert [e["id"] for e in query_events(conn, **filters)] == [trail[p] for p in positions]


def test_query_pages_by_id(db, trail):
    pages = []
    before = None
    with db.connect() as conn:
        while True:
            page = query_events(conn, limit=4, before_id=before)
            if not page:
                break
            pages.append([e["id"] for e in page])
            before = page[-1]["id"]
    assert pages == [trail[::-1][:4], trail[::-1][4:]]


def test_query_event_shape(db, trail):
    with db.connect() as conn:
        [event] = query_events(conn, limit=1)
    assert event == {"id": trail[-1], "at": START + timedelta(minutes=5),
                     "kind": "record.update", "actor": "bob", "address": None,
                     "request_id": event["request_id"], "entity": "lab.sample",
                     "record_id": 2, "changes": {"n": [None, 5]}, "detail": None}


@pytest.mark.parametrize("filters, parameter", [
    ({"kind": "record.peek"}, "kind"),
    ({"kind": 3}, "kind"),
    ({"actor": ""}, "actor"),
    ({"actor": "x" * 65}, "actor"),
    ({"actor": "a\x00b"}, "actor"),
    ({"entity": "\ud800"}, "entity"),
    ({"record_id": 0}, "record_id"),
    ({"record_id": 2 ** 31}, "record_id"),
    ({"record_id": True}, "record_id"),
    ({"limit": 0}, "limit"),
    ({"limit": audit.MAX_LIMIT + 1}, "limit"),
    ({"limit": "10"}, "limit"),
    ({"before_id": -1}, "before_id"),
    ({"since": "2026-11-26"}, "since"),
])
def test_query_refuses_values_no_event_can_have(db, filters, parameter):
    with db.connect() as conn, pytest.raises(InvalidQuery) as caught:
        query_events(conn, **filters)
    assert caught.value.details["parameter"] == parameter
    assert parameter in caught.value.message.en and parameter in caught.value.message.zh
    json.dumps(caught.value.details)               # printable whatever came in


def test_history_is_one_record_oldest_first(db, trail):
    with db.connect() as conn:
        assert [e["id"] for e in history(conn, "lab.sample", 1)] == \
            [trail[0], trail[1], trail[4]]
        assert history(conn, "lab.sample", 99) == []
        assert history(conn, "lab.other", 1) == []


def test_history_refuses_a_bad_record_id(db):
    with db.connect() as conn, pytest.raises(InvalidQuery):
        history(conn, "lab.sample", "1")


# ---------------------------------------------------------------- identity events

NAME = Text("张三", "Zhang San")


@pytest.fixture
def alice(db, ctx):
    with db.begin(write=True) as conn:
        return identity.create_user(conn, ctx, "alice", NAME, PASSWORD)


def _anonymous(clock) -> Context:
    return Context(actor="anonymous", clock=clock, request_id="req-login")


def test_user_create_password_and_active_are_audited(db, ctx, alice):
    with db.begin(write=True) as conn:
        identity.set_password(conn, ctx, "alice", "another secret")
        identity.set_active(conn, ctx, "alice", False)
    events = [(e["kind"], e["actor"], e["changes"], e["detail"]) for e in _events(db)]
    assert events == [
        ("user.create", "admin", None,
         {"user": "alice", "name": {"zh-CN": "张三", "en": "Zhang San"}, "active": True}),
        ("user.password", "admin", None, {"user": "alice"}),
        ("user.active", "admin", {"active": [True, False]}, {"user": "alice"}),
    ]
    stored = json.dumps([e["detail"] for e in _events(db)], ensure_ascii=False)
    assert PASSWORD not in stored and "another secret" not in stored


def test_a_refused_user_create_leaves_no_event(db, ctx, alice):
    with db.begin(write=True) as conn, pytest.raises(Exception):
        identity.create_user(conn, ctx, "alice", NAME, PASSWORD)
    assert [e["kind"] for e in _events(db)] == ["user.create"]


def test_login_success_is_audited_with_the_user_as_actor(db, clock, alice):
    with db.begin(write=True) as conn:
        identity.authenticate(conn, _anonymous(clock), "alice", PASSWORD, address="10.0.0.9")
    [event] = _events(db, "login.success")
    assert (event["actor"], event["address"], event["request_id"], event["detail"]) == \
        ("alice", "10.0.0.9", "req-login", {"user": "alice"})


@pytest.mark.parametrize("code, password, reason", [
    ("alice", "wrong password", "wrong_password"),
    ("nobody", "wrong password", "unknown_user"),
])
def test_failed_login_is_audited_and_committed_although_login_raises(
        db, clock, alice, code, password, reason):
    with pytest.raises(PermissionDenied):
        identity.login(db, _anonymous(clock), code, password, address="10.0.0.9")
    [event] = _events(db, "login.failure")
    assert (event["actor"], event["address"], event["detail"]) == \
        ("anonymous", "10.0.0.9", {"code": code, "reason": reason})
    assert password not in json.dumps(event["detail"])


def test_locked_and_inactive_logins_say_why_in_the_audit_only(db, ctx, clock, alice):
    for _ in range(POLICY.max_failures):
        with pytest.raises(PermissionDenied):
            identity.login(db, _anonymous(clock), "alice", "guess guess", policy=POLICY)
    with pytest.raises(PermissionDenied) as locked:
        identity.login(db, _anonymous(clock), "alice", PASSWORD, policy=POLICY)
    assert locked.value.details == {}              # the caller learns nothing
    clock.now = START + timedelta(hours=1)
    with db.begin(write=True) as conn:
        identity.set_active(conn, ctx, "alice", False)
    with pytest.raises(PermissionDenied):
        identity.login(db, _anonymous(clock), "alice", PASSWORD, policy=POLICY)
    reasons = [e["detail"]["reason"] for e in _events(db, "login.failure")]
    assert reasons == ["wrong_password", "wrong_password", "locked", "inactive"]


class BlockingThrottle:
    def blocked(self, conn, ctx, address):
        return True

    def record(self, conn, ctx, address, success):
        raise AssertionError("a blocked address is not counted")


def test_blocked_address_and_hostile_codes_are_audited_safely(db, clock, alice):
    with db.begin(write=True) as conn:
        identity.authenticate(conn, _anonymous(clock), "alice", PASSWORD,
                              address="6.6.6.6", throttle=BlockingThrottle())
        identity.authenticate(conn, _anonymous(clock), "x\x00\ud800" + "y" * 100, PASSWORD)
        identity.authenticate(conn, _anonymous(clock), ["alice"], PASSWORD)
    details = [e["detail"] for e in _events(db, "login.failure")]
    assert details[0] == {"code": "alice", "reason": "address_blocked"}
    assert details[1]["reason"] == "unknown_user" and len(details[1]["code"]) <= 70
    assert "\x00" not in details[1]["code"] and details[1]["code"].startswith("x\\x00?y")
    assert details[2] == {"code": "<list>", "reason": "unknown_user"}


def test_tokens_issue_use_and_revoke_are_audited(db, ctx, clock, alice):
    with db.begin(write=True) as conn:
        issued = identity.issue_token(conn, ctx, "alice", "ci", timedelta(days=1))
    for _ in range(2):
        with db.begin(write=True) as conn:
            assert identity.verify_token(conn, _anonymous(clock), issued.token) is not None
    with db.begin(write=True) as conn:
        identity.revoke_token(conn, ctx, issued.id)
        identity.revoke_token(conn, ctx, issued.id)           # twice: one event
        assert identity.verify_token(conn, _anonymous(clock), issued.token) is None
    with db.begin(write=True) as conn:
        assert identity.verify_token(conn, _anonymous(clock), "yyt_unknown") is None
    events = [(e["kind"], e["actor"], e["detail"]) for e in _events(db)
              if e["kind"].startswith("token.")]
    use = ("token.use", "alice", {"token_id": issued.id, "prefix": issued.prefix})
    assert events == [
        ("token.issue", "admin", {"token_id": issued.id, "user": "alice", "name": "ci",
                                  "prefix": issued.prefix,
                                  "expires_at": (START + timedelta(days=1)).isoformat()}),
        use, use,
        ("token.revoke", "admin", {"token_id": issued.id, "user": "alice"}),
    ]
    assert issued.token not in json.dumps([e["detail"] for e in _events(db)])


# ---------------------------------------------------------------- package installs

@dataclass(frozen=True)
class Pkg:
    code: str
    version: str


def test_audit_install_writes_one_event_per_package(db, ctx):
    with db.begin() as conn:
        written = audit_install(conn, ctx, [Pkg("base", "1.0.0"), Pkg("materials", "1.2.0")],
                                {"base": "reinstall", "materials": "upgrade"},
                                {"base": "1.0.0", "materials": "1.1.0"})
    assert written == 2
    assert [(e["kind"], e["actor"], e["detail"]) for e in _events(db)] == [
        ("package.install", "admin",
         {"package": "base", "action": "reinstall", "from": "1.0.0", "to": "1.0.0"}),
        ("package.install", "admin",
         {"package": "materials", "action": "upgrade", "from": "1.1.0", "to": "1.2.0"}),
    ]


def test_audit_install_first_install_has_no_from(db, ctx):
    with db.begin() as conn:
        audit_install(conn, ctx, [Pkg("lab", "0.1.0")], {"lab": "install"}, {})
    assert _events(db)[0]["detail"] == {"package": "lab", "action": "install",
                                        "from": None, "to": "0.1.0"}
