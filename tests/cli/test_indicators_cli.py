"""`yunying indicators list | graph | compute | refresh` over the base package
(demo hospital) and the ``indicators_small`` fixture package, installed once
for the module, with a few rows; values checked by hand, refusals located
(exit 1) and malformed periods usage errors (exit 2)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from yunying.cli import cli
from yunying.platform.context import Context
from yunying.platform.database import Database
from yunying.platform.tables import platform_metadata
from yunying.runtime.installer import bundled_package_paths
from yunying.runtime.records.service import RecordService
from yunying.runtime.registry import Registry
from yunying.metadata.store import MetadataStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "indicators_small"
CTX = Context(actor="tester")
VISITS = [("V1", "2025-03-05", "CARD", "zhang.wei", "200.00"),
          ("V2", "2025-03-10", "CARD-W1", "li.na", "300.00"),
          ("V3", "2025-03-20", "PHARM", "liu.yang", "400.50"),
          ("V4", "2025-02-10", "CARD", "zhang.wei", "150.00")]


def _database_url(where: Path, pg_worker_url) -> str:
    """A database of this module's own (SQLite file, or ``<worker db>_indcli``)."""
    if pg_worker_url is None:
        return f"sqlite:///{where / 'yunying.db'}"
    url = pg_worker_url.set(database=f"{pg_worker_url.database}_indcli"[:63])
    admin = create_engine(pg_worker_url, isolation_level="AUTOCOMMIT")
    for attempt in range(5):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
            break
        except OperationalError:  # another CREATE DATABASE copying template1 right now
            if attempt == 4:
                raise
            time.sleep(1)
    admin.dispose()
    return url.render_as_string(hide_password=False)


def _rows(url: str) -> None:
    db = Database(url)
    try:
        with db.begin(write=True) as conn:
            registry = Registry.from_packages(MetadataStore().installed(conn))
            records = RecordService(registry)
            for no, day, unit, doctor, fee in VISITS:
                records.create(conn, CTX, "ind.visit", {
                    "visit_no": no, "visit_date": day, "department": unit, "doctor": doctor,
                    "payer": "insured", "fee": fee})
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def run(tmp_path_factory, _pg_worker_url):
    where = tmp_path_factory.mktemp("indicators_cli")
    url = _database_url(where, _pg_worker_url)
    runner = CliRunner()
    env = {"YUNYING_DATABASE_URL": url, "YUNYING_INSTANCE": str(where / "instance")}

    def invoke(*args: str):
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)
    base = [p for p in bundled_package_paths() if Path(p).name == "base"]
    assert invoke("init").exit_code == 0
    installed = invoke("package", "install", *base, str(FIXTURE), "--demo")
    assert installed.exit_code == 0, installed.output
    _rows(url)
    invoke.url = url  # type: ignore[attr-defined]
    return invoke


def _ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def test_list_shows_every_indicator(run):
    lines = _ok(run("indicators", "list")).splitlines()
    assert lines[-1] == "5 indicator(s)"
    los = next(line for line in lines if line.startswith("ind.avg_los "))
    assert los.split()[1:5] == ["month", "number", "lower_better", "v2"]
    assert "(2025-01-01)" in los and "平均住院日 / Average length of stay" in los


def test_graph_prints_dependencies_first(run):
    lines = _ok(run("indicators", "graph")).splitlines()
    codes = [line.split(" ←")[0] for line in lines]
    assert codes.index("ind.avg_fee") < codes.index("ind.avg_fee_growth")
    growth = lines[codes.index("ind.avg_fee_growth")]
    assert "@ind.avg_fee" in growth and "@ind.avg_fee (lastyear)" in growth
    assert lines[codes.index("ind.avg_fee")] == "ind.avg_fee ← ind.visit"


def test_compute_prints_the_value_and_drill_rows(run):
    out = _ok(run("indicators", "compute", "ind.avg_fee", "--unit", "HOSP",
                  "--period", "2025-03", "--drill", "units"))
    lines = out.splitlines()
    assert lines[0] == "ind.avg_fee 门诊次均费用 / Average outpatient fee"
    assert "按 2020-01-01 起的第 1 版口径" in lines[1]
    # (200 + 300 + 400.50) / 3 = 300.1666… → 300.17; > 300 is amber
    total = lines[2].split()
    assert total[:2] == ["HOSP", "300.17"] and "[amber]" in lines[2]
    card = next(line.split() for line in lines[3:] if line.split()[0] == "CARD")
    assert card[1] == "250.00" and "心内科" in card


def test_compute_json_is_the_api_answer(run):
    out = _ok(run("indicators", "compute", "avg_fee", "--unit", "CARD", "--period", "2025-03",
                  "--json"))
    body = json.loads(out)
    assert (body["indicator"], body["unit"], body["period"]) == ("ind.avg_fee", "CARD", "2025-03")
    assert Decimal(body["total"]["value"]) == 250 and body["total"]["colour"] == "green"
    assert body["total"]["name"] == {"zh": "心内科", "en": "Cardiology"}
    assert body["label"]["en"] == "by version 1, in force from 2020-01-01"


def test_compute_refusals(run):
    unknown = run("indicators", "compute", "ind.nope", "--unit", "HOSP", "--period", "2025-03")
    assert unknown.exit_code == 1 and "ind.nope" in unknown.output
    bad = run("indicators", "compute", "ind.avg_fee", "--unit", "HOSP", "--period", "2025-13")
    assert bad.exit_code == 2 and "2025-13" in bad.output


def _snapshot_rows(url: str) -> int:
    db = Database(url)
    try:
        table = platform_metadata.tables["yy_indicator_value"]
        with db.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()
    finally:
        db.dispose()


def test_refresh_writes_then_skips(run):
    first = _ok(run("indicators", "refresh", "--from", "2025-02", "--to", "2025-03",
                    "--indicator", "ind.avg_fee", "--indicator", "visits"))
    assert "refreshing 2025-02…2025-03 (2 period(s)), tree cost" in first
    assert "2 indicator(s) × 2 period(s)" in first
    written = int(first.split("written ")[1].split(",")[0])
    assert written > 0 and _snapshot_rows(run.url) >= written
    again = _ok(run("indicators", "refresh", "--from", "2025-02", "--to", "2025-03",
                    "--indicator", "ind.avg_fee", "--indicator", "visits"))
    assert "written 0, skipped 4" in again
    full = _ok(run("indicators", "refresh", "--period", "2025-03", "--indicator", "visits",
                   "--full"))
    assert "skipped 0" in full


def test_refresh_refusals(run):
    both = run("indicators", "refresh", "--period", "2025-03", "--from", "2025-01",
               "--to", "2025-02")
    assert both.exit_code == 2 and "not both" in both.output
    alone = run("indicators", "refresh", "--from", "2025-01")
    assert alone.exit_code == 2 and "--to" in alone.output
    backwards = run("indicators", "refresh", "--from", "2025-03", "--to", "2025-01")
    assert backwards.exit_code == 2 and "before" in backwards.output
    unknown = run("indicators", "refresh", "--indicator", "nope")
    assert unknown.exit_code == 1 and "nope" in unknown.output
