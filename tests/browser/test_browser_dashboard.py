"""The dashboards in a real browser: the 院长视窗 with its ECharts trend, a
drill-down of two levels (hospital → a department → its doctors, htmx
partials), the 口径 dialog, the 科室透视 — and no JavaScript error.

The live server has the bundled packages (performance included) and their
demo org data; when the performance entities hold no rows yet (the demo
generator is run by ``yunying demo``, not by the test server), this module
records a few visits and discharges of two months itself and refreshes
the snapshot for them, so the page has something to show either way.
"""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from browser_helpers import ADMIN, login, shot
from yunying.app import services
from yunying.platform.context import Context
from yunying.runtime.indicators.periods import Period
from yunying.runtime.indicators.snapshot import refresh

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

MONTHS = ("2025-02", "2025-03")
VISITS = [  # (department, doctor, total fee) — per month
    ("CARD", "zhang.wei", "220.00"), ("CARD", "zhang.wei", "310.00"),
    ("CARD-W1", "li.na", "180.00"), ("PHARM", "liu.yang", "95.50"),
    ("ORTH-W", "zhou.min", "260.00"),
]
DISCHARGES = [  # (department, doctor, length of stay)
    ("CARD", "zhang.wei", 9), ("CARD-W1", "li.na", 6), ("ORTH-W", "zhou.min", 11),
]
CARD = "performance.op_visits"
#: the indicators refreshed into the snapshot (the others are computed live)
SNAPSHOT = ("performance.op_visits", "performance.avg_los", "performance.op_avg_cost")


def _record_demo_rows(app) -> None:
    """A few rows of two months, unless the performance data is there already,
    and the snapshot of those months for the cards the test opens."""
    ctx = Context(actor="browser-tests")
    with services(app).db.begin(write=True) as conn:
        runtime = services(app).runtime(conn)
        visits = runtime.registry.tables("performance.outpatient_visit").table
        if conn.execute(select(func.count()).select_from(visits)).scalar_one() == 0:
            for m, month in enumerate(MONTHS):
                _month_rows(conn, runtime, ctx, m, month)
        refresh(conn, runtime.indicators, runtime.registry,
                periods=[Period.parse(m) for m in MONTHS], indicators=SNAPSHOT)


def _month_rows(conn, runtime, ctx, m: int, month: str) -> None:
    day = date.fromisoformat(f"{month}-10")
    for n, (unit, doctor, fee) in enumerate(VISITS):
        runtime.records.create(conn, ctx, "performance.outpatient_visit", {
            "visit_no": f"BT-{m}-{n}", "visit_date": day.isoformat(), "department": unit,
            "doctor": doctor, "payer_type": "urban_employee", "emergency": False,
            "total_fee": fee})
    for n, (unit, doctor, los) in enumerate(DISCHARGES):
        runtime.records.create(conn, ctx, "performance.discharge", {
            "case_no": f"BT-{m}-{n}", "admit_date": f"{month}-01",
            "discharge_date": day.isoformat(), "department": unit, "doctor": doctor,
            "payer_type": "urban_employee", "los_days": los, "day_surgery": False,
            "total_fee": "5000.00"})


@pytest.fixture(scope="module")
def dashboard_data(live_server):
    _record_demo_rows(live_server.app)
    return live_server


def test_dashboard_drill_two_levels_and_the_definition(page, dashboard_data, watch):
    login(page, ADMIN)
    page.get_by_test_id("nav-dashboards").click()
    card = page.get_by_test_id(f"card-{CARD}")
    expect(card).to_be_visible()
    expect(page.get_by_test_id(f"card-value-{CARD}")).not_to_have_text("—")
    chart = page.get_by_test_id("trend-chart")
    expect(chart).to_have_attribute("data-chart-drawn", "")
    expect(chart.locator("canvas").first).to_be_visible()
    shot(page, "dashboard")

    # level 1: the hospital's departments
    page.get_by_test_id(f"card-value-{CARD}").click()
    table = page.get_by_test_id("drill-table")
    expect(page.get_by_test_id("drill-level")).to_have_attribute("data-level", "units")
    expect(table.get_by_test_id("drill-row-CARD")).to_contain_text("心内科")
    # level 2: a department's doctors
    table.get_by_test_id("drill-value-CARD").click()
    expect(page.get_by_test_id("drill-level")).to_have_attribute("data-level", "persons")
    expect(page.get_by_test_id("drill-table").get_by_test_id("drill-row-zhang.wei")) \
        .to_contain_text("张伟")
    shot(page, "dashboard-drill")
    page.get_by_test_id("drill-up").click()
    expect(page.get_by_test_id("drill-level")).to_have_attribute("data-level", "units")

    # the 口径 of a card, in a dialog
    page.get_by_test_id(f"definition-open-{CARD}").click()
    dialog = page.get_by_test_id(f"definition-{CARD}")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("统计口径")
    expect(dialog).to_contain_text("COUNT(")
    shot(page, "dashboard-definition")
    dialog.get_by_test_id(f"definition-close-{CARD}").click()
    expect(dialog).to_be_hidden()


def test_department_view(page, dashboard_data):
    login(page, ADMIN)
    page.goto("/dashboards/unit/CARD")
    expect(page.get_by_test_id("dashboard-unit")).to_have_text("心内科")
    page.get_by_test_id(f"card-value-{CARD}").click()
    expect(page.get_by_test_id("drill-level")).to_have_attribute("data-level", "persons")
    expect(page.get_by_test_id("drill-row-zhang.wei")).to_be_visible()
    expect(page.get_by_test_id("trend-chart")).to_have_attribute("data-chart-drawn", "")
    shot(page, "dashboard-department")
