"""The synthetic data generator on a real database: deterministic for a seed,
row counts in range, field generators respected (formulas, choices, copies),
people created and assigned, scale, refusal on existing data, bad documents
reported as located package issues."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from yunying.metadata.loader import load_packages
from yunying.metadata.store import MetadataStore
from yunying.platform import org
from yunying.platform.context import Context
from yunying.platform.errors import Conflict, InvalidPackage, NotFound
from yunying.platform.identity import UNUSABLE_PASSWORD
from yunying.platform.tables import user
from yunying.runtime.formula.package_check import FORMULA_CHECKS
from yunying.runtime.generator import GenerateOptions, find_generator, generate, month_window
from yunying.runtime.installer import BUNDLED, install_packages
from yunying.runtime.registry import Registry

PACKAGES = Path(__file__).resolve().parents[1] / "fixtures" / "packages"
FIXTURE = PACKAGES / "generator_small"
CTX = Context(actor="tester", clock=lambda: datetime(2026, 3, 15, 9, 0))
CLINICAL = ("GM1", "GNEW", "GS1")
SYSTEM = ("id", "created_at", "updated_at")


@pytest.fixture
def registry(db) -> Registry:
    install_packages(db, [Path(BUNDLED) / "base", FIXTURE], CTX)
    with db.connect() as conn:
        return Registry.from_packages(MetadataStore().installed(conn))


def _run(db, registry, **options):
    with db.begin(write=True) as conn:
        spec = find_generator(registry, "gen.small")
        return generate(conn, CTX, registry, spec, GenerateOptions(**options))


def _rows(db, registry, entity: str) -> list[dict]:
    table = registry.tables(f"gen.{entity}").table
    with db.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.id)).mappings().all()
    return [{k: v for k, v in row.items() if k not in SYSTEM} for row in rows]


def test_month_window_ends_with_the_last_complete_month():
    assert month_window(3, None, date(2026, 3, 15)) == (
        date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1))
    assert month_window(2, date(2024, 1, 20), date(2026, 3, 15)) == (
        date(2023, 12, 1), date(2024, 1, 1))


def test_same_seed_same_data_other_seed_other_data(db, registry):
    report = _run(db, registry)
    assert (report.first, report.last, report.months) == (date(2025, 9, 1), date(2026, 2, 28), 6)
    first = {e: _rows(db, registry, e) for e in ("visit", "discharge", "surgery", "headcount")}
    again = _run(db, registry, replace=True)
    assert again.rows == report.rows and again.users_created == 0
    assert {e: _rows(db, registry, e) for e in first} == first
    _run(db, registry, replace=True, seed=8)
    assert _rows(db, registry, "visit") != first["visit"]


def test_rows_per_unit_month_stay_in_range_and_only_in_the_groups_units(db, registry):
    report = _run(db, registry)
    visits = _rows(db, registry, "visit")
    assert report.rows["gen.visit"] == len(visits)
    per_cell = Counter((v["department"], v["visit_date"].strftime("%Y%m")) for v in visits)
    assert {unit for unit, _ in per_cell} == set(CLINICAL)
    assert len(per_cell) == 3 * 6
    # rows [80, 120] × size [0.5, 2] × season [0.8, 1.2] × growth ≤ 1.1 ** 0.5
    assert all(32 <= n <= 302 for n in per_cell.values()), per_cell
    headcount = _rows(db, registry, "headcount")
    assert len(headcount) == 3 * 6 * 2       # one row per unit, month and kind: unscaled
    assert {h["month"].day for h in headcount} == {1}


def test_field_generators_are_respected(db, registry):
    _run(db, registry)
    visits = _rows(db, registry, "visit")
    assert all(v["drug_fee"] == (v["fee"] * Decimal("0.3")).quantize(
        Decimal("0.01"), ROUND_HALF_UP) for v in visits)
    assert all(Decimal(20) <= v["fee"] <= Decimal(5000) for v in visits)
    assert {v["payer"] for v in visits} == {"employee", "resident", "self"}
    assert len({v["visit_no"] for v in visits}) == len(visits)
    assert all(v["visit_no"].startswith("V" + v["visit_date"].strftime("%Y%m")) for v in visits)
    assert all(v["doctor"].startswith(v["department"] + "-D") for v in visits)
    discharges = _rows(db, registry, "discharge")
    assert all((d["discharge_date"] - d["admit_date"]).days == d["los_days"] >= 1
               for d in discharges)
    surgeries = _rows(db, registry, "surgery")
    surgical = [d for d in discharges if d["drg"].startswith("G")]
    assert 0 < len(surgeries) <= len(surgical)
    parents = {(d["department"], d["doctor"], d["discharge_date"]) for d in surgical}
    assert all((s["department"], s["surgeon"], s["discharge_date"]) in parents for s in surgeries)
    assert all(s["surgery_date"] <= s["discharge_date"] for s in surgeries)
    assert {s["level"] for s in surgeries} <= {1, 2, 3, 4}
    # the override gives the surgical unit mostly surgical DRGs
    share = {unit: sum(d["drg"] == "GB1" for d in discharges if d["department"] == unit)
             / sum(d["department"] == unit for d in discharges) for unit in CLINICAL}
    assert share["GS1"] > 0.6 > 0.4 > share["GM1"]


def test_people_are_users_without_password_assigned_to_their_unit(db, registry):
    report = _run(db, registry)
    headcount = _rows(db, registry, "headcount")
    with db.connect() as conn:
        users = conn.execute(select(user.c.code, user.c.name_zh, user.c.password_hash)
                             .where(user.c.code.like("G%-D%"))).all()
        assert len(users) == report.people == report.users_created
        assert all(u.password_hash == UNUSABLE_PASSWORD and 2 <= len(u.name_zh) <= 3
                   for u in users)
        for unit in CLINICAL:
            mine = sorted(u.code for u in users if u.code.startswith(f"{unit}-D"))
            assert mine[0] == f"{unit}-D01"
            assert all(org.primary_unit(conn, code, date(2026, 1, 1)) == unit for code in mine)
            doctors = {h["persons"] for h in headcount
                       if h["department"] == unit and h["kind"] == "doctor"}
            assert doctors == {len(mine)}


def test_scale_multiplies_the_scaled_entities_only(db, registry):
    full = _run(db, registry)
    small = _run(db, registry, replace=True, scale=Decimal("0.1"))
    assert 0 < small.rows["gen.visit"] < full.rows["gen.visit"] * 0.2
    assert small.rows["gen.headcount"] == full.rows["gen.headcount"]


def test_existing_rows_are_refused_without_replace_and_nothing_changes(db, registry):
    _run(db, registry)
    before = len(_rows(db, registry, "visit"))
    with pytest.raises(Conflict) as caught:
        _run(db, registry)
    assert "--replace" in caught.value.message.en
    assert len(_rows(db, registry, "visit")) == before


def test_unknown_generator_is_not_found(registry):
    with pytest.raises(NotFound):
        find_generator(registry, "gen.nothing")


@pytest.mark.parametrize("case", ["generator_problems", "generator_schema"])
def test_bad_generator_documents_are_located_package_issues(case):
    with pytest.raises(InvalidPackage) as caught:
        load_packages([PACKAGES / "broken" / case], checks=FORMULA_CHECKS)
    issues = caught.value.issues
    assert issues and all(i.file == "generators/bad.yaml" and i.line for i in issues)
    assert all(i.message.zh != i.message.en for i in issues)
    codes = {i.code for i in issues}
    assert codes <= {"schema", "formula_syntax", "formula_type"} or {
        "generator_unknown_group", "generator_order", "generator_plan"} <= codes


def test_the_fixture_generator_loads_as_a_spec(registry):
    spec = find_generator(registry, "gen.small")
    assert spec.months == 6 and spec.seed == 7
    assert [p.entity for p in spec.entities] == [
        "gen.visit", "gen.discharge", "gen.surgery", "gen.headcount"]
    assert spec.entities[2].parent == "gen.discharge"
    assert spec.entities[3].each == ("kind", ("doctor", "nurse"))
