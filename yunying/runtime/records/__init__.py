"""The record service package (runtime layer): validation, numbering, list
queries and CRUD over entity tables, driven by the entity specs.

Public surface: :class:`RecordService`, :class:`ListQuery`, :class:`Page`,
:class:`Filter`.
"""

from yunying.runtime.records.query import (
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, OPERATORS, PARAMETERS, Filter, ListQuery, Page,
)
from yunying.runtime.records.service import FieldAccess, RecordService

__all__ = [
    "FieldAccess",
    "RecordService",
    "ListQuery",
    "Filter",
    "Page",
    "PARAMETERS",
    "OPERATORS",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
]
