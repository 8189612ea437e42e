"""Posting rules (业财融合): journal entries written with the business change.

Every test installs the bundled packages (base, finance, materials) into a
fresh database and posts against real rows. The SPD case uses the shipped
rule ``materials.spd_consumption`` through RecordService.create (the record
service runs ``post_created`` in its transaction); the failure cases swap
the materials package's rules for rules built here, on a registry of their
own, so each case shows the error and that nothing was written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from yunying.metadata.store import MetadataStore
from yunying.metadata.workflow_spec import PostingLineSpec, PostingRuleSpec
from yunying.platform.audit import query_events
from yunying.platform.context import Context
from yunying.platform.errors import NotFound, TransitionRejected
from yunying.platform.i18n import Text
from yunying.platform.tables import journal_entry, journal_line
from yunying.runtime.installer import bundled_package_paths, install_packages
from yunying.runtime.posting import Postings, journal_of, line_context, post_created, post_rule
from yunying.runtime.records import RecordService
from yunying.runtime.registry import Registry

NOW = datetime(2026, 11, 25, 9, 30)
CTX = Context(actor="keeper", clock=lambda: NOW, request_id="req-posting")
USE = "materials.consumption"
REQ = "materials.requisition"
SUPPLIER = "materials.supplier"


@dataclass
class World:
    db: object
    registry: Registry
    records: RecordService
    supplier: int
    items: dict[str, int]

    def create(self, data: dict, *, registry: Registry | None = None,
               entity: str = USE) -> dict:
        records = self.records if registry is None else RecordService(registry)
        with self.db.begin(write=True) as conn:
            return records.create(conn, CTX, entity, data)

    def use(self, **values) -> dict:
        """A consumption record's payload (inpatient, 2 × 412.3450, charged 450);
        a value None leaves the field out."""
        data = {"department": "CARD", "use_date": "2026-11-20", "patient_no": "ZY2026001",
                "item": self.items["WS-0005"], "supplier": self.supplier, "quantity": "2",
                "unit_cost": "412.3450", "unit_price": "450.0000", **values}
        return {k: v for k, v in data.items() if v is not None}

    def count(self, table: str) -> int:
        with self.db.connect() as conn:
            return conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


@pytest.fixture
def world(db) -> World:
    install_packages(db, bundled_package_paths(), Context(actor="installer"))
    with db.connect() as conn:
        registry = Registry.from_packages(MetadataStore().installed(conn))
    records = RecordService(registry)
    with db.begin(write=True) as conn:
        supplier = records.create(conn, CTX, SUPPLIER, {"code": "SUP-T1", "name": "测试供应商"})
        items = dict(conn.execute(text("SELECT code, id FROM materials_item")).all())
    return World(db, registry, records, supplier["id"], items)


def rule(*lines: PostingLineSpec, code: str = "test_rule", entity: str = USE,
         event: str = "create") -> PostingRuleSpec:
    return PostingRuleSpec("materials", code, Text("测试规则", "Test rule"), entity,
                           "finance.account", lines, event=event)


def debit(account: str | None, amount: str, **kw) -> PostingLineSpec:
    return PostingLineSpec(side="debit", amount=amount, account=account, **kw)


def credit(account: str | None, amount: str, **kw) -> PostingLineSpec:
    return PostingLineSpec(side="credit", amount=amount, account=account, **kw)


def with_rules(registry: Registry, *rules: PostingRuleSpec, accounts=None) -> Registry:
    """The registry with materials' posting rules replaced (and the chart, if given)."""
    packages = dict(registry.packages)
    packages["materials"] = replace(packages["materials"], postings=rules)
    if accounts is not None:
        packages["finance"] = replace(packages["finance"], dictionaries=(accounts,))
    return Registry.from_packages(packages.values())


def chart_with(registry: Registry, code: str, **changes):
    chart = registry.dictionary("finance.account")
    return replace(chart, items=tuple(replace(i, **changes) if i.code == code else i
                                      for i in chart.items))


def summary(entry: dict) -> list[tuple]:
    return [(ln["purpose"], ln["side"], ln["account"], ln["amount"]) for ln in entry["lines"]]


def journal(world: World, record_id: int, entity: str = USE) -> list[dict]:
    with world.db.connect() as conn:
        return journal_of(conn, entity, record_id)


