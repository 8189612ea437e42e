"""Benchmark: generated record API vs a hand-written Flask + SQLAlchemy endpoint.

In one process, over the same database holding 10,000 requisitions (with two
lines each), it times three operations through Flask's test client:

- list: a page of 50 filtered by urgency, newest first, with the total count;
- get: one requisition with its lines;
- create: a requisition with two lines (validation, reference checks,
  numbering, insert).

The hand-written endpoints live on the same app and do the same work with
SQLAlchemy Core and a little hand-written validation. Runs alternate between
the two (ABAB…, order swapped every round) and the ratio generated /
hand-written of the median round is printed. Target: ≤ 1.25.

    .venv/bin/python bench/crud_overhead.py [--rows 10000] [--rounds 15]
        [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask import Flask, abort, jsonify, request
from sqlalchemy import func, insert, select, text

from yunying.app import create_app, services
from yunying.platform import migrate
from yunying.platform.context import Context
from yunying.platform.numbering import format_number, next_value, period_key
from yunying.runtime.installer import bundled_package_paths, install_packages

ENTITY = "materials.requisition"


def _fill(app: Flask, rows: int) -> list[int]:
    svc = services(app)
    runtime = svc.runtime()
    tables = runtime.registry.tables(ENTITY)
    main, lines = tables.table, tables.children["lines"]
    items = runtime.registry.tables("materials.item").table
    rnd = random.Random(7)
    now = datetime(2026, 11, 1)
    with svc.db.begin() as conn:
        item_ids = [r.id for r in conn.execute(select(items.c.id))]
        batch, line_batch = [], []
        for n in range(1, rows + 1):
            batch.append(dict(
                id=n, version=1, created_at=now, updated_at=now, created_by="bench",
                updated_by="bench", number=f"LY202611-{n:05d}", department=f"03{n % 40:02d}",
                requester="bench", request_date=date(2026, 1, 1) + timedelta(days=n % 300),
                urgency=rnd.choice(["normal", "normal", "normal", "urgent"]),
                reason=f"月度领用 {n}", total_amount=Decimal("100.00")))
            for line_no in (1, 2):
                line_batch.append(dict(parent_id=n, line_no=line_no, item=rnd.choice(item_ids),
                                       quantity=Decimal("2.00"), unit_price=Decimal("25.0000"),
                                       amount=Decimal("50.00")))
        conn.execute(insert(main), batch)
        conn.execute(insert(lines), line_batch)
        if conn.dialect.name == "postgresql":  # explicit ids leave the sequences behind
            for table in (main, lines):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT max(id) FROM {table.name}))"))
    return item_ids


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def add_handwritten_routes(app: Flask) -> None:
    """The baseline: what a developer would write by hand for this one table."""
    svc = services(app)
    tables = svc.runtime().registry.tables(ENTITY)
    main, lines = tables.table, tables.children["lines"]
    items = svc.runtime().registry.tables("materials.item").table

    @app.get("/bench/requisitions")
    def hand_list():
        urgency = request.args.get("urgency", "")
        page_size = int(request.args.get("page_size", 50))
        where = main.c.urgency == urgency
        with svc.db.begin() as conn:
            total = conn.execute(select(func.count()).select_from(main).where(where)).scalar()
            rows = conn.execute(select(main).where(where).order_by(main.c.id.desc())
                                .limit(page_size)).mappings().all()
        return jsonify({"items": [{k: _plain(v) for k, v in r.items()} for r in rows],
                        "total": total, "page": 1, "page_size": page_size})

    @app.get("/bench/requisitions/<int:rid>")
    def hand_get(rid: int):
        with svc.db.begin() as conn:
            row = conn.execute(select(main).where(main.c.id == rid)).mappings().first()
            if row is None:
                abort(404)
            line_rows = conn.execute(select(lines).where(lines.c.parent_id == rid)
                                     .order_by(lines.c.line_no)).mappings().all()
        record = {k: _plain(v) for k, v in row.items()}
        record["lines"] = [{k: _plain(v) for k, v in r.items() if k != "parent_id"}
                           for r in line_rows]
        return jsonify(record)

    @app.post("/bench/requisitions")
    def hand_create():
        data = request.get_json()
        errors = {}
        if not data.get("department"):
            errors["department"] = "required"
        if data.get("urgency", "normal") not in ("normal", "urgent"):
            errors["urgency"] = "enum"
        try:
            parsed = [(int(l["item"]), Decimal(str(l["quantity"]))) for l in data["lines"]]
        except (KeyError, ValueError, InvalidOperation):
            parsed, errors["lines"] = [], "invalid"
        if errors:
            return jsonify({"errors": errors}), 422
        now = datetime.utcnow()
        with svc.db.begin() as conn:
            wanted = {i for i, _ in parsed}
            found = set(conn.execute(select(items.c.id).where(items.c.id.in_(wanted))).scalars())
            if found != wanted:
                return jsonify({"errors": {"lines": "reference"}}), 422
            seq = next_value(conn, ENTITY, period_key("month", now))
            values = dict(version=1, created_at=now, updated_at=now, created_by="api",
                          updated_by="api", number=format_number("LY{yyyy}{mm}-{seq:4}", now, seq),
                          department=data["department"], requester=data.get("requester"),
                          request_date=now.date(), urgency=data.get("urgency", "normal"),
                          reason=data.get("reason"), total_amount=None)
            rid = conn.execute(insert(main).values(**values).returning(main.c.id)).scalar()
            conn.execute(insert(lines), [dict(parent_id=rid, line_no=n, item=i, quantity=q)
                                         for n, (i, q) in enumerate(parsed, 1)])
        return jsonify({"id": rid, **{k: _plain(v) for k, v in values.items()}}), 201


def _time(client, method: str, url: str, body=None, repeat: int = 50) -> float:
    call = getattr(client, method)
    start = time.perf_counter()
    for _ in range(repeat):
        response = call(url, json=body) if body is not None else call(url)
        if response.status_code >= 300:
            raise SystemExit(f"{method.upper()} {url} → {response.status_code}: "
                             f"{response.get_data(as_text=True)[:300]}")
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="yy-bench-")
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": tmp})
    db = services(app).db
    migrate.upgrade(db)
    install_packages(db, bundled_package_paths(), Context(actor="bench"))
    item_ids = _fill(app, args.rows)
    add_handwritten_routes(app)
    client = app.test_client()
    body = {"department": "0301", "urgency": "urgent", "reason": "bench",
            "lines": [{"item": item_ids[0], "quantity": "2"},
                      {"item": item_ids[1], "quantity": "3.5"}]}
    cases = {
        "list (page of 50, filtered)": (
            ("get", f"/api/v1/records/{ENTITY}?filter=urgency:eq:urgent&sort=-id&page_size=50", None),
            ("get", "/bench/requisitions?urgency=urgent&page_size=50", None)),
        "get (with lines)": (
            ("get", f"/api/v1/records/{ENTITY}/{args.rows // 2}", None),
            ("get", f"/bench/requisitions/{args.rows // 2}", None)),
        "create (2 lines)": (
            ("post", f"/api/v1/records/{ENTITY}", body),
            ("post", "/bench/requisitions", body)),
    }
    print(f"database: {db.dialect}, {args.rows} rows, {args.rounds} rounds × {args.repeat} requests")
    print(f"{'operation':30} {'generated ms':>13} {'hand-written ms':>16} {'ratio':>7}")
    for name, (generated, handwritten) in cases.items():
        _time(client, *generated, repeat=5)  # warm up both paths
        _time(client, *handwritten, repeat=5)
        ratios, gen_times, hand_times = [], [], []
        for round_no in range(args.rounds):
            pair = (generated, handwritten) if round_no % 2 == 0 else (handwritten, generated)
            first = _time(client, *pair[0], repeat=args.repeat)
            second = _time(client, *pair[1], repeat=args.repeat)
            g, h = (first, second) if round_no % 2 == 0 else (second, first)
            gen_times.append(g)
            hand_times.append(h)
            ratios.append(g / h)
        print(f"{name:30} {statistics.median(gen_times) * 1000:13.3f} "
              f"{statistics.median(hand_times) * 1000:16.3f} {statistics.median(ratios):7.2f}")
    print("target: ratio ≤ 1.25 (longer-term goal 1.1)")


if __name__ == "__main__":
    main()
