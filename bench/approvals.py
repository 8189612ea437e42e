"""Benchmark: approval chains through the workflow engine vs a bare status update.

Part 1 — in one process, over one database, it times complete approval
chains: a clerk submits a claim and three levels of heads approve it in turn
(连续多级主管, ``heads: {levels: 3}``), four transactions per chain, each
with the engine's tasks, timeline events, ``workflow.action`` audit event and
notifications. The baseline does the same four transactions on the same kind
of record but only updates its status column and writes the same audit row
(``record_event``). Rounds alternate (order swapped every round); it prints
the median chains per second of both, the ratio engine / baseline of the
time per chain, and the engine's actions per second.

Part 2 — with ``--postgres URL`` (or ``YUNYING_BENCH_DATABASE_URL``): 1,000
claims go to a 会签 node of eight approvers; eight worker processes (own
engine and connections each, started together at a barrier) act as one
approver each on every instance in their own random order, the eighth
rejecting one instance in ten (the others then get ``task_not_pending``).
It prints the throughput and the count of lost updates: task decisions and
instance versions compared with the actions the workers performed (must be 0).

    .venv/bin/python bench/approvals.py [--chains 300] [--rounds 6]
        [--database-url URL] [--postgres postgresql+psycopg://…] [--instances 1000]

Both databases should be empty (``--postgres`` migrates it and installs the
benchmark package); no timing is asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import func, select, update

from yunying.platform import migrate
from yunying.platform.audit import record_event
from yunying.platform.context import Context
from yunying.platform.database import Database
from yunying.platform.errors import YunyingError
from yunying.platform.tables import wf_event, wf_instance, wf_task
from yunying.runtime.access.resolve import build_grants
from yunying.runtime.container import Services
from yunying.runtime.installer import install_packages

ENTITY = "wfbench.claim"
HEADS = ("team.head", "dept.head", "boss")
WORKERS = tuple(f"w{n}" for n in range(1, 9))
#: the route node: amount 8 → the 会签 node of the eight workers.
JOINT_AMOUNT = "8.00"

PACKAGE = {
    "package.yaml": """\
code: wfbench
version: 1.0.0
name: {zh: 审批基准, en: Approval benchmark}
""",
    "entities/claim.yaml": """\
code: claim
name: {zh: 报销单, en: Claim}
title_field: title
org_dimension: department
fields:
  - {code: title, type: string, length: 100, name: {zh: 标题, en: Title}}
  - {code: department, type: org_unit, required: true, name: {zh: 科室, en: Department}}
  - {code: amount, type: money, name: {zh: 金额, en: Amount}}
  - {code: status, type: string, length: 32, name: {zh: 状态, en: Status}}
""",
    "roles/staff.yaml": """\
code: staff
name: {zh: 职工, en: Staff}
grants:
  - {entity: claim, actions: [read, create, update, submit, approve]}
""",
    "org/hospital.yaml": """\
trees:
  - {code: admin, name: {zh: 行政, en: Administrative}, kind: administrative}
units:
  - {code: B-HOSP, name: {zh: 医院, en: Hospital}, type: hospital, valid_from: 2020-01-01}
  - {code: B-DEPT, name: {zh: 科室, en: Department}, type: department, valid_from: 2020-01-01, parents: {admin: B-HOSP}}
  - {code: B-TEAM, name: {zh: 小组, en: Team}, type: team, valid_from: 2020-01-01, parents: {admin: B-DEPT}}
heads:
  - {unit: B-HOSP, user: boss, valid_from: 2020-01-01}
  - {unit: B-DEPT, user: dept.head, valid_from: 2020-01-01}
  - {unit: B-TEAM, user: team.head, valid_from: 2020-01-01}
users:
%(users)s
assignments:
%(assignments)s
role_grants:
%(grants)s
""",
    "workflows/claim_flow.yaml": """\
