"""Cross-reference checks of posting-rule documents (metadata layer).

:func:`check_postings` checks every posting rule of a package through the
package :class:`~yunying.metadata.crossref.Checker`. Issue codes:

- ``unknown_entity`` / ``undeclared_dependency`` — the rule's entity;
- ``unknown_dictionary`` / ``undeclared_dependency`` — ``accounts`` (a
  dictionary of the package or of a package it requires);
- ``unknown_account`` — a literal ``account`` that is not an item of the
  accounts dictionary, or an inactive one;
- ``unknown_child`` — ``each`` naming no child table of the entity;
- ``invalid_posting_line`` — a line with both or neither of ``account`` and
  ``account_formula``;
- ``missing_side`` — a rule without a debit line or without a credit line.

The line formulas (amount, unit, project, account_formula) are type-checked
by the runtime's workflow package check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from yunying.metadata.spec import DictionarySpec, EntitySpec
from yunying.metadata.workflow_spec import POSTING_SIDES, PostingLineSpec, PostingRuleSpec
from yunying.metadata.yaml_source import Source

if TYPE_CHECKING:
    from yunying.metadata.crossref import Checker

__all__ = ["check_postings"]

_SIDE_NAMES = {"debit": "借方", "credit": "贷方"}


def check_postings(check: Checker, sources: Mapping[str, Source]) -> None:
    """Check every posting rule of ``check.spec``."""
    for rule in check.spec.postings:
        _check_rule(check, sources[rule.code], rule)


def _check_rule(check: Checker, source: Source, rule: PostingRuleSpec) -> None:
    entity = check.resolve(source, "$.entity", rule.entity, "entity")
    accounts = check.resolve(source, "$.accounts", rule.accounts, "dictionary")
    for i, line in enumerate(rule.lines):
        path = f"$.lines[{i}]"
        _account(check, source, path, line, accounts)
        if line.each is not None and isinstance(entity, EntitySpec) \
                and entity.child(line.each) is None:
            check.add(source, "unknown_child", f"{path}.each",
                      f"实体 {entity.qualified_code} 没有子表 {line.each}",
                      f"entity {entity.qualified_code} has no child table {line.each!r}")
    for side in POSTING_SIDES:
        if not any(line.side == side for line in rule.lines):
            check.add(source, "missing_side", "$.lines",
                      f"记账规则至少需要一条{_SIDE_NAMES[side]}（{side}）分录",
                      f"a posting rule needs at least one {side} line")


def _account(check: Checker, source: Source, path: str, line: PostingLineSpec,
             accounts: object) -> None:
    if (line.account is None) == (line.account_formula is None):
        check.add(source, "invalid_posting_line", path,
                  "每条分录必须且只能有 account 或 account_formula 之一",
                  "a line has exactly one of account and account_formula")
    if line.account is None or not isinstance(accounts, DictionarySpec):
        return
    item = accounts.item(line.account)
    if item is None or not item.active:
        state = ("不是", "is not an item of") if item is None else ("是停用的字典项，属于",
                                                                  "is an inactive item of")
        check.add(source, "unknown_account", f"{path}.account",
                  f"科目 {line.account} {state[0]}字典 {accounts.qualified_code}",
                  f"account {line.account!r} {state[1]} {accounts.qualified_code}")
