"""Field permissions per workflow state and approval node, enforced by the
record service (SQLite and PostgreSQL): read-only and hidden fields, the
state field, delete refusals, participants' reads, approvers editing what
their node opens, and values surviving a return to the initiator."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from yunying.platform.errors import Conflict, InvalidQuery, NotFound, PermissionDenied
from yunying.platform.tables import wf_instance
from yunying.runtime.records import Filter, ListQuery
from yunying.runtime.workflow.fields import (
    current_instance, is_participant, open_instance, workflow_field_access,
)

from wf_fields_helpers import FORM, fields  # noqa: F401  (fixture)


def _access(fields, rid: int, user: str) -> dict:
    with fields.db.connect() as conn:
        return dict(workflow_field_access(conn, fields.registry, fields.registry.entity(FORM),
                                          rid, user))


def _refused(call, *args) -> PermissionDenied:
    with pytest.raises(PermissionDenied) as caught:
        call(*args)
    return caught.value


def _reviewing(fields, **values) -> tuple[int, dict]:
    """A form submitted by the nurse: at node ``check`` (a1's pending task)."""
    rid = fields.create(**values)["id"]
    return rid, fields.submit(rid)


# -- the access mapping ----------------------------------------------------------

def test_field_access_per_state_and_node(fields):
    draft = fields.create()["id"]
    big = fields.create(amount="5000.00", note=None)["id"]
    rid, _ = _reviewing(fields)
    with fields.db.connect() as conn:
        assert workflow_field_access(conn, fields.registry, fields.registry.entity("wff.form"),
                                     draft, "nurse")["*"] == "editable"
    assert set(_access(fields, draft, "nurse").values()) == {"editable"}
    # never submitted, but the large workflow would be chosen: its initial state locks the note
    assert _access(fields, big, "nurse")["note"] == "read_only"
    assert _access(fields, big, "nurse")["reason"] == "editable"
    nurse = _access(fields, rid, "nurse")
    assert (nurse["*"], nurse["reason"], nurse["secret"], nurse["note"]) == (
        "read_only", "read_only", "hidden", "editable")
    assert nurse["doubled"] == "read_only" and nurse["lines.quantity"] == "read_only"
    a1 = _access(fields, rid, "a1")          # the pending task's node on top of the state
    assert (a1["reason"], a1["secret"], a1["lines.quantity"], a1["amount"], a1["note"]) == (
        "editable", "read_only", "editable", "read_only", "editable")
    assert _access(fields, rid, "far") == nurse   # far has no task yet


def test_instances_and_participants(fields):
    rid, view = _reviewing(fields)
    plain = fields.create()["id"]
    with fields.db.connect() as conn:
        assert open_instance(conn, FORM, rid).id == view["instance"]["id"]
        assert open_instance(conn, FORM, plain) is None and current_instance(conn, FORM, plain) is None
        assert is_participant(conn, FORM, rid, "nurse") and is_participant(conn, FORM, rid, "a1")
        assert not is_participant(conn, FORM, rid, "far")
        assert not is_participant(conn, FORM, plain, "nurse")
    done = fields.act("approve", "a1", fields.task(view, "a1"))
    fields.act("approve", "far", fields.task(done, "far"))
    with fields.db.connect() as conn:
        assert open_instance(conn, FORM, rid) is None
        assert current_instance(conn, FORM, rid).state == "approved"
        assert is_participant(conn, FORM, rid, "far")
    assert set(_access(fields, rid, "nurse").values()) == {"read_only"}


# -- read-only fields ------------------------------------------------------------

def test_read_only_fields_of_a_state_are_refused_naming_them(fields):
    rid, _ = _reviewing(fields)
    nurse = fields.user("nurse")
    error = _refused(fields.update, nurse, rid, {"reason": "changed", "amount": "1.00"})
    assert error.code == "read_only_field"
    assert error.details["fields"] == ["amount", "reason"]
    assert "事由" in error.message.zh and "Reason" in error.message.en
    # sending the stored values back passes; the state's editable field may change
    stored = fields.stored(rid)
    fields.update(nurse, rid, {"reason": stored["reason"], "amount": "100.00", "note": "n2"})
    assert fields.stored(rid)["note"] == "n2"
    # lines: a read-only field of a line, and the lines themselves (no field editable)
    lines = stored["lines"]
    error = _refused(fields.update, nurse, rid, {"lines": [
        {"id": lines[0]["id"], "item": "pen", "quantity": "3", "price": "1.50"},
        {"id": lines[1]["id"], "item": "ink", "quantity": "1", "price": "9.00"}]})
    assert error.details["fields"] == ["lines.quantity"]
    error = _refused(fields.update, nurse, rid, {"lines": [
        {"id": lines[0]["id"], "item": "pen", "quantity": "2", "price": "1.50"}]})
    assert error.code == "read_only_field" and error.details["fields"] == ["lines"]
    assert "明细" in error.message.zh
    assert fields.stored(rid)["lines"] == lines


def test_the_superuser_sees_everything_but_may_not_edit_a_locked_state(fields):
    rid, _ = _reviewing(fields)
    root = fields.root()
    assert fields.get(root, rid)["secret"] == "s3cret"
    error = _refused(fields.update, root, rid, {"reason": "root wants"})
    assert error.details["fields"] == ["reason"]


def test_trusted_callers_are_not_restricted(fields):
    rid, _ = _reviewing(fields)
    fields.update(fields.trusted(), rid, {"reason": "fixed by the engine", "status": "reviewing"})
    assert fields.stored(rid)["reason"] == "fixed by the engine"


# -- the state field -------------------------------------------------------------

def test_the_state_field_is_read_only_for_every_restricted_caller(fields):
    nurse = fields.user("nurse")
    rid = fields.create()["id"]
    for ctx in (nurse, fields.root()):
        error = _refused(fields.update, ctx, rid, {"status": "approved"})
        assert error.code == "read_only_field" and error.details["fields"] == ["status"]
    fields.update(nurse, rid, {"status": "draft", "title": "still a draft"})
    data = {"title": "t", "department": "CARD-W1", "amount": "5.00", "status": "approved"}
    with fields.db.begin(write=True) as conn:
        with pytest.raises(PermissionDenied) as caught:
            fields.records.create(conn, nurse, FORM, data)
        assert caught.value.details["fields"] == ["status"]
        created = fields.records.create(conn, nurse, FORM, {**data, "status": "draft"})
    assert created["status"] == "draft"


def test_an_initial_state_declaring_fields_restricts_new_records(fields):
    nurse = fields.user("nurse")
    data = {"title": "t", "department": "CARD-W1", "amount": "5.00"}
    with fields.db.begin(write=True) as conn:
        with pytest.raises(PermissionDenied) as caught:
            fields.records.create(conn, nurse, FORM, {**data, "note": "early"})
        assert caught.value.details["fields"] == ["note"]
    big = fields.create(amount="5000.00", note=None)["id"]
    assert _refused(fields.update, nurse, big, {"note": "x"}).details["fields"] == ["note"]
    small = fields.create()["id"]
    fields.update(nurse, small, {"note": "fine"})


# -- hidden fields ---------------------------------------------------------------

def test_hidden_fields_are_absent_from_get_list_export_and_history(fields):
    rid, _ = _reviewing(fields)
    draft = fields.create(title="draft one")["id"]
    nurse = fields.user("nurse")
    record = fields.get(nurse, rid)
    assert "secret" not in record and record["reason"] == "for the ward"
    assert fields.get(nurse, draft)["secret"] == "s3cret"
    with fields.db.connect() as conn:
        page = fields.records.list(conn, nurse, FORM, ListQuery(FORM, page_size=50))
        exported = list(fields.records.export_rows(conn, nurse, FORM, ListQuery(FORM)))
        row = fields.records.row(conn, nurse, FORM, rid)
        assert fields.records.hidden_fields(conn, nurse, FORM, rid) == {"secret"}
        assert fields.records.hidden_fields(conn, nurse, FORM, draft) == frozenset()
    for items in (page.items, exported):
        by_id = {r["id"]: r for r in items}
        assert "secret" not in by_id[rid] and by_id[draft]["secret"] == "s3cret"
    assert "secret" not in row and row["title"] == "paper"


def test_hidden_fields_may_not_be_written_filtered_sorted_or_searched(fields):
    rid, _ = _reviewing(fields)
    nurse = fields.user("nurse")
    error = _refused(fields.update, nurse, rid, {"secret": "guess"})
    assert error.code == "hidden_field" and "secret" not in str(error.details)
    for args in ({"filter": ["secret:eq:s3cret"]}, {"sort": ["secret"]}):
        with pytest.raises(InvalidQuery):
            fields.records.query(nurse, FORM, args)
    with fields.db.connect() as conn:
        found = fields.records.list(conn, nurse, FORM, fields.records.query(
            nurse, FORM, {"search": ["s3cret"]}))
    assert found.total == 0          # search leaves the possibly hidden field out
    assert fields.records.query(fields.root(), FORM, {"filter": ["secret:eq:x"]}).filters


def test_an_approver_may_not_filter_by_what_the_node_hides_from_him(fields):
    rid, view = _reviewing(fields)
    fields.act("approve", "a1", fields.task(view, "a1"))
    by_amount = ListQuery(FORM, filters=(Filter("amount", "gt", Decimal("1")),))
    with fields.db.connect() as conn:
        with pytest.raises(InvalidQuery):
            fields.records.list(conn, fields.user("far"), FORM, by_amount)
        assert fields.records.list(conn, fields.user("nurse"), FORM, by_amount).total == 1
        assert fields.records.query(fields.user("far"), FORM, {"sort": ["amount"]}).sort


def test_a_node_may_show_a_field_the_state_hides_and_hide_one_it_shows(fields):
    rid, view = _reviewing(fields)
    assert fields.get(fields.user("a1"), rid)["secret"] == "s3cret"     # read-only at check
    after = fields.act("approve", "a1", fields.task(view, "a1"))
    far = fields.user("far")
    record = fields.get(far, rid)    # outside far's scope: a participant reads it
    assert {"amount", "secret", "reason"}.isdisjoint(record)   # node, state, role hidden
    assert record["title"] == "paper" and len(record["lines"]) == 2
    assert "secret" not in fields.get(fields.user("a1"), rid)   # a1's task is done
    fields.act("approve", "far", fields.task(after, "far"))
    assert fields.get(far, rid)["amount"] == Decimal("100.00")  # no node hides it any more


# -- participants ----------------------------------------------------------------

def test_participants_read_the_record_outside_their_scope_but_not_in_lists(fields):
    rid, view = _reviewing(fields)
    fields.act("approve", "a1", fields.task(view, "a1"))
    far, outsider = fields.user("far"), fields.user("outsider")
    assert fields.get(far, rid)["id"] == rid
    with pytest.raises(NotFound):
        fields.get(outsider, rid)
    with fields.db.connect() as conn:
        assert fields.records.list(conn, far, FORM, ListQuery(FORM)).total == 0
        with pytest.raises(NotFound):
            fields.records.row(conn, far, FORM, rid)
    with pytest.raises(NotFound):
        fields.get(far, rid + 1000)


# -- approvers editing what their node opens -------------------------------------

def test_an_approver_edits_only_what_the_node_makes_editable(fields):
    rid, view = _reviewing(fields)
    a1 = fields.user("a1")                 # read and approve only: no update grant
    lines = fields.stored(rid)["lines"]
    answer = fields.update(a1, rid, {"reason": "checked", "lines": [
        {"id": lines[0]["id"], "item": "pen", "quantity": "4", "price": "1.50"},
        {"id": lines[1]["id"], "item": "ink", "quantity": "1", "price": "9.00"}]})
    assert answer["reason"] == "checked" and answer["secret"] == "s3cret"
    assert [ln["quantity"] for ln in fields.stored(rid)["lines"]] == [Decimal("4"), Decimal("1")]
    error = _refused(fields.update, a1, rid, {"amount": "1.00", "secret": "x"})
    assert error.details["fields"] == ["amount", "secret"]
    error = _refused(fields.update, a1, rid, {"lines": [
        *fields.stored(rid)["lines"], {"item": "new", "quantity": "1"}]})
    assert error.code == "read_only_field"
    # a colleague with an update grant but no task may not; nor a1 once his task is done
    colleague = _refused(fields.update, fields.user("colleague"), rid, {"reason": "mine"})
    assert colleague.details["fields"] == ["reason"]
    fields.act("approve", "a1", fields.task(view, "a1"))
    done = _refused(fields.update, a1, rid, {"reason": "again"})
    assert done.code == "permission_denied" and done.details["action"] == "update"
    assert fields.stored(rid)["reason"] == "checked"


# -- delete ----------------------------------------------------------------------

def test_delete_is_refused_while_open_and_after_approval(fields):
    nurse = fields.user("nurse")
    rid, view = _reviewing(fields)
    for ctx in (nurse, fields.trusted(), fields.root()):
        with pytest.raises(Conflict) as caught:
            fields.delete(ctx, rid)
        assert caught.value.code == "workflow_open"
        assert caught.value.details["status"] == "running"
    done = fields.act("approve", "a1", fields.task(view, "a1"))
    fields.act("approve", "far", fields.task(done, "far"))
    with pytest.raises(Conflict) as caught:
        fields.delete(nurse, rid)
    assert caught.value.details["state"] == "approved"
    assert "approval" in caught.value.message.en
    fields.delete(fields.trusted(), rid)          # an operator may remove it
    with pytest.raises(NotFound):
        fields.stored(rid)


def test_drafts_withdrawn_and_cancelled_records_may_be_deleted(fields):
    nurse = fields.user("nurse")
    fields.delete(nurse, fields.create()["id"])
    withdrawn, view = _reviewing(fields)
    fields.act("withdraw", "nurse", view["instance"]["id"])
    fields.delete(nurse, withdrawn)
    cancelled, _ = _reviewing(fields)
    fields.act("fire", "nurse", FORM, cancelled, "cancel")
    assert fields.stored(cancelled)["status"] == "cancelled"
    fields.delete(nurse, cancelled)


# -- a return to the initiator ---------------------------------------------------

def test_values_survive_a_return_and_the_initiator_edits_what_is_editable(fields):
    rid, view = _reviewing(fields)
    a1 = fields.user("a1")
    fields.update(a1, rid, {"reason": "please buy the cheaper pen"})
    before = fields.stored(rid)
    returned = fields.act("send_back", "a1", fields.task(view, "a1"), to="initiator")
    assert returned["instance"]["status"] == "returned"
    after = fields.stored(rid)
    moved = {"status", "version", "updated_at", "updated_by"}
    assert after["status"] == "draft"
    assert {k: v for k, v in after.items() if k not in moved} == \
        {k: v for k, v in before.items() if k not in moved}
    # the initiator edits the fields that are editable again; the rest stays as it was
    nurse = fields.user("nurse")
    assert _access(fields, rid, "nurse")["amount"] == "editable"
    fields.update(nurse, rid, {"amount": "80.00", "note": "cheaper"})
    edited = fields.stored(rid)
    assert (edited["amount"], edited["doubled"], edited["note"]) == (
        Decimal("80.00"), Decimal("160.00"), "cheaper")
    kept = ("title", "reason", "secret", "department", "lines")
    assert {k: edited[k] for k in kept} == {k: before[k] for k in kept}
    assert _refused(fields.update, nurse, rid, {"status": "reviewing"}).details["fields"] == [
        "status"]
    again = fields.act("resubmit", "nurse", view["instance"]["id"])
    assert again["instance"]["status"] == "running"
    assert fields.stored(rid)["reason"] == "please buy the cheaper pen"
    with fields.db.connect() as conn:
        assert conn.execute(select(wf_instance.c.state).where(
            wf_instance.c.id == view["instance"]["id"])).scalar() == "reviewing"
