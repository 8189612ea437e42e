"""The indicator endpoints (runtime/api/indicators.py): list, detail, live
compute with every drill, series, graph and version diff, each value checked
by hand against the rows below; who may read (401 nobody, 403 without
``view_indicators``); and bad parameters — a located 400 (``details.field``)
in zh-CN and en — or an unknown indicator / unit (404).

One app per module (the bundled ``base`` package with its demo hospital and a
copy of the ``indicators_small`` fixture package plus a role granting
``view_indicators`` and with the payer an enum of a ``payer`` dictionary);
the tests only read.

Rows (cost tree: HOSP → {CARD → CARD-W1, ORTH-W, PHARM, EQUIP, LOGI}):

visits  2025-03: CARD 200.00 (zhang.wei, insured), CARD-W1 300.00 (li.na, self),
                 PHARM 400.50 (liu.yang, insured), HOSP 100.00 (no doctor, no payer)
        2025-02: CARD 150.00; 2025-04: CARD 999.00; 2024-03: CARD 250.00
discharges 2025-03: CARD los 10 (insured, no surgery), CARD-W1 los 6 (self, surgery),
                    ORTH-W los 4 (insured, surgery)
           2024-12: CARD los 8 (no surgery), ORTH-W los 3 (surgery)
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from jsonschema import Draft202012Validator

from yunying.app import services
from yunying.metadata.indicators import Thresholds
from yunying.platform.access import ANY_DOMAIN
from yunying.runtime.api.indicator_schemas import MAX_SERIES
from yunying.runtime.indicators.colours import colour
from indicator_web_helpers import indicator_app, package_with_viewer
from web_helpers import INSTALLER, error_of, token_client

API = "/api/v1/indicators"

VISITS = [  # (no, date, unit, doctor, payer, fee)
    ("V1", "2025-03-05", "CARD", "zhang.wei", "insured", "200.00"),
    ("V2", "2025-03-10", "CARD-W1", "li.na", "self", "300.00"),
    ("V3", "2025-03-20", "PHARM", "liu.yang", "insured", "400.50"),
    ("V4", "2025-03-31", "HOSP", None, None, "100.00"),
    ("V5", "2025-04-01", "CARD", "zhang.wei", "insured", "999.00"),
    ("V6", "2024-03-15", "CARD", "zhang.wei", "insured", "250.00"),
    ("V7", "2025-02-10", "CARD", "zhang.wei", "insured", "150.00"),
]
DISCHARGES = [  # (case, date, unit, doctor, payer, los, surgery)
    ("D1", "2025-03-03", "CARD", "zhang.wei", "insured", 10, False),
    ("D2", "2025-03-15", "CARD-W1", "li.na", "self", 6, True),
    ("D3", "2025-03-28", "ORTH-W", "zhou.min", "insured", 4, True),
    ("D4", "2024-12-20", "CARD", "zhang.wei", "insured", 8, False),
    ("D5", "2024-12-22", "ORTH-W", "zhou.min", "insured", 3, True),
]


PAYER_FIELD = "{code: payer, type: string, length: 20, name: {zh: 付费方式, en: Payer}}"
PAYER_ENUM = "{code: payer, type: enum, dictionary: payer, name: {zh: 付费方式, en: Payer}}"
PAYER_DICTIONARY = """\
code: payer
name: {zh: 付费方式, en: Payer}
items:
  - {code: insured, name: {zh: 医保, en: Insured}}
  - {code: self, name: {zh: 自费, en: Self-paying}}
