"""Benchmark: the generated staff UI's pages vs the JSON API serving the same data.

In one process, over one database holding the ``uibench`` fixture package
(bench/fixtures/ui_bench: an order of 30 fields with a child table of lines)
and ``--rows`` orders, a signed-in browser session (session cookie, the
superuser) times through Flask's test client:

- list: the list page of 50 rows (``GET /records/uibench.order``: the list
  view's columns, values formatted with their labels — vendor titles, user
  and unit names, dictionary labels —, the filter bar, the column chooser,
  the layout's navigation and pending count) vs ``GET
  /api/v1/records/uibench.order?sort=-placed_on,-id&page_size=50`` returning
  the same 50 rows as JSON;
- form: the edit form of one order with 20 lines (``GET
  /records/uibench.order/<id>/edit``) vs ``GET /api/v1/records/uibench.order/<id>``.

Only server time is measured (no browser, no network). Runs alternate
between the two (ABAB…, the order swapped every round); it prints the median
time per request of both and the median of the per-round ratios UI / API.
Target: ≤ 1.5 (reported, not asserted).

    .venv/bin/python bench/ui.py [--rows 2000] [--rounds 11] [--repeat 20]
        [--database-url postgresql+psycopg://…]

The database should be empty (it is migrated and the package installed).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select, text

from yunying.app import create_app, services
from yunying.platform import identity, migrate
from yunying.platform.access import ANY_DOMAIN, SUPERUSER_ROLE
from yunying.platform.context import Context
from yunying.platform.i18n import Text
from yunying.runtime.installer import install_packages

from support import signed_in, time_get

ENTITY = "uibench.order"
PACKAGE = Path(__file__).resolve().parent / "fixtures" / "ui_bench"
ADMIN, PASSWORD = "bench.admin", "bench-admin-secret-1"
ACTOR = Context(actor="bench")
LINES = 20


def _prepare(url: str, instance: str) -> Flask:
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance,
                      "SECRET_KEY": "bench-secret"})
    db = services(app).db
    migrate.upgrade(db)
    install_packages(db, [str(PACKAGE)], ACTOR)
    with db.begin(write=True) as conn:
        identity.create_user(conn, ACTOR, ADMIN, Text("基准管理员", "Bench admin"), PASSWORD)
        services(app).access.grant_role(conn, ACTOR, ADMIN, SUPERUSER_ROLE, ANY_DOMAIN)
    return app


def _order(n: int, rnd: random.Random, vendors: list[int], now: datetime) -> dict:
    row = dict(id=n, version=1, created_at=now, updated_at=now, created_by=ADMIN,
               updated_by=ADMIN, title=f"订单 {n} 输液泵配件", code=f"PO-{n:06d}",
               vendor=rnd.choice(vendors), owner=rnd.choice(["ub.one", "ub.two"]),
               unit=rnd.choice(["UB1", "UB2"]), grade=rnd.choice("abc"),
               placed_on=date(2026, 1, 1) + timedelta(days=n % 300),
               placed_at=datetime(2026, 1, 1, 8) + timedelta(hours=n),
               amount=Decimal(rnd.randint(100, 10_000_000)) / 100,
               qty=Decimal("12.500"), pieces=n % 50, urgent=n % 7 == 0,
               note="备注 " * 10)
    row.update({f"s{i:02d}": f"文本 {i}-{n}" for i in range(1, 10)})
    row.update({f"d{i:02d}": Decimal(f"{i}.{n % 100:02d}") for i in range(1, 9)})
    return row


def _fill(app: Flask, rows: int) -> int:
    """``rows`` orders (2 lines each; the last one ``LINES``); its id."""
    svc = services(app)
    tables = svc.runtime().registry.tables(ENTITY)
    main, lines = tables.table, tables.children["lines"]
    vendor = svc.runtime().registry.tables("uibench.vendor").table
    rnd, now = random.Random(7), datetime(2026, 11, 1)
    with svc.db.begin(write=True) as conn:
        conn.execute(insert(vendor), [dict(version=1, created_at=now, updated_at=now,
                                           code=f"V{v:03d}", name=f"供应商 {v} 医疗器械有限公司")
                                      for v in range(1, 41)])
        vendors = list(conn.execute(select(vendor.c.id)).scalars())
        conn.execute(insert(main), [_order(n, rnd, vendors, now) for n in range(1, rows + 1)])
        conn.execute(insert(lines), [
            dict(parent_id=n, line_no=k, vendor=rnd.choice(vendors), description=f"明细 {k}",
                 qty=Decimal("2.00"), price=Decimal("12.50"), amount=Decimal("25.00"))
            for n in range(1, rows + 1) for k in range(1, (LINES if n == rows else 2) + 1)])
        if conn.dialect.name == "postgresql":  # explicit ids leave the sequences behind
            for table in (main, lines):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT max(id) FROM {table.name}))"))
    return rows


def _check(client: FlaskClient, list_url: str, api_url: str) -> None:
    """Both sides of the list case show the same 50 records."""
    page = client.get(list_url).get_data(as_text=True)
    ids = [r["id"] for r in client.get(api_url).get_json()["items"]]
    shown = [i for i in ids if f'data-testid="row-{i}"' in page]
    if len(ids) != 50 or shown != ids:
        raise SystemExit(f"the list page does not show the API's 50 rows ({len(shown)} of "
                         f"{len(ids)})")


def _measure(client: FlaskClient, ui: str, api: str, rounds: int,
             repeat: int) -> tuple[float, float, float]:
    time_get(client, ui, 3)  # warm both paths (templates compiled, caches filled)
    time_get(client, api, 3)
    ui_times, api_times, ratios = [], [], []
    for round_no in range(rounds):
        pair = (ui, api) if round_no % 2 == 0 else (api, ui)
        first, second = (time_get(client, url, repeat) for url in pair)
        u, a = (first, second) if round_no % 2 == 0 else (second, first)
        ui_times.append(u)
        api_times.append(a)
        ratios.append(u / a)
    return statistics.median(ui_times), statistics.median(api_times), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="yy-bench-ui-")
    app = _prepare(args.database_url or f"sqlite:///{tmp}/bench.db", tmp)
    record = _fill(app, max(args.rows, 50))
    client = signed_in(app, ADMIN, PASSWORD)
    list_url = f"/records/{ENTITY}"
    api_list = f"/api/v1/records/{ENTITY}?sort=-placed_on,-id&page_size=50"
    _check(client, list_url, api_list)
    cases = {
        "list page (50 rows)": (list_url, api_list),
        f"edit form ({LINES} lines)": (f"/records/{ENTITY}/{record}/edit",
                                       f"/api/v1/records/{ENTITY}/{record}"),
    }
    print(f"database: {services(app).db.dialect}, {max(args.rows, 50)} orders of 30 fields, "
          f"{args.rounds} rounds × {args.repeat} requests")
    print(f"{'page':24} {'UI ms':>9} {'API ms':>9} {'ratio':>7}")
    for name, (ui, api) in cases.items():
        ui_ms, api_ms, ratio = _measure(client, ui, api, args.rounds, args.repeat)
        print(f"{name:24} {ui_ms * 1000:9.2f} {api_ms * 1000:9.2f} {ratio:7.2f}")
    print("target: ratio UI / API ≤ 1.5 (server time of the page vs the JSON of the same data)")
    services(app).close()


if __name__ == "__main__":
    main()