code: claim_flow
entity: claim
name: {zh: 报销审批, en: Claim approval}
state_field: status
initial: draft
states:
  - {code: draft, name: {zh: 草稿, en: Draft}, category: draft}
  - {code: reviewing, name: {zh: 审批中, en: Under review}, category: in_progress}
  - {code: approved, name: {zh: 已批准, en: Approved}, category: approved}
  - {code: rejected, name: {zh: 已驳回, en: Rejected}, category: rejected}
transitions:
  - {code: submit, name: {zh: 提交, en: Submit}, from: [draft], to: reviewing, creator: true, chain: main}
  - {code: done, name: {zh: 通过, en: Approved}, from: [reviewing], to: approved, trigger: chain_approved,
     effects: [{notify: [initiator]}]}
  - {code: refused, name: {zh: 驳回, en: Rejected}, from: [reviewing], to: rejected, trigger: chain_rejected}
chains:
  - code: main
    name: {zh: 主审批链, en: Main chain}
    start: route
    nodes:
      - code: route
        kind: condition
        name: {zh: 分流, en: Route}
        branches:
          - {condition: "amount = 8", next: joint}
          - {next: heads}
      - {code: heads, kind: approval, name: {zh: 三级主管, en: Three levels of heads},
         approvers: [{heads: {levels: 3}}], next: end}
      - {code: joint, kind: approval, name: {zh: 会签, en: Joint approval}, mode: all,
         approvers: [{users: [%(workers)s]}], next: end}
      - {code: end, kind: end, name: {zh: 结束, en: End}}
""",
}


def write_package(folder: Path) -> Path:
    """The benchmark package (entity, org, role, workflow) under ``folder``."""
    people = ("clerk", *HEADS, *WORKERS)
    units = {"clerk": "B-TEAM", "team.head": "B-TEAM", "dept.head": "B-DEPT", "boss": "B-HOSP"}
    values = {
        "users": "\n".join(f"  - {{code: {u}, name: {{zh: {u}, en: {u}}}}}" for u in people),
        "assignments": "\n".join(
            f"  - {{user: {u}, unit: {units.get(u, 'B-DEPT')}, valid_from: 2020-01-01}}"
            for u in people),
        "grants": "\n".join(f"  - {{user: {u}, role: staff}}" for u in people),
        "workers": ", ".join(WORKERS),
    }
    root = folder / "wfbench"
    for name, text in PACKAGE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text % values if "%(" in text else text, encoding="utf-8")
    return root


def prepare(url: str, folder: Path) -> Services:
    services = Services(Database(url), {})
    migrate.upgrade(services.db)
    install_packages(services.db, [write_package(folder)], Context(actor="bench"))
    return services


def contexts(services: Services, users) -> dict[str, Context]:
    """Each user's context with the grants the HTTP edge would attach."""
    with services.db.connect() as conn:
        return {u: Context(actor=u, grants=build_grants(conn, services.access, u, date.today()))
                for u in users}


def create_claims(services: Services, count: int, amount: str) -> list[int]:
    ctx = Context(actor="clerk")
    records = services.runtime().records
    with services.db.begin(write=True) as conn:
        return [records.create(conn, ctx, ENTITY, {"title": f"报销 {n}", "department": "B-TEAM",
                                                   "amount": amount})["id"]
                for n in range(count)]


# -- part 1: chains --------------------------------------------------------------

def engine_chain(services: Services, ctxs: dict[str, Context], record_id: int) -> None:
    """Submit, then each head approves his pending task: four transactions."""
    with services.db.begin(write=True) as conn:
        view = services.runtime(conn).workflow.fire(conn, ctxs["clerk"], ENTITY, record_id,
                                                    "submit")
    for head in HEADS:
        task = next(t["id"] for t in view["tasks"]
                    if t["assignee"] == head and t["status"] == "pending")
        with services.db.begin(write=True) as conn:
            view = services.runtime(conn).workflow.approve(conn, ctxs[head], task)
    assert view["instance"]["status"] == "approved", view["instance"]