def rejected(world: World, registry: Registry, data: dict) -> TransitionRejected:
    """Create through ``registry`` expecting a refusal; nothing may be written."""
    before = [world.count(t) for t in ("materials_consumption", "yy_journal_entry",
                                       "yy_journal_line", "yy_audit_event")]
    with pytest.raises(TransitionRejected) as caught:
        world.create(data, registry=registry)
    after = [world.count(t) for t in ("materials_consumption", "yy_journal_entry",
                                      "yy_journal_line", "yy_audit_event")]
    assert after == before
    return caught.value


# -- the SPD case (先用后结) -----------------------------------------------------------

INPATIENT = [
    ("charge", "debit", "121201", Decimal("900.00")),
    ("charge", "credit", "41010102", Decimal("900.00")),
    ("stock_in", "debit", "130202", Decimal("824.69")),
    ("payable", "credit", "2302", Decimal("824.69")),
    ("stock_out", "credit", "130202", Decimal("824.69")),
    ("consumption", "debit", "5001", Decimal("824.69")),
]


def test_one_spd_use_posts_charge_stock_in_payable_stock_out_and_cost_at_once(world):
    record = world.create(world.use())
    assert (record["cost_amount"], record["charge_amount"]) == (Decimal("824.69"),
                                                                Decimal("900.00"))
    [entry] = journal(world, record["id"])
    assert summary(entry) == INPATIENT
    assert {p for p, *_ in summary(entry)} == {"charge", "stock_in", "payable", "stock_out",
                                               "consumption"}
    assert entry["debit"] == entry["credit"] == Decimal("2549.38")
    assert [ln["line_no"] for ln in entry["lines"]] == [1, 2, 3, 4, 5, 6]
    assert {ln["unit"] for ln in entry["lines"]} == {"CARD"}
    assert entry["lines"][0]["memo"] == "病人耗材收费"
    assert (entry["rule"], entry["entity"], entry["record_id"], entry["event"]) == (
        "materials.spd_consumption", USE, record["id"], "create")
    assert (entry["instance_id"], entry["posted_by"], entry["request_id"]) == (
        None, "keeper", "req-posting")
    assert entry["posted_at"] == NOW
    # consignment: the goods pass through stock, the supplier is owed the cost
    net = {}
    for _, side, account, amount in summary(entry):
        net[account] = net.get(account, 0) + (amount if side == "debit" else -amount)
    assert net == {"121201": Decimal("900.00"), "41010102": Decimal("-900.00"),
                   "130202": Decimal("0.00"), "2302": Decimal("-824.69"),
                   "5001": Decimal("824.69")}


def test_an_outpatient_use_posts_to_the_outpatient_accounts(world):
    record = world.create(world.use(visit_type="outpatient", quantity="3", unit_cost=None,
                                    unit_price=None, item=world.items["WS-0004"]))
    [entry] = journal(world, record["id"])
    # catalogue price 1.2500 × 3 = 3.75, charged at cost (no mark-up on consumables)
    assert summary(entry)[:2] == [("charge", "debit", "12120202", Decimal("3.75")),
                                  ("charge", "credit", "41010101", Decimal("3.75"))]
    assert entry["debit"] == entry["credit"] == Decimal("11.25")


def test_the_posting_is_audited_in_the_same_transaction(world):
    record = world.create(world.use())
    [entry] = journal(world, record["id"])
    with world.db.connect() as conn:
        [event] = query_events(conn, kind="journal.post", record_id=record["id"])
    assert (event["entity"], event["actor"], event["request_id"]) == (USE, "keeper",
                                                                      "req-posting")
    assert event["detail"] == {"rule": "materials.spd_consumption", "entry_id": entry["id"],
                               "event": "create", "debit": "2549.38", "credit": "2549.38",
                               "lines": 6}


def test_entities_without_create_rules_post_nothing(world):
    with world.db.begin(write=True) as conn:
        assert post_created(conn, CTX, world.registry, SUPPLIER, world.supplier) == []
    assert journal(world, world.supplier, SUPPLIER) == []
    assert world.count("yy_journal_entry") == 0


# -- post_rule: a transition's posting effect --------------------------------------------

