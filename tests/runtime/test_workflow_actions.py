"""Workflow actions beyond approve and reject (SQLite and PostgreSQL): returns
(退回) to the initiator / previous node / a chosen node, reject_to, resubmit
(restart and returning node), withdraw, transfer, add signers before and
after, remind, comment, the timeline, reading rights and the timeout tick."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.runtime.wf_engine_helpers import World, statuses, world  # noqa: F401
from yunying.platform.errors import (
    Conflict, NotFound, PermissionDenied, TransitionRejected, ValidationFailed,
)
from yunying.platform.tables import wf_task
from yunying.runtime.workflow.delegation import add_delegation


def _rounds(view: dict, node: str) -> list[int]:
    return sorted({t["round"] for t in view["tasks"] if t["node"] == node})


# -- returns and resubmission ----------------------------------------------------------

def test_return_to_the_initiator_and_resubmit_from_the_start(world):
    view = world.start("seq")
    view = world.decide(world.decide(view, "a1"), "a2", "send_back", to="initiator",
                        comment="请补充附件")
    instance = view["instance"]
    assert (instance["status"], instance["state"]) == ("returned", "draft")
    assert [s for _, _, s in statuses(view)] == ["approved", "returned", "cancelled"]
    assert world.record(instance["record_id"])["status"] == "draft"
    assert world.notices("nurse", "returned") == 1
    with pytest.raises(PermissionDenied):
        world.call("resubmit", "a1", instance["id"])
    again = world.call("resubmit", "nurse", instance["id"], comment="已补充")
    assert (again["instance"]["status"], again["instance"]["state"]) == ("running", "reviewing")
    assert world.pending(again) == [("seqn", "a1")]          # restart: from the start
    assert _rounds(again, "seqn") == [1, 2]
    with pytest.raises(TransitionRejected) as twice:
        world.call("resubmit", "nurse", instance["id"])
    assert twice.value.code == "wrong_instance_status"


def test_submit_on_a_returned_instance_resubmits_it(world):
    view = world.decide(world.start("basic"), "a1", "send_back")
    again = world.submit(view["instance"]["record_id"])
    assert again["instance"]["id"] == view["instance"]["id"]
    assert again["instance"]["status"] == "running"
    assert world.pending(again) == [("first", "a1"), ("first", "a2")]


def test_return_to_the_previous_node_and_reject_to(world):
    view = world.decide(world.decide(world.start("ret"), "a1"), "a2")
    view = world.decide(view, "a3", "send_back", to="previous")
    assert world.pending(view) == [("n2", "a2")]
    assert _rounds(view, "n2") == [1, 2]
    view = world.decide(view, "a2")
    assert world.pending(view) == [("n3", "a3")]
    view = world.decide(view, "a3", "reject")                 # reject_to: n1
    assert view["instance"]["status"] == "running"
    assert world.pending(view) == [("n1", "a1")]
    assert _rounds(view, "n1") == [1, 2]


def test_return_to_a_chosen_node_and_the_refusals(world):
    view = world.decide(world.decide(world.start("ret"), "a1"), "a2")
    with pytest.raises(TransitionRejected) as not_offered:      # n3 offers initiator / previous
        world.decide(view, "a3", "send_back", to="n1")
    assert not_offered.value.code == "return_not_allowed"
    view = world.decide(world.start("ret"), "a1")
    with pytest.raises(TransitionRejected) as later:
        world.decide(view, "a2", "send_back", to="n3")
    assert later.value.code == "invalid_return_target"
    with pytest.raises(TransitionRejected):
        world.decide(view, "a2", "send_back", to="end")
    view = world.decide(view, "a2", "send_back", to="n1")
    assert world.pending(view) == [("n1", "a1")]
    first = world.start("ret")
    with pytest.raises(TransitionRejected) as nothing_before:
        world.decide(first, "a1", "send_back", to="previous")
    assert nothing_before.value.code == "invalid_return_target"


def test_resubmit_straight_back_to_the_returning_node(world):
    view = world.decide(world.decide(world.start("ret"), "a1"), "a2", "send_back")
    assert view["instance"]["status"] == "returned"
    again = world.call("resubmit", "nurse", view["instance"]["id"])
    assert world.pending(again) == [("n2", "a2")]              # returning_node, not n1
    assert world.decide(world.decide(again, "a2"), "a3")["instance"]["status"] == "approved"


def test_return_inside_a_parallel_branch_undoes_the_other_branch(world):
    view = world.decide(world.decide(world.start("graph", "5000.00"), "a1"), "a2")
    view = world.decide(view, "a4", "send_back", to="previous")   # back to big, before both
    assert world.pending(view) == [("big", "a2")]
    assert ("p2", "a5", "cancelled") in statuses(view)
    view = world.decide(view, "a2")
    assert world.pending(view) == [("p1", "a4"), ("p2", "a5")]
    view = world.decide(world.decide(view, "a4"), "a5")
    assert view["instance"]["status"] == "approved"


# -- withdraw --------------------------------------------------------------------------

def test_withdraw_before_anyone_approved(world):
    view = world.start("all")
    with pytest.raises(PermissionDenied):
        world.call("withdraw", "a1", view["instance"]["id"])
    done = world.call("withdraw", "nurse", view["instance"]["id"], comment="重新填写")
    assert (done["instance"]["status"], done["instance"]["state"]) == ("withdrawn", "draft")
    assert [s for _, _, s in statuses(done)] == ["cancelled"] * 3
    assert world.notices("a2", "withdrawn") == 1
    assert world.record(view["instance"]["record_id"])["status"] == "draft"
    again = world.submit(view["instance"]["record_id"])          # a fresh instance
    assert again["instance"]["id"] != view["instance"]["id"]


def test_withdraw_after_an_approval_is_refused(world):
    view = world.decide(world.start("all"), "a1")
    with pytest.raises(TransitionRejected) as refused:
        world.call("withdraw", "nurse", view["instance"]["id"])
    assert refused.value.code == "already_approved"
    assert world.view(view["instance"]["id"])["instance"]["status"] == "running"


# -- transfer and add signers -----------------------------------------------------------------

def test_transfer_hands_the_task_to_another_user(world):
    view = world.start("all")
    moved = world.decide(view, "a1", "transfer", to_user="sub", comment="出差")
    a1, sub = moved["tasks"][0], moved["tasks"][-1]
    assert (a1["assignee"], a1["status"]) == ("a1", "transferred")
    assert (sub["assignee"], sub["status"], sub["seq"], sub["round"], sub["kind"]) == \
        ("sub", "pending", a1["seq"], a1["round"], "approval")
    assert world.notices("sub", "task") == 1
    with pytest.raises(TransitionRejected) as busy:
        world.decide(moved, "sub", "transfer", to_user="a2")
    assert busy.value.code == "already_assignee"
    with pytest.raises(ValidationFailed):
        world.decide(moved, "sub", "transfer", to_user="nobody-here")
    done = world.decide(world.decide(world.decide(moved, "sub"), "a2"), "a3")
    assert done["instance"]["status"] == "approved"


def test_transfer_to_a_user_on_leave_goes_to_the_substitute(world):
    with world.db.begin(write=True) as conn:
        add_delegation(conn, world.ctx("system"), "a4", "sub", date(2026, 3, 1),
                       date(2026, 3, 10))
    moved = world.decide(world.start("basic"), "a1", "transfer", to_user="a4")
    last = moved["tasks"][-1]
    assert (last["assignee"], last["delegated_from"]) == ("sub", "a4")


def test_signers_added_before_act_first(world):
    view = world.start("all")
    view = world.decide(view, "a1", "add_signers", users=["a4", "a5"], position="before")
    a1 = view["tasks"][0]
    added = [t for t in view["tasks"] if t["kind"] == "added"]
    assert a1["status"] == "waiting"
    assert [(t["assignee"], t["status"], t["added_by"]) for t in added] == \
        [("a4", "pending", a1["id"]), ("a5", "pending", a1["id"])]
    with pytest.raises(PermissionDenied) as nested:
        world.decide(view, "a4", "add_signers", users=["sub"])
    assert nested.value.code == "added_signer_cannot_add"
    view = world.decide(view, "a4")
    assert view["tasks"][0]["status"] == "waiting"
    view = world.decide(view, "a5")
    assert view["tasks"][0]["status"] == "pending"           # a1's turn again
    view = world.decide(world.decide(world.decide(view, "a1"), "a2"), "a3")
    assert view["instance"]["status"] == "approved"


def test_signers_added_after_must_approve_before_the_node_passes(world):
    view = world.decide(world.start("basic"), "a1", "add_signers", users=["a4"],
                        position="after", comment="请财务复核")
    assert statuses(view) == [("first", "a1", "approved"), ("first", "a2", "cancelled"),
                              ("first", "a4", "pending")]
    assert view["instance"]["status"] == "running"
    done = world.decide(view, "a4")
    assert done["instance"]["status"] == "approved"


def test_a_signer_added_after_in_a_sequential_round_goes_before_the_next_seat(world):
    view = world.decide(world.start("seq"), "a1", "add_signers", users=["a4"], position="after")
    assert world.pending(view) == [("seqn", "a4")]
    assert ("seqn", "a2", "waiting") in statuses(view)
    view = world.decide(view, "a4")
    assert world.pending(view) == [("seqn", "a2")]


def test_an_added_signer_rejecting_rejects(world):
    view = world.decide(world.start("all"), "a1", "add_signers", users=["a4"])
    done = world.decide(view, "a4", "reject")
    assert done["instance"]["status"] == "rejected"


def test_add_signers_refusals(world):
    view = world.decide(world.decide(world.start("ret"), "a1"), "a2")
    with pytest.raises(PermissionDenied) as disabled:
        world.decide(view, "a3", "add_signers", users=["a4"])
    assert disabled.value.code == "add_signers_disabled"
    other = world.start("all")
    with pytest.raises(TransitionRejected) as busy:
        world.decide(other, "a1", "add_signers", users=["a2"])
    assert busy.value.code == "already_assignee"
    with pytest.raises(ValidationFailed):
        world.decide(other, "a1", "add_signers", users=["a4"], position="sideways")
    with pytest.raises(ValidationFailed):
        world.decide(other, "a1", "add_signers", users=[])


# -- remind, comment, timeline, reading ----------------------------------------------------------

def test_remind_notifies_every_pending_assignee(world):
    view = world.start("basic")
    with pytest.raises(PermissionDenied):
        world.call("remind", "a1", view["instance"]["id"])
    world.later(hours=1)
    done = world.call("remind", "nurse", view["instance"]["id"], comment="请尽快")
    assert world.notices("a1", "remind") == 1 and world.notices("a2", "remind") == 1
    with world.db.connect() as conn:
        reminded = set(conn.execute(select(wf_task.c.reminded_at)).scalars())
    assert {str(r) for r in reminded} == {"2026-03-02 10:00:00"}
    assert done["instance"]["status"] == "running"


def test_comments_and_the_timeline(world):
    view = world.start("basic")
    iid = view["instance"]["id"]
    world.call("comment", "a1", iid, text="我看一下")
    with pytest.raises(PermissionDenied):
        world.call("comment", "outsider", iid, text="路过")
    with pytest.raises(ValidationFailed):
        world.call("comment", "nurse", iid, text="   ")
    world.decide(view, "a2", comment="可以")
    with world.db.connect() as conn:
        steps = world.engine.timeline(conn, world.ctx("nurse", restricted=True), iid)
    assert [(s["actor"], s["action"]) for s in steps] == [
        ("nurse", "submit"), ("nurse", "transition"), ("nurse", "activated"),
        ("a1", "comment"), ("a2", "approve"), ("a2", "passed"), ("a2", "finished"),
        ("a2", "transition")]
    approve = steps[4]
    assert approve["comment"] == "可以" and approve["node"] == "first"
    assert approve["node_label"] == {"zh-CN": "部门审核", "en": "Department review"}
    assert steps[0]["at"] == "2026-03-02T09:00:00"
    assert steps[-1]["detail"] == {"transition": "approve_done", "from": "reviewing",
                                   "to": "approved"}


def test_who_may_read_an_instance(world):
    view = world.start("basic")
    iid = view["instance"]["id"]
    with world.db.connect() as conn:
        assert world.engine.instance(conn, world.ctx("a1", restricted=True), iid) == \
            world.view(iid)
        assert world.engine.instance(conn, world.ctx("doctor", restricted=True), iid)
        with pytest.raises(NotFound):
            world.engine.instance(conn, world.ctx("outsider", restricted=True), iid)
        with pytest.raises(NotFound):
            world.engine.timeline(conn, world.ctx("outsider", restricted=True), iid)
        with pytest.raises(NotFound):
            world.engine.instance(conn, world.ctx("a1"), 9999)


# -- the tick ------------------------------------------------------------------------------

def _tick(world: World) -> dict:
    with world.db.begin(write=True) as conn:
        return world.engine.tick(conn, world.ctx("cron"))


ZERO = {"reminded": 0, "approved": 0, "rejected": 0, "failed": []}


def test_tick_applies_each_timeout_once(world):
    view = world.start("timeout")
    assert view["tasks"][0]["due_at"] == "2026-03-02T11:00:00"
    assert _tick(world) == ZERO
    world.later(hours=3)
    assert _tick(world) == {**ZERO, "reminded": 1}
    assert _tick(world) == ZERO                                # remind once
    assert world.notices("a1", "timeout") == 1
    view = world.decide(view, "a1")                           # t2 due at 14:00
    world.later(hours=3)
    assert _tick(world) == {**ZERO, "approved": 1}
    assert _tick(world) == ZERO
    view = world.view(view["instance"]["id"])
    assert world.pending(view) == [("t3", "a3")]
    t2 = next(t for t in view["tasks"] if t["node"] == "t2")
    assert t2["status"] == "approved"
    world.later(hours=3)
    assert _tick(world) == {**ZERO, "rejected": 1}
    done = world.view(view["instance"]["id"])
    assert (done["instance"]["status"], done["instance"]["state"]) == ("rejected", "rejected")
    assert _tick(world) == ZERO
    with world.db.connect() as conn:
        steps = world.engine.timeline(conn, world.ctx("nurse"), view["instance"]["id"])
    timed = [(s["actor"], s["action"], s["detail"]["action"]) for s in steps
             if (s["detail"] or {}).get("timeout")]
    assert timed == [("system", "timeout", "remind"), ("system", "approve", "approve"),
                     ("system", "reject", "reject")]


def test_tick_leaves_decided_tasks_alone(world):
    view = world.start("timeout")
    world.later(hours=3)
    world.decide(view, "a1")
    world.later(hours=1)                                       # t2 is not due yet
    assert _tick(world) == ZERO
    with pytest.raises(Conflict):
        world.decide(view, "a1")
