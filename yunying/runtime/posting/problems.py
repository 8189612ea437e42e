"""Why a posting rule refuses to post (runtime layer, posting rules).

Every refusal is a :class:`~yunying.platform.errors.TransitionRejected` raised
before anything is written, so the business change that triggered the rule
fails with it (HTTP 422). Codes:

- ``posting_failed`` — a line's formula does not check or cannot be
  evaluated, or gives an amount that is NULL, negative, not a number or too
  large, or a dimension too long for its column; ``details`` name the rule,
  the line (``line``: index in the rule, 0-based; ``child_line``: the
  child line's ``line_no`` for ``each`` lines) and the ``reason``;
- ``unknown_account`` — an account that is not an active item (valid today)
  of the rule's accounts dictionary; ``details``: ``account``, ``line`` and
  every offending line under ``accounts``;
- ``unbalanced_posting`` — Σ debit ≠ Σ credit; ``details``: both totals, the
  difference and every line.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping, Sequence

from yunying.platform.errors import TransitionRejected
from yunying.platform.i18n import Text

__all__ = ["Where", "posting_failed", "unknown_account", "unbalanced", "REASONS"]

#: why a line failed (``details.reason`` of ``posting_failed``), with messages.
REASONS: Mapping[str, Text] = MappingProxyType({
    "formula": Text("公式无法通过检查或求值：{detail}", "its formula fails: {detail}"),
    "null_amount": Text("金额为空", "the amount is empty (NULL)"),
    "negative_amount": Text("金额 {detail} 为负数", "the amount {detail} is negative"),
    "not_a_number": Text("金额不是有效数字", "the amount is not a valid number"),
    "amount_too_large": Text("金额 {detail} 超出可记账的范围（最多 16 位整数）",
                             "the amount {detail} is too large (at most 16 integer digits)"),
    "too_long": Text("{detail} 超出长度上限", "{detail} is too long"),
    "unknown_child": Text("实体没有子表 {detail}", "the entity has no child table {detail}"),
    "wrong_entity": Text("规则属于实体 {detail}", "the rule belongs to entity {detail}"),
    "unknown_dictionary": Text("科目字典 {detail} 未安装",
                               "the accounts dictionary {detail} is not installed"),
})


class Where:
    """A line of a rule, for messages: ``line`` is its index in the rule;
    ``child_line`` the child line it was evaluated for (``each`` lines)."""

    __slots__ = ("rule", "line", "child_line")

    def __init__(self, rule: str, line: int | None = None,
                 child_line: int | None = None) -> None:
        self.rule, self.line, self.child_line = rule, line, child_line

    def text(self) -> Text:
        if self.line is None:
            return Text(f"过账规则 {self.rule}", f"posting rule {self.rule}")
        zh = f"过账规则 {self.rule} 第 {self.line + 1} 条分录"
        en = f"posting rule {self.rule}, line {self.line + 1}"
        if self.child_line is not None:
            zh += f"（明细第 {self.child_line} 行）"
            en += f" (child line {self.child_line})"
        return Text(zh, en)

    def details(self) -> dict[str, Any]:
        found: dict[str, Any] = {"rule": self.rule, "line": self.line}
        if self.child_line is not None:
            found["child_line"] = self.child_line
        return found


def posting_failed(where: Where, reason: str, detail: Text | str = "",
                   **extra: Any) -> TransitionRejected:
    """A line (or the rule) that cannot be posted, for ``reason`` (see REASONS)."""
    shown = detail if isinstance(detail, Text) else Text(str(detail), str(detail))
    why = REASONS[reason]
    head = where.text()
    message = Text(f"{head.zh}无法记账：{why.zh.format(detail=shown.zh)}",
                   f"{head.en} cannot be posted: {why.en.format(detail=shown.en)}")
    return TransitionRejected(message, code="posting_failed",
                              details={**where.details(), "reason": reason, **extra})


def unknown_account(rule: str, dictionary: str,
                    found: Sequence[Mapping[str, Any]]) -> TransitionRejected:
    """Accounts that are not active items of ``dictionary`` (``found``: one
    ``{"account", "line", "child_line"?, "reason"}`` per offending line)."""
    first = found[0]
    where = Where(rule, first["line"], first.get("child_line")).text()
    account = first["account"]
    message = Text(
        f"{where.zh}的会计科目 {account} 不是科目表 {dictionary} 中当前有效的科目",
        f"{where.en}: account {account} is not an active account of {dictionary} today")
    return TransitionRejected(message, code="unknown_account", details={
        "rule": rule, "account": account, "line": first["line"], "dictionary": dictionary,
        "accounts": [dict(f) for f in found]})


def unbalanced(rule: str, debit: str, credit: str, difference: str,
               lines: list[dict[str, Any]]) -> TransitionRejected:
    """Σ debit ≠ Σ credit."""
    message = Text(
        f"过账规则 {rule} 借贷不平衡：借方合计 {debit}，贷方合计 {credit}，差额 {difference}",
        f"posting rule {rule} does not balance: debit total {debit}, credit total {credit}, "
        f"difference {difference}")
    return TransitionRejected(message, code="unbalanced_posting", details={
        "rule": rule, "debit": debit, "credit": credit, "difference": difference,
        "lines": lines})
