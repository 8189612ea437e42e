"""Frozen spec objects: the metamodel as immutable values (metadata layer).

Specs are built once from validated package documents by
:mod:`yunying.metadata.builder` and never mutated; every runtime interpreter
(tables, schema sync, record service, API) reads them. References between
items are always stored *qualified* as ``"<package>.<code>"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Mapping

from yunying.metadata.generators import GeneratorSpec
from yunying.metadata.indicators import IndicatorSpec
from yunying.metadata.views import FormSpec, ListViewSpec, MenuSpec
from yunying.metadata.workflow_spec import PostingRuleSpec, WorkflowSpec
from yunying.platform.i18n import Text

__all__ = [
    "FIELD_TYPES",
    "SYSTEM_COLUMNS",
    "COMPUTED_RESULTS",
    "FieldSpec",
    "RuleSpec",
    "IndexSpec",
    "NumberingSpec",
    "ChildSpec",
    "EntitySpec",
    "DictionaryItemSpec",
    "DictionarySpec",
    "SeedSpec",
    "Requirement",
    "ENTITY_ACTIONS",
    "PLATFORM_ACTIONS",
    "DATA_SCOPES",
    "FIELD_ACCESS",
    "GrantSpec",
    "RoleSpec",
    "OrgTreeSpec",
    "LocationSpec",
    "OrgUnitSpec",
    "OrgHeadSpec",
    "OrgUserSpec",
    "AssignmentSpec",
    "RoleGrantSpec",
    "OrgDataSpec",
    "PackageSpec",
    "qualify",
    "split_qualified",
]

#: Every field type an entity may declare.
FIELD_TYPES = (
    "string", "text", "integer", "decimal", "money", "boolean", "date",
    "datetime", "enum", "reference", "user", "org_unit", "attachment",
    "computed",
)

#: The types a computed field's value (its ``result``) may have.
COMPUTED_RESULTS = (
    "string", "text", "integer", "decimal", "money", "boolean", "date", "datetime",
)

#: Columns every entity table has; field codes may not reuse them.
SYSTEM_COLUMNS = (
    "id", "version", "created_at", "created_by", "updated_at", "updated_by",
)

#: Columns every child-line table has besides its fields.
CHILD_SYSTEM_COLUMNS = ("id", "parent_id", "line_no")


def qualify(package: str, code: str) -> str:
    """``'materials', 'item'`` → ``'materials.item'``; already qualified codes pass."""
    return code if "." in code else f"{package}.{code}"


def split_qualified(qualified: str) -> tuple[str, str]:
    package, _, code = qualified.partition(".")
    return package, code


@dataclass(frozen=True)
class FieldSpec:
    """One declared field of an entity or of a child table."""

    code: str
    type: str
    label: Text
    required: bool = False
    unique: bool = False
    indexed: bool = False
    default: Any = None            # a literal, or "today" / "now" for dates
    length: int | None = None      # max length (string; required for string)
    min_length: int | None = None
    precision: int | None = None   # decimal / money
    scale: int | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    pattern: str | None = None
    dictionary: str | None = None  # enum → qualified dictionary code
    reference: str | None = None   # reference → qualified entity code
    formula: str | None = None     # computed: the formula computing the value
    renamed_from: str | None = None
    description: Text | None = None
    result: str | None = None      # computed: the value's type (one of COMPUTED_RESULTS)
    default_formula: str | None = None  # evaluated on create when no value is given

    @property
    def value_type(self) -> str:
        """The type of the stored value: ``result`` for computed fields, else ``type``."""
        if self.type == "computed" and self.result is not None:
            return self.result
        return self.type

    @property
    def is_computed(self) -> bool:
        return self.type == "computed"

    @property
    def is_numeric(self) -> bool:
        return self.value_type in ("integer", "decimal", "money")


@dataclass(frozen=True)
class RuleSpec:
    """A validation rule of an entity or child table: a record passes unless
    ``formula`` evaluates to FALSE (NULL passes, like an SQL CHECK). A failing
    rule reports ``message`` on ``field`` (or on the record / line)."""

    code: str
    formula: str
    message: Text
    field: str | None = None


@dataclass(frozen=True)
class IndexSpec:
    """A composite index declared on an entity."""

    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class NumberingSpec:
    """Document numbering: ``pattern`` such as ``BX{yyyy}{mm}-{seq:4}`` fills
    ``field`` on create; the sequence restarts per ``reset`` period."""

    field: str
    pattern: str
    reset: str  # "never" | "year" | "month" | "day"


@dataclass(frozen=True)
class ChildSpec:
    """A child table (document lines) owned by an entity, ordered by line_no."""

    code: str
    label: Text
    fields: tuple[FieldSpec, ...]
    table_name: str
    rules: tuple[RuleSpec, ...] = ()
    #: the numeric fields totalled under the lines (None: the computed money fields)
    totals: tuple[str, ...] | None = None

    def field(self, code: str) -> FieldSpec | None:
        return _find(self.fields, code)

    @property
    def totalled(self) -> tuple[str, ...]:
        """The fields whose column totals are shown under the lines."""
        if self.totals is not None:
            return self.totals
        return tuple(f.code for f in self.fields if f.is_computed and f.value_type == "money")


@dataclass(frozen=True)
class EntitySpec:
    package: str
    code: str
    label: Text
    fields: tuple[FieldSpec, ...]
    children: tuple[ChildSpec, ...] = ()
    indexes: tuple[IndexSpec, ...] = ()
    numbering: NumberingSpec | None = None
    org_dimension: str | None = None
    date_dimension: str | None = None
    #: the ``user`` field naming the person a row counts for (the doctor):
    #: indicators drill down to persons by it
    person_dimension: str | None = None
    title_field: str | None = None
    #: the natural key (a unique code field): seed rows are upserted by it and
    #: seed/demo files refer to rows of this entity by its value.
    key_field: str | None = None
    search_fields: tuple[str, ...] = ()
    default_sort: tuple[str, ...] = ("-id",)
    description: Text | None = None
    rules: tuple[RuleSpec, ...] = ()
    #: the list page and form of the generated UI (None: derived from the
    #: fields, see :func:`yunying.metadata.views.list_view_of` / ``form_of``)
    list_view: ListViewSpec | None = None
    form: FormSpec | None = None
    #: the code of the package menu group the entity is listed under
    menu: str | None = None

    @property
    def qualified_code(self) -> str:
        return f"{self.package}.{self.code}"

    @property
    def table_name(self) -> str:
        return f"{self.package}_{self.code}"

    def field(self, code: str) -> FieldSpec | None:
        return _find(self.fields, code)

    def child(self, code: str) -> ChildSpec | None:
        return _find(self.children, code)


@dataclass(frozen=True)
class DictionaryItemSpec:
    code: str
    label: Text
    parent: str | None = None
    sort: int = 0
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = True


@dataclass(frozen=True)
class DictionarySpec:
    package: str
    code: str
    label: Text
    items: tuple[DictionaryItemSpec, ...]
    hierarchical: bool = False

    @property
    def qualified_code(self) -> str:
        return f"{self.package}.{self.code}"

    def item(self, code: str) -> DictionaryItemSpec | None:
        return _find(self.items, code)


@dataclass(frozen=True)
class SeedSpec:
    """Rows shipped with a package for one entity; ``key`` is the field whose
    value identifies a row (rows are upserted by it on install/upgrade)."""

    package: str
    entity: str          # qualified entity code
    key: str
    rows: tuple[Mapping[str, Any], ...]
    file: str
    demo: bool = False


@dataclass(frozen=True)
class Requirement:
    package: str
    spec: str  # a version range such as ">=1.0,<2"


#: what a role may do to an entity's records.
ENTITY_ACTIONS = ("read", "create", "update", "delete", "submit", "approve",
                  "export", "import")
#: what a role may do to the platform itself.
PLATFORM_ACTIONS = ("design", "manage_packages", "manage_users", "view_indicators")
#: which records a grant reaches: every record; those of the user's own org
#: units; those of the user's units and their descendants in ``tree``; those
#: the user created; those matching a formula ``filter``.
DATA_SCOPES = ("all", "own_unit", "unit_tree", "own_records", "formula")
#: field permissions a role may declare (a field not named is editable).
FIELD_ACCESS = ("hidden", "read_only")


@dataclass(frozen=True)
class GrantSpec:
    """Actions a role may take on one entity, over the records in scope.

    ``fields`` maps a field code (``line_code.field`` for a child-table field)
    to ``"hidden"`` or ``"read_only"`` for the holders of this grant.
    """

    entity: str                      # qualified entity code
    actions: tuple[str, ...]         # a subset of ENTITY_ACTIONS
    scope: str = "all"               # one of DATA_SCOPES
    tree: str = "admin"              # unit_tree: the relation tree's code
    filter: str | None = None        # formula: a boolean formula over the record
    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class RoleSpec:
    """A role declared by a package: its grants, platform actions, and the
    roles it inherits (qualified codes; inherited grants add up)."""

    package: str
    code: str
    label: Text
    grants: tuple[GrantSpec, ...] = ()
    platform: tuple[str, ...] = ()   # a subset of PLATFORM_ACTIONS
    inherits: tuple[str, ...] = ()
    description: Text | None = None

    @property
    def qualified_code(self) -> str:
        return f"{self.package}.{self.code}"


@dataclass(frozen=True)
class OrgTreeSpec:
    code: str
    label: Text
    kind: str        # administrative | discipline | cost | temporary


@dataclass(frozen=True)
class LocationSpec:
    code: str
    label: Text
    kind: str        # campus | building | floor | area
    parent: str | None = None


@dataclass(frozen=True)
class OrgUnitSpec:
    """An org unit with its edges: ``parents`` maps a tree code to the parent
    unit in that tree; ``location`` is the unit's location from ``valid_from``."""

    code: str
    label: Text
    type: str        # hospital | campus | department | ward | team | ...
    valid_from: date
    valid_to: date | None = None
    location: str | None = None
    parents: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class OrgHeadSpec:
    unit: str
    user: str
    valid_from: date