def baseline_chain(services: Services, ctxs: dict[str, Context], record_id: int) -> None:
    """The same four steps as bare status updates, each with its audit row."""
    table = services.runtime().registry.tables(ENTITY).table
    steps = [("clerk", "submit", "reviewing")] + [
        (head, "approve", "approved" if head == HEADS[-1] else "reviewing") for head in HEADS]
    for user, action, status in steps:
        ctx = ctxs[user]
        with services.db.begin(write=True) as conn:
            conn.execute(update(table).where(table.c.id == record_id).values(
                status=status, version=table.c.version + 1, updated_at=ctx.now(),
                updated_by=user))
            record_event(conn, ctx, "workflow.action", entity=ENTITY, record_id=record_id,
                         detail={"action": action})


def compare_chains(services: Services, chains: int, rounds: int) -> None:
    ctxs = contexts(services, ("clerk", *HEADS))
    per_round = max(1, chains // rounds)
    pools = {"engine": create_claims(services, per_round * rounds, "100.00"),
             "baseline": create_claims(services, per_round * rounds, "100.00")}
    runs = {"engine": engine_chain, "baseline": baseline_chain}
    times: dict[str, list[float]] = {"engine": [], "baseline": []}
    for round_no in range(rounds):
        order = ("engine", "baseline") if round_no % 2 == 0 else ("baseline", "engine")
        for name in order:
            batch = pools[name][round_no * per_round:(round_no + 1) * per_round]
            start = time.perf_counter()
            for record_id in batch:
                runs[name](services, ctxs, record_id)
            times[name].append((time.perf_counter() - start) / len(batch))
    e, b = statistics.median(times["engine"]), statistics.median(times["baseline"])
    print(f"database: {services.db.dialect}; {per_round * rounds} chains each, "
          f"{rounds} rounds of {per_round}; 4 transactions per chain")
    print(f"{'':28} {'chains/s':>10} {'ms/chain':>10} {'actions/s':>10}")
    print(f"{'engine (3 levels of heads)':28} {1 / e:10.1f} {e * 1000:10.2f} {4 / e:10.1f}")
    print(f"{'baseline (status + audit)':28} {1 / b:10.1f} {b * 1000:10.2f} {4 / b:10.1f}")
    print(f"ratio engine / baseline (time per chain): {e / b:.2f}")


# -- part 2: eight processes on PostgreSQL ------------------------------------------

def _worker(url: str, user: str, jobs: list[tuple[int, str]], barrier, queue) -> None:
    services = Services(Database(url), {})
    ctx = contexts(services, (user,))[user]
    services.runtime()
    done, refused, crashed = [], 0, []
    barrier.wait(timeout=120)
    start = time.perf_counter()
    for task_id, action in jobs:
        try:
            with services.db.begin(write=True) as conn:
                getattr(services.runtime(conn).workflow, action)(conn, ctx, task_id)
            done.append(task_id)
        except YunyingError as exc:
            if exc.code != "task_not_pending":
                crashed.append(f"{exc.code}: {exc.message.en}")
            refused += 1
        except Exception as exc:  # noqa: BLE001 - counted and shown
            crashed.append(repr(exc))
    queue.put((user, done, refused, crashed, start, time.perf_counter()))
    services.close()


def _pending_tasks(services: Services, instances: list[int]) -> dict[int, dict[str, int]]:
    with services.db.connect() as conn:
        rows = conn.execute(select(wf_task.c.instance_id, wf_task.c.assignee, wf_task.c.id)
                            .where(wf_task.c.instance_id.in_(instances)))
        tasks: dict[int, dict[str, int]] = {}
        for instance_id, assignee, task_id in rows:
            tasks.setdefault(instance_id, {})[assignee] = task_id
    return tasks


def _submit_all(services: Services, count: int) -> list[int]:
    ctx = contexts(services, ("clerk",))["clerk"]
    instances = []
    for record_id in create_claims(services, count, JOINT_AMOUNT):
        with services.db.begin(write=True) as conn:
            view = services.runtime(conn).workflow.fire(conn, ctx, ENTITY, record_id, "submit")
        instances.append(view["instance"]["id"])
    return instances


def lost_updates(services: Services, instances: list[int], done: set[int],
                 versions: dict[int, int]) -> int:
    """Mismatches between what the workers did and what the database holds:
    task decisions, instance versions, the timeline and the outcome."""
    lost = 0
    with services.db.connect() as conn:
        tasks = conn.execute(select(wf_task.c.id, wf_task.c.instance_id, wf_task.c.status)
                             .where(wf_task.c.instance_id.in_(instances))).all()
        inst = {r.id: r for r in conn.execute(
            select(wf_instance.c.id, wf_instance.c.version, wf_instance.c.status)
            .where(wf_instance.c.id.in_(instances)))}
        events = dict(conn.execute(
            select(wf_event.c.task_id, func.count()).where(
                wf_event.c.instance_id.in_(instances), wf_event.c.task_id.is_not(None),
                wf_event.c.action.in_(("approve", "reject")))
            .group_by(wf_event.c.task_id)).all())
    acted: dict[int, int] = {}
    for task_id, instance_id, status in tasks:
        decided = status in ("approved", "rejected")
        lost += decided != (task_id in done)          # decided without an action, or lost
        lost += decided and events.get(task_id, 0) != 1
        acted[instance_id] = acted.get(instance_id, 0) + (task_id in done)
    for instance_id in instances:
        lost += inst[instance_id].version != versions[instance_id] + acted.get(instance_id, 0)
        lost += inst[instance_id].status not in ("approved", "rejected")
    return lost


def concurrent(url: str, count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        services = prepare(url, Path(tmp))
    start = time.perf_counter()
    instances = _submit_all(services, count)
    setup = time.perf_counter() - start
    with services.db.connect() as conn:
        versions = dict(conn.execute(select(wf_instance.c.id, wf_instance.c.version)
                                     .where(wf_instance.c.id.in_(instances))).all())
    tasks = _pending_tasks(services, instances)
    rejected = set(instances[::10])
    mp = multiprocessing.get_context("spawn")
    barrier, queue = mp.Barrier(len(WORKERS)), mp.Queue()
    processes = []
    for n, user in enumerate(WORKERS):
        order = list(instances)
        random.Random(n).shuffle(order)
        jobs = [(tasks[i][user], "reject" if user == WORKERS[-1] and i in rejected else "approve")
                for i in order]
        processes.append(mp.Process(target=_worker, args=(url, user, jobs, barrier, queue)))
    for process in processes:
        process.start()
    results = [queue.get(timeout=900) for _ in processes]
    for process in processes:
        process.join()
    done = {task_id for _, ids, _, _, _, _ in results for task_id in ids}
    refused = sum(r[2] for r in results)
    crashed = [c for r in results for c in r[3]]
    wall = max(r[5] for r in results) - min(r[4] for r in results)
    actions = sum(len(r[1]) for r in results)
    print(f"\nPostgreSQL: {len(WORKERS)} worker processes, {count} instances of a 会签 node of "
          f"{len(WORKERS)} (submitted in {setup:.1f} s)")
    print(f"actions: {actions} done, {refused} refused (task_not_pending), "
          f"{len(crashed)} failed, in {wall:.2f} s → {actions / wall:.1f} actions/s")
    for failure in crashed[:5]:
        print(f"  failed: {failure}")
    print(f"lost updates: {lost_updates(services, instances, done, versions)} (must be 0)")
    services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgres", default=os.environ.get("YUNYING_BENCH_DATABASE_URL"))
    parser.add_argument("--instances", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        services = prepare(url, Path(tmp))
        compare_chains(services, args.chains, args.rounds)
        services.close()
    if args.postgres:
        concurrent(args.postgres, args.instances)
    else:
        print("\n(no --postgres URL or YUNYING_BENCH_DATABASE_URL: "
              "the 8-process run on PostgreSQL is skipped)")


if __name__ == "__main__":
    main()
