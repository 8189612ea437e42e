"""Benchmark: the indicator engine vs hand-written SQL and pandas, and the dashboard.

In one process, over one database holding the bundled packages with the
performance package's generated data (``performance.hospital`` at
``--scale``; scale 1 ≈ 3,000,000 outpatient visits and 150,000 discharges
over 36 months, 40 departments, about 400 doctors), it computes the 12
national indicators of issue #7 for every department (drill ``units`` below
the hospital in the ``cost`` tree) for each of the 36 months three ways:

- engine: ``IndicatorEngine.compute(…, drill="units")`` per indicator and
  month — what the API and a snapshot refresh run;
- hand SQL: per indicator one hand-written query grouped by department and
  month over the whole window (what a report developer would write), the
  few divisions done in Python;
- pandas: the same numbers from DataFrames already loaded in memory (the
  load is timed apart and not counted).

Every engine value is compared with the hand SQL and pandas values (to the
indicator's last decimal); a difference stops the run. The three are run
in alternating order for ``--rounds`` rounds; the medians and the ratios
engine / hand SQL (target ≤ 1.3) and engine / pandas are printed. Then the
snapshot is refreshed for the 36 months and the 院长视窗 page
(``GET /dashboards``) is timed from the snapshot (target < 200 ms; server
time, reported, not asserted).

    ./dev bench indicators [--scale 1] [--rounds 3] [--database-url postgresql+psycopg://…]

The database should be empty (it is migrated and the packages installed).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Mapping

import pandas as pd
from flask import Flask
from sqlalchemy import Connection, text

from yunying.app import create_app, services
from yunying.platform import identity, migrate
from yunying.platform.access import ANY_DOMAIN, SUPERUSER_ROLE
from yunying.platform.context import Context
from yunying.platform.i18n import Text
from yunying.runtime.generator.engine import GenerateOptions, find_generator, generate
from yunying.runtime.indicators.periods import Period, period_range
from yunying.runtime.indicators.snapshot import refresh
from yunying.runtime.installer import bundled_package_paths, install_packages

from support import signed_in, time_get

ACTOR = Context(actor="bench")
ADMIN, PASSWORD = "bench.admin", "bench-admin-secret-1"
ROOT, TREE = "HOSP", "cost"
#: the 12 indicators the issue names
CODES = ("surgery_ratio", "level4_surgery_ratio", "op_avg_cost_growth", "ip_avg_cost_growth",
         "service_revenue_share", "personnel_expense_share", "energy_per_10k_revenue",
         "asset_liability_ratio", "doctor_nurse_ratio", "avg_los", "op_ip_ratio",
         "pharmacists_per_100_beds")
AVG_LOS_V2 = date(2025, 1, 1)   # avg_los version 2 leaves day surgery out from here
Key = tuple[str, int]           # (department, yyyymm)
Values = dict[Key, Decimal | None]


# --- preparing the data -------------------------------------------------------

def _prepare(url: str, instance: str, scale: Decimal) -> tuple[Flask, tuple[Period, ...]]:
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance,
                      "SECRET_KEY": "bench-secret"})
    svc = services(app)
    migrate.upgrade(svc.db)
    install_packages(svc.db, bundled_package_paths(), ACTOR, with_demo=True)
    started = time.perf_counter()
    with svc.db.begin(write=True) as conn:
        identity.create_user(conn, ACTOR, ADMIN, Text("基准管理员", "Bench admin"), PASSWORD)
        svc.access.grant_role(conn, ACTOR, ADMIN, SUPERUSER_ROLE, ANY_DOMAIN)
        registry = svc.runtime(conn).registry
        report = generate(conn, ACTOR, registry, find_generator(registry, "performance.hospital"),
                          GenerateOptions(scale=scale))
    with svc.db.begin(write=True) as conn:
        conn.execute(text("ANALYZE"))
    rows = ", ".join(f"{e.split('.')[1]} {n:,}" for e, n in report.rows.items())
    print(f"generated in {time.perf_counter() - started:.0f} s: {rows}")
    months = period_range(Period.of("month", report.first), Period.of("month", report.last))
    return app, months


# --- hand-written SQL ---------------------------------------------------------

def _ym(dialect: str, column: str) -> str:
    if dialect == "sqlite":
        return f"CAST(strftime('%Y%m', {column}) AS INTEGER)"
    return f"CAST(EXTRACT(YEAR FROM {column}) * 100 + EXTRACT(MONTH FROM {column}) AS INTEGER)"


def _one(table: str, day: str, num: str, den: str) -> str:
    """Numerator and denominator from one table, by department and month."""
    return (f"SELECT department, {{ym:{day}}} AS ym, {num} AS num, {den} AS den "
            f"FROM performance_{table} WHERE {day} BETWEEN :first AND :last GROUP BY 1, 2")


def _two(num: tuple[str, str, str], den: tuple[str, str, str]) -> str:
    """Numerator from one table, denominator from another."""
    (nt, nd, ne), (dt, dd, de) = num, den
    return (f"SELECT department, ym, SUM(num) AS num, SUM(den) AS den FROM ("
            f"SELECT department, {{ym:{nd}}} AS ym, {ne} AS num, 0 AS den FROM performance_{nt} "
            f"WHERE {nd} BETWEEN :first AND :last GROUP BY 1, 2 UNION ALL "
            f"SELECT department, {{ym:{dd}}} AS ym, 0 AS num, {de} AS den FROM performance_{dt} "
            f"WHERE {dd} BETWEEN :first AND :last GROUP BY 1, 2) AS parts GROUP BY 1, 2")


def _growth(table: str, day: str) -> str:
    """The average fee of a month and of the same month a year before."""
    return (f"WITH m AS (SELECT department, {{ym:{day}}} AS ym, SUM(total_fee) AS fees, "
            f"COUNT(*) AS n FROM performance_{table} WHERE {day} BETWEEN :before AND :last "
            f"GROUP BY 1, 2) SELECT cur.department, cur.ym, cur.fees, cur.n, ly.fees, ly.n "
            f"FROM m AS cur LEFT JOIN m AS ly ON ly.department = cur.department "
            f"AND ly.ym = cur.ym - 100 WHERE cur.ym >= :first_ym")


_NOT_DAY_SURGERY = "(discharge_date < :v2 OR NOT day_surgery)"
HAND_SQL: Mapping[str, str] = {
    "surgery_ratio": _two(("surgery", "discharge_date", "COUNT(*)"),
                          ("discharge", "discharge_date", "COUNT(*)")),
    "level4_surgery_ratio": _one("surgery", "discharge_date",
                                 "SUM(CASE WHEN level = 4 THEN 1 ELSE 0 END)", "COUNT(*)"),
    "op_avg_cost_growth": _growth("outpatient_visit", "visit_date"),
    "ip_avg_cost_growth": _growth("discharge", "discharge_date"),
    "service_revenue_share": _one(
        "revenue_line", "entry_date",
        "SUM(CASE WHEN category = 'medical_service' THEN amount ELSE 0 END)",
        "SUM(CASE WHEN medical THEN amount ELSE 0 END)"),
    "personnel_expense_share": _one(
        "expense_line", "entry_date",
        "SUM(CASE WHEN category = 'personnel' AND business THEN amount ELSE 0 END)",
        "SUM(CASE WHEN business THEN amount ELSE 0 END)"),
    "energy_per_10k_revenue": _two(
        ("expense_line", "entry_date", "SUM(CASE WHEN category = 'energy' THEN amount ELSE 0 END)"),
        ("revenue_line", "entry_date", "SUM(amount)")),
    "asset_liability_ratio": _one("balance_sheet", "month", "SUM(total_liabilities)",
                                  "SUM(total_assets)"),
    "doctor_nurse_ratio": _one(
        "staff_count", "month", "SUM(CASE WHEN category = 'doctor' THEN headcount ELSE 0 END)",
        "SUM(CASE WHEN category = 'nurse' THEN headcount ELSE 0 END)"),
    "avg_los": _one("discharge", "discharge_date",
                    f"SUM(CASE WHEN {_NOT_DAY_SURGERY} THEN los_days ELSE 0 END)",
                    f"SUM(CASE WHEN {_NOT_DAY_SURGERY} THEN 1 ELSE 0 END)"),
    "op_ip_ratio": _two(
        ("outpatient_visit", "visit_date", "SUM(CASE WHEN emergency THEN 0 ELSE 1 END)"),
        ("discharge", "discharge_date", "COUNT(*)")),
    "pharmacists_per_100_beds": _two(
        ("staff_count", "month", "SUM(CASE WHEN category = 'pharmacist' THEN headcount ELSE 0 END)"),
        ("bed_count", "month", "SUM(open_beds)")),
}


def _sql(dialect: str, template: str) -> str:
    out = template
    while "{ym:" in out:
        start = out.index("{ym:")
        end = out.index("}", start)
        out = out[:start] + _ym(dialect, out[start + 4:end]) + out[end + 1:]
    return out


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _ratio(num, den, factor: Decimal) -> Decimal | None:
    num, den = _dec(num), _dec(den)
    if num is None or not den:
        return None
    return num / den * factor


def _avg(fees, n) -> Decimal | None:
    return _dec(fees) / _dec(n) if n else None


def hand_sql(conn: Connection, code: str, months: tuple[Period, ...],
             factors: Mapping[str, Decimal]) -> Values:
    first, last = months[0], months[-1]
    params = {"first": first.start, "last": last.end, "before": first.last_year().start,
              "first_ym": first.year * 100 + first.index, "v2": AVG_LOS_V2}
    rows = conn.execute(text(_sql(conn.dialect.name, HAND_SQL[code])), params).all()
    if code.endswith("_growth"):
        out: Values = {}
        for dept, ym, fees, n, ly_fees, ly_n in rows:
            cur, before = _avg(fees, n), _avg(ly_fees, ly_n)
            out[(dept, ym)] = (cur - before) / before * factors[code] if cur is not None and before else None
        return out
    return {(dept, ym): _ratio(num, den, factors[code]) for dept, ym, num, den in rows}


# --- the engine ---------------------------------------------------------------

def engine_values(conn: Connection, engine, code: str, months: tuple[Period, ...]) -> Values:
    out: Values = {}
    for month in months:
        done = engine.compute(conn, f"performance.{code}", ROOT, month, tree=TREE, drill="units")
        for member in done.members:
            out[(member.key, month.year * 100 + month.index)] = member.exact
    return out


# --- pandas -------------------------------------------------------------------

_TABLES = {"outpatient_visit": "visit_date", "discharge": "discharge_date",
           "surgery": "discharge_date", "revenue_line": "entry_date",
           "expense_line": "entry_date", "staff_count": "month", "bed_count": "month",
           "balance_sheet": "month"}


def load_frames(conn: Connection) -> dict[str, pd.DataFrame]:
    frames = {}
    for table, day in _TABLES.items():
        frame = pd.read_sql(text(f"SELECT * FROM performance_{table}"), conn)
        stamp = pd.to_datetime(frame[day])
        frame["ym"] = stamp.dt.year * 100 + stamp.dt.month
        frames[table] = frame
    return frames


def _sum(frame: pd.DataFrame, column: str | None, mask=None) -> pd.Series:
    rows = frame if mask is None else frame[mask]
    grouped = rows.groupby(["department", "ym"])
    return grouped.size() if column is None else grouped[column].sum()


def _pairs(num: pd.Series, den: pd.Series) -> dict[Key, tuple]:
    both = pd.concat([num.rename("num"), den.rename("den")], axis=1).fillna(0)
    return {key: (n, d) for key, n, d in zip(both.index, both["num"], both["den"])}


def _growth_frame(frame: pd.DataFrame, first_ym: int) -> dict[Key, tuple]:
    grouped = frame.groupby(["department", "ym"])["total_fee"].agg(["sum", "count"])
    out = {}
    for (dept, ym), fees, n in zip(grouped.index, grouped["sum"], grouped["count"]):
        if ym >= first_ym:
            before = grouped.loc[(dept, ym - 100)] if (dept, ym - 100) in grouped.index else None
            out[(dept, ym)] = (fees, n, None if before is None else before["sum"],
                               None if before is None else before["count"])
    return out


def pandas_parts(f: Mapping[str, pd.DataFrame], first_ym: int) -> dict[str, dict[Key, tuple]]:
    ov, dis, sur = f["outpatient_visit"], f["discharge"], f["surgery"]
    rev, exp, staff = f["revenue_line"], f["expense_line"], f["staff_count"]
    keep = (dis["discharge_date"].astype(str) < str(AVG_LOS_V2)) | ~dis["day_surgery"].astype(bool)
    return {
        "surgery_ratio": _pairs(_sum(sur, None), _sum(dis, None)),
        "level4_surgery_ratio": _pairs(_sum(sur, None, sur["level"] == 4), _sum(sur, None)),
        "op_avg_cost_growth": _growth_frame(ov, first_ym),
        "ip_avg_cost_growth": _growth_frame(dis, first_ym),
        "service_revenue_share": _pairs(_sum(rev, "amount", rev["category"] == "medical_service"),
                                        _sum(rev, "amount", rev["medical"].astype(bool))),
        "personnel_expense_share": _pairs(
            _sum(exp, "amount", (exp["category"] == "personnel") & exp["business"].astype(bool)),
            _sum(exp, "amount", exp["business"].astype(bool))),
        "energy_per_10k_revenue": _pairs(_sum(exp, "amount", exp["category"] == "energy"),
                                         _sum(rev, "amount")),
        "asset_liability_ratio": _pairs(_sum(f["balance_sheet"], "total_liabilities"),
                                        _sum(f["balance_sheet"], "total_assets")),
        "doctor_nurse_ratio": _pairs(_sum(staff, "headcount", staff["category"] == "doctor"),
                                     _sum(staff, "headcount", staff["category"] == "nurse")),
        "avg_los": _pairs(_sum(dis, "los_days", keep), _sum(dis, None, keep)),
        "op_ip_ratio": _pairs(_sum(ov, None, ~ov["emergency"].astype(bool)), _sum(dis, None)),
        "pharmacists_per_100_beds": _pairs(
            _sum(staff, "headcount", staff["category"] == "pharmacist"),
            _sum(f["bed_count"], "open_beds")),
    }


def pandas_values(frames: Mapping[str, pd.DataFrame], months: tuple[Period, ...],
                  factors: Mapping[str, Decimal]) -> dict[str, Values]:
    first_ym = months[0].year * 100 + months[0].index
    out: dict[str, Values] = {}
    for code, parts in pandas_parts(frames, first_ym).items():
        if code.endswith("_growth"):
            values: Values = {}
            for key, (fees, n, ly_fees, ly_n) in parts.items():
                cur, before = _avg(fees, n), _avg(ly_fees, ly_n) if ly_n else None
                values[key] = (cur - before) / before * factors[code] if before else None
            out[code] = values
        else:
            out[code] = {key: _ratio(n, d, factors[code]) for key, (n, d) in parts.items()}
    return out


# --- comparing and timing -----------------------------------------------------

def _rounded(value: Decimal | None, decimals: int) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def compare(name: str, code: str, engine: Values, other: Values, decimals: int) -> None:
    """Every department-month equal to the indicator's last decimal (±1 unit
    there: SQLite sums REAL columns, so the two sides may round apart)."""
    step = Decimal(1).scaleb(-decimals)
    bad = []
    for key in sorted(set(engine) | set(other)):
        a, b = _rounded(engine.get(key), decimals), _rounded(other.get(key), decimals)
        if (a is None) != (b is None) or (a is not None and abs(a - b) > step):
            bad.append((key, a, b))
    if bad:
        raise SystemExit(f"{code}: the engine and {name} disagree on {len(bad)} values, e.g. "
                         f"{bad[:3]}")


def _timed(work: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=Decimal, default=Decimal(1))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=20, help="dashboard requests per round")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="yy-bench-ind-")
    app, months = _prepare(args.database_url or f"sqlite:///{tmp}/bench.db", tmp, args.scale)
    svc = services(app)
    runtime = svc.runtime()
    specs = {code: runtime.registry.indicator(f"performance.{code}") for code in CODES}
    factors = {code: spec.factor for code, spec in specs.items()}
    with svc.db.connect() as conn:
        load_s, frames = _timed(lambda: load_frames(conn))
        times: dict[str, list[float]] = {"engine": [], "hand SQL": [], "pandas": []}
        for round_no in range(args.rounds):
            runs = {
                "engine": lambda: {c: engine_values(conn, runtime.indicators, c, months) for c in CODES},
                "hand SQL": lambda: {c: hand_sql(conn, c, months, factors) for c in CODES},
                "pandas": lambda: pandas_values(frames, months, factors),
            }
            order = list(runs) if round_no % 2 == 0 else list(reversed(runs))
            results = {}
            for name in order:
                seconds, results[name] = _timed(runs[name])
                times[name].append(seconds)
            for code in CODES:
                for other in ("hand SQL", "pandas"):
                    compare(other, code, results["engine"][code], results[other][code],
                            specs[code].decimals)
    engine_s, hand_s, pandas_s = (statistics.median(times[n]) for n in times)
    print(f"database: {svc.db.dialect}; {len(CODES)} indicators × {len(months)} months × "
          f"every department of {ROOT} ({TREE} tree); median of {args.rounds} rounds; "
          f"all values agree")
    print(f"{'engine':10} {engine_s:8.2f} s")
    print(f"{'hand SQL':10} {hand_s:8.2f} s   engine / hand SQL = {engine_s / hand_s:.2f}  "
          f"(target ≤ 1.3)")
    print(f"{'pandas':10} {pandas_s:8.2f} s   engine / pandas = {engine_s / pandas_s:.2f}  "
          f"(pandas load from the database, not counted: {load_s:.1f} s)")
    _dashboard(app, months)
    svc.close()


def _dashboard(app: Flask, months: tuple[Period, ...]) -> None:
    svc = services(app)
    with svc.db.begin(write=True) as conn:
        runtime = svc.runtime(conn)
        report = refresh(conn, runtime.indicators, runtime.registry, periods=months, tree=TREE)
    print(f"snapshot refresh: {report.written:,} values, {report.indicators} indicators × "
          f"{report.periods} months in {report.seconds:.1f} s")
    client = signed_in(app, ADMIN, PASSWORD)
    url = f"/dashboards?period={months[-1].code}"
    time_get(client, url, 3)
    page = statistics.median(time_get(client, url, 5) for _ in range(4))
    print(f"dashboard page from the snapshot: {page * 1000:.1f} ms server time "
          f"(target < 200 ms)")


if __name__ == "__main__":
    main()
