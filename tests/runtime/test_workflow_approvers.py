"""Approver resolution of approval and cc nodes: every source, every policy
branch, delegation, inactive users — on SQLite and PostgreSQL.

The org model (admin tree, heads in brackets, staff after the colon)::

    hosp [hugo]: hugo ─┬─ med [mia]: mia ── card [carl]: carl, ann
                       ├─ surg (no head): sue
                       └─ resp (no head): rita   (under med until yesterday,
                                                  under surg from today)
    hosp2 [hana] ── dept2

Role holders: storekeeper — kim in card, ken in hosp, kai in hosp2, kat in
``*``, zoe in ``*`` (inactive); chief_storekeeper (inherits storekeeper) —
chris in med; director — mia in hosp; auditor — eve in ``*``. noel has no
primary unit.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

import pytest
from werkzeug.security import generate_password_hash

from yunying.metadata.workflow_spec import ApproverSpec, NodeSpec, PolicySpec
from yunying.platform import identity, org
from yunying.platform.access import AccessControl, PolicyRow
from yunying.platform.context import Context
from yunying.platform.errors import TransitionRejected, ValidationFailed
from yunying.platform.i18n import Text
from yunying.runtime.registry import Registry
from yunying.runtime.workflow.approvers import (
    ApproverEnv, Resolution, Seat, resolve_approvers, resolve_recipients,
)
from yunying.runtime.workflow.delegation import add_delegation, revoke_delegation

from record_helpers import REQ, base_package, materials_package

NOW = datetime(2026, 11, 25, 9, 0)
TODAY = NOW.date()
YESTERDAY = TODAY - timedelta(days=1)
START = date(2020, 1, 1)
CTX = Context(actor="tester", clock=lambda: NOW)
REGISTRY = Registry.from_packages([base_package(), materials_package()])

STORE, CHIEF, DIRECTOR, AUDITOR = "wf.storekeeper", "wf.chief_storekeeper", "wf.director", \
    "wf.auditor"
USERS = ("ann", "carl", "mia", "hugo", "hana", "sue", "rita", "noel", "kim", "ken", "kai",
         "kat", "chris", "zoe", "dan", "eve")
UNITS = ("hosp", "med", "card", "surg", "resp", "hosp2", "dept2")
EDGES = (("hosp", "med", START, None), ("hosp", "surg", START, None),
         ("med", "card", START, None), ("hosp2", "dept2", START, None),
         ("med", "resp", START, TODAY), ("surg", "resp", TODAY, None))
HEADS = (("card", "carl"), ("med", "mia"), ("hosp", "hugo"), ("hosp2", "hana"))
STAFF = (("ann", "card"), ("carl", "card"), ("mia", "med"), ("hugo", "hosp"),
         ("sue", "surg"), ("rita", "resp"))
GRANTS = (("kim", STORE, "card"), ("ken", STORE, "hosp"), ("kai", STORE, "hosp2"),
          ("kat", STORE, "*"), ("zoe", STORE, "*"), ("chris", CHIEF, "med"),
          ("mia", DIRECTOR, "hosp"), ("eve", AUDITOR, "*"))
POLICY_ROWS = [PolicyRow.permission(STORE, REQ, "read"),
               PolicyRow.permission(DIRECTOR, REQ, "read"),
               PolicyRow.permission(AUDITOR, REQ, "read"),
               PolicyRow.inheritance(CHIEF, STORE)]


# ---------------------------------------------------------------- the world

@pytest.fixture
def access(db, monkeypatch) -> AccessControl:
    # one cheap hash round: these users never log in (the real cost is tested elsewhere)
    monkeypatch.setattr(identity, "generate_password_hash",
                        functools.partial(generate_password_hash, method="pbkdf2:sha256:1"))
    control = AccessControl(db)
    with db.begin(write=True) as conn:
        for code in USERS:
            identity.create_user(conn, CTX, code, Text(code, code), "s3cret-pass")
        org.add_tree(conn, "admin", "行政", "Administrative", "administrative", START)
        for code in UNITS:
            org.add_unit(conn, org.OrgUnit(code, code, code, "department", START))
        for parent, child, since, until in EDGES:
            org.add_edge(conn, "admin", parent, child, since, until)
        for unit, head in HEADS:
            org.set_head(conn, unit, head, START)
        for user, unit in STAFF:
            org.assign(conn, user, unit, START, primary=True)
        control.replace_package_policies(conn, CTX, POLICY_ROWS)
        for user, role, domain in GRANTS:
            control.grant_role(conn, CTX, user, role, domain)
        identity.set_active(conn, CTX, "zoe", False)
    return control


@pytest.fixture
def world(db, access):
    return db


def A(source: str, **kw) -> ApproverSpec:
    return ApproverSpec(source=source, **kw)


def node(*sources: ApproverSpec, mode: str = "any", code: str = "review", kind="approval",
         **policy) -> NodeSpec:
    return NodeSpec(code=code, kind=kind, label=Text("科室审核", "Department review"),
                    approvers=sources, mode=mode, policy=PolicySpec(**policy))


def env(initiator: str = "ann", unit: str | None = "card", *, record=None,
        today: date = TODAY, **kw) -> ApproverEnv:
    row = {"id": 1, "department": unit, "requester": None, "created_by": initiator}
    row.update(record or {})
    return ApproverEnv(registry=REGISTRY, entity=REGISTRY.entity(REQ), record=row,
                       initiator=initiator, unit=unit, today=today, **kw)


def resolve(db, n: NodeSpec, e: ApproverEnv) -> Resolution:
    with db.begin() as conn:
        return resolve_approvers(conn, n, e)


def users_of(res: Resolution) -> list[str]:
    return [s.user for s in res.seats]


def pending(*users: str) -> tuple[Seat, ...]:
    return tuple(Seat(u, "pending") for u in users)


def deactivate(db, *users: str) -> None:
    with db.begin(write=True) as conn:
        for code in users:
            identity.set_active(conn, CTX, code, False)


def delegate(db, user: str, substitute: str, since: date, until: date) -> int:
    with db.begin(write=True) as conn:
        return add_delegation(conn, CTX, user, substitute, since, until)


# ---------------------------------------------------------------- named users

def test_named_users_in_order_each_once_without_unknown_or_inactive(world):
    res = resolve(world, node(A("users", users=("kim", "ghost", "zoe", "ann", "kim"))),
                  env("eve"))
    assert res == Resolution(pending("kim", "ann"), sequential=False)


def test_union_of_sources_in_order_without_duplicates(world):
    n = node(A("users", users=("kat", "eve")), A("initiator_head"), A("role", role=STORE),
             mode="sequential")
    res = resolve(world, n, env("ann"))
    assert users_of(res) == ["kat", "eve", "carl", "chris", "ken", "kim"]
    assert res.sequential is True


# ---------------------------------------------------------------- roles

def test_role_holders_in_the_record_domain_and_its_ancestors(world):
    # card's domains: *, card, med (chris, via the inheriting chief role), hosp
    res = resolve(world, node(A("role", role=STORE)), env("ann", "card"))
    assert users_of(res) == ["chris", "kat", "ken", "kim"]   # not kai (hosp2), not zoe


def test_role_held_in_another_branch_does_not_reach(world):
    assert users_of(resolve(world, node(A("role", role=STORE)), env("ann", "dept2"))) == \
        ["kai", "kat"]
    assert users_of(resolve(world, node(A("role", role=STORE)), env("ann", "surg"))) == \
        ["kat", "ken"]


def test_role_without_unit_only_every_domain_holders(world):
    assert users_of(resolve(world, node(A("role", role=STORE)), env("ann", None))) == ["kat"]


def test_role_domain_follows_the_tree_as_of_today(world):
    # resp moved from med to surg today: med's chris reached it until yesterday only
    n = node(A("role", role=STORE))
    assert users_of(resolve(world, n, env("ann", "resp"))) == ["kat", "ken"]
    assert users_of(resolve(world, n, env("ann", "resp", today=YESTERDAY))) == \
        ["chris", "kat", "ken"]


def test_parent_role_holders_do_not_count_for_a_child_role(world):
    assert users_of(resolve(world, node(A("role", role=CHIEF)), env("ann", "card"))) == \
        ["chris"]


def test_role_holders_agree_with_access_control(world, access):
    n = node(A("role", role=STORE))
    with world.begin() as conn:
        for unit in (None, *UNITS):
            domains = ["*"] if unit is None else \
                ["*", unit, *org.ancestors(conn, "admin", unit, TODAY)]
            expected = sorted({u for d in domains
                               for u in access.users_with_role(conn, STORE, d)} - {"zoe"})
            got = resolve_approvers(conn, n, env("eve", unit))
            assert sorted(users_of(got)) == expected, unit


def test_unknown_role_finds_nobody(world):
    with pytest.raises(TransitionRejected) as err:
        resolve(world, node(A("role", role="wf.nobody")), env())
    assert err.value.code == "no_approver"


def test_role_granted_in_the_same_transaction_is_seen(world, access):
    with world.begin(write=True) as conn:
        access.grant_role(conn, CTX, "dan", STORE, "card")
        res = resolve_approvers(conn, node(A("role", role=STORE)), env("ann", "card"))
    assert "dan" in users_of(res)


# ---------------------------------------------------------------- heads

@pytest.mark.parametrize("initiator, head", [
    ("ann", "carl"),     # the head of his unit
    ("carl", "mia"),     # he heads it himself: the next head up
    ("sue", "hugo"),     # his unit has no head: the next head up
    ("rita", "hugo"),    # resp (no head) is under surg (no head) today
])
def test_initiator_head(world, initiator, head):
    res = resolve(world, node(A("initiator_head")), env(initiator))
    assert res == Resolution(pending(head), sequential=False)


def test_initiator_head_without_primary_unit_is_nobody(world):
    with pytest.raises(TransitionRejected) as err:
        resolve(world, node(A("initiator_head")), env("noel"))
    assert err.value.code == "no_approver"


def test_inactive_head_is_skipped(world):
    deactivate(world, "carl")
    assert users_of(resolve(world, node(A("initiator_head")), env("ann"))) == ["mia"]


@pytest.mark.parametrize("levels, until, unit, expected", [
    (2, None, "card", ["carl", "mia"]),
    (None, None, "card", ["carl", "mia", "hugo"]),
    (1, None, "card", ["carl"]),
    (None, DIRECTOR, "card", ["carl", "mia"]),          # mia is director in hosp
    (1, DIRECTOR, "card", ["carl"]),                     # levels first
    (None, AUDITOR, "card", ["carl", "mia", "hugo"]),   # no head holds it: to the top
    (None, DIRECTOR, "dept2", ["carl", "mia", "hugo"]),  # mia's role does not reach dept2
    (10, None, "card", ["carl", "mia", "hugo"]),
])
def test_heads_stop_by_levels_top_or_role(world, levels, until, unit, expected):
    res = resolve(world, node(A("heads", levels=levels, until_role=until)), env("ann", unit))
    assert res == Resolution(pending(*expected), sequential=True)


def test_heads_when_the_initiator_is_a_head(world):
    res = resolve(world, node(A("heads", levels=None)), env("carl"))
    assert res == Resolution(pending("mia", "hugo"), sequential=True)
    res = resolve(world, node(A("heads", levels=1)), env("mia"))
    assert res == Resolution(pending("hugo"), sequential=True)


def test_heads_of_the_top_head_is_nobody(world):
    with pytest.raises(TransitionRejected) as err:
        resolve(world, node(A("heads", levels=None)), env("hugo"))
    assert err.value.code == "no_approver"


def test_inactive_head_does_not_count_as_a_level(world):
    deactivate(world, "mia")
    assert users_of(resolve(world, node(A("heads", levels=2)), env("ann"))) == ["carl", "hugo"]


def test_heads_make_the_node_sequential_whatever_its_mode(world):
    n = node(A("users", users=("kat",)), A("heads", levels=1), mode="all")
    res = resolve(world, n, env("ann"))
    assert res == Resolution(pending("kat", "carl"), sequential=True)


def test_heads_along_another_tree(world):
    with world.begin(write=True) as conn:
        org.add_tree(conn, "cost", "成本", "Cost", "cost", START)
        org.add_edge(conn, "cost", "hosp2", "card", START)
    res = resolve(world, node(A("heads", levels=None, tree="cost")), env("ann"))
    assert users_of(res) == ["carl", "hana"]


# ---------------------------------------------------------------- record fields

def test_user_field(world):
    n = node(A("user_field", field="requester"))
    assert users_of(resolve(world, n, env("ann", record={"requester": "kim"}))) == ["kim"]
    for missing in (None, "zoe", "ghost", 42):
        with pytest.raises(TransitionRejected):
            resolve(world, n, env("ann", record={"requester": missing}))


def test_unit_field_is_the_head_of_that_unit_today(world):
    n = node(A("unit_field", field="department"))
    assert users_of(resolve(world, n, env("eve", "med"))) == ["mia"]
    with world.begin(write=True) as conn:
        org.set_head(conn, "med", "ken", TODAY + timedelta(days=1))
    assert users_of(resolve(world, n, env("eve", "med"))) == ["mia"]
    assert users_of(resolve(world, n, env("eve", "med", today=TODAY + timedelta(days=1)))) \
        == ["ken"]


def test_unit_field_without_head_or_value_is_nobody(world):
    n = node(A("unit_field", field="department"), no_approver="auto_approve")
    for unit in ("surg", None, "nowhere"):
        assert resolve(world, n, env("eve", unit)) == \
            Resolution((), sequential=False, auto_approve=True)


# ---------------------------------------------------------------- choices

def test_initiator_choice(world):
    n = node(A("initiator_choice"))
    res = resolve(world, n, env("ann", chosen={"review": ("ken", "kim")}))
    assert users_of(res) == ["ken", "kim"]


@pytest.mark.parametrize("chosen", [{}, {"review": ()}, {"other": ("kim",)}])
def test_initiator_choice_missing_is_refused(world, chosen):
    with pytest.raises(TransitionRejected) as err:
        resolve(world, node(A("initiator_choice")), env("ann", chosen=chosen))
    assert err.value.code == "approvers_required"
    assert err.value.details == {"node": "review"}
    assert "科室审核" in err.value.message.zh and "Department review" in err.value.message.en


def test_chosen_users_must_exist_and_be_active(world):
    with pytest.raises(ValidationFailed) as err:
        resolve(world, node(A("initiator_choice")),
                env("ann", chosen={"review": ("kim", "zoe", "ghost", 7)}))
    assert err.value.details == {"node": "review", "users": ["zoe", "ghost", "7"]}
    assert "zoe" in err.value.message.zh and "ghost" in err.value.message.en


def test_previous_choice(world):
    n = node(A("previous_choice"), no_approver="auto_approve")
    assert users_of(resolve(world, n, env("ann", previous_choice=("eve", "dan")))) == \
        ["eve", "dan"]
    assert resolve(world, n, env("ann")).auto_approve is True
    with pytest.raises(ValidationFailed):
        resolve(world, n, env("ann", previous_choice=("zoe",)))


# ---------------------------------------------------------------- on_self

def test_on_self_none_keeps_the_initiator(world):
    res = resolve(world, node(A("users", users=("ann", "kim"))), env("ann"))
    assert res.seats == pending("ann", "kim")


def test_on_self_auto_approve(world):
    res = resolve(world, node(A("users", users=("ann", "kim")), on_self="auto_approve"),
                  env("ann"))
    assert res.seats == (Seat("ann", "auto", "self"), Seat("kim", "pending"))


def test_on_self_skip(world):
    res = resolve(world, node(A("users", users=("ann", "kim")), on_self="skip"), env("ann"))
    assert res == Resolution(pending("kim"), sequential=False, skipped=("ann",))


def test_on_self_skip_leaving_nobody_passes_the_node(world):
    # even with no_approver refuse: the node had an approver, the policy skipped him
    res = resolve(world, node(A("users", users=("ann",)), on_self="skip"), env("ann"))
    assert res == Resolution((), sequential=False, auto_approve=True, skipped=("ann",))


def test_on_self_head(world):
    res = resolve(world, node(A("users", users=("ann", "kim")), on_self="head"), env("ann"))
    assert res.seats == pending("carl", "kim")


def test_on_self_head_already_approver_is_seated_once(world):
    res = resolve(world, node(A("users", users=("ann", "carl", "kim")), on_self="head"),
                  env("ann"))
    assert res.seats == pending("carl", "kim")


def test_on_self_head_when_the_initiator_heads_his_unit(world):
    res = resolve(world, node(A("unit_field", field="department"), on_self="head"),
                  env("carl", "card"))
    assert res.seats == pending("mia")


def test_on_self_head_without_head_falls_to_no_approver(world):
    n = node(A("users", users=("noel",)), on_self="head")
    with pytest.raises(TransitionRejected) as err:
        resolve(world, n, env("noel"))
    assert err.value.code == "no_approver"


# ---------------------------------------------------------------- dedup

APPROVERS = A("users", users=("kim", "ken", "kat"))


def test_dedup_off(world):
    res = resolve(world, node(APPROVERS), env(approved_before=frozenset({"kim"}),
                                                approved_previous=frozenset({"kim"})))
    assert res.seats == pending("kim", "ken", "kat")


def test_dedup_any(world):
    res = resolve(world, node(APPROVERS, dedup="any"),
                  env(approved_before=frozenset({"kim", "kat"}),
                      approved_previous=frozenset({"kat"})))
    assert res.seats == (Seat("kim", "auto", "dedup"), Seat("ken", "pending"),
                         Seat("kat", "auto", "dedup"))


def test_dedup_consecutive_only_the_node_right_before(world):
    res = resolve(world, node(APPROVERS, dedup="consecutive"),
                  env(approved_before=frozenset({"kim", "kat"}),
                      approved_previous=frozenset({"kat"})))
    assert res.seats == (Seat("kim", "pending"), Seat("ken", "pending"),
                         Seat("kat", "auto", "dedup"))


@pytest.mark.parametrize("policy", ["any", "consecutive"])
def test_no_dedup_on_a_node_returned_to(world, policy):
    res = resolve(world, node(APPROVERS, dedup=policy),
                  env(approved_before=frozenset({"kim"}), approved_previous=frozenset({"kim"}),
                      returned_to=True))
    assert res.seats == pending("kim", "ken", "kat")


def test_self_auto_keeps_its_reason_under_dedup(world):
    res = resolve(world, node(A("users", users=("ann",)), on_self="auto_approve", dedup="any"),
                  env("ann", approved_before=frozenset({"ann"})))
    assert res.seats == (Seat("ann", "auto", "self"),)


# ---------------------------------------------------------------- delegation

def test_delegation_on_its_dates(world):
    delegate(world, "kim", "dan", TODAY, TODAY + timedelta(days=2))
    n = node(APPROVERS)
    on_leave = pending("kim", "ken", "kat")
    substituted = (Seat("dan", "pending", delegated_from="kim"),) + on_leave[1:]
    for day, seats in ((TODAY - timedelta(days=1), on_leave), (TODAY, substituted),
                       (TODAY + timedelta(days=2), substituted),
                       (TODAY + timedelta(days=3), on_leave)):
        assert resolve(world, n, env(today=day)).seats == seats, day


def test_revoked_delegation_is_not_used(world):
    did = delegate(world, "kim", "dan", TODAY, TODAY)
    with world.begin(write=True) as conn:
        revoke_delegation(conn, CTX, did)
    assert resolve(world, node(APPROVERS), env()).seats == pending("kim", "ken", "kat")


def test_auto_seats_keep_the_original_user(world):
    delegate(world, "kim", "dan", TODAY, TODAY)
    delegate(world, "ann", "eve", TODAY, TODAY)
    res = resolve(world, node(A("users", users=("ann", "kim")), on_self="auto_approve",
                              dedup="any"),
                  env("ann", approved_before=frozenset({"kim"})))
    assert res.seats == (Seat("ann", "auto", "self"), Seat("kim", "auto", "dedup"))


def test_inactive_substitute_is_not_used(world):
    delegate(world, "kim", "dan", TODAY, TODAY)
    deactivate(world, "dan")
    assert resolve(world, node(A("users", users=("kim",))), env()).seats == pending("kim")


def test_delegation_to_the_initiator_is_not_used(world):
    delegate(world, "kim", "ann", TODAY, TODAY)
    assert resolve(world, node(A("users", users=("kim",))), env("ann")).seats == \
        pending("kim")


def test_delegation_is_one_hop(world):
    delegate(world, "kim", "dan", TODAY, TODAY)
    delegate(world, "dan", "eve", TODAY, TODAY)
    assert resolve(world, node(A("users", users=("kim",))), env()).seats == \
        (Seat("dan", "pending", delegated_from="kim"),)


def test_substitute_already_seated_is_seated_once(world):
    delegate(world, "kim", "ken", TODAY, TODAY)
    res = resolve(world, node(A("users", users=("ken", "kim"))), env())
    assert res.seats == pending("ken")


def test_heads_delegated(world):
    delegate(world, "mia", "dan", TODAY, TODAY)
    res = resolve(world, node(A("heads", levels=2)), env("ann"))
    assert res.seats == (Seat("carl", "pending"), Seat("dan", "pending", delegated_from="mia"))


# ---------------------------------------------------------------- no approver

def test_no_approver_refuse(world):
    with pytest.raises(TransitionRejected) as err:
        resolve(world, node(A("users", users=("zoe", "ghost"))), env())
    assert err.value.code == "no_approver"
    assert err.value.details == {"node": "review"}
    assert "科室审核" in err.value.message.zh and "Department review" in err.value.message.en


def test_no_approver_auto_approve(world):
    res = resolve(world, node(A("users", users=("zoe",)), no_approver="auto_approve",
                              mode="sequential"), env())
    assert res == Resolution((), sequential=True, auto_approve=True)


def test_no_approver_assign_users(world):
    res = resolve(world, node(A("users", users=("zoe",)), no_approver="assign",
                              assign_users=("zoe", "eve", "dan")), env())
    assert res == Resolution(pending("eve", "dan"), sequential=False)


def test_no_approver_assign_role_in_the_record_domain(world):
    n = node(A("users", users=("zoe",)), no_approver="assign", assign_role=STORE)
    assert users_of(resolve(world, n, env("eve", "dept2"))) == ["kai", "kat"]


def test_assigned_users_go_through_the_policies(world):
    delegate(world, "eve", "dan", TODAY, TODAY)
    n = node(A("users", users=()), no_approver="assign", assign_users=("ann", "eve"),
             on_self="skip")
    assert resolve(world, n, env("ann")) == \
        Resolution((Seat("dan", "pending", delegated_from="eve"),), sequential=False,
                   skipped=("ann",))
    n = node(A("users", users=()), no_approver="assign", assign_users=("ann",),
             on_self="skip")
    assert resolve(world, n, env("ann")) == \
        Resolution((), sequential=False, auto_approve=True, skipped=("ann",))


def test_assign_finding_nobody_refuses(world):
    n = node(A("users", users=("zoe",)), no_approver="assign", assign_users=("zoe",),
             assign_role="wf.nobody")
    with pytest.raises(TransitionRejected) as err:
        resolve(world, n, env())
    assert err.value.code == "no_approver"


# ---------------------------------------------------------------- modes

@pytest.mark.parametrize("mode, sequential", [("sequential", True), ("all", False),
                                              ("any", False), ("ratio", False)])
def test_sequential_follows_the_mode(world, mode, sequential):
    assert resolve(world, node(APPROVERS, mode=mode), env()).sequential is sequential


# ---------------------------------------------------------------- cc

def test_recipients_of_a_cc_node(world):
    delegate(world, "eve", "dan", TODAY, TODAY)
    n = node(A("role", role=AUDITOR), A("users", users=("ann", "zoe", "kim")),
             A("initiator_choice"), kind="cc", code="cc_fin")
    with world.begin() as conn:
        assert resolve_recipients(conn, n, env("ann")) == ("dan", "ann", "kim")
        assert resolve_recipients(conn, n, env("ann", chosen={"cc_fin": ("hana",)})) == \
            ("dan", "ann", "kim", "hana")
        with pytest.raises(ValidationFailed):
            resolve_recipients(conn, n, env("ann", chosen={"cc_fin": ("zoe",)}))
        assert resolve_recipients(conn, node(A("users", users=("zoe",)), kind="cc"),
                                  env()) == ()