"""


def _package(where: Path) -> Path:
    """The fixture package with a role granting view_indicators, and the payer
    an enum of a dictionary (so the dimension's values have names)."""
    copy = package_with_viewer(where)
    (copy / "dictionaries").mkdir(exist_ok=True)
    (copy / "dictionaries" / "payer.yaml").write_text(PAYER_DICTIONARY, encoding="utf-8")
    for entity in ("visit", "discharge"):
        path = copy / "entities" / f"{entity}.yaml"
        source = path.read_text(encoding="utf-8")
        assert PAYER_FIELD in source
        path.write_text(source.replace(PAYER_FIELD, PAYER_ENUM), encoding="utf-8")
    return copy


def _rows(app) -> None:
    runtime = services(app).runtime()
    with services(app).db.begin(write=True) as conn:
        for no, day, unit, doctor, payer, fee in VISITS:
            runtime.records.create(conn, INSTALLER, "ind.visit", {
                "visit_no": no, "visit_date": day, "department": unit, "doctor": doctor,
                "payer": payer, "fee": fee})
        for case, day, unit, doctor, payer, los, surgery in DISCHARGES:
            runtime.records.create(conn, INSTALLER, "ind.discharge", {
                "case_no": case, "discharge_date": day, "department": unit,
                "doctor": doctor, "payer": payer, "los_days": los, "surgery": surgery})


@pytest.fixture(scope="module")
def app(tmp_path_factory, _pg_worker_url):
    where = tmp_path_factory.mktemp("indicators_api")
    application = indicator_app(where, _pg_worker_url, "indapi", _package(where),
                                _rows)
    yield application
    services(application).close()


@pytest.fixture(scope="module")
def client(app):
    """The superuser, by API token."""
    return token_client(app)


@pytest.fixture(scope="module")
def viewer(app):
    """A user whose only role grants view_indicators."""
    client = token_client(app, "viewer1")
    with services(app).db.begin(write=True) as conn:
        services(app).access.grant_role(conn, INSTALLER, "viewer1", "ind.viewer", ANY_DOMAIN)
    return client


def _ok(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def _by_key(body: dict) -> dict[str, dict]:
    return {m["key"]: m for m in body["members"]}


# -- list, detail, graph, diff ---------------------------------------------------------------

def test_list_shows_every_indicator_with_its_current_definition(viewer):
    items = {i["code"]: i for i in _ok(viewer.get(API))["items"]}
    assert sorted(items) == ["ind.avg_fee", "ind.avg_fee_growth", "ind.avg_los",
                             "ind.surgery_ratio", "ind.visits"]
    los = items["ind.avg_los"]
    assert los["name"] == {"zh": "平均住院日", "en": "Average length of stay"}
    assert los["aliases"] == [{"zh": "出院者平均住院日",
                               "en": "Average stay of discharged patients"}]
    assert (los["direction"], los["type"], los["factor"], los["decimals"], los["period"]) \
        == ("lower_better", "number", "1", 2, "month")
    assert los["target"] == "9" and los["thresholds"] == {"green": "9", "amber": "10"}
    assert los["dimensions"] == ["payer"] and los["unit"] == {"zh": "天", "en": "days"}
    current = los["current_version"]
    assert current["version"] == 2 and current["effective_from"] == "2025-01-01"
    assert current["definition"]["excludes"] == {"zh": "手术患者", "en": "Surgical patients"}
    assert "numerator" not in current  # the list shows 口径 text, not formulas
    assert items["ind.surgery_ratio"]["factor"] == "100"
    assert items["ind.visits"]["thresholds"] is None


def test_detail_lists_every_version_with_formulas(viewer):
    body = _ok(viewer.get(f"{API}/ind.avg_los"))
    assert [v["version"] for v in body["versions"]] == [1, 2]
    first, second = body["versions"]
    assert first["numerator"] == "SUM(discharge.los_days)"
    assert first["denominator"] == "COUNT(discharge)" and first["formula"] is None
    assert first["note"] is None and first["effective_from"] == "2020-01-01"
    assert second["numerator"] == "SUM(discharge.los_days, surgery = FALSE)"
    assert second["note"]["zh"] == "2025 版起不含手术患者"
    growth = _ok(viewer.get(f"{API}/ind.avg_fee_growth"))["versions"][0]
    assert growth["formula"] == "DIVIDE(@avg_fee - LASTYEAR(@avg_fee), LASTYEAR(@avg_fee))"


def test_a_unique_local_code_finds_the_indicator(viewer):
    assert _ok(viewer.get(f"{API}/avg_los"))["code"] == "ind.avg_los"


def test_graph_lists_dependencies_first_with_shifts_and_entities(viewer):
    body = _ok(viewer.get(f"{API}/graph"))
    order = [n["code"] for n in body["nodes"]]
    assert sorted(order) == ["ind.avg_fee", "ind.avg_fee_growth", "ind.avg_los",
                             "ind.surgery_ratio", "ind.visits"]
    assert order.index("ind.avg_fee") < order.index("ind.avg_fee_growth")
    edges = sorted((e["from"], e["to"], e["shift"]) for e in body["edges"])
    assert edges == [("ind.avg_fee_growth", "ind.avg_fee", "current"),
                     ("ind.avg_fee_growth", "ind.avg_fee", "lastyear")]
    nodes = {n["code"]: n for n in body["nodes"]}
    assert nodes["ind.avg_fee"]["entities"] == ["ind.visit"]
    assert nodes["ind.avg_los"]["entities"] == ["ind.discharge"]
    assert nodes["ind.avg_los"]["name"]["en"] == "Average length of stay"
    assert body["cycles"] == []


def test_version_diff_names_every_changed_part(viewer):
    body = _ok(viewer.get(f"{API}/ind.avg_los/versions/diff?from=1&to=2"))
    assert (body["indicator"], body["from"], body["to"]) == ("ind.avg_los", 1, 2)
    changes = {c["field"]: c for c in body["changes"]}
    assert list(changes) == ["numerator", "denominator", "definition.summary",
                             "definition.numerator", "definition.denominator",
                             "definition.excludes", "note"]
    assert changes["numerator"] == {"field": "numerator", "old": "SUM(discharge.los_days)",
                                    "new": "SUM(discharge.los_days, surgery = FALSE)"}
    assert changes["definition.excludes"]["old"] is None
    assert changes["note"]["new"]["en"] == "From the 2025 edition surgical patients are excluded"
    same = _ok(viewer.get(f"{API}/ind.avg_los/versions/diff?from=2&to=2"))
    assert same["changes"] == []


# -- compute -----------------------------------------------------------------------------------

def test_compute_a_ratio_for_the_hospital(viewer):
    body = _ok(viewer.get(f"{API}/ind.avg_fee/compute?unit=HOSP&period=2025-03"))
    assert (body["indicator"], body["unit"], body["tree"], body["period"]) \
        == ("ind.avg_fee", "HOSP", "cost", "2025-03")
    assert (body["version"], body["restated"], body["drill"]) == (1, False, None)
    assert body["label"] == {"zh": "按 2020-01-01 起的第 1 版口径",
                             "en": "by version 1, in force from 2020-01-01"}
    total = body["total"]
    # (200 + 300 + 400.50 + 100) / 4 = 250.125 → 250.13 (half up); ≤ 300 is green
    assert Decimal(total["value"]) == Decimal("250.13")
    assert Decimal(total["numerator"]) == Decimal("1000.50")
    assert Decimal(total["denominator"]) == 4
    assert total["colour"] == "green"
    assert total["name"] == {"zh": "云影示范医院", "en": "Yunying Demonstration Hospital"}
    assert body["members"] == []


def test_compute_a_formula_and_a_reference_to_last_year(viewer):
    visits = _ok(viewer.get(f"{API}/ind.visits/compute?unit=HOSP&period=2025-03"))
    assert Decimal(visits["total"]["value"]) == 4 and visits["total"]["colour"] is None
    growth = _ok(viewer.get(f"{API}/ind.avg_fee_growth/compute?unit=HOSP&period=2025-03"))
    # (250.125 − 250) / 250 × 100 = 0.05 %; ≤ 5 is green
    assert Decimal(growth["total"]["value"]) == Decimal("0.05")
    assert growth["total"]["colour"] == "green"


def test_drill_to_units_names_each_child(viewer):
    body = _ok(viewer.get(f"{API}/ind.avg_fee/compute?unit=HOSP&period=2025-03&drill=units"))
    assert body["drill"] == "units"
    members = _by_key(body)
    card, pharm, own = members["CARD"], members["PHARM"], members["HOSP"]
    # CARD rolls CARD-W1 up: (200 + 300) / 2
    assert Decimal(card["value"]) == 250 and Decimal(card["denominator"]) == 2
    assert card["name"] == {"zh": "心内科", "en": "Cardiology"} and card["colour"] == "green"
    assert Decimal(pharm["value"]) == Decimal("400.50") and pharm["colour"] == "red"
    assert Decimal(own["value"]) == 100 and own["name"]["zh"] == "云影示范医院"
    assert "CARD-W1" not in members
    for key, member in members.items():
        if key not in ("CARD", "PHARM", "HOSP"):
            assert member["value"] is None and member["colour"] is None


def test_drill_to_persons_names_each_doctor(viewer):
    body = _ok(viewer.get(
        f"{API}/ind.surgery_ratio/compute?unit=HOSP&period=2025-03&drill=persons"))
    # 2 of 3 discharges had surgery: 66.666… % → 66.67, ≥ 30 is green
    assert Decimal(body["total"]["value"]) == Decimal("66.67")
    assert body["total"]["colour"] == "green"
    members = _by_key(body)
    assert members["zhang.wei"]["name"] == {"zh": "张伟", "en": "Zhang Wei"}
    assert Decimal(members["zhang.wei"]["value"]) == 0
    assert members["zhang.wei"]["colour"] == "red"
    assert Decimal(members["li.na"]["value"]) == 100
    assert Decimal(members["zhou.min"]["value"]) == 100
    assert members["zhou.min"]["name"]["zh"] == "周敏"


def test_rows_without_a_doctor_are_unspecified(viewer):
    body = _ok(viewer.get(f"{API}/ind.avg_fee/compute?unit=HOSP&period=2025-03&drill=persons"))
    members = _by_key(body)
    assert members[""]["name"] == {"zh": "未指定", "en": "unspecified"}
    assert Decimal(members[""]["value"]) == 100  # V4, booked on HOSP itself
    assert Decimal(members["liu.yang"]["value"]) == Decimal("400.50")
    assert members["liu.yang"]["name"]["en"] == "Liu Yang"


def test_drill_by_a_dimension(viewer):
    body = _ok(viewer.get(
        f"{API}/ind.surgery_ratio/compute?unit=HOSP&period=2025-03&drill=dim:payer"))
    members = _by_key(body)
    assert Decimal(members["insured"]["value"]) == 50  # D1 no, D3 yes
    assert Decimal(members["self"]["value"]) == 100
    assert members["self"]["name"] == {"zh": "自费", "en": "Self-paying"}
    assert members["insured"]["name"] == {"zh": "医保", "en": "Insured"}


def test_a_department_counts_its_descendants(viewer):
    body = _ok(viewer.get(f"{API}/ind.avg_los/compute?unit=CARD&period=2025-03"))
    # v2 (from 2025-01-01) excludes surgery: only D1, 10 days → 10.00, ≤ 10 is amber
    assert Decimal(body["total"]["value"]) == 10 and body["total"]["colour"] == "amber"
    assert body["version"] == 2


def test_versions_by_period_and_restated(viewer):
    old = _ok(viewer.get(f"{API}/ind.avg_los/compute?unit=HOSP&period=2024-12"))
    assert old["version"] == 1 and Decimal(old["total"]["value"]) == Decimal("5.50")
    restated = _ok(viewer.get(
        f"{API}/ind.avg_los/compute?unit=HOSP&period=2024-12&restate=1"))
    assert (restated["version"], restated["restated"]) == (2, True)
    assert Decimal(restated["total"]["value"]) == 8  # D4 only (D5 had surgery)
    assert restated["label"] == {"zh": "以现行第 2 版口径重算（2025-01-01 起）",
                                 "en": "restated with the current version 2 (from 2025-01-01)"}
    early = _ok(viewer.get(f"{API}/ind.avg_los/compute?unit=HOSP&period=2019-12"))
    assert early["version"] == 1 and early["total"]["value"] is None
    assert early["label"]["zh"] == "早于口径生效日期，按最早的第 1 版口径（2020-01-01 起）计算"


def test_series_gives_one_point_per_period(viewer):
    body = _ok(viewer.get(f"{API}/ind.avg_fee/series?unit=HOSP&from=2025-01&to=2025-04"))
    points = [(p["period"], p["value"], p["version"]) for p in body["points"]]
    assert [p[0] for p in points] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert points[0][1] is None
    assert [Decimal(p[1]) for p in points[1:]] == [Decimal("150.00"), Decimal("250.13"),
                                                   Decimal("999.00")]
    assert {p[2] for p in points} == {1}
    assert body["points"][3]["colour"] == "red"
    los = _ok(viewer.get(
        f"{API}/ind.avg_los/series?unit=HOSP&from=2024-12&to=2025-03&restate=true"))
    assert los["restated"] is True and {p["version"] for p in los["points"]} == {2}


# -- who may read ------------------------------------------------------------------------------

URLS = [API, f"{API}/graph", f"{API}/ind.avg_los",
        f"{API}/ind.avg_los/compute?unit=HOSP&period=2025-03",
        f"{API}/ind.avg_los/series?unit=HOSP&from=2025-01&to=2025-03",
        f"{API}/ind.avg_los/versions/diff?from=1&to=2"]


@pytest.mark.parametrize("url", URLS)
def test_nobody_is_asked_to_sign_in(app, url):
    assert app.test_client().get(url).status_code == 401


@pytest.mark.parametrize("url", URLS)
def test_a_user_without_view_indicators_is_refused(app, url):
    error = error_of(token_client(app, "clerk").get(url))
    assert error["code"] == "permission_denied"
    assert error["details"] == {"action": "view_indicators"}


@pytest.mark.parametrize("url", URLS)
def test_the_superuser_may_read(client, url):
    _ok(client.get(url))


# -- bad parameters ------------------------------------------------------------------------------

BAD = [  # (url after the API prefix, field, words of the English message)
    ("/ind.avg_los/compute?unit=HOSP&period=2025-13", "period", "2025-13"),
    ("/ind.avg_los/compute?unit=HOSP", "period", "required"),
    ("/ind.avg_los/compute?period=2025-03", "unit", "required"),
    ("/ind.avg_los/compute?unit=HOSP&period=2025-03&drill=wards", "drill", "dim:payer"),
    ("/ind.avg_los/compute?unit=HOSP&period=2025-03&drill=dim:fee", "drill", "dim:payer"),
    ("/ind.avg_los/compute?unit=HOSP&period=2025-03&drill=dim:los_days", "drill", "dim:payer"),
    ("/ind.avg_los/compute?unit=HOSP&period=2025-03&restate=yes", "restate", "1 or 0"),
    ("/ind.avg_los/compute?unit=HOSP&period=2025-03&tree=nope", "tree", "no such org tree"),
    ("/ind.avg_los/compute?unit=HOSP&period=2025-03&colour=red", "colour", "known"),
    ("/ind.avg_los/compute?unit=HOSP&period=2025-03&period=2025-04", "period", "once"),
    ("/ind.avg_los/series?unit=HOSP&from=2025-03&to=2025-01", "to", "before from"),
    ("/ind.avg_los/series?unit=HOSP&from=2025-01&to=2025-Q2", "to", "month period"),
    ("/ind.avg_los/series?unit=HOSP&from=2000-01&to=2025-01", "to", f"{MAX_SERIES}"),
    ("/ind.avg_los/series?unit=HOSP&to=2025-01", "from", "required"),
    ("/ind.avg_los/versions/diff?from=1&to=3", "to", "not a version"),
    ("/ind.avg_los/versions/diff?from=x&to=2", "from", "not a version"),
    ("/ind.avg_los/versions/diff?to=2", "from", "required"),
]


@pytest.mark.parametrize("url, field, words", BAD)
def test_bad_parameters_are_located(viewer, url, field, words):
    response = viewer.get(f"{API}{url}", headers={"Accept-Language": "en"})
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert error["code"] == "invalid_query"
    assert error["details"]["field"] == field
    assert words in error["message"] and field in error["message"]
    assert field in error["messages"]["zh-CN"]


def test_the_message_follows_the_language(viewer):
    url = f"{API}/ind.avg_los/compute?unit=HOSP&period=2025-13"
    zh = error_of(viewer.get(url))
    assert zh["message"] == zh["messages"]["zh-CN"] and "期间" in zh["message"]
    en = error_of(viewer.get(url + "&lang=en"))
    assert en["message"] == en["messages"]["en"] and "period" in en["message"]


def test_a_quarter_is_accepted_but_not_finer_than_the_indicator(viewer):
    body = _ok(viewer.get(f"{API}/ind.avg_fee/compute?unit=HOSP&period=2025-Q1"))
    # January none, February 150.00, March 1000.50 over 4: 1150.50 / 5 = 230.10
    assert body["period"] == "2025-Q1" and Decimal(body["total"]["value"]) == Decimal("230.10")


@pytest.mark.parametrize("url, field", [
    ("/ind.nope", "indicator"), ("/nope/compute?unit=HOSP&period=2025-03", "indicator"),
    ("/ind.avg_los/compute?unit=NOPE&period=2025-03", "unit"),
    ("/ind.avg_los/series?unit=NOPE&from=2025-01&to=2025-02", "unit"),
    ("/ind.nope/versions/diff?from=1&to=2", "indicator"),
])
def test_unknown_indicator_or_unit_is_not_found(viewer, url, field):
    response = viewer.get(f"{API}{url}")
    assert response.status_code == 404
    error = error_of(response)
    assert error["details"]["field"] == field
    assert "NOPE" in error["messages"]["en"].upper()


# -- the OpenAPI document -------------------------------------------------------------------------

def test_the_document_describes_the_answers(client, viewer):
    document = _ok(client.get("/api/v1/openapi.json"))
    for path in ("", "/graph", "/{code}", "/{code}/compute", "/{code}/series",
                 "/{code}/versions/diff"):
        operation = document["paths"][f"{API}{path}"]["get"]
        assert "view_indicators" in operation["description"]
        assert {"401", "403"} <= set(operation["responses"])
    schemas = document["components"]["schemas"]
    answers = {
        "IndicatorValue": f"{API}/ind.avg_fee/compute?unit=HOSP&period=2025-03&drill=units",
        "IndicatorSeries": f"{API}/ind.avg_fee/series?unit=HOSP&from=2025-01&to=2025-03",
        "IndicatorList": API, "Indicator": f"{API}/ind.avg_los",
        "IndicatorGraph": f"{API}/graph",
        "IndicatorDiff": f"{API}/ind.avg_los/versions/diff?from=1&to=2",
    }
    for name, url in answers.items():
        Draft202012Validator(schemas[name]).validate(_ok(viewer.get(url)))


# -- the colour rule (runtime/indicators/colours.py) ----------------------------------------------

@pytest.mark.parametrize("direction, green, amber, value, expected", [
    ("higher_better", "30", "20", "30", "green"), ("higher_better", "30", "20", "29.99", "amber"),
    ("higher_better", "30", "20", "20", "amber"), ("higher_better", "30", "20", "19.99", "red"),
    ("higher_better", "30", None, "29.99", "red"), ("lower_better", "9", "10", "9", "green"),
    ("lower_better", "9", "10", "10", "amber"), ("lower_better", "9", "10", "10.01", "red"),
    ("lower_better", "9", None, "9.5", "red"), ("monitor", "9", "10", "1", None),
    ("higher_better", "30", "20", None, None),
])
def test_colour_rule(direction, green, amber, value, expected):
    spec = SimpleNamespace(direction=direction, thresholds=Thresholds(
        Decimal(green), None if amber is None else Decimal(amber)))
    assert colour(spec, None if value is None else Decimal(value)) == expected


def test_no_thresholds_no_colour():
    assert colour(SimpleNamespace(direction="higher_better", thresholds=None), Decimal(1)) is None
