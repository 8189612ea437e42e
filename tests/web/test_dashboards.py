"""The dashboards of the staff UI (runtime/ui/dashboards*.py, templates/dashboards/):
院长视窗 cards (values, colours, 环比 / 同比, the version label, the 口径
dialog), the trend, the drill partials (hospital → departments → doctors),
科室透视, the snapshot read first with live computation of what it lacks,
who may see them (403 without ``view_indicators``, no menu entry) and bad
parameters (400 / 404 pages, never a 500).

One app per module: the bundled ``base`` package with its demo hospital and
a copy of the ``indicators_small`` fixture package plus a role granting
``view_indicators``; the snapshot is refreshed for 2025-03 only, so the
base periods of 环比 (2025-02) and 同比 (2024-03) are computed live. Tests
only read (one puts a snapshot value back after changing it).

Rows (cost tree: HOSP → {CARD → CARD-W1, ORTH-W, PHARM, EQUIP, LOGI}):

visits  2025-03: CARD 200 (zhang.wei), CARD-W1 300 (li.na), PHARM 400 (liu.yang)
        2025-02: CARD 150, CARD 250 (zhang.wei);  2024-03: CARD 240 (zhang.wei)
discharges 2025-03: CARD los 10 no surgery (zhang.wei), CARD-W1 los 6 surgery (li.na),
                    ORTH-W los 4 surgery (zhou.min)
           2024-12: CARD los 8 no surgery, ORTH-W los 3 surgery (version 1 of avg_los)
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import update

from yunying.app import services
from yunying.platform.access import ANY_DOMAIN
from yunying.platform.tables import indicator_value
from yunying.runtime.indicators.periods import Period
from yunying.runtime.indicators.snapshot import refresh
from ui_form_helpers import Browser, Page
from indicator_web_helpers import indicator_app, package_with_viewer
from web_helpers import INSTALLER

VISITS = [  # (no, date, unit, doctor, fee)
    ("V1", "2025-03-05", "CARD", "zhang.wei", "200.00"),
    ("V2", "2025-03-10", "CARD-W1", "li.na", "300.00"),
    ("V3", "2025-03-20", "PHARM", "liu.yang", "400.00"),
    ("V4", "2025-02-03", "CARD", "zhang.wei", "150.00"),
    ("V5", "2025-02-17", "CARD", "zhang.wei", "250.00"),
    ("V6", "2024-03-15", "CARD", "zhang.wei", "240.00"),
]
DISCHARGES = [  # (case, date, unit, doctor, los, surgery)
    ("D1", "2025-03-03", "CARD", "zhang.wei", 10, False),
    ("D2", "2025-03-15", "CARD-W1", "li.na", 6, True),
    ("D3", "2025-03-28", "ORTH-W", "zhou.min", 4, True),
    ("D4", "2024-12-20", "CARD", "zhang.wei", 8, False),
    ("D5", "2024-12-22", "ORTH-W", "zhou.min", 3, True),
]
DRILL = "/dashboards/drill"


def _rows(app) -> None:
    runtime = services(app).runtime()
    with services(app).db.begin(write=True) as conn:
        for no, day, unit, doctor, fee in VISITS:
            runtime.records.create(conn, INSTALLER, "ind.visit", {
                "visit_no": no, "visit_date": day, "department": unit, "doctor": doctor,
                "payer": "insured", "fee": fee})
        for case, day, unit, doctor, los, surgery in DISCHARGES:
            runtime.records.create(conn, INSTALLER, "ind.discharge", {
                "case_no": case, "discharge_date": day, "department": unit, "doctor": doctor,
                "payer": "insured", "los_days": los, "surgery": surgery})
        refresh(conn, runtime.indicators, runtime.registry, periods=[Period.parse("2025-03")])


@pytest.fixture(scope="module")
def app(tmp_path_factory, _pg_worker_url):
    where = tmp_path_factory.mktemp("dashboards")
    application = indicator_app(where, _pg_worker_url, "dash", package_with_viewer(where),
                                _rows)
    yield application
    services(application).close()


@pytest.fixture(scope="module")
def admin(app) -> Browser:
    return Browser(app)


@pytest.fixture(scope="module")
def viewer(app) -> Browser:
    """A demo person whose only role grants view_indicators."""
    with services(app).db.begin(write=True) as conn:
        services(app).access.grant_role(conn, INSTALLER, "wang.fang", "ind.viewer", ANY_DOMAIN)
    return Browser(app, "wang.fang")


def _page(response) -> tuple[Page, str]:
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:3000]
    return Page(html), html


def _chart(html: str) -> dict:
    return json.loads(re.search(r"data-chart-data>(.*?)</script>", html, re.S).group(1))


def _text(page: Page, testid: str) -> str:
    return " ".join(page.testid(testid)["text"].split())


# -- the director's dashboard -------------------------------------------------------------------

def test_cards_show_values_units_and_colours(viewer):
    page, _ = _page(viewer.get("/dashboards"))
    assert _text(page, "dashboard-unit") == "云影示范医院"  # the root of the cost tree
    cards = [e["data-testid"] for e in page.elements
             if e.get("data-testid", "").startswith("card-ind.")]
    assert cards == ["card-ind.avg_fee", "card-ind.avg_fee_growth", "card-ind.avg_los",
                     "card-ind.surgery_ratio", "card-ind.visits"]
    assert _text(page, "card-value-ind.visits") == "3 人次"
    assert _text(page, "card-value-ind.avg_fee") == "300.00 元"
    assert _text(page, "card-value-ind.avg_los") == "10.00 天"      # v2: no surgery only
    assert _text(page, "card-value-ind.surgery_ratio") == "66.67 %"
    assert page.testid("card-ind.avg_fee")["data-colour"] == "green"    # ≤ 300
    assert page.testid("card-ind.avg_los")["data-colour"] == "amber"    # ≤ 10
    assert page.testid("card-ind.surgery_ratio")["data-colour"] == "green"
    assert page.testid("card-ind.visits")["data-colour"] == ""          # monitor
    assert _text(page, "card-colour-ind.avg_los") == "预警"


def test_month_on_month_and_year_on_year_changes(viewer):
    page, _ = _page(viewer.get("/dashboards?period=2025-03"))
    mom = page.testid("card-mom-ind.visits")
    assert (mom["data-arrow"], " ".join(mom["text"].split())) == ("up", "环比 ▲ +50.0% 上升")
    yoy = page.testid("card-yoy-ind.visits")
    assert (yoy["data-arrow"], " ".join(yoy["text"].split())) == ("up", "同比 ▲ +200.0% 上升")
    # the average fee rose 300 vs 200 and vs 240: bad for a lower-better indicator
    fee_mom = page.testid("card-mom-ind.avg_fee")
    assert "+50.0%" in fee_mom["text"] and "change-bad" in fee_mom["class"]
    assert "+25.0%" in page.testid("card-yoy-ind.avg_fee")["text"]
    # no discharges in 2025-02 / 2024-03: no change to show
    assert page.testid("card-mom-ind.avg_los")["data-arrow"] == "none"


def test_an_earlier_version_is_labelled_and_its_definition_shown(viewer):
    page, _ = _page(viewer.get("/dashboards?period=2024-12&indicator=ind.avg_los"))
    assert _text(page, "card-value-ind.avg_los") == "5.50 天"        # v1: (8 + 3) / 2
    assert _text(page, "card-version-ind.avg_los") == "按 2020-01-01 起的第 1 版口径"
    assert "第 1 版，2020-01-01 起生效" in _text(page, "definition-version-ind.avg_los")
    current, _ = _page(viewer.get("/dashboards?period=2025-03"))
    assert not current.find(**{"data-testid": "card-version-ind.avg_los"})


def test_definition_dialog_holds_the_whole_kou_jing(viewer):
    page, html = _page(viewer.get("/dashboards?period=2025-03"))
    dialog = page.testid("definition-ind.avg_los")
    assert dialog["tag"] == "dialog" and dialog["id"] == "definition-dialog-ind.avg_los"
    text = " ".join(dialog["text"].split())
    for part in ("不含手术患者的出院患者平均住院日", "非手术出院患者占用总床日数",
                 "同期非手术出院人次数", "排除范围 手术患者", "数据来源 病案首页",
                 "SUM(discharge.los_days, surgery = FALSE)", "第 2 版，2025-01-01 起生效",
                 "2025 版起不含手术患者", "负责部门 医务部", "出院者平均住院日"):
        assert part in text, part
    opener = page.testid("definition-open-ind.avg_los")
    assert opener["data-dialog-open"] == dialog["id"]


def test_english_page(viewer):
    viewer.post("/language", {"lang": "en", "next": "/dashboards"})
    try:
        page, _ = _page(viewer.get("/dashboards?period=2025-03"))
        assert _text(page, "card-value-ind.avg_los") == "10.00 days"
        assert "Definition" in page.testid("definition-ind.avg_los")["text"]
        assert "MoM" in page.testid("card-mom-ind.visits")["text"]
    finally:
        viewer.post("/language", {"lang": "zh-CN", "next": "/dashboards"})


def test_trend_chart_data_covers_twelve_or_thirty_six_months(viewer):
    page, html = _page(viewer.get("/dashboards?period=2025-03&indicator=ind.visits"))
    assert page.testid("trend-chart")["data-chart"] == ""
    data = _chart(html)
    assert data["labels"][0] == "2024-04" and data["labels"][-1] == "2025-03"
    now, earlier = data["series"]
    assert now["values"][-2:] == ["2", "3"]               # 2025-02, 2025-03
    assert earlier["values"][-1] == "1" and earlier["dashed"] is True   # 2024-03
    long, html = _page(viewer.get("/dashboards?period=2025-03&indicator=ind.visits&months=36"))
    data = _chart(html)
    assert len(data["labels"]) == 36 and data["labels"][0] == "2022-04"
    assert 'src="/static/dist/charts.js"' in html


def test_snapshot_values_are_read_not_recomputed(app, viewer):
    """A value changed in the snapshot shows: the cards read it (put back afterwards)."""
    key = ((indicator_value.c.indicator == "ind.visits") & (indicator_value.c.unit == "HOSP")
           & (indicator_value.c.period == "2025-03") & (indicator_value.c.person == ""))
    with services(app).db.begin(write=True) as conn:
        changed = conn.execute(update(indicator_value).where(key).values(value=42)).rowcount
    assert changed == 1
    try:
        page, _ = _page(viewer.get("/dashboards?period=2025-03"))
        assert _text(page, "card-value-ind.visits") == "42 人次"
    finally:
        with services(app).db.begin(write=True) as conn:
            conn.execute(update(indicator_value).where(key).values(value=3))


# -- drill-down --------------------------------------------------------------------------------

def test_drill_hospital_to_departments_to_doctors(viewer):
    page, _ = _page(viewer.get("/dashboards?period=2025-03"))
    value = page.testid("card-value-ind.visits")
    assert value["hx-target"] == "#drill"
    units, _ = _page(viewer.get(value["hx-get"]))
    assert units.testid("drill-level")["data-level"] == "units"
    assert "心内科" in _text(units, "drill-row-CARD")
    assert _text(units, "drill-value-CARD") == "2"          # CARD and its ward CARD-W1
    assert _text(units, "drill-value-PHARM") == "1"
    assert _text(units, "drill-total") == "3"
    assert units.testid("drill-page-CARD")["href"].startswith("/dashboards/unit/CARD?")
    doctors, _ = _page(viewer.get(units.testid("drill-value-CARD")["hx-get"]))
    assert doctors.testid("drill-level")["data-level"] == "persons"
    assert "张伟" in _text(doctors, "drill-row-zhang.wei")
    assert "李娜" in _text(doctors, "drill-row-li.na")
    assert _text(doctors, "drill-total") == "2"
    back = doctors.testid("drill-up")
    assert "unit=HOSP" in back["hx-get"] and "level=units" in back["hx-get"]


def test_drill_ratio_is_a_ratio_of_sums_per_department(viewer):
    units, _ = _page(viewer.get(f"{DRILL}?indicator=ind.avg_fee&unit=HOSP&period=2025-03"
                                "&level=units"))
    assert _text(units, "drill-value-CARD") == "250.00"   # (200 + 300) / 2
    assert _text(units, "drill-value-PHARM") == "400.00"
    assert _text(units, "drill-total") == "300.00"


def test_the_page_renders_a_drill_level_without_javascript(viewer):
    page, _ = _page(viewer.get("/dashboards?period=2025-03&indicator=ind.visits&unit=CARD"
                               "&level=persons"))
    assert page.testid("drill-table")
    assert "张伟" in _text(page, "drill-row-zhang.wei")


def test_department_view_drills_to_its_doctors(viewer):
    page, _ = _page(viewer.get("/dashboards/unit/CARD?period=2025-03"))
    assert _text(page, "dashboard-unit") == "心内科"
    assert _text(page, "card-value-ind.visits") == "2 人次"
    value = page.testid("card-value-ind.avg_fee")
    assert "level=persons" in value["hx-get"] and "unit=CARD" in value["hx-get"]
    doctors, _ = _page(viewer.get(value["hx-get"]))
    assert not doctors.find(**{"data-testid": "drill-value-zhang.wei"})  # the last level
    assert "200.00" in _text(doctors, "drill-row-zhang.wei")
    assert "300.00" in _text(doctors, "drill-row-li.na")


# -- access ------------------------------------------------------------------------------------

def test_navigation_shows_dashboards_to_holders_only(app, viewer):
    page, _ = _page(viewer.get("/"))
    assert page.testid("nav-dashboards")["href"] == "/dashboards"
    other = Browser(app, "li.na")
    home = Page(other.get("/").get_data(as_text=True))
    assert not home.find(**{"data-testid": "nav-dashboards"})


@pytest.mark.parametrize("url", [
    "/dashboards", "/dashboards/unit/CARD",
    f"{DRILL}?indicator=ind.visits&unit=HOSP&period=2025-03&level=units"])
def test_without_view_indicators_a_403_page(app, url):
    other = Browser(app, "zhou.min")
    response = other.get(url)
    assert response.status_code == 403
    assert "text/html" in response.content_type
    assert "无权访问" in response.get_data(as_text=True)


def test_nobody_goes_to_the_login_page(app):
    response = app.test_client().get("/dashboards")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_superuser_sees_the_dashboard(admin):
    page, _ = _page(admin.get("/dashboards?period=2025-03"))
    assert page.testid("card-ind.visits")


# -- bad parameters ----------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "period=2025-13", "period=2025-Q1", "period=abc", "period=" + "9" * 300,
    "tree=nosuch", "indicator=ind.nosuch", "months=7", "level=floors", "color=red",
    "unit=HOSP&level=sideways",
])
def test_bad_parameters_are_a_400_page(viewer, query):
    response = viewer.get(f"/dashboards?{query}")
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    assert "请求有误" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", [
    "indicator=ind.visits&period=2025-03&level=units",                 # no unit
    "indicator=ind.visits&unit=HOSP&period=2025-03&level=regions",
    "indicator=ind.visits&unit=HOSP&period=March&level=units",
    "unit=HOSP&period=2025-03&level=units",                            # no indicator
])
def test_bad_drill_parameters_are_a_400(viewer, query):
    assert viewer.get(f"{DRILL}?{query}").status_code == 400


def test_unknown_units_are_a_404_page(viewer):
    assert viewer.get("/dashboards/unit/NOSUCH").status_code == 404
    response = viewer.get(f"{DRILL}?indicator=ind.visits&unit=NOSUCH&period=2025-03&level=units")
    assert response.status_code == 404
