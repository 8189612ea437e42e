"""Several OS processes acting at once on the same workflow instances.

Runs on the suite's database: PostgreSQL when YUNYING_TEST_DATABASE_URL is
set (row locks on the instance), else a SQLite file (writers serialised by
``BEGIN IMMEDIATE``). Each process has its own engine and connections and
waits at a barrier so that they start together.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from yunying.platform.tables import wf_event, wf_instance, wf_request, wf_task

from workflow_script import ENTITY, Scenario
from workflow_workers import run_at_once

#: the fixture's `route` node sends amount 1 to `any_one` (a1, a2, mode any)
#: and anything else to `everyone` (a1 … a4, mode all).
ANY_ONE, EVERYONE = "1.00", "2.00"
VOTERS = ("a1", "a2", "a3", "a4")


@pytest.fixture
def world(db, database_url):
    scenario = Scenario(db, {"package": "concurrency", "records": {}, "steps": []},
                        name="concurrency")
    return scenario, database_url


def _submit(scenario: Scenario, count: int, amount: str) -> list[int]:
    """``count`` records submitted by the nurse; their instance ids."""
    ids = []
    for n in range(count):
        record_id = scenario.create(f"r{amount}-{n}", "nurse", {
            "title": f"并发 {n}", "department": "CARD-W1", "amount": amount})
        with scenario.db.begin(write=True) as conn:
            ctx = scenario.context(conn, "nurse")
            scenario.engine(conn).fire(conn, ctx, ENTITY, record_id, "submit")
            ids.append(scenario.instance(conn, record_id)["id"])
    return ids


def _state(scenario: Scenario, instance_ids: list[int]) -> dict[int, dict]:
    """Per instance: version, status and its tasks as assignee → (task id, status)."""
    with scenario.db.connect() as conn:
        rows = conn.execute(select(wf_instance).where(wf_instance.c.id.in_(instance_ids)))
        state = {r.id: {"version": r.version, "status": r.status, "tasks": {}} for r in rows}
        for task in conn.execute(select(wf_task).where(wf_task.c.instance_id.in_(instance_ids))):
            state[task.instance_id]["tasks"][task.assignee] = (task.id, task.status)
    return state


def _events_by_task(scenario: Scenario, instance_ids: list[int]) -> Counter:
    """How many events name each task, acted by the task's own assignee."""
    with scenario.db.connect() as conn:
        rows = conn.execute(
            select(wf_event.c.task_id, wf_event.c.action)
            .join(wf_task, wf_task.c.id == wf_event.c.task_id)
            .where(wf_event.c.instance_id.in_(instance_ids),
                   wf_event.c.actor == wf_task.c.assignee,
                   wf_event.c.action.in_(("approve", "reject"))))
        return Counter(task_id for task_id, _ in rows)


def _job(task_id: int, user: str, action: str = "approve", key: str | None = None) -> dict:
    return {"task": task_id, "user": user, "action": action, "key": key,
            "today": date.today()}


def test_two_approvers_on_an_any_node_exactly_one_wins(world):
    scenario, url = world
    instances = _submit(scenario, 6, ANY_ONE)
    before = _state(scenario, instances)
    batches = [[_job(before[i]["tasks"][user][0], user) for i in instances]
               for user in ("a1", "a2")]
    outcomes = run_at_once(url, batches)
    assert [o for o in outcomes if o["outcome"] == "crashed"] == []
    after = _state(scenario, instances)
    wins = Counter(o["task"] for o in outcomes if o["outcome"] == "ok")
    for instance_id in instances:
        tasks = after[instance_id]["tasks"]
        statuses = sorted(status for _, status in tasks.values())
        assert statuses == ["approved", "cancelled"], (instance_id, tasks)
        assert after[instance_id]["status"] == "approved"
        assert after[instance_id]["version"] == before[instance_id]["version"] + 1
        winner = next(task_id for task_id, status in tasks.values() if status == "approved")
        assert wins[winner] == 1
    losers = [o for o in outcomes if o["outcome"] == "refused"]
    assert len(losers) == len(instances) and len(wins) == len(instances)
    for loser in losers:
        assert (loser["kind"], loser["code"]) == ("Conflict", "task_not_pending"), loser
        # the 409 tells the loser where things stand now
        assert loser["details"]["instance_status"] == "approved", loser
        assert loser["details"]["state"] == "approved", loser
        assert loser["details"]["task_status"] == "cancelled", loser
    assert sum(_events_by_task(scenario, instances).values()) == len(instances)


def test_many_processes_on_all_nodes_lose_no_update(world):
    scenario, url = world
    instances = _submit(scenario, 12, EVERYONE)
    before = _state(scenario, instances)
    rejects = set(instances[::4])  # a4 rejects every fourth instance
    batches = []
    for n, user in enumerate(VOTERS):
        order = list(instances)
        random.Random(n).shuffle(order)
        batches.append([_job(before[i]["tasks"][user][0], user,
                             "reject" if user == "a4" and i in rejects else "approve")
                        for i in order])
    outcomes = run_at_once(url, batches)
    assert [o for o in outcomes if o["outcome"] == "crashed"] == []
    refused = [o for o in outcomes if o["outcome"] == "refused"]
    assert {(o["kind"], o["code"]) for o in refused} <= {("Conflict", "task_not_pending")}
    done = Counter(o["task"] for o in outcomes if o["outcome"] == "ok")
    after = _state(scenario, instances)
    events = _events_by_task(scenario, instances)
    for instance_id in instances:
        tasks = after[instance_id]["tasks"]
        decided = [task_id for task_id, status in tasks.values()
                   if status in ("approved", "rejected")]
        # each task decided exactly once, by exactly one successful action
        assert sorted(decided) == sorted(t for t in done if t in dict(tasks.values())), tasks
        assert all(done[t] == 1 and events[t] == 1 for t in decided), (tasks, done, events)
        actions = len(decided)
        assert after[instance_id]["version"] == before[instance_id]["version"] + actions
        if instance_id in rejects:  # a4's task is open until he acts: his reject always lands
            assert after[instance_id]["status"] == "rejected"
            assert tasks["a4"][1] == "rejected"
            assert {s for _, s in tasks.values()} <= {"approved", "rejected", "cancelled"}
        else:
            assert after[instance_id]["status"] == "approved", tasks
            assert {s for _, s in tasks.values()} == {"approved"}
    assert len(done) + len(refused) == len(instances) * len(VOTERS)


def test_the_same_request_id_from_two_processes_acts_once(world):
    scenario, url = world
    instances = _submit(scenario, 4, EVERYONE)
    before = _state(scenario, instances)
    jobs = [_job(before[i]["tasks"]["a1"][0], "a1", key=f"approve-{i}") for i in instances]
    outcomes = run_at_once(url, [jobs, list(reversed(jobs)), jobs])
    assert [o for o in outcomes if o["outcome"] != "ok"] == []
    after = _state(scenario, instances)
    for instance_id in instances:
        task_id = before[instance_id]["tasks"]["a1"][0]
        responses = {o["response"] for o in outcomes if o["task"] == task_id}
        assert len(responses) == 1, responses  # the retries got the stored response
        assert after[instance_id]["version"] == before[instance_id]["version"] + 1
        assert after[instance_id]["tasks"]["a1"][1] == "approved"
        assert {s for u, (_, s) in after[instance_id]["tasks"].items() if u != "a1"} == {"pending"}
    assert sum(_events_by_task(scenario, instances).values()) == len(instances)
    with scenario.db.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(wf_request)).scalar_one()
    assert stored == len(instances)
