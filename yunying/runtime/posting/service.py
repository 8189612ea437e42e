"""Posting rules of one registry: evaluate, check, write (runtime layer, posting rules).

业财融合: a business event — the creation of a record, or a workflow
transition whose effect names a rule — writes its accounting entries in the
same transaction as the business change. :class:`Postings` does it in two
steps: :meth:`Postings.prepare` evaluates a rule over the stored record and
runs every check (formulas, amounts, accounts, balance) without writing;
:meth:`Postings.write` writes the journal entry, its lines and the audit
event. A failure of any check raises TransitionRejected before anything is
written, so the caller's transaction — and with it the business change —
fails as a whole.

Each rule's formulas are checked once per :class:`Postings` (kept in a dict
of the instance, keyed by the rule); a long-lived caller (the record service,
the workflow engine) keeps one per registry. :func:`post_rule` and
:func:`post_created` are the one-shot forms.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from yunying.metadata.workflow_spec import PostingRuleSpec
from yunying.platform.context import Context
from yunying.runtime.posting.checks import Totals, check_accounts, check_balance
from yunying.runtime.posting.compiled import CompiledRule, compile_rule
from yunying.runtime.posting.journal import Source, stamp, write_entry
from yunying.runtime.posting.lines import Clock, JournalLine, evaluate_rule
from yunying.runtime.posting.problems import Where, posting_failed
from yunying.runtime.registry import Registry

__all__ = ["Postings", "Prepared", "post_rule", "post_created", "CREATE_EVENT"]

#: the event of rules run when a record is created.
CREATE_EVENT = "create"


@dataclass(frozen=True)
class Prepared:
    """A posting that passed every check, ready to write (``lines`` may be
    empty when every amount was zero: nothing is written then)."""

    source: Source
    lines: tuple[JournalLine, ...]
    totals: Totals


class Postings:
    """The posting rules of one registry, with their checked formulas cached."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._compiled: dict[PostingRuleSpec, CompiledRule] = {}

    def compiled(self, rule: PostingRuleSpec) -> CompiledRule:
        """``rule`` with its formulas checked (once per rule)."""
        found = self._compiled.get(rule)
        if found is None:
            found = self._compiled[rule] = compile_rule(rule, self.registry)
        return found

    def rules_for(self, entity: str, event: str = CREATE_EVENT) -> list[PostingRuleSpec]:
        """Every rule of ``entity`` with ``event``, across the installed
        packages (in package, then file order)."""
        return [rule for package in self.registry.packages.values()
                for rule in package.postings if rule.entity == entity and rule.event == event]

    def prepare(self, conn: Connection, ctx: Context, rule: PostingRuleSpec, entity: str,
                record_id: int, *, event: str, instance_id: int | None = None) -> Prepared:
        """Evaluate and check ``rule`` for the record; writes nothing.

        Raises TransitionRejected (``posting_failed``, ``unknown_account``,
        ``unbalanced_posting``) or NotFound (no such record).
        """
        if rule.entity != entity:
            raise posting_failed(Where(rule.qualified_code), "wrong_entity", rule.entity,
                                 entity=entity)
        compiled = self.compiled(rule)
        now = stamp(ctx)
        lines = evaluate_rule(conn, compiled, self.registry, record_id, Clock(now.date(), now))
        check_accounts(rule, self.registry, lines, now.date())
        totals = check_balance(rule, lines)
        source = Source(rule.qualified_code, entity, record_id, event, instance_id)
        return Prepared(source, tuple(lines), totals)

    def write(self, conn: Connection, ctx: Context, prepared: Prepared) -> int | None:
        """Write a prepared posting; its entry id, or None when it has no line."""
        if not prepared.lines:
            return None
        return write_entry(conn, ctx, prepared.source, prepared.lines, prepared.totals)

    def post(self, conn: Connection, ctx: Context, rule: PostingRuleSpec, entity: str,
             record_id: int, *, event: str, instance_id: int | None = None) -> int | None:
        """Prepare and write one rule; the entry id (None: every amount was zero)."""
        prepared = self.prepare(conn, ctx, rule, entity, record_id, event=event,
                                instance_id=instance_id)
        return self.write(conn, ctx, prepared)

    def post_created(self, conn: Connection, ctx: Context, entity: str,
                     record_id: int) -> list[int]:
        """Run every ``create`` rule of ``entity`` for the new record: all are
        prepared (and checked) before any is written. Returns the entry ids."""
        rules = self.rules_for(entity, CREATE_EVENT)
        if not rules:
            return []
        prepared = [self.prepare(conn, ctx, rule, entity, record_id, event=CREATE_EVENT)
                    for rule in rules]
        written = (self.write(conn, ctx, p) for p in prepared)
        return [entry for entry in written if entry is not None]


def post_rule(conn: Connection, ctx: Context, registry: Registry, rule: PostingRuleSpec,
              entity: str, record_id: int, *, event: str,
              instance_id: int | None = None) -> int | None:
    """Post ``rule`` for the record ``entity``/``record_id`` in the caller's
    transaction; returns the journal entry id (None when every amount was
    zero and nothing was written). See :meth:`Postings.prepare` for errors."""
    return Postings(registry).post(conn, ctx, rule, entity, record_id, event=event,
                                   instance_id=instance_id)


def post_created(conn: Connection, ctx: Context, registry: Registry, entity: str,
                 record_id: int) -> list[int]:
    """Run every ``event: create`` rule of ``entity`` for the new record
    (the record service calls it right after the insert, in its transaction)."""
    return Postings(registry).post_created(conn, ctx, entity, record_id)
