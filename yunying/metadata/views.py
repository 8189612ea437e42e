"""List views, forms and menus of entities (metadata layer).

An entity document may carry a ``list`` block (the columns, filters, sort and
page size of its list page), a ``form`` block (sections of fields with
widgets and visibility / required / read-only conditions written as
formulas) and a ``menu`` code naming one of its package's ``menus``. The
generated staff UI reads these specs; the record service enforces the form's
``required_when`` and ``readonly_when`` conditions on every write, so the API
and the UI refuse the same things.

Entities without a ``list`` or ``form`` block get one derived from their
fields by :func:`list_view_of` and :func:`form_of`: pure functions, so the
derived layout is the same in every process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from yunying.metadata.convert import text as _text
from yunying.platform.i18n import Text

__all__ = [
    "WIDGETS", "DEFAULT_WIDGET", "CONDITION_KINDS", "ListViewSpec", "FormFieldSpec",
    "FormSectionSpec", "FormSpec", "MenuSpec", "list_view_from_document",
    "form_from_document", "menu_from_document", "list_view_of", "form_of", "widget_of",
]

#: the default widget of each field type; ``widget`` in a form may pick another
#: widget among those allowed for the type (:data:`WIDGETS`).
DEFAULT_WIDGET: Mapping[str, str] = {
    "string": "text", "text": "textarea", "integer": "number", "decimal": "decimal",
    "money": "money", "boolean": "checkbox", "date": "date", "datetime": "datetime",
    "enum": "select", "reference": "reference", "user": "user", "org_unit": "org_unit",
    "attachment": "attachment", "computed": "computed",
}

#: the widgets a form may choose per field type.
WIDGETS: Mapping[str, tuple[str, ...]] = {
    "string": ("text", "textarea"),
    "text": ("textarea", "text"),
    "integer": ("number",),
    "decimal": ("decimal",),
    "money": ("money",),
    "boolean": ("checkbox",),
    "date": ("date",),
    "datetime": ("datetime",),
    "enum": ("select", "radio"),
    "reference": ("reference",),
    "user": ("user",),
    "org_unit": ("org_unit",),
    "attachment": ("attachment",),
    "computed": ("computed",),
}

#: the conditions a form field may declare; each is a BOOLEAN formula over the
#: record's fields that holds only when TRUE (NULL does not hold).
CONDITION_KINDS = ("visible_when", "required_when", "readonly_when")

#: fields a derived list view shows at most, and filters it offers at most.
_DERIVED_COLUMNS = 7
_DERIVED_FILTERS = 6
_FILTERABLE = ("enum", "date", "datetime", "reference", "user", "org_unit", "integer",
               "decimal", "money", "boolean", "string")
_NOT_LISTED = ("text", "attachment")


@dataclass(frozen=True)
class ListViewSpec:
    """The list page of an entity: default ``columns``, the filter bar's
    ``filters``, the default ``sort`` (field codes, ``-`` descending) and
    rows per page. The column chooser offers every readable field."""

    columns: tuple[str, ...]
    filters: tuple[str, ...] = ()
    sort: tuple[str, ...] = ()
    page_size: int = 20


@dataclass(frozen=True)
class FormFieldSpec:
    """One field placed on a form, with its widget, how many of the section's
    columns it spans, and its conditions (formulas, None when absent)."""

    field: str
    widget: str | None = None
    span: int = 1
    visible_when: str | None = None
    required_when: str | None = None
    readonly_when: str | None = None
    help: Text | None = None

    def condition(self, kind: str) -> str | None:
        return getattr(self, kind)


@dataclass(frozen=True)
class FormSectionSpec:
    """A titled section of a form: fields laid out in ``columns`` columns,
    then the child tables (line editors) it holds."""

    code: str
    label: Text
    columns: int = 2
    fields: tuple[FormFieldSpec, ...] = ()
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormSpec:
    """The create / edit form of an entity: its sections in order."""

    sections: tuple[FormSectionSpec, ...]

    def field(self, code: str) -> FormFieldSpec | None:
        for section in self.sections:
            for placed in section.fields:
                if placed.field == code:
                    return placed
        return None

    def placed(self) -> Iterator[tuple[int, int, FormFieldSpec]]:
        """Every placed field with its section and position indexes."""
        for i, section in enumerate(self.sections):
            for j, placed in enumerate(section.fields):
                yield i, j, placed

    def conditions(self) -> Iterator[tuple[str, str, str, str]]:
        """``(field, kind, formula, json_path)`` of every declared condition."""
        for i, j, placed in self.placed():
            for kind in CONDITION_KINDS:
                formula = placed.condition(kind)
                if formula is not None:
                    yield placed.field, kind, formula, f"$.form.sections[{i}].fields[{j}].{kind}"


@dataclass(frozen=True)
class MenuSpec:
    """A menu group of a package's navigation (domain → menu → entity)."""

    code: str
    label: Text
    order: int = 0


