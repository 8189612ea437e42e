"""Schema sync: bring entity tables to the target model (runtime layer).

``plan_sync`` compares (Alembic autogenerate → Yunying ops), ``check_plan``
counts the rows lossy steps would hurt, ``render`` prints the dry run and
``apply_plan`` runs the plan inside the caller's transaction.
"""

from yunying.runtime.schema.apply import apply_plan, lossy_error
from yunying.runtime.schema.coltype import ColumnType, classify_change, column_type_of
from yunying.runtime.schema.compare import literal_default, plan_sync
from yunying.runtime.schema.lossy import Refusal, check_plan
from yunying.runtime.schema.ops import (
    AddColumn, AddForeignKey, AddIndex, AddUnique, ChangeType, ColumnDef, CreateTable,
    DropColumn, DropForeignKey, DropIndex, DropNotNull, DropTable, DropUnique, KeepColumn,
    KeepTable, NarrowType, Op, Plan, RenameColumn, SetNotNull, WidenType,
)
from yunying.runtime.schema.render import render

__all__ = [
    "plan_sync", "check_plan", "render", "apply_plan", "lossy_error", "literal_default",
    "Plan", "Refusal", "Op", "ColumnType", "ColumnDef", "classify_change", "column_type_of",
    "CreateTable", "AddColumn", "DropColumn", "KeepColumn", "RenameColumn", "WidenType",
    "NarrowType", "ChangeType", "SetNotNull", "DropNotNull", "AddIndex", "DropIndex",
    "AddUnique", "DropUnique", "AddForeignKey", "DropForeignKey", "KeepTable", "DropTable",
]
