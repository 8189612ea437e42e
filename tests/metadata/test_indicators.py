"""Indicators as package metadata: specs, versions, diffs, schema, issues, store."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest

from yunying.metadata.builder import package_from_documents
from yunying.metadata.indicators import (
    DIRECTIONS, INDICATOR_TYPES, PERIOD_TYPES, TIME_ROLLUPS, IndicatorDefinition,
    IndicatorVersion, Thresholds, indicator_from_document, version_diff,
)
from yunying.metadata.loader import load_packages
from yunying.metadata.schema_check import SchemaChecker, schema_document
from yunying.metadata.spec import PLATFORM_ACTIONS
from yunying.metadata.store import MetadataStore
from yunying.metadata.yaml_source import parse_yaml
from yunying.platform.i18n import Text
from yunying.runtime.formula.package_check import FORMULA_CHECKS
from yunying.runtime.registry import Registry

from metadata_paths import MODULES, PACKAGES
from package_variants import codes_of, issues_of, variant

SMALL = PACKAGES / "indicators_small"
NOW = datetime(2026, 11, 25, 9, 30)


@pytest.fixture(scope="module")
def loaded():
    """base and the indicator fixture package, by code."""
    specs = load_packages([MODULES / "base", SMALL], checks=FORMULA_CHECKS)
    return {s.code: s for s in specs}


@pytest.fixture(scope="module")
def ind(loaded):
    return loaded["ind"]


@pytest.fixture(scope="module")
def base(loaded):
    return {"base": loaded["base"]}


# -- specs ---------------------------------------------------------------------

def test_the_fixture_package_has_its_indicators_in_file_order(ind):
    assert [i.code for i in ind.indicators] == [
        "avg_fee", "avg_fee_growth", "avg_los", "surgery_ratio", "visits"]
    assert [i.qualified_code for i in ind.indicators][:1] == ["ind.avg_fee"]


def test_an_indicator_spec_carries_every_key_of_its_document(ind):
    spec = ind.indicator("avg_los")
    assert (spec.package, spec.code) == ("ind", "avg_los")
    assert spec.label == Text("平均住院日", "Average length of stay")
    assert spec.aliases == (Text("出院者平均住院日", "Average stay of discharged patients"),)
    assert spec.owner == Text("医务部", "Medical affairs")
    assert spec.unit == Text("天", "days")
    assert (spec.direction, spec.decimals, spec.type, spec.period, spec.time_rollup) == (
        "lower_better", 2, "number", "month", "sum")
    assert spec.factor == Decimal(1) and isinstance(spec.factor, Decimal)
    assert spec.dimensions == ("payer",)
    assert spec.target == Decimal("9")
    assert spec.thresholds == Thresholds(Decimal("9"), Decimal("10"))
    first, second = spec.versions
    assert first == IndicatorVersion(
        version=1, effective_from=date(2020, 1, 1),
        definition=IndicatorDefinition(
            summary=Text("出院患者占用总床日数除以出院人次数",
                         "Bed days of discharged patients per discharge"),
            numerator=Text("出院患者占用总床日数", "Bed days of discharged patients"),
            denominator=Text("同期出院人次数", "Discharges in the period"),
            source=Text("病案首页", "Medical record front page")),
        numerator="SUM(discharge.los_days)", denominator="COUNT(discharge)")
    assert second.version == 2 and second.effective_from == date(2025, 1, 1)
    assert second.note == Text("2025 版起不含手术患者",
                               "From the 2025 edition surgical patients are excluded")


def test_the_type_gives_the_factor_unless_a_factor_is_declared(ind):
    assert ind.indicator("surgery_ratio").factor == Decimal(100)
    assert ind.indicator("avg_fee_growth").type == "percent"
    doc = _document(type="permille")
    assert indicator_from_document("p", "x", doc).factor == Decimal(1000)
    doc = _document(type="percent", factor=10000)
    assert indicator_from_document("p", "x", doc).factor == Decimal(10000)
    assert dict(INDICATOR_TYPES) == {"number": 1, "percent": 100, "permille": 1000}
    assert DIRECTIONS == ("higher_better", "lower_better", "monitor")
    assert PERIOD_TYPES == ("month", "quarter", "half_year", "year")
    assert TIME_ROLLUPS == ("sum", "last", "average")


def test_defaults_and_decimal_numbers_never_pass_through_float():
    spec = indicator_from_document("p", "x", _document(
        target=0.1, thresholds={"green": 0.3}, time_rollup="last"))
    assert (spec.decimals, spec.type, spec.period, spec.unit) == (2, "number", "month", None)
    assert spec.time_rollup == "last"
    assert spec.target == Decimal("0.1")
    assert spec.thresholds == Thresholds(Decimal("0.3"), None)
    assert spec.aliases == () and spec.dimensions == ()


def test_a_formula_version_and_a_ratio_version(ind):
    formula = ind.indicator("avg_fee_growth").current
    assert not formula.is_ratio
    assert formula.formula == "DIVIDE(@avg_fee - LASTYEAR(@avg_fee), LASTYEAR(@avg_fee))"
    assert dict(formula.formulas) == {"formula": formula.formula}
    ratio = ind.indicator("avg_fee").current
    assert ratio.is_ratio and ratio.formula is None
    assert dict(ratio.formulas) == {"numerator": "SUM(visit.fee)",
                                    "denominator": "COUNT(visit)"}


def test_the_version_in_force_on_a_day(ind):
    spec = ind.indicator("avg_los")
    assert spec.version_on(date(2019, 12, 31)) is None
    assert spec.version_on(date(2020, 1, 1)).version == 1
    assert spec.version_on(date(2024, 12, 31)).version == 1
    assert spec.version_on(date(2025, 1, 1)).version == 2
    assert spec.version_on(date(2030, 6, 1)).version == 2
    assert spec.current.version == 2
    assert spec.version(1).effective_from == date(2020, 1, 1)
    assert spec.version(3) is None


def test_versions_are_ordered_by_effective_date():
    doc = _document(versions=[_version(2, "2024-01-01", "COUNT(b)"),
                              _version(1, "2020-01-01", "COUNT(a)")])
    spec = indicator_from_document("p", "x", doc)
    assert [v.version for v in spec.versions] == [1, 2]
    assert spec.current.formula == "COUNT(b)"


def test_the_diff_between_two_versions_lists_what_changed(ind):
    first, second = ind.indicator("avg_los").versions
    assert version_diff(first, second) == [
        {"field": "numerator", "old": "SUM(discharge.los_days)",
         "new": "SUM(discharge.los_days, surgery = FALSE)"},
        {"field": "denominator", "old": "COUNT(discharge)",
         "new": "COUNT(discharge, surgery = FALSE)"},
        {"field": "definition.summary",
         "old": {"zh": "出院患者占用总床日数除以出院人次数",
                 "en": "Bed days of discharged patients per discharge"},
         "new": {"zh": "不含手术患者的出院患者平均住院日",
                 "en": "Average stay of discharged patients without surgery"}},
        {"field": "definition.numerator",
         "old": {"zh": "出院患者占用总床日数", "en": "Bed days of discharged patients"},
         "new": {"zh": "非手术出院患者占用总床日数",
                 "en": "Bed days of discharged patients without surgery"}},
        {"field": "definition.denominator",
         "old": {"zh": "同期出院人次数", "en": "Discharges in the period"},
         "new": {"zh": "同期非手术出院人次数", "en": "Discharges without surgery in the period"}},
        {"field": "definition.excludes", "old": None,
         "new": {"zh": "手术患者", "en": "Surgical patients"}},
        {"field": "note", "old": None,
         "new": {"zh": "2025 版起不含手术患者",
                 "en": "From the 2025 edition surgical patients are excluded"}},
    ]
    assert version_diff(second, first)[0] == {
        "field": "numerator", "old": "SUM(discharge.los_days, surgery = FALSE)",
        "new": "SUM(discharge.los_days)"}
    assert version_diff(first, first) == []
    json.dumps(version_diff(first, second), ensure_ascii=False)  # ready for the API


def test_a_diff_from_a_ratio_to_a_formula():
    ratio = IndicatorVersion(1, date(2020, 1, 1), IndicatorDefinition(Text("甲", "A")),
                             numerator="SUM(a.x)", denominator="COUNT(a)")
    single = IndicatorVersion(2, date(2021, 1, 1), IndicatorDefinition(Text("甲", "A")),
                              formula="AVG(a.x)")
    assert version_diff(ratio, single) == [
        {"field": "formula", "old": None, "new": "AVG(a.x)"},
        {"field": "numerator", "old": "SUM(a.x)", "new": None},
        {"field": "denominator", "old": "COUNT(a)", "new": None}]


def test_a_package_finds_its_indicators_by_local_or_own_qualified_code(ind):
    assert ind.indicator("avg_los") is ind.indicator("ind.avg_los")
    assert ind.indicator("other.avg_los") is None
    assert ind.indicator("nothing") is None


def test_the_registry_maps_qualified_codes_to_indicators(loaded):
    registry = Registry.from_packages(loaded.values())
    assert set(registry.indicators) == {
        "ind.avg_fee", "ind.avg_fee_growth", "ind.avg_los", "ind.surgery_ratio", "ind.visits"}
    assert registry.indicator("ind.avg_los") is loaded["ind"].indicator("avg_los")
    assert registry.indicator("avg_los") is None
    assert registry.indicator("ind.missing") is None
    with pytest.raises(TypeError):
        registry.indicators["ind.x"] = None  # type: ignore[index]


def test_person_dimension_names_the_doctor(ind):
    assert ind.entity("visit").person_dimension == "doctor"
    assert ind.entity("discharge").person_dimension == "doctor"
    assert (ind.entity("visit").org_dimension, ind.entity("visit").date_dimension) == (
        "department", "visit_date")


# -- the document round trip and the store ------------------------------------

def test_the_documents_rebuild_an_equal_spec(ind):
    docs = ind.documents
    assert list(docs["indicator"]) == [i.code for i in ind.indicators]
    plain = {kind: docs[kind] if kind == "package" else dict(docs[kind]) for kind in docs}
    stored = json.loads(json.dumps(plain, ensure_ascii=False))
    assert stored["indicator"]["avg_los"]["versions"][1]["effective_from"] == "2025-01-01"
    assert package_from_documents(stored, checksum=ind.checksum) == ind


def test_the_store_records_and_rebuilds_indicators(db, loaded):
    store = MetadataStore()
    with db.begin() as conn:
        for spec in loaded.values():
            store.record(conn, spec, actor="admin", now=NOW, plan=[])
    with db.connect() as conn:
        installed = {s.code: s for s in store.installed(conn)}
        assert installed["ind"] == loaded["ind"]
        assert installed["ind"].indicator("avg_los").version_on(date(2025, 3, 1)).version == 2
        [history] = store.history(conn, "ind")
    assert {"kind": "indicator", "code": "avg_los"} in history["diff"]["added"]


# -- schema --------------------------------------------------------------------

def _check(text: str) -> list[tuple[str, str]]:
    source, issues = parse_yaml(text.encode("utf-8"), "indicators/x.yaml")
    assert not issues
    return [(i.path, i.message.en) for i in SchemaChecker().check("indicator", source)]


HEAD = ("code: xx\nname: {zh: 甲, en: A}\nowner: {zh: 乙, en: B}\n"
        "direction: lower_better\n")
DEFINITION = "    definition: {summary: {zh: 丙, en: C}}\n"


def test_a_valid_indicator_document_has_no_schema_issue():
    assert _check(HEAD + "aliases: [{zh: 旧, en: Old}]\nunit: {zh: 天, en: days}\n"
                  "decimals: 0\ntype: percent\nfactor: 10000\nperiod: quarter\n"
                  "time_rollup: average\ndimensions: [payer]\ntarget: 9.5\n"
                  "thresholds: {green: 9, amber: 10}\nversions:\n"
                  "  - version: 1\n    effective_from: 2020-01-01\n" + DEFINITION +
                  "    formula: COUNT(a)\n    note: {zh: 注, en: Note}\n") == []


@pytest.mark.parametrize("extra, expected", [
    ("direction_x: 1\n", [("$.direction_x", "unknown key 'direction_x'")]),
    ("decimals: 7\n", [("$.decimals", "must be at most 6 (got 7)")]),
    ("type: ratio\n", [("$.type", "must be one of: number, percent, permille")]),
    ("factor: 0\n", [("$.factor", "must be greater than 0 (got 0)")]),
    ("period: week\n", [("$.period", "must be one of: month, quarter, half_year, year")]),
    ("time_rollup: max\n", [("$.time_rollup", "must be one of: sum, last, average")]),
    ("thresholds: {amber: 3}\n", [("$.thresholds.green", "missing required key 'green'")]),
    ("dimensions: [payer, payer]\n", [("$.dimensions", "has duplicate items")]),
])
def test_schema_issues_are_located(extra, expected):
    issues = _check(HEAD + extra + "versions:\n  - version: 1\n    effective_from: 2020-01-01\n"
                    + DEFINITION + "    formula: COUNT(a)\n")
    assert [(path, message[:len(expected[0][1])]) for path, message in issues] == expected


def test_a_version_has_one_formula_or_a_numerator_and_a_denominator():
    version = "versions:\n  - version: 1\n    effective_from: 2020-01-01\n" + DEFINITION
    both = _check(HEAD + version + "    formula: COUNT(a)\n    denominator: COUNT(a)\n")
    assert both == [("$.versions[0].denominator",
                     "'denominator' cannot go with 'formula': write one formula, "
                     "or a numerator and a denominator")]
    half = _check(HEAD + version + "    numerator: COUNT(a)\n")
    assert half == [("$.versions[0].denominator",
                     "missing required key 'denominator': write one formula, "
                     "or a numerator and a denominator")]
    neither = _check(HEAD + version)
    assert [path for path, _ in neither] == ["$.versions[0].denominator",
                                            "$.versions[0].numerator"]


def test_versions_need_a_number_a_real_date_a_summary_and_at_least_one_entry():
    assert _check(HEAD + "versions: []\n") == [("$.versions", "needs at least 1 item(s)")]
    issues = _check(HEAD + "versions:\n  - version: 0\n    effective_from: 2021-02-29\n"
                    "    definition: {source: {zh: 丙, en: C}}\n    formula: COUNT(a)\n")
    assert [path for path, _ in issues] == [
        "$.versions[0].version", "$.versions[0].effective_from",
        "$.versions[0].definition.summary"]


def test_view_indicators_is_a_platform_action_a_role_may_grant():
    assert "view_indicators" in PLATFORM_ACTIONS
    source, _ = parse_yaml(b"code: viewer\nname: {zh: \xe7\x94\xb2, en: A}\n"
                           b"platform: [view_indicators]\n", "roles/viewer.yaml")
    assert SchemaChecker().check("role", source) == []
    entity = schema_document("entity.schema.json")
    assert "person_dimension" in entity["properties"]


# -- package issues ------------------------------------------------------------

def test_equal_effective_dates_are_invalid_versions(tmp_path, base):
    two = ("code: avg_los\nname: {zh: 甲, en: A}\nowner: {zh: 乙, en: B}\n"
           "direction: monitor\nversions:\n"
           "  - version: 1\n    effective_from: 2020-01-01\n" + DEFINITION +
           "    formula: COUNT(discharge)\n"
           "  - version: 2\n    effective_from: 2020-01-01\n" + DEFINITION +
           "    formula: COUNT(visit)\n")
    root = variant(tmp_path, SMALL, {"indicators/avg_los.yaml": two})
    [issue] = issues_of([root], base)
    assert [issue.code, issue.file, issue.path, issue.line] == [
        "invalid_versions", "indicators/avg_los.yaml", "$.versions[1].effective_from", 11]
    assert issue.message.en == ("version 2 takes effect on 2020-01-01, which must be after "
                                "the previous version's 2020-01-01")


def test_a_person_dimension_must_be_a_user_field(tmp_path, base):
    text = (SMALL / "entities" / "visit.yaml").read_text(encoding="utf-8")
    root = variant(tmp_path, SMALL, {
        "entities/visit.yaml": text.replace("person_dimension: doctor", "person_dimension: payer")})
    assert codes_of([root], base) == [
        ["invalid_dimension", "entities/visit.yaml", "$.person_dimension"]]


def test_lower_better_thresholds_need_amber_at_or_above_green(tmp_path, base):
    text = (SMALL / "indicators" / "avg_los.yaml").read_text(encoding="utf-8")
    root = variant(tmp_path, SMALL, {"indicators/avg_los.yaml": text.replace(
        "thresholds: {green: 9, amber: 10}", "thresholds: {green: 9, amber: 8}")})
    [issue] = issues_of([root], base)
    assert (issue.code, issue.path) == ("invalid_thresholds", "$.thresholds.amber")
    assert issue.message.en == ("for a lower_better indicator the amber limit 8 must be "
                                "at least the green limit 9")


def _version(number: int, effective: str, formula: str) -> dict:
    return {"version": number, "effective_from": effective,
            "definition": {"summary": {"zh": "甲", "en": "A"}}, "formula": formula}


def _document(**keys) -> dict:
    doc = {"code": "x", "name": {"zh": "甲", "en": "A"}, "owner": {"zh": "乙", "en": "B"},
           "direction": "monitor", "versions": [_version(1, "2020-01-01", "COUNT(a)")]}
    doc.update(keys)
    return doc
