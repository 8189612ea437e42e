"""The package check of workflow and posting-rule formulas: guards, conditions,
set effects, posting line formulas — each wrong formula reported at its path."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from yunying.metadata.loader import load_packages
from yunying.platform.errors import InvalidPackage
from yunying.runtime.formula.package_check import FORMULA_CHECKS
from yunying.runtime.workflow.package_check import (
    check_workflow_formulas, posting_formulas, workflow_formulas,
)
from yunying.runtime.formula.types import FType

ROOT = Path(__file__).resolve().parents[2]
# the workflow fixture package of the metadata tests (a module outside this folder)
_PACKAGE = runpy.run_path(str(ROOT / "tests" / "metadata" / "workflow_package.py"))
FILES, write_package = _PACKAGE["FILES"], _PACKAGE["write_package"]
WORKFLOW, POSTING = _PACKAGE["WORKFLOW"], _PACKAGE["POSTING"]


@pytest.fixture(scope="module")
def base():
    return {s.code: s for s in load_packages([ROOT / "yunying" / "modules" / "base"])}


def _load(tmp_path, base, changes=None):
    return load_packages([write_package(tmp_path, changes)], installed=base, checks=FORMULA_CHECKS)


def _edit(file, old, new):
    assert FILES[file].count(old) == 1, old
    return {file: FILES[file].replace(old, new)}


def test_the_check_is_registered_with_every_real_load():
    assert check_workflow_formulas in FORMULA_CHECKS


def test_the_good_package_has_no_formula_problem(tmp_path, base):
    [spec] = _load(tmp_path, base)
    assert check_workflow_formulas(spec, {**base, spec.code: spec}) == []


def test_every_formula_is_found_with_its_expected_type(tmp_path, base):
    [spec] = _load(tmp_path, base)
    flow = spec.workflow("claim_approval")
    found = [(f.path, f.source, f.expect) for f in workflow_formulas(flow, spec.entity("claim"))]
    assert found == [
        ("$.condition", "total_amount <= 50000", FType.BOOLEAN),
        ("$.transitions[0].guard", "total_amount > 0", FType.BOOLEAN),
        ("$.transitions[1].effects[0].set.approved_on", "TODAY()", FType.DATE),
        ("$.chains[0].nodes[1].branches[0].condition", "total_amount > 10000", FType.BOOLEAN)]
    lines = [(f.path, f.expect, f.each) for f in posting_formulas(spec.posting("claim_posting"))]
    assert lines == [
        ("$.lines[0].amount", FType.NUMBER, None), ("$.lines[0].unit", FType.STRING, None),
        ("$.lines[1].amount", FType.NUMBER, None),
        ("$.lines[2].amount", FType.NUMBER, "lines"),
        ("$.lines[2].project", FType.STRING, "lines"),
        ("$.lines[2].account_formula", FType.STRING, "lines"),
        ("$.lines[3].amount", FType.NUMBER, "lines")]


CASES = [
    ("condition-unknown-name", _edit(WORKFLOW, '"total_amount <= 50000"', '"totl_amount <= 50000"'),
     [["formula_unknown_name", WORKFLOW, "$.condition"]]),
    ("guard-not-boolean", _edit(WORKFLOW, 'guard: "total_amount > 0"', 'guard: "total_amount"'),
     [["formula_type", WORKFLOW, "$.transitions[0].guard"]]),
    ("guard-syntax", _edit(WORKFLOW, 'guard: "total_amount > 0"', 'guard: "total_amount >"'),
     [["formula_syntax", WORKFLOW, "$.transitions[0].guard"]]),
    ("set-of-the-wrong-type", _edit(WORKFLOW, '{approved_on: "TODAY()"}',
                                    "{approved_on: \"'soon'\"}"),
     [["formula_type", WORKFLOW, "$.transitions[1].effects[0].set.approved_on"]]),
    ("set-text-with-a-number", _edit(WORKFLOW, '{approved_on: "TODAY()"}', '{reason: "1 + 1"}'),
     [["formula_type", WORKFLOW, "$.transitions[1].effects[0].set.reason"]]),
    ("branch-condition-not-boolean", _edit(WORKFLOW, '"total_amount > 10000"', '"reason"'),
     [["formula_type", WORKFLOW, "$.chains[0].nodes[1].branches[0].condition"]]),
    ("amount-not-a-number", _edit(POSTING, 'account: "1212", amount: "total_amount"',
                                  'account: "1212", amount: "department"'),
     [["formula_type", POSTING, "$.lines[0].amount"]]),
    ("unit-not-text", _edit(POSTING, 'unit: "department"', 'unit: "total_amount"'),
     [["formula_type", POSTING, "$.lines[0].unit"]]),
    ("account-formula-not-text", _edit(POSTING, 'account_formula: "account"',
                                       'account_formula: "quantity"'),
     [["formula_type", POSTING, "$.lines[2].account_formula"]]),
    ("line-formula-unknown-name", _edit(POSTING, 'account: "1405", amount: "quantity * unit_cost"',
                                        'account: "1405", amount: "qty * unit_cost"'),
     [["formula_unknown_name", POSTING, "$.lines[3].amount"]]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in CASES])
def test_a_wrong_formula_is_reported_at_its_path(tmp_path, base, changes, expected):
    with pytest.raises(InvalidPackage) as caught:
        _load(tmp_path, base, changes)
    issues = caught.value.issues
    assert [[i.code, i.file, i.path] for i in issues] == expected
    for issue in issues:
        assert issue.line and issue.message.zh != issue.message.en


def test_a_line_formula_reaches_the_parent_records_fields(tmp_path, base):
    """With each, a line's formulas see the child line's fields and the header's."""
    changes = _edit(POSTING, 'project: "\'P1\'"', 'project: "department", unit: "requester"')
    [spec] = _load(tmp_path, base, changes)
    assert spec.posting("claim_posting").lines[2].project == "department"


def test_the_message_names_the_formula_and_the_position(tmp_path, base):
    with pytest.raises(InvalidPackage) as caught:
        _load(tmp_path, base, _edit(WORKFLOW, 'guard: "total_amount > 0"',
                                    'guard: "total_amount"'))
    [issue] = caught.value.issues
    assert issue.message.en.startswith("the guard of submit: line 1, column 1")
    assert issue.message.zh.startswith("流转 submit 的 guard：第 1 行第 1 列")


def test_workflows_of_unknown_entities_are_left_to_the_cross_reference_check(tmp_path, base):
    with pytest.raises(InvalidPackage) as caught:
        _load(tmp_path, base, {**_edit(WORKFLOW, "entity: claim\n", "entity: nothing\n"),
                               **_edit(POSTING, "entity: claim", "entity: nothing")})
    assert [i.code for i in caught.value.issues] == ["unknown_entity", "unknown_entity"]
