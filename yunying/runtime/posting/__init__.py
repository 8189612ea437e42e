"""Posting rules (业财融合, runtime layer): a business event writes its balanced
journal entry in the same transaction as the business change.

- :func:`post_rule` — post one rule for one record (a workflow transition's
  ``posting`` effect);
- :func:`post_created` — every ``event: create`` rule of an entity, for a
  record just inserted (called by the record service);
- :func:`journal_of` — the entries posted for a record, with their lines;
- :class:`Postings` — the same per registry, each rule's formulas checked once;
- :func:`line_context` — the formula scope of a rule line (for package checks).
"""

from yunying.runtime.posting.context import FORMULA_SLOTS, LineScope, line_context
from yunying.runtime.posting.journal import journal_of
from yunying.runtime.posting.service import (
    CREATE_EVENT, Postings, Prepared, post_created, post_rule,
)

__all__ = ["post_rule", "post_created", "journal_of", "Postings", "Prepared",
           "CREATE_EVENT", "line_context", "LineScope", "FORMULA_SLOTS"]
