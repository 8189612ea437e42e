"""The bundled materials workflows (领用审批): they load, a requisition's total
chooses the standard or the large chain, and the demo hospital's people
resolve every approver — a standard requisition goes submit → head of
department → storekeeper → approved through the engine, a large urgent one
through two heads, the joint review and the vote (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from yunying.metadata.loader import load_packages
from yunying.metadata.store import MetadataStore
from yunying.platform import identity
from yunying.platform.access import AccessControl
from yunying.platform.context import Context
from yunying.platform.errors import PermissionDenied
from yunying.platform.notifications import Notifier
from yunying.platform.tables import notification
from yunying.runtime.access.resolve import build_grants
from yunying.runtime.formula import sql_functions
from yunying.runtime.formula.package_check import FORMULA_CHECKS
from yunying.runtime.installer import bundled_package_paths, install_packages
from yunying.runtime.records import ListQuery, RecordService
from yunying.runtime.registry import Registry
from yunying.runtime.workflow.engine import WorkflowEngine

REQ = "materials.requisition"
#: after the demo requisitions' dates (a requisition may not be dated in the future)
NOW = datetime(2026, 11, 10, 9, 0, 0)


@pytest.fixture(scope="module")
def bundled():
    return {p.code: p for p in load_packages(bundled_package_paths(), checks=FORMULA_CHECKS)}


def test_both_requisition_workflows_load_with_their_chains(bundled):
    materials = bundled["materials"]
    flows = {w.code: w for w in materials.workflows}
    assert set(flows) == {"requisition_standard", "requisition_large"}
    for flow in flows.values():
        assert flow.entity == REQ and flow.state_field == "status" and flow.initial == "draft"
        assert [s.category for s in flow.states] == [
            "draft", "in_progress", "approved", "rejected", "cancelled", "closed"]
        assert flow.state("reviewing").fields == {"*": "read_only"}
        assert flow.chain("main").node("store").fields == {"reason": "editable"}
        assert {t.code for t in flow.transitions} == {
            "submit", "approve_done", "reject_done", "cancel", "close"}
    large, standard = flows["requisition_large"], flows["requisition_standard"]
    assert (large.priority, large.condition) == (10, "total_amount > 50000")
    assert (standard.priority, standard.condition) == (20, None)
    assert [n.code for n in standard.chain("main").nodes] == ["head", "store", "cc_audit", "end"]
    vote = large.chain("main").node("vote")
    assert (vote.mode, vote.ratio) == ("ratio", 0.6)
    assert large.chain("main").node("heads").approvers[0].levels == 2
    assert materials.entity("requisition").field("status").default == "draft"


class Hospital:
    """The bundled packages with the demo hospital, and an engine over them."""

    def __init__(self, db) -> None:
        self.db = db
        install_packages(db, bundled_package_paths(), self.trusted("installer"), with_demo=True)
        store = MetadataStore()
        with db.connect() as conn:
            self.registry = Registry.from_packages(store.installed(conn),
                                                   metadata_version=store.current_version(conn))
        self.records = RecordService(self.registry)
        self.engine = WorkflowEngine(self.registry, self.records, Notifier())

    @staticmethod
    def trusted(actor: str) -> Context:
        return Context(actor=actor, clock=lambda: NOW)

    def user(self, code: str) -> Context:
        with self.db.connect() as conn:
            grants = build_grants(conn, AccessControl(self.db), code, NOW.date())
        return Context(actor=code, clock=lambda: NOW, grants=grants)

    def demo(self, requester: str) -> dict:
        with self.db.connect() as conn:
            page = self.records.list(conn, self.trusted("t"), REQ, ListQuery(REQ, page_size=50))
        return next(r for r in page.items if r["requester"] == requester)

    def new(self, amount: str, urgency: str = "normal") -> int:
        data = {"department": "CARD-W1", "requester": "li.na", "request_date": "2026-11-09",
                "urgency": urgency, "reason": "病区备货", "total_amount": amount}
        if urgency == "urgent":
            data["urgent_reason"] = "术前备货"
        with self.db.begin(write=True) as conn:
            return self.records.create(conn, self.user("li.na"), REQ, data)["id"]

    def act(self, method: str, user: str, *args, **kwargs) -> dict:
        with self.db.begin(write=True) as conn:
            return getattr(self.engine, method)(conn, self.user(user), *args, **kwargs)

    def approve(self, view: dict, user: str) -> dict:
        task = next(t["id"] for t in view["tasks"]
                    if t["assignee"] == user and t["status"] == "pending")
        return self.act("approve", user, task)

    def stored(self, rid: int) -> dict:
        with self.db.connect() as conn:
            return self.records.get(conn, self.trusted("t"), REQ, rid)


def pending(view: dict) -> list[tuple[str, str]]:
    return sorted((t["node"], t["assignee"]) for t in view["tasks"] if t["status"] == "pending")


@pytest.fixture
def hospital(db, monkeypatch) -> Hospital:
    monkeypatch.setattr(identity, "generate_password_hash",
                        functools.partial(generate_password_hash, method="pbkdf2:sha256:1"))
    db.on_sqlite_connect(sql_functions.register)
    return Hospital(db)


def test_the_total_chooses_the_standard_or_the_large_chain(hospital):
    small, large = hospital.new("50000.00"), hospital.new("50000.01")
    assert hospital.act("fire", "li.na", REQ, small, "submit")["instance"]["workflow"] == \
        "materials.requisition_standard"
    view = hospital.act("fire", "li.na", REQ, large, "submit")
    assert view["instance"]["workflow"] == "materials.requisition_large"
    assert pending(view) == [("heads", "zhang.wei")]


def test_a_demo_requisition_goes_through_head_and_storekeeper(hospital):
    demo = hospital.demo("li.na")
    assert (demo["department"], demo["status"]) == ("CARD-W1", "draft")
    view = hospital.act("fire", "li.na", REQ, demo["id"], "submit")
    assert view["instance"]["workflow"] == "materials.requisition_standard"
    assert (view["instance"]["state"], pending(view)) == ("reviewing", [("head", "zhang.wei")])
    assert hospital.stored(demo["id"])["status"] == "reviewing"
    # in review the requester may not change the requisition any more
    with hospital.db.begin(write=True) as conn, pytest.raises(PermissionDenied) as caught:
        hospital.records.update(conn, hospital.user("li.na"), REQ, demo["id"],
                                {"reason": "changed"}, version=hospital.stored(demo["id"])["version"])
    assert caught.value.details["fields"] == ["reason"]
    view = hospital.approve(view, "zhang.wei")
    # the storekeeper role — and the manager, whose role inherits it — any one of them
    assert pending(view) == [("store", "sun.li"), ("store", "wang.fang")]
    with hospital.db.begin(write=True) as conn:   # the storekeeper's node opens the reason
        hospital.records.update(conn, hospital.user("wang.fang"), REQ, demo["id"],
                                {"reason": "心内科病区月度耗材领用（已核对库存）"},
                                version=hospital.stored(demo["id"])["version"])
    view = hospital.approve(view, "wang.fang")
    assert (view["instance"]["status"], view["instance"]["state"]) == ("approved", "approved")
    assert [(t["node"], t["assignee"]) for t in view["tasks"] if t["kind"] == "cc"] == [
        ("cc_audit", "chen.jing")]
    stored = hospital.stored(demo["id"])
    assert stored["status"] == "approved" and stored["total_amount"] == Decimal("918.00")
    assert stored["reason"] == "心内科病区月度耗材领用（已核对库存）"
    with hospital.db.connect() as conn:
        told = conn.execute(select(notification.c.kind).where(
            notification.c.user_code == "li.na")).scalars().all()
    assert "approved" in told


def test_an_urgent_large_requisition_goes_through_heads_joint_review_and_vote(hospital):
    rid = hospital.new("60000.00", urgency="urgent")
    view = hospital.act("fire", "li.na", REQ, rid, "submit")
    assert pending(view) == [("heads", "zhang.wei")]
    view = hospital.approve(view, "zhang.wei")
    assert pending(view) == [("manage", "sun.li"), ("store", "sun.li"), ("store", "wang.fang")]
    for node, user in (("store", "wang.fang"), ("store", "sun.li"), ("manage", "sun.li")):
        task = next(t["id"] for t in view["tasks"] if t["status"] == "pending"
                    and t["node"] == node and t["assignee"] == user)
        view = hospital.act("approve", user, task)
    assert pending(view) == [("vote", "chen.jing"), ("vote", "sun.li"), ("vote", "wang.fang")]
    view = hospital.approve(view, "chen.jing")
    assert view["instance"]["status"] == "running"      # 1 of 3 < 60 %
    view = hospital.approve(view, "wang.fang")          # 2 of 3 ≥ 60 %: decided
    assert (view["instance"]["status"], hospital.stored(rid)["status"]) == (
        "approved", "approved")
    assert [t["status"] for t in view["tasks"] if t["node"] == "vote"].count("cancelled") == 1


def test_a_normal_large_requisition_skips_the_vote(hospital):
    rid = hospital.new("80000.00")
    view = hospital.act("fire", "li.na", REQ, rid, "submit")
    view = hospital.approve(view, "zhang.wei")
    for user in ("wang.fang", "sun.li", "sun.li"):
        view = hospital.approve(view, user)
    assert view["instance"]["state"] == "approved"
    assert "vote" not in {t["node"] for t in view["tasks"]}


def test_a_head_without_a_head_above_goes_to_the_materials_manager(hospital):
    demo = hospital.demo("zhang.wei")          # CARD, raised by its own head
    assert demo["department"] == "CARD"
    view = hospital.act("fire", "zhang.wei", REQ, demo["id"], "submit")
    assert pending(view) == [("head", "sun.li")]
    view = hospital.approve(view, "sun.li")
    # sun.li approved as the head's stand-in; at the storekeepers' node he is one of two
    assert pending(view) == [("store", "sun.li"), ("store", "wang.fang")]
