"""Benchmark: a scoped list vs the same list without access control.

In one process, over one database holding 100,000 requisitions spread over a
5,000-unit administrative tree of depth 8, it times the record service's list
(one page of 50, newest first, with the total count) twice per round:

- scoped: for a user whose only role reads requisitions with the scope
  "own department and its descendants" (``unit_tree`` in the ``admin``
  tree, as of today) — the record service adds the scope as a SQL WHERE
  whose unit set is a recursive CTE over the tree's edges;
- plain: the same list by the trusted internal principal (no access control).

Runs alternate (order swapped every round) and the ratio scoped / plain of
the median times is printed. Target: ≤ 1.3. It also times the descendants
query (``yunying.platform.org.descendants``) for the root (every unit) and
for the user's department.

    .venv/bin/python bench/access.py [--rows 100000] [--units 5000] [--rounds 15]
        [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select, text

from yunying.metadata.spec import GrantSpec, PackageSpec, RoleSpec
from yunying.platform import migrate
from yunying.platform.context import Context
from yunying.platform.database import Database
from yunying.platform.i18n import Text
from yunying.platform.org import descendants
from yunying.platform.tables import org_assignment, org_edge, org_tree, org_unit
from yunying.runtime.access import Grants, RoleInDomain
from yunying.runtime.container import Services
from yunying.runtime.installer import bundled_package_paths, install_packages
from yunying.runtime.records import ListQuery, RecordService
from yunying.runtime.registry import Registry

ENTITY = "materials.requisition"
ROLE = RoleSpec(package="bench", code="dept_reader", label=Text("科室查阅", "Department reader"),
                grants=(GrantSpec(entity=ENTITY, actions=("read",), scope="unit_tree",
                                  tree="admin"),))
SINCE = date(2000, 1, 1)


def build_tree(units: int, depth: int) -> tuple[list[str], dict[str, str], dict[str, int]]:
    """Unit codes, child → parent and unit → level of a breadth-first tree with
    ``units`` units and at most ``depth`` levels below the root."""
    fan = 2
    while sum(fan ** level for level in range(depth + 1)) < units:
        fan += 1
    codes, parent, level = ["U0000"], {}, {"U0000": 0}
    frontier = ["U0000"]
    while len(codes) < units:
        nxt = []
        for node in frontier:
            for _ in range(fan):
                if len(codes) == units:
                    break
                code = f"U{len(codes):04d}"
                codes.append(code)
                parent[code], level[code] = node, level[node] + 1
                nxt.append(code)
        frontier = nxt
    return codes, parent, level


def fill(db: Database, registry: Registry, units: int, rows: int) -> str:
    """Write the tree and the requisitions; returns the bench user's department."""
    codes, parent, level = build_tree(units, 8)
    tables = registry.tables(ENTITY)
    main = tables.table
    rnd = random.Random(11)
    now = datetime(2026, 11, 1)
    with db.begin() as conn:
        if conn.execute(select(org_tree.c.code).where(org_tree.c.code == "admin")).first() is None:
            conn.execute(insert(org_tree).values(code="admin", name_zh="行政", name_en="Admin",
                                                 kind="administrative", valid_from=SINCE))
        conn.execute(insert(org_unit), [dict(code=c, name_zh=c, name_en=c, unit_type="department",
                                             valid_from=SINCE) for c in codes])
        conn.execute(insert(org_edge), [dict(tree_code="admin", parent_code=p, child_code=c,
                                             valid_from=SINCE) for c, p in parent.items()])
        department = next(c for c in codes if level[c] == 2)
        conn.execute(insert(org_assignment), [dict(user_code="bench.user", unit_code=department,
                                                   is_primary=True, valid_from=SINCE)])
        for start in range(0, rows, 10_000):
            conn.execute(insert(main), [dict(
                version=1, created_at=now, updated_at=now, created_by="bench",
                updated_by="bench", number=f"LY{n:07d}", department=rnd.choice(codes),
                requester="bench", request_date=date(2026, 1, 1) + timedelta(days=n % 300),
                urgency="normal", reason=f"领用 {n}", total_amount=Decimal("100.00"))
                for n in range(start, min(rows, start + 10_000))])
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
    return department


def timed(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        services = Services(Database(url), {})
        db = services.db
        migrate.upgrade(db)
        install_packages(db, bundled_package_paths(), Context(actor="bench"))
        installed = services.runtime().registry
        registry = Registry.from_packages(
            [*installed.packages.values(),
             PackageSpec(code="bench", version="1.0.0", label=Text("基准", "Bench"),
                         roles=(ROLE,))],
            metadata_version=installed.metadata_version)
        records = RecordService(registry)
        department = fill(db, registry, args.units, args.rows)
        today = date.today()
        scoped = Context(actor="bench.user", grants=Grants(
            user="bench.user", roles=(RoleInDomain(ROLE.qualified_code, "*"),),
            units=(department,), today=today))
        plain = Context(actor="bench")
        query = ListQuery.from_args(registry.entity(ENTITY), {"page_size": ["50"]})
        with db.connect() as conn:
            in_scope = records.list(conn, scoped, ENTITY, query).total
            total = records.list(conn, plain, ENTITY, query).total
            subtree = len(descendants(conn, "admin", department, today)) + 1
            print(f"database: {db.dialect}, {total} requisitions, {args.units} units (depth 8); "
                  f"user's subtree {subtree} units, {in_scope} requisitions in scope")
            times = {"scoped": [], "plain": []}
            for round_no in range(args.rounds):
                order = ("scoped", "plain") if round_no % 2 == 0 else ("plain", "scoped")
                for name in order:
                    ctx = scoped if name == "scoped" else plain
                    times[name].append(timed(
                        lambda: records.list(conn, ctx, ENTITY, query), args.repeat))
            root = timed(lambda: descendants(conn, "admin", "U0000", today), args.repeat)
            dept = timed(lambda: descendants(conn, "admin", department, today), args.repeat)
        s, p = statistics.median(times["scoped"]), statistics.median(times["plain"])
        print(f"{'list 50 of ' + str(total):30} {'scoped ms':>10} {'plain ms':>10} {'ratio':>7}")
        print(f"{'page + total':30} {s * 1000:10.3f} {p * 1000:10.3f} {s / p:7.2f}")
        print("target: ratio ≤ 1.3")
        print(f"descendants of the root ({args.units - 1} units): {root * 1000:.3f} ms")
        print(f"descendants of the user's department ({subtree - 1} units): {dept * 1000:.3f} ms")
        services.close()


if __name__ == "__main__":
    main()
