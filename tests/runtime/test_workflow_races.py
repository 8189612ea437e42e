"""Two actors at once on one instance (SQLite and PostgreSQL): the second
waits for the first's lock, then sees its outcome — exactly one approval on
an any-one node, one action for one request key. No timing is asserted: the
first transaction stays open while the second starts, whatever the order in
which the second reaches the lock."""

from __future__ import annotations

import threading
from typing import Any, Callable

from sqlalchemy import select

from tests.runtime.wf_engine_helpers import DOC, World, statuses, world  # noqa: F401
from yunying.platform.errors import Conflict
from yunying.platform.tables import wf_event, wf_instance, wf_request


def _while_open(world: World, first: Callable[[Any], Any],
                second: Callable[[], Any]) -> tuple[Any, Any]:
    """Run ``first`` in a transaction kept open while ``second`` runs in a thread;
    commit, then return both outcomes (an exception is returned, not raised)."""
    outcome: dict[str, Any] = {}

    def other() -> None:
        try:
            outcome["second"] = second()
        except Exception as exc:  # the outcome under test
            outcome["second"] = exc

    with world.db.begin(write=True) as conn:
        outcome["first"] = first(conn)
        thread = threading.Thread(target=other)
        thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    return outcome["first"], outcome["second"]


def test_two_approvers_at_once_on_an_any_one_node(world):
    view = world.start("basic")
    a1, a2 = world.task_of(view, "a1"), world.task_of(view, "a2")
    first, second = _while_open(
        world, lambda conn: world.engine.approve(conn, world.ctx("a1"), a1),
        lambda: world.call("approve", "a2", a2))
    assert first["instance"]["status"] == "approved"
    assert isinstance(second, Conflict) and second.code == "task_not_pending"
    assert second.details["instance_status"] == "approved"
    final = world.view(view["instance"]["id"])
    assert statuses(final) == [("first", "a1", "approved"), ("first", "a2", "cancelled")]
    with world.db.connect() as conn:
        actions = list(conn.execute(select(wf_event.c.action)).scalars())
    assert actions.count("approve") == 1 and actions.count("finished") == 1


def test_the_same_request_key_twice_at_once_acts_once(world):
    view = world.start("all")
    task = world.task_of(view, "a1")
    first, second = _while_open(
        world, lambda conn: world.engine.approve(conn, world.ctx("a1"), task, key="k-1"),
        lambda: world.call("approve", "a1", task, key="k-1"))
    assert second == first
    with world.db.connect() as conn:
        actions = list(conn.execute(select(wf_event.c.action)).scalars())
        stored = conn.execute(select(wf_request.c.request_id, wf_request.c.action)).all()
    assert actions.count("approve") == 1
    assert [(r.request_id, r.action.partition("@")[0]) for r in stored] == [("a1:k-1", "approve")]


def test_two_submits_of_one_record_at_once(world):
    rid = world.create("basic")
    first, second = _while_open(
        world, lambda conn: world.engine.fire(conn, world.ctx("nurse"), DOC, rid, "submit"),
        lambda: world.submit(rid))
    assert first["instance"]["status"] == "running"
    assert isinstance(second, Conflict) and second.code == "instance_open"
    assert world.count(wf_instance) == 1