def test_post_rule_records_the_event_and_the_instance(world):
    record = world.create(world.use())
    reverse = rule(debit("2302", "cost_amount", purpose="payable"),
                   credit("1002", "cost_amount", purpose="payment"),
                   code="pay_supplier", event="transition")
    with world.db.begin(write=True) as conn:
        entry_id = post_rule(conn, CTX, world.registry, reverse, USE, record["id"],
                             event="settle", instance_id=42)
    first, second = journal(world, record["id"])
    assert second["id"] == entry_id
    assert (second["rule"], second["event"], second["instance_id"]) == (
        "materials.pay_supplier", "settle", 42)
    assert summary(second) == [("payable", "debit", "2302", Decimal("824.69")),
                               ("payment", "credit", "1002", Decimal("824.69"))]
    assert first["rule"] == "materials.spd_consumption"


def test_post_rule_refuses_a_rule_of_another_entity_and_a_missing_record(world):
    other = rule(debit("2302", "total_amount"), credit("1002", "total_amount"), entity=REQ)
    with world.db.begin(write=True) as conn:
        with pytest.raises(TransitionRejected) as caught:
            post_rule(conn, CTX, world.registry, other, USE, 1, event="x")
        with pytest.raises(NotFound):
            post_rule(conn, CTX, world.registry, rule(debit("2302", "cost_amount"),
                                                      credit("1002", "cost_amount")),
                      USE, 999999, event="x")
    assert (caught.value.code, caught.value.details["reason"]) == ("posting_failed",
                                                                   "wrong_entity")


# -- refusals: nothing is written ------------------------------------------------------

def test_an_unbalanced_rule_fails_the_create_and_writes_nothing(world):
    lopsided = rule(debit("121201", "charge_amount", purpose="charge"),
                    credit("41010102", "cost_amount", purpose="charge"))
    error = rejected(world, with_rules(world.registry, lopsided), world.use())
    assert error.code == "unbalanced_posting"
    assert (error.details["debit"], error.details["credit"],
            error.details["difference"]) == ("900.00", "824.69", "75.31")
    assert [(ln["side"], ln["account"], ln["amount"]) for ln in error.details["lines"]] == [
        ("debit", "121201", "900.00"), ("credit", "41010102", "824.69")]
    assert "借贷不平衡" in error.message.zh and "does not balance" in error.message.en


def test_every_create_rule_is_checked_before_any_is_written(world):
    good = rule(debit("5001", "cost_amount"), credit("2302", "cost_amount"), code="good")
    bad = rule(debit("5001", "cost_amount"), credit("2302", "charge_amount"), code="bad")
    registry = with_rules(world.registry, good, bad)
    record = world.create(world.use())                       # posted by the shipped rule
    with world.db.begin(write=True) as conn:
        with pytest.raises(TransitionRejected) as caught:
            post_created(conn, CTX, registry, USE, record["id"])
    assert caught.value.details["rule"] == "materials.bad"
    assert [e["rule"] for e in journal(world, record["id"])] == ["materials.spd_consumption"]


def test_an_unknown_account_is_refused_naming_the_account_and_the_line(world):
    wrong = rule(debit("130202", "cost_amount"), credit("9999", "cost_amount"),
                 credit(None, "0 * cost_amount", account_formula="'8888'"))
    error = rejected(world, with_rules(world.registry, wrong), world.use())
    assert error.code == "unknown_account"
    assert (error.details["account"], error.details["line"]) == ("9999", 1)
    assert error.details["accounts"] == [{"account": "9999", "line": 1, "reason": "unknown"}]
    assert "9999" in error.message.zh and "line 2" in error.message.en


@pytest.mark.parametrize("changes, reason", [
    ({"active": False}, "inactive"),
    ({"valid_to": date(2026, 11, 24)}, "not_valid"),
    ({"valid_from": date(2026, 11, 26)}, "not_valid"),
])
def test_an_inactive_or_out_of_date_account_is_refused(world, changes, reason):
    chart = chart_with(world.registry, "2302", **changes)
    registry = with_rules(world.registry, world.registry.packages["materials"].postings[0],
                          accounts=chart)
    error = rejected(world, registry, world.use())
    assert error.code == "unknown_account"
    assert error.details["accounts"] == [{"account": "2302", "line": 3, "reason": reason}]