@dataclass(frozen=True)
class OrgUserSpec:
    """A user shipped with (demo) org data: no password is ever shipped."""

    code: str
    name: Text


@dataclass(frozen=True)
class AssignmentSpec:
    user: str
    unit: str
    valid_from: date
    primary: bool = True


@dataclass(frozen=True)
class RoleGrantSpec:
    """``user`` holds ``role`` (qualified) in ``domain`` (an org unit code or ``*``)."""

    user: str
    role: str
    domain: str = "*"


@dataclass(frozen=True)
class OrgDataSpec:
    """One ``org/*.yaml`` document: organisation data loaded on install
    (``demo`` documents only when demo data is asked for)."""

    package: str
    file: str
    demo: bool = False
    trees: tuple[OrgTreeSpec, ...] = ()
    locations: tuple[LocationSpec, ...] = ()
    units: tuple[OrgUnitSpec, ...] = ()
    heads: tuple[OrgHeadSpec, ...] = ()
    users: tuple[OrgUserSpec, ...] = ()
    assignments: tuple[AssignmentSpec, ...] = ()
    role_grants: tuple[RoleGrantSpec, ...] = ()


@dataclass(frozen=True)
class PackageSpec:
    code: str
    version: str
    label: Text
    requires: tuple[Requirement, ...] = ()
    entities: tuple[EntitySpec, ...] = ()
    dictionaries: tuple[DictionarySpec, ...] = ()
    seeds: tuple[SeedSpec, ...] = ()
    demo: tuple[SeedSpec, ...] = ()
    description: Text | None = None
    checksum: str = ""
    roles: tuple[RoleSpec, ...] = ()
    org: tuple[OrgDataSpec, ...] = ()
    workflows: tuple[WorkflowSpec, ...] = ()
    postings: tuple[PostingRuleSpec, ...] = ()
    #: navigation groups of the package (domain → menu → entity)
    menus: tuple[MenuSpec, ...] = ()
    #: indicators (指标) with their versioned formulas and 统计口径
    indicators: tuple[IndicatorSpec, ...] = ()
    #: synthetic data generators (docs/generator.md)
    generators: tuple[GeneratorSpec, ...] = ()
    #: the validated documents per kind, keyed by item code — what the
    #: metadata store persists and rebuilds specs from.
    documents: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({}))

    def entity(self, code: str) -> EntitySpec | None:
        return _find(self.entities, code)

    def dictionary(self, code: str) -> DictionarySpec | None:
        return _find(self.dictionaries, code)

    def role(self, code: str) -> RoleSpec | None:
        return _find(self.roles, code)

    def workflow(self, code: str) -> WorkflowSpec | None:
        return _find(self.workflows, code)

    def posting(self, code: str) -> PostingRuleSpec | None:
        return _find(self.postings, code)

    def indicator(self, code: str) -> IndicatorSpec | None:
        """The indicator by local code (or by this package's qualified code)."""
        package, _, local = code.rpartition(".")
        if package and package != self.code:
            return None
        return _find(self.indicators, local)


def _find(items, code):
    for item in items:
        if item.code == code:
            return item
    return None