# -- building from documents ---------------------------------------------------

def list_view_from_document(doc: Mapping[str, Any]) -> ListViewSpec:
    return ListViewSpec(columns=tuple(doc["columns"]), filters=tuple(doc.get("filters", ())),
                        sort=tuple(doc.get("sort", ())), page_size=int(doc.get("page_size", 20)))


def _placed(doc: Any) -> FormFieldSpec:
    if isinstance(doc, str):
        return FormFieldSpec(field=doc)
    help_doc = doc.get("help")
    return FormFieldSpec(field=doc["field"], widget=doc.get("widget"),
                         span=int(doc.get("span", 1)), visible_when=doc.get("visible_when"),
                         required_when=doc.get("required_when"),
                         readonly_when=doc.get("readonly_when"),
                         help=_text(help_doc) if help_doc else None)


def form_from_document(doc: Mapping[str, Any]) -> FormSpec:
    return FormSpec(sections=tuple(
        FormSectionSpec(code=s["code"], label=_text(s["name"]), columns=int(s.get("columns", 2)),
                        fields=tuple(_placed(f) for f in s.get("fields", ())),
                        children=tuple(s.get("children", ())))
        for s in doc["sections"]))


def menu_from_document(doc: Mapping[str, Any]) -> MenuSpec:
    return MenuSpec(code=doc["code"], label=_text(doc["name"]), order=int(doc.get("order", 0)))


# -- the effective views of an entity ------------------------------------------

def list_view_of(entity: Any) -> ListViewSpec:
    """The entity's list view: its own, or one derived from its fields (the
    title field first, then fields in file order, long text and attachments
    left out; filters over enum, date, reference and number fields)."""
    if entity.list_view is not None:
        return entity.list_view
    codes = [f.code for f in entity.fields if f.type not in _NOT_LISTED]
    if entity.title_field in codes:
        codes.remove(entity.title_field)
        codes.insert(0, entity.title_field)
    by_code = {f.code: f for f in entity.fields}
    filters = sorted((c for c in codes if by_code[c].value_type in _FILTERABLE
                      and by_code[c].value_type != "string"),
                     key=lambda c: _FILTERABLE.index(by_code[c].value_type))
    return ListViewSpec(columns=tuple(codes[:_DERIVED_COLUMNS]),
                        filters=tuple(filters[:_DERIVED_FILTERS]),
                        sort=tuple(entity.default_sort))


def form_of(entity: Any) -> FormSpec:
    """The entity's form: its own, or one section with every field in file
    order and one section per child table."""
    if entity.form is not None:
        return entity.form
    main = FormSectionSpec(code="main", label=entity.label, columns=2,
                           fields=tuple(FormFieldSpec(field=f.code) for f in entity.fields))
    children = tuple(FormSectionSpec(code=f"child_{c.code}", label=c.label, columns=1,
                                     children=(c.code,)) for c in entity.children)
    return FormSpec(sections=(main, *children))


def widget_of(field: Any, placed: FormFieldSpec | None = None) -> str:
    """The widget a field is edited with (the form's choice, else by type)."""
    if placed is not None and placed.widget is not None:
        return placed.widget
    return DEFAULT_WIDGET.get(field.type, "text")
