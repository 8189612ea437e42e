"""The checks an evaluated posting must pass before it is written (runtime
layer, posting rules): every account an active item of the rule's accounts
dictionary on the posting day, and Σ debit = Σ credit exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Sequence

from yunying.metadata.spec import DictionaryItemSpec, DictionarySpec
from yunying.metadata.workflow_spec import PostingRuleSpec
from yunying.runtime.posting.lines import JournalLine
from yunying.runtime.posting.problems import Where, posting_failed, unbalanced, unknown_account
from yunying.runtime.registry import Registry

__all__ = ["Totals", "check_accounts", "check_balance", "account_problem"]


@dataclass(frozen=True)
class Totals:
    """Σ debit and Σ credit of a posting (exact Decimals)."""

    debit: Decimal
    credit: Decimal

    @classmethod
    def of(cls, lines: Sequence[JournalLine]) -> "Totals":
        return cls(sum((ln.amount for ln in lines if ln.side == "debit"), Decimal("0.00")),
                   sum((ln.amount for ln in lines if ln.side == "credit"), Decimal("0.00")))

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit


def account_problem(dictionary: DictionarySpec, account: str | None, on: date) -> str | None:
    """Why ``account`` cannot be posted to on ``on`` (None: it can):
    ``unknown`` — not an item; ``inactive``; ``not_valid`` — outside its
    effective dates (both inclusive)."""
    item: DictionaryItemSpec | None = dictionary.item(account) if account else None
    if item is None:
        return "unknown"
    if not item.active:
        return "inactive"
    if (item.valid_from is not None and on < item.valid_from) or (
            item.valid_to is not None and on > item.valid_to):
        return "not_valid"
    return None


def check_accounts(rule: PostingRuleSpec, registry: Registry, lines: Sequence[JournalLine],
                   on: date) -> None:
    """Raise TransitionRejected (``unknown_account``) naming every line whose
    account is not an active item of the rule's dictionary on ``on``."""
    dictionary = registry.dictionary(rule.accounts)
    if dictionary is None:
        raise posting_failed(Where(rule.qualified_code), "unknown_dictionary", rule.accounts,
                             dictionary=rule.accounts)
    found: list[dict[str, Any]] = []
    for line in lines:
        reason = account_problem(dictionary, line.account, on)
        if reason is not None:
            entry: dict[str, Any] = {"account": line.account, "line": line.index,
                                     "reason": reason}
            if line.child_line is not None:
                entry["child_line"] = line.child_line
            found.append(entry)
    if found:
        raise unknown_account(rule.qualified_code, rule.accounts, found)


def check_balance(rule: PostingRuleSpec, lines: Sequence[JournalLine]) -> Totals:
    """The totals; TransitionRejected (``unbalanced_posting``) unless they are equal."""
    totals = Totals.of(lines)
    if not totals.balanced:
        raise unbalanced(rule.qualified_code, str(totals.debit), str(totals.credit),
                         str(totals.debit - totals.credit), [ln.as_dict() for ln in lines])
    return totals