def test_an_account_valid_through_today_is_accepted(world):
    chart = chart_with(world.registry, "2302", valid_from=date(2026, 11, 25),
                       valid_to=date(2026, 11, 25))
    registry = with_rules(world.registry, world.registry.packages["materials"].postings[0],
                          accounts=chart)
    record = world.create(world.use(), registry=registry)
    assert len(journal(world, record["id"])) == 1


def test_an_account_formula_giving_null_is_an_unknown_account(world):
    blank = rule(debit(None, "cost_amount", account_formula="IF(quantity > 100, '5001')"),
                 credit("2302", "cost_amount"))
    error = rejected(world, with_rules(world.registry, blank), world.use())
    assert error.details["accounts"] == [{"account": None, "line": 0, "reason": "unknown"}]


@pytest.mark.parametrize("amount, reason", [
    ("0 - cost_amount", "negative_amount"),
    ("IF(quantity > 100, cost_amount)", "null_amount"),
    ("cost_amount / (quantity - quantity)", "null_amount"),
    ("cost_amount * 100000000000000", "amount_too_large"),
])
def test_a_negative_null_or_huge_amount_is_refused(world, amount, reason):
    odd = rule(debit("5001", amount), credit("2302", amount))
    error = rejected(world, with_rules(world.registry, odd), world.use())
    assert (error.code, error.details["reason"], error.details["line"]) == (
        "posting_failed", reason, 0)
    assert "posting rule materials.test_rule, line 1" in error.message.en


def test_a_formula_failing_at_evaluation_names_the_line(world):
    odd = rule(debit("5001", "cost_amount"), credit("2302", "cost_amount"),
               debit("5001", "POWER(quantity, 1000)"))
    error = rejected(world, with_rules(world.registry, odd), world.use())
    assert (error.code, error.details["reason"], error.details["line"],
            error.details["formula"]) == ("posting_failed", "formula", 2, "amount")
    assert error.details["issues"][0]["code"] == "evaluation"


def test_a_formula_that_does_not_check_names_the_line_and_its_issues(world):
    odd = rule(debit("5001", "cost_amount"), credit("2302", "cost_amont"))
    error = rejected(world, with_rules(world.registry, odd), world.use())
    assert (error.details["reason"], error.details["line"], error.details["formula"]) == (
        "formula", 1, "amount")
    assert error.details["issues"][0]["code"] == "unknown_name"
    assert error.details["issues"][0]["suggestions"][0] == "cost_amount"


def test_a_too_long_dimension_is_refused(world):
    odd = rule(debit("5001", "cost_amount", unit="CONCAT(patient_no, patient_no, patient_no)"),
               credit("2302", "cost_amount"))
    error = rejected(world, with_rules(world.registry, odd),
                     world.use(patient_no="ZY" + "0" * 30))
    assert (error.details["reason"], error.details["field"], error.details["max"]) == (
        "too_long", "unit", 64)


# -- amounts ----------------------------------------------------------------------------

@pytest.mark.parametrize("unit_cost, posted", [
    ("0.0050", Decimal("0.01")), ("0.0250", Decimal("0.03")), ("0.0149", Decimal("0.01")),
    ("1.2345", Decimal("1.23")),
])
def test_amounts_are_rounded_half_up_to_the_cent(world, unit_cost, posted):
    exact = rule(debit("5001", "quantity * unit_cost"), credit("2302", "quantity * unit_cost"))
    record = world.create(world.use(quantity="1", unit_cost=unit_cost),
                          registry=with_rules(world.registry, exact))
    [entry] = journal(world, record["id"])
    assert [ln["amount"] for ln in entry["lines"]] == [posted, posted]


def test_zero_lines_are_skipped_and_an_all_zero_posting_writes_nothing(world):
    some = rule(debit("5001", "cost_amount"), debit("121201", "0 * charge_amount"),
                credit("2302", "cost_amount"), code="some")
    record = world.create(world.use(), registry=with_rules(world.registry, some))
    [entry] = journal(world, record["id"])
    assert [(ln["line_no"], ln["account"]) for ln in entry["lines"]] == [(1, "5001"),
                                                                         (2, "2302")]
    nothing = rule(debit("5001", "0"), credit("2302", "0"), code="nothing")
    with world.db.begin(write=True) as conn:
        assert post_rule(conn, CTX, world.registry, nothing, USE, record["id"],
                         event="x") is None
    assert len(journal(world, record["id"])) == 1


