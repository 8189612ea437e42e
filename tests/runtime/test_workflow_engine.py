"""The workflow engine on a real database (SQLite and PostgreSQL): submit,
every multi-approver mode, every node kind, effects and the state field,
refusals that write nothing, concurrency conflicts, idempotent retries and
version pinning. The fixture package is ``tests/fixtures/wf_engine``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.runtime.wf_engine_helpers import (  # noqa: F401 - fixtures
    DOC, World, copy_fixture, install, statuses, world,
)
from yunying.platform.audit import query_events
from yunying.platform.errors import (
    Conflict, NotFound, PermissionDenied, TransitionRejected, ValidationFailed,
)
from yunying.platform.tables import (
    wf_definition, wf_event, wf_instance, wf_request, wf_task,
)
from yunying.runtime.posting import journal_of


def _events(world: World, instance_id: int) -> list[str]:
    with world.db.connect() as conn:
        return list(conn.execute(select(wf_event.c.action).where(
            wf_event.c.instance_id == instance_id).order_by(wf_event.c.id)).scalars())


def _nothing_written(world: World) -> None:
    for table in (wf_instance, wf_task, wf_event, wf_definition, wf_request):
        assert world.count(table) == 0, table.name


# -- submit -------------------------------------------------------------------------

def test_submit_starts_the_chain_with_tasks_notifications_and_audit(world):
    view = world.start("basic")
    instance = view["instance"]
    assert instance["workflow"] == "wfe.basic_flow"
    assert (instance["state"], instance["status"], instance["initiator"]) == \
        ("reviewing", "running", "nurse")
    assert instance["state_label"] == {"zh-CN": "审批中", "en": "Under review"}
    assert instance["state_category"] == "in_progress"
    assert instance["current_nodes"] == ["first"]
    assert instance["title"] == "basic request"
    assert statuses(view) == [("first", "a1", "pending"), ("first", "a2", "pending")]
    assert view["tasks"][0]["node_label"] == {"zh-CN": "部门审核", "en": "Department review"}
    assert world.record(instance["record_id"])["status"] == "reviewing"
    assert world.notices("a1", "task") == 1 and world.notices("a2", "task") == 1
    assert _events(world, instance["id"]) == ["submit", "transition", "activated"]
    with world.db.connect() as conn:
        audit = query_events(conn, kind="workflow.action", entity=DOC)
    assert [(e["actor"], e["detail"]["action"], e["detail"]["transition"]) for e in audit] == \
        [("nurse", "submit", "submit")]


def test_any_one_approval_ends_the_chain_and_runs_the_effects_in_order(world):
    view = world.start("basic", "250.50")
    rid = view["instance"]["record_id"]
    done = world.decide(view, "a1", comment="同意")
    assert done["instance"]["status"] == "approved"
    assert done["instance"]["state"] == "approved"
    assert done["instance"]["ended_at"] == "2026-03-02T09:00:00"
    assert statuses(done) == [("first", "a1", "approved"), ("first", "a2", "cancelled")]
    assert done["tasks"][0]["comment"] == "同意"
    record = world.record(rid)
    assert record["status"] == "approved"
    assert str(record["approved_on"]) == "2026-03-02"
    assert str(record["approved_amount"]) == "250.50"
    with world.db.connect() as conn:
        [entry] = journal_of(conn, DOC, rid)
    assert {(line["side"], line["account"], str(line["amount"])) for line in entry["lines"]} == \
        {("debit", "5001", "250.50"), ("credit", "2302", "250.50")}
    assert (entry["event"], entry["instance_id"]) == ("approve_done", view["instance"]["id"])
    assert world.notices("nurse", "approved") == 1
    assert world.notices("nurse", "notice") == 1       # effect notify: [initiator, assignees]
    assert world.notices("a2", "notice") == 0          # a cancelled task took no part
    assert world.notices("a1", "notice") == 0          # nobody is told of his own action


def test_a_refused_effect_refuses_the_approval_and_writes_nothing(world):
    view = world.start("basic")
    rid = view["instance"]["record_id"]
    with world.db.begin(write=True) as conn:    # changed behind the workflow's back
        world.records.update(conn, world.ctx("system"), DOC, rid, {"amount": "-5.00"},
                             version=world.record(rid)["version"])
    events = _events(world, view["instance"]["id"])
    with pytest.raises(TransitionRejected):      # a negative posting amount
        world.decide(view, "a1")
    after = world.view(view["instance"]["id"])
    assert after["instance"]["status"] == "running"
    assert after["instance"]["version"] == view["instance"]["version"]
    assert world.pending(after) == [("first", "a1"), ("first", "a2")]
    assert _events(world, view["instance"]["id"]) == events
    assert world.record(rid)["status"] == "reviewing"
    with world.db.connect() as conn:
        assert journal_of(conn, DOC, rid) == []


def test_reject_needs_a_comment_where_the_node_says_so(world):
    view = world.start("basic")
    with pytest.raises(TransitionRejected) as refused:
        world.decide(view, "a2", "reject")
    assert refused.value.code == "comment_required"
    assert refused.value.message.en and refused.value.message.zh
    assert world.pending(view["instance"]["id"]) == [("first", "a1"), ("first", "a2")]
    done = world.decide(view, "a2", "reject", comment="预算不足")
    assert (done["instance"]["status"], done["instance"]["state"]) == ("rejected", "rejected")
    assert statuses(done) == [("first", "a1", "cancelled"), ("first", "a2", "rejected")]
    assert world.record(view["instance"]["record_id"])["status"] == "rejected"
    assert world.notices("nurse", "rejected") == 1


def test_guard_failure_writes_nothing(world):
    rid = world.create("basic", amount="0")
    with pytest.raises(TransitionRejected) as refused:
        world.submit(rid)
    assert refused.value.code == "guard_failed"
    assert refused.value.message.en == "The amount must be greater than zero"
    _nothing_written(world)
    assert world.record(rid)["status"] is None


def test_refused_submit_without_chosen_approvers_writes_nothing(world):
    rid = world.create("choice")
    with pytest.raises(TransitionRejected) as refused:
        world.submit(rid)
    assert refused.value.code == "approvers_required"
    _nothing_written(world)


def test_a_second_submit_conflicts(world):
    view = world.start("basic")
    with pytest.raises(Conflict) as conflict:
        world.submit(view["instance"]["record_id"])
    assert conflict.value.code == "instance_open"
    assert conflict.value.details["instance_id"] == view["instance"]["id"]


def test_unknown_and_wrong_transitions(world):
    rid = world.create("basic")
    with pytest.raises(TransitionRejected) as unknown:
        world.call("fire", "nurse", DOC, rid, "fly")
    assert unknown.value.code == "unknown_transition"
    with pytest.raises(TransitionRejected) as chain_only:
        world.call("fire", "nurse", DOC, rid, "approve_done")
    assert chain_only.value.code == "unknown_transition"
    with pytest.raises(TransitionRejected) as wrong:
        world.call("fire", "nurse", DOC, rid, "archive")
    assert wrong.value.code == "wrong_state"
    assert wrong.value.details["state"] == "draft"
    with pytest.raises(NotFound):
        world.call("fire", "nurse", DOC, 999, "submit")
    with pytest.raises(NotFound):
        world.call("fire", "nurse", "wfe.nothing", rid, "submit")


# -- modes ---------------------------------------------------------------------------

def test_sequential_hands_the_turn_on_in_order(world):
    view = world.start("seq")
    assert statuses(view) == [("seqn", "a1", "pending"), ("seqn", "a2", "waiting"),
                              ("seqn", "a3", "waiting")]
    with pytest.raises(Conflict) as early:
        world.call("approve", "a2", world.task_of(view, "a2", "waiting"))
    assert early.value.code == "task_not_pending"
    view = world.decide(view, "a1")
    assert statuses(view)[1:] == [("seqn", "a2", "pending"), ("seqn", "a3", "waiting")]
    assert world.notices("a2", "task") == 1 and world.notices("a3", "task") == 0
    view = world.decide(world.decide(view, "a2"), "a3")
    assert view["instance"]["status"] == "approved"


def test_all_must_approve_and_one_reject_rejects(world):
    view = world.start("all")
    assert world.pending(view) == [("alln", "a1"), ("alln", "a2"), ("alln", "a3")]
    view = world.decide(world.decide(view, "a3"), "a1")
    assert view["instance"]["status"] == "running"
    assert world.decide(view, "a2")["instance"]["status"] == "approved"

    other = world.start("all")
    other = world.decide(world.decide(other, "a1"), "a2", "reject")
    assert other["instance"]["status"] == "rejected"
    assert statuses(other) == [("alln", "a1", "approved"), ("alln", "a2", "rejected"),
                               ("alln", "a3", "cancelled")]


def test_ratio_passes_and_fails_as_soon_as_certain(world):
    view = world.start("ratio")
    for user in ("a1", "a2"):
        view = world.decide(view, user)
    assert view["instance"]["status"] == "running"
    view = world.decide(view, "a4", "reject")      # a vote against, not a veto
    assert view["instance"]["status"] == "running"
    view = world.decide(view, "a5")                # 3 of 5 ≥ 60 %
    assert view["instance"]["status"] == "approved"
    assert [s for _, _, s in statuses(view)] == ["approved", "approved", "cancelled",
                                                  "rejected", "approved"]

    failing = world.start("ratio")
    for user in ("a1", "a2"):
        failing = world.decide(failing, user, "reject")
    assert failing["instance"]["status"] == "running"
    failing = world.decide(failing, "a3", "reject")  # at most 2 of 5 can approve now
    assert failing["instance"]["status"] == "rejected"
    assert world.pending(failing) == []


# -- node kinds ------------------------------------------------------------------------

def test_condition_parallel_and_cc_nodes(world):
    view = world.start("graph", "5000.00")
    view = world.decide(view, "a1")                       # first → condition: amount > 1000
    assert world.pending(view) == [("big", "a2")]
    view = world.decide(view, "a2")                       # → parallel: both branches
    assert world.pending(view) == [("p1", "a4"), ("p2", "a5")]
    assert view["instance"]["current_nodes"] == ["p1", "p2"]
    view = world.decide(view, "a5")                       # p2 → p2cc (cc) → branch ends
    assert ("p2cc", "head", "cc") in statuses(view)
    assert view["instance"]["status"] == "running"        # p1 still open
    assert world.notices("head", "cc") == 1
    view = world.decide(view, "a4")                       # join → copy (cc) → end
    assert view["instance"]["status"] == "approved"
    assert statuses(view)[-1] == ("copy", "aud", "cc")
    assert world.notices("aud", "cc") == 1
    actions = _events(world, view["instance"]["id"])
    assert actions.count("branch") == 1 and actions.count("parallel") == 1
    assert actions.count("joined") == 1 and actions.count("cc") == 2

    small = world.start("graph", "80.00")
    small = world.decide(small, "a1")                     # default branch
    assert world.pending(small) == [("small", "a3")]


def test_a_reject_in_one_parallel_branch_rejects_the_instance(world):
    view = world.decide(world.decide(world.start("graph", "5000.00"), "a1"), "a2")
    view = world.decide(view, "a4", "reject")
    assert view["instance"]["status"] == "rejected"
    assert ("p2", "a5", "cancelled") in statuses(view)
    assert not any(node == "p2cc" for node, _, _ in statuses(view))


def test_chosen_approvers_of_the_initiator_and_of_the_previous_approver(world):
    view = world.start("choice", approvers={"pick": ["a4"]})
    assert world.pending(view) == [("pick", "a4")]
    view = world.decide(view, "a4", next_approvers=["a5"])
    assert world.pending(view) == [("then", "a5")]
    assert world.decide(view, "a5")["instance"]["status"] == "approved"
    # no choice by the previous approver: that node's policy approves automatically
    other = world.decide(world.start("choice", approvers={"pick": ["a4"]}), "a4")
    assert other["instance"]["status"] == "approved"
    assert "auto_approved" in _events(world, other["instance"]["id"])
    with pytest.raises(ValidationFailed):
        world.start("choice", approvers={"nowhere": ["a4"]})
    with pytest.raises(ValidationFailed):
        world.start("choice", approvers={"pick": "a4"})


def test_an_auto_seat_decides_an_any_one_node_at_once(world):
    view = world.decide(world.start("dedup"), "a1")      # a1 approved d1 → auto on d2
    assert statuses(view)[1:] == [("d2", "a1", "auto"), ("d2", "a2", "cancelled"),
                                  ("d3", "a3", "pending")]
    assert world.notices("a2", "task") == 0              # decided before anyone was told
    activated = [s for s in _timeline(world, view) if s["action"] == "activated"]
    assert activated[1]["detail"]["auto"] == {"a1": "dedup"}


def _timeline(world: World, view: dict) -> list[dict]:
    with world.db.connect() as conn:
        return world.engine.timeline(conn, world.ctx("nurse"), view["instance"]["id"])


# -- manual transitions ------------------------------------------------------------------

def test_cancel_closes_an_open_instance(world):
    view = world.start("seq")
    rid = view["instance"]["record_id"]
    with pytest.raises(TransitionRejected) as refused:
        world.call("fire", "nurse", DOC, rid, "cancel")
    assert refused.value.code == "comment_required"
    done = world.call("fire", "nurse", DOC, rid, "cancel", comment="不需要了")
    assert (done["instance"]["status"], done["instance"]["state"]) == ("cancelled", "cancelled")
    assert [s for _, _, s in statuses(done)] == ["cancelled"] * 3
    assert world.record(rid)["status"] == "cancelled"
    assert world.notices("a1", "cancelled") == 1


def test_a_transition_without_instance_records_the_move(world):
    rid = world.create("basic")
    done = world.call("fire", "nurse", DOC, rid, "cancel", comment="写错了")
    assert (done["instance"]["status"], done["instance"]["state"]) == ("cancelled", "cancelled")
    assert done["tasks"] == []
    with world.db.connect() as conn:
        status = world.engine.status(conn, world.ctx("nurse"), DOC, rid)
    assert status["state"]["code"] == "cancelled"
    assert status["transitions"] == []


def test_reopen_puts_the_record_back_in_the_initial_state(world):
    view = world.start("basic")
    rid = view["instance"]["record_id"]
    world.decide(view, "a1", "reject", comment="不行")
    reopened = world.call("fire", "nurse", DOC, rid, "reopen")
    assert (reopened["instance"]["status"], reopened["instance"]["state"]) == ("closed", "draft")
    again = world.submit(rid)
    assert again["instance"]["id"] not in (view["instance"]["id"], reopened["instance"]["id"])
    assert again["instance"]["status"] == "running"


def test_who_may_fire(world):
    rid = world.create("basic")
    with pytest.raises(PermissionDenied):           # staff, but not the creator
        world.call("fire", "doctor", DOC, rid, "submit", restricted=True)
    with pytest.raises(PermissionDenied):           # creator rule, but no submit grant
        world.call("fire", "outsider", DOC, world.create("basic", by="outsider"), "submit",
                   restricted=True)
    view = world.call("fire", "nurse", DOC, rid, "submit", restricted=True)
    with pytest.raises(PermissionDenied):           # no who-rule: holders of approve only
        world.call("fire", "nurse", DOC, rid, "force_close", restricted=True)
    closed = world.call("fire", "a1", DOC, rid, "force_close", restricted=True)
    assert closed["instance"]["status"] == "cancelled"
    assert world.pending(view["instance"]["id"]) == []

    approved = world.decide(world.start("basic"), "a1")
    other = approved["instance"]["record_id"]
    with pytest.raises(PermissionDenied):           # manager, but in WEST: does not reach CARD-W1
        world.call("fire", "outsider", DOC, other, "archive", restricted=True)
    archived = world.call("fire", "boss", DOC, other, "archive", restricted=True)
    assert (archived["instance"]["state"], archived["instance"]["status"]) == \
        ("archived", "closed")


def test_status_shows_the_state_and_what_the_caller_may_do(world):
    rid = world.create("basic")
    with world.db.connect() as conn:
        fresh = world.engine.status(conn, world.ctx("nurse", restricted=True), DOC, rid)
    assert fresh["workflow"]["code"] == "wfe.basic_flow"
    assert fresh["state"] == {"code": "draft", "label": {"zh-CN": "草稿", "en": "Draft"},
                              "category": "draft"}
    assert fresh["instance"] is None
    assert [t["code"] for t in fresh["transitions"]] == ["submit", "cancel"]
    view = world.submit(rid)
    with world.db.connect() as conn:
        mine = world.engine.status(conn, world.ctx("a1", restricted=True), DOC, rid)
        nurse = world.engine.status(conn, world.ctx("nurse", restricted=True), DOC, rid)
        with pytest.raises(NotFound):
            world.engine.status(conn, world.ctx("outsider", restricted=True), DOC, rid)
    assert mine["instance"]["id"] == view["instance"]["id"]
    assert [t["assignee"] for t in mine["my_tasks"]] == ["a1"]
    assert [t["code"] for t in mine["transitions"]] == ["force_close"]
    assert [t["code"] for t in nurse["transitions"]] == ["cancel"]
    assert nurse["my_tasks"] == []


# -- concurrency and idempotency ------------------------------------------------------------

def test_acting_on_a_task_someone_else_decided_conflicts(world):
    view = world.start("basic")
    world.decide(view, "a1")
    with pytest.raises(Conflict) as late:
        world.decide(view, "a2")
    assert late.value.code == "task_not_pending"
    assert late.value.details["status"] == "cancelled"
    assert late.value.details["task_status"] == "cancelled"
    assert late.value.details["state"] == "approved"
    assert late.value.details["instance_status"] == "approved"


def test_someone_elses_task_is_refused(world):
    view = world.start("basic")
    with pytest.raises(PermissionDenied) as refused:
        world.call("approve", "a3", world.task_of(view, "a1"))
    assert refused.value.code == "not_assignee"
    with pytest.raises(NotFound):
        world.call("approve", "a1", 424242)


def test_a_retried_request_acts_once_and_returns_the_same_response(world):
    view = world.start("seq")
    task = world.task_of(view, "a1")
    first = world.call("approve", "a1", task, key="req-1")
    again = world.call("approve", "a1", task, key="req-1")
    assert again == first
    assert _events(world, view["instance"]["id"]).count("approve") == 1
    assert world.view(view["instance"]["id"])["instance"]["version"] == \
        first["instance"]["version"]
    with pytest.raises(Conflict) as reused:
        world.call("reject", "a1", task, key="req-1")
    assert reused.value.code == "idempotency_key_reused"
    assert reused.value.details == {"action": "approve", "requested": "reject"}
    with pytest.raises(Conflict) as elsewhere:          # same action, another task
        world.call("approve", "a1", world.task_of(world.start("seq"), "a1"), key="req-1")
    assert elsewhere.value.code == "idempotency_key_reused"
    other = world.call("approve", "a2", world.task_of(first, "a2"), key="req-1")
    assert other["instance"]["id"] == first["instance"]["id"]   # keys are per actor
    with pytest.raises(ValidationFailed):
        world.call("approve", "a2", world.task_of(first, "a2"), key="")


def test_a_failed_request_may_be_retried_with_its_key(world):
    rid = world.create("basic", amount="0")
    with pytest.raises(TransitionRejected):
        world.submit(rid, key="submit-1")
    assert world.count(wf_request) == 0
    with world.db.begin(write=True) as conn:
        world.records.update(conn, world.ctx("nurse"), DOC, rid, {"amount": "10.00"},
                             version=world.record(rid)["version"])
    done = world.submit(rid, key="submit-1")
    assert done["instance"]["status"] == "running"
    assert world.submit(rid, key="submit-1") == done
    assert world.count(wf_instance) == 1


# -- version pinning ----------------------------------------------------------------------------

def _second_version(folder):
    manifest = folder / "package.yaml"
    manifest.write_text(manifest.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    flow = folder / "workflows" / "basic_flow.yaml"
    flow.write_text(flow.read_text().replace("approvers: [{users: [a1, a2]}]",
                                             "approvers: [{users: [a3]}]")
                    .replace("name: {zh: 部门审核, en: Department review}",
                             "name: {zh: 科室审核, en: Unit review}"))


def test_running_instances_keep_their_definition(world, tmp_path):
    old = world.start("basic")
    install(world.db, copy_fixture(tmp_path, _second_version))
    world.reload()
    new = world.start("basic")
    assert world.pending(new) == [("first", "a3")]
    assert new["tasks"][0]["node_label"]["en"] == "Unit review"
    assert world.pending(old["instance"]["id"]) == [("first", "a1"), ("first", "a2")]
    assert world.view(old["instance"]["id"])["tasks"][0]["node_label"]["en"] == \
        "Department review"
    done = world.decide(old, "a2")
    assert done["instance"]["status"] == "approved"
    with world.db.connect() as conn:
        rows = conn.execute(select(wf_instance.c.id, wf_instance.c.definition_id)
                            .order_by(wf_instance.c.id)).all()
    assert rows[0].definition_id != rows[1].definition_id
    assert world.count(wf_definition) == 2
    # the same document again reuses its definition row
    world.start("basic")
    assert world.count(wf_definition) == 2
