"""The bundled finance package (chart of accounts) and the SPD posting it serves.

The chart follows 政府会计制度 with the hospital supplement's detail accounts:
codes are the standard's, each detail code extends its parent's by two
digits, and every account a shipped posting rule names is an active leaf
(末级科目). Installing the bundled packages with demo data posts the demo
consumable uses, each one balanced.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import text

from yunying.metadata.loader import load_packages
from yunying.platform.context import Context
from yunying.runtime.formula.package_check import FORMULA_CHECKS
from yunying.runtime.installer import bundled_package_paths, install_packages
from yunying.runtime.posting import journal_of

#: accounts the SPD case and the issue name, with the standard's names.
STANDARD = {
    "1001": "库存现金", "1002": "银行存款", "1212": "应收账款",
    "121201": "应收在院病人医疗款", "121202": "应收医疗款", "12120202": "门急诊病人欠费",
    "1302": "库存物品", "130201": "药品", "130202": "卫生材料", "130203": "低值易耗品",
    "1601": "固定资产", "2302": "应付账款", "4001": "财政拨款收入", "4101": "事业收入",
    "410101": "医疗收入", "41010101": "门急诊收入", "41010102": "住院收入",
    "5001": "业务活动费用", "5101": "单位管理费用",
}
#: the first digit of a top-level code is its class.
CLASSES = {"1": "assets", "2": "liabilities", "3": "net assets", "4": "revenue",
           "5": "expenses"}


@pytest.fixture(scope="module")
def bundled():
    return {p.code: p for p in load_packages(bundled_package_paths(), checks=FORMULA_CHECKS)}


def test_finance_is_bundled_and_materials_requires_it(bundled):
    assert bundled["finance"].version == "1.0.0"
    assert {r.package for r in bundled["finance"].requires} == {"base"}
    assert {r.package for r in bundled["materials"].requires} == {"base", "finance"}
    assert bundled["materials"].version == "1.4.0"


def test_the_chart_uses_the_standard_codes_and_names(bundled):
    chart = bundled["finance"].dictionary("account")
    assert chart.hierarchical
    names = {i.code: i.label.zh for i in chart.items}
    assert {code: names.get(code) for code in STANDARD} == STANDARD
    assert all(i.label.en and i.label.en != i.label.zh for i in chart.items)


def test_detail_codes_extend_their_parent_by_two_digits(bundled):
    chart = bundled["finance"].dictionary("account")
    codes = {i.code for i in chart.items}
    for item in chart.items:
        assert re.fullmatch(r"[1-5][0-9]{3}([0-9]{2})*", item.code), item.code
        if item.parent is None:
            assert len(item.code) == 4 and item.code[0] in CLASSES, item.code
        else:
            assert item.parent in codes and item.code[:-2] == item.parent, item.code
        assert item.sort == int(item.code)


def _accounts_named(rule) -> set[str]:
    """Every account a rule may post to: static codes and the codes quoted in
    its account formulas."""
    found = set()
    for line in rule.lines:
        if line.account is not None:
            found.add(line.account)
        if line.account_formula is not None:
            found.update(re.findall(r"'([0-9]+)'", line.account_formula))
    return found


def test_shipped_rules_post_to_active_leaf_accounts(bundled):
    chart = bundled["finance"].dictionary("account")
    parents = {i.parent for i in chart.items if i.parent}
    rules = [r for p in bundled.values() for r in p.postings]
    assert [r.qualified_code for r in rules] == ["materials.spd_consumption"]
    for rule in rules:
        assert rule.accounts == "finance.account"
        for account in _accounts_named(rule):
            item = chart.item(account)
            assert item is not None and item.active, account
            assert account not in parents, f"{account} is not a leaf account"
    assert _accounts_named(rules[0]) == {"121201", "12120202", "41010101", "41010102",
                                         "130202", "2302", "5001"}


def test_the_demo_consumable_uses_are_posted_balanced(db):
    install_packages(db, bundled_package_paths(), Context(actor="installer"), with_demo=True)
    with db.connect() as conn:
        ids = [r[0] for r in conn.execute(
            text("SELECT id FROM materials_consumption ORDER BY id"))]
        entries = [e for rid in ids for e in journal_of(conn, "materials.consumption", rid)]
    assert len(ids) == 2 and len(entries) == 2
    for entry in entries:
        assert entry["debit"] == entry["credit"] > Decimal("0")
        assert [ln["purpose"] for ln in entry["lines"]] == [
            "charge", "charge", "stock_in", "payable", "stock_out", "consumption"]
    assert [entry["debit"] for entry in entries] == [Decimal("1770.00"), Decimal("11.25")]