# -- each: one journal line per child line -----------------------------------------------

def requisition(world: World) -> dict:
    return world.create({
        "department": "CARD-W1", "request_date": "2026-11-20", "total_amount": "687.50",
        "reason": "病区领用",
        "lines": [{"item": world.items["WS-0001"], "quantity": "2"},            # 65.00
                  {"item": world.items["WS-0004"], "quantity": "2", "note": "急用"},  # 2.50
                  {"item": world.items["WS-0005"], "quantity": "1",
                   "unit_price": "620.0000"}]},                                # 620.00
        entity=REQ)


def test_each_lines_post_once_per_child_line_and_reach_the_parent(world):
    record = requisition(world)
    issue = rule(
        debit(None, "amount", each="lines", purpose="consumption", unit="department",
              project="note", account_formula="IF(item.high_value, '5001', '130203')"),
        credit("130202", "total_amount", purpose="stock_out", unit="department"),
        entity=REQ, event="transition")
    with world.db.begin(write=True) as conn:
        post_rule(conn, CTX, world.registry, issue, REQ, record["id"], event="approve_done")
    [entry] = journal(world, record["id"], REQ)
    assert [(ln["account"], ln["side"], ln["amount"], ln["unit"], ln["project"])
            for ln in entry["lines"]] == [
        ("130203", "debit", Decimal("65.00"), "CARD-W1", None),
        ("130203", "debit", Decimal("2.50"), "CARD-W1", "急用"),
        ("5001", "debit", Decimal("620.00"), "CARD-W1", None),
        ("130202", "credit", Decimal("687.50"), "CARD-W1", None)]


def test_a_failing_each_line_names_the_child_line(world):
    record = requisition(world)
    odd = rule(debit("5001", "amount - 10", each="lines"), credit("2302", "total_amount"),
               entity=REQ, event="transition")
    with world.db.begin(write=True) as conn:
        with pytest.raises(TransitionRejected) as caught:
            post_rule(conn, CTX, world.registry, odd, REQ, record["id"], event="approve")
    assert caught.value.details == {"rule": "materials.test_rule", "line": 0, "child_line": 2,
                                    "reason": "negative_amount", "amount": "-7.50"}
    assert "child line 2" in caught.value.message.en


def test_each_over_an_unknown_child_table_is_refused(world):
    odd = rule(debit("5001", "amount", each="nolines"), credit("2302", "total_amount"),
               entity=REQ, event="transition")
    with world.db.begin(write=True) as conn:
        with pytest.raises(TransitionRejected) as caught:
            post_rule(conn, CTX, world.registry, odd, REQ, 1, event="approve")
    assert caught.value.details["reason"] == "unknown_child"


def test_a_line_field_shadows_the_parent_field_of_the_same_code(world):
    entity = world.registry.entity(REQ)
    scope = line_context(entity, world.registry, "lines")
    fields = scope.context.current.fields
    assert {"department", "total_amount", "item", "amount"} <= set(fields)
    assert {f.code for f in scope.fields} >= {"department", "amount"}
    with pytest.raises(KeyError):
        line_context(entity, world.registry, "nolines")


# -- the compiled rule is reused -----------------------------------------------------------

def test_postings_check_each_rule_once(world):
    postings = Postings(world.registry)
    [shipped] = postings.rules_for(USE)
    assert postings.compiled(shipped) is postings.compiled(shipped)
    assert Postings(world.registry).compiled(shipped) is not postings.compiled(shipped)
    first, second = world.create(world.use()), world.create(world.use(patient_no="ZY2"))
    with world.db.begin(write=True) as conn:
        ids = [postings.post(conn, CTX, shipped, USE, r["id"], event="repost")
               for r in (first, second)]
    with world.db.connect() as conn:
        lines = conn.execute(select(func.count()).select_from(journal_line)
                             .where(journal_line.c.entry_id.in_(ids))).scalar_one()
        entries = conn.execute(select(func.count()).select_from(journal_entry)).scalar_one()
    assert (lines, entries) == (12, 4)
