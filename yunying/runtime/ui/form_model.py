"""The create / edit form of an entity as data (runtime layer, staff UI; pure).

:func:`build_form` turns the entity's form spec (``form_of``), the values to
show (stored, defaulted or as the user typed them), the errors of a refused
save (paths as in ``ValidationFailed.details["fields"]``), the form
conditions' state and the caller's field permissions into sections → rows of
fields and line editors that ``form.html`` renders without deciding
anything. :func:`state_answer` is the live form's JSON (``form-state``) from
``RecordService.preview``. No I/O: labels of references, users and units
come in through :class:`FormEnv` (see :func:`wanted_texts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timezone, tzinfo
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from markupsafe import Markup, escape

from yunying.metadata.spec import ChildSpec, DictionarySpec, EntitySpec, FieldSpec
from yunying.metadata.views import FormFieldSpec, form_of, widget_of
from yunying.runtime.records import FieldAccess
from yunying.runtime.ui.form_input import display_text, input_text, line_name, total_text

__all__ = ["FieldAccess", "FormData", "FormEnv", "Option", "FieldView", "LineView",
           "LinesView", "SectionView", "FormView", "build_form", "wanted_texts",
           "state_answer", "line_totals", "LABELLED", "TEMPLATE_INDEX"]

#: widgets whose value is shown by a label fetched elsewhere.
LABELLED: Mapping[str, str] = MappingProxyType(
    {"reference": "reference", "user": "user", "org_unit": "org_unit"})
#: the index placeholder of the line template row (the JS renumbers rows).
TEMPLATE_INDEX = "__i__"
_RECORD = "_record"
_NO_STATE: Mapping[str, bool] = MappingProxyType({})


@dataclass(frozen=True)
class FormData:
    """What the form shows: main ``values``, ``lines`` per child, ``errors``
    by path, ``conditions`` (field → visible / required / readonly) and
    ``computed`` values from a preview (they win over ``values``)."""

    values: Mapping[str, Any]
    lines: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    errors: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    conditions: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    access: FieldAccess = FieldAccess()


@dataclass(frozen=True)
class FormEnv:
    """The page's language and date, the dictionaries, and the texts of the
    referenced values: ``texts[(kind, target)][value]`` with kind ``reference``
    (target: the qualified entity), ``user`` or ``org_unit`` (target '')."""

    language: str
    today: date
    dictionaries: Mapping[str, DictionarySpec]
    texts: Mapping[tuple[str, str], Mapping[Any, str]] = field(default_factory=dict)
    zone: tzinfo = timezone.utc                      # datetimes are shown in it

    def tr(self, text: Any) -> str:
        if text is None:
            return ""
        if isinstance(text, str):
            return text
        if isinstance(text, Mapping):
            return text.get(self.language) or text.get("zh-CN") or text.get("en") or ""
        return text.get(self.language)


@dataclass(frozen=True)
class Option:
    value: str
    text: str
    selected: bool = False


@dataclass(frozen=True)
class FieldView:
    """One input: ``name`` is what the browser posts, ``id`` its element id."""

    code: str
    name: str
    id: str
    widget: str
    label: str
    value: str = ""
    checked: bool = False
    required: bool = False
    readonly: bool = False
    visible: bool = True
    errors: tuple[str, ...] = ()
    help: str = ""
    span: int = 1
    options: tuple[Option, ...] = ()
    lookup: tuple[str, str] | None = None   # (kind, target) for the lookup URL
    maxlength: int | None = None
    testid: str = ""
    conditional: bool = False               # declares conditions (live form)
    placeholder: str = ""

    @property
    def described_by(self) -> str:
        """The ids of the help and error texts that describe the input."""
        ids = ([f"{self.id}-help"] if self.help else []) + (
            [f"{self.id}-error"] if self.errors else [])
        return " ".join(ids)

    @property
    def attrs(self) -> Markup:
        """The attributes every control carries (id, name, test id, required,
        disabled, ARIA), escaped once here rather than by nested template
        macros — the line editor renders hundreds of cells."""
        parts = [f'id="{escape(self.id)}" name="{escape(self.name)}" '
                 f'data-testid="{escape(self.testid)}"']
        if self.required:
            parts.append("required")
        if self.readonly:
            parts.append("disabled")
        if self.described_by:
            parts.append(f'aria-describedby="{escape(self.described_by)}"')
        if self.errors:
            parts.append('aria-invalid="true"')
        return Markup(" ".join(parts))


@dataclass(frozen=True)
class LineView:
    index: str
    id: Any
    cells: tuple[FieldView, ...]
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinesView:
    """The line editor of one child table."""

    child: str
    label: str
    columns: tuple[FieldView, ...]          # header cells (label, widget, required)
    lines: tuple[LineView, ...]
    template: LineView
    totals: Mapping[str, str]
    errors: tuple[str, ...] = ()
    readonly: bool = False


@dataclass(frozen=True)
class SectionView:
    code: str
    label: str
    columns: int
    rows: tuple[tuple[FieldView, ...], ...]
    lines: tuple[LinesView, ...] = ()

    @property
    def fields(self) -> tuple[FieldView, ...]:
        return tuple(f for row in self.rows for f in row)


@dataclass(frozen=True)
class FormView:
    entity: str
    label: str
    sections: tuple[SectionView, ...]
    top_errors: tuple[str, ...] = ()                 # record-level or unplaced
    summary: tuple[tuple[str, str], ...] = ()        # (message, element id) of every error

    @property
    def error_count(self) -> int:
        return len(self.summary)


# -- building ---------------------------------------------------------------------

class _Errors:
    """The error entries by path, remembering which ones found a place."""

    def __init__(self, errors: Mapping[str, Sequence[Mapping[str, Any]]], env: FormEnv) -> None:
        self.by_path = {p: tuple(env.tr(e.get("message")) for e in entries
                                 if isinstance(e, Mapping))
                        for p, entries in errors.items()}
        self.placed: dict[str, str] = {}

    def take(self, path: str, element: str) -> tuple[str, ...]:
        found = self.by_path.get(path, ())
        if found:
            self.placed[path] = element
        return found

    def summary(self) -> tuple[tuple[str, str], ...]:
        return tuple((message, self.placed.get(path, "")) for path, messages in self.by_path.items()
                     for message in messages)

    def top(self) -> tuple[str, ...]:
        return tuple(m for p, messages in self.by_path.items() if p not in self.placed
                     for m in messages)


def build_form(entity: EntitySpec, data: FormData, env: FormEnv) -> FormView:
    """The form of ``entity`` showing ``data``."""
    errors = _Errors(data.errors, env)
    sections = tuple(_section(entity, s, data, env, errors) for s in form_of(entity).sections)
    return FormView(entity=entity.qualified_code, label=env.tr(entity.label),
                    sections=tuple(s for s in sections if s.rows or s.lines),
                    top_errors=errors.top(), summary=errors.summary())


def _section(entity: EntitySpec, section: Any, data: FormData, env: FormEnv,
             errors: _Errors) -> SectionView:
    fields = []
    for placed in section.fields:
        spec = entity.field(placed.field)
        if spec is None or placed.field in data.access.hidden:
            continue
        fields.append(_main_field(entity, spec, placed, data, env, errors))
    lines = tuple(_lines(entity.child(code), data, env, errors) for code in section.children
                  if entity.child(code) is not None and code not in data.access.hidden)
    return SectionView(code=section.code, label=env.tr(section.label), columns=section.columns,
                       rows=_pack(fields, section.columns), lines=lines)


def _pack(fields: list[FieldView], columns: int) -> tuple[tuple[FieldView, ...], ...]:
    rows: list[list[FieldView]] = []
    used = columns
    for view in fields:
        span = min(view.span, columns)
        if used + span > columns:
            rows.append([])
            used = 0
        rows[-1].append(view)
        used += span
    return tuple(tuple(r) for r in rows)


def _main_field(entity: EntitySpec, spec: FieldSpec, placed: FormFieldSpec, data: FormData,
                env: FormEnv, errors: _Errors) -> FieldView:
    state = data.conditions.get(spec.code, _NO_STATE)
    widget = widget_of(spec, placed)
    element = f"f-{spec.code}"
    readonly = spec.code in data.access.read_only or bool(state.get("readonly"))
    numbered = entity.numbering is not None and entity.numbering.field == spec.code
    return _field_view(
        spec, widget, data.values.get(spec.code), env, name=spec.code, element=element,
        testid=f"field-{spec.code}", readonly=readonly,
        required=_required(spec, state), visible=state.get("visible", True),
        errors=errors.take(spec.code, element), help=env.tr(placed.help or spec.description),
        span=placed.span, conditional=any(placed.condition(k) for k in
                                          ("visible_when", "required_when", "readonly_when")),
        placeholder=_AUTO.get(env.language, "") if numbered and not data.values.get(spec.code)
        else "")


_AUTO = {"zh-CN": "保存后自动生成", "en": "assigned on save"}


def _required(spec: FieldSpec, state: Mapping[str, bool]) -> bool:
    if state.get("visible") is False:
        return False
    if "required" in state:
        return bool(state["required"])
    return spec.required and spec.default_formula is None and not spec.is_computed


def _field_view(spec: FieldSpec, widget: str, value: Any, env: FormEnv, *, name: str,
                element: str, testid: str, readonly: bool, required: bool,
                visible: bool = True, errors: tuple[str, ...] = (), help: str = "",
                span: int = 1, conditional: bool = False, placeholder: str = "") -> FieldView:
    readonly = readonly or spec.is_computed
    required = required and not readonly and widget != "checkbox"  # false is a value too
    return FieldView(
        code=spec.code, name=name, id=element, widget=widget, label=env.tr(spec.label),
        value=display_text(spec, value, env.language, env.zone) if spec.is_computed
        else input_text(spec, value, env.zone), checked=value is True, required=required,
        readonly=readonly, visible=visible, errors=errors, help=help, span=span,
        options=_options(spec, widget, value, env), lookup=_lookup(spec, widget),
        maxlength=spec.length if spec.type == "string" else None, testid=testid,
        conditional=conditional, placeholder=placeholder)


def _lookup(spec: FieldSpec, widget: str) -> tuple[str, str] | None:
    kind = LABELLED.get(widget)
    if kind is None:
        return None
    return kind, (spec.reference or "") if kind == "reference" else ""


def _options(spec: FieldSpec, widget: str, value: Any, env: FormEnv) -> tuple[Option, ...]:
    if widget in ("select", "radio") and spec.dictionary:
        return _enum_options(spec, value, env)
    kind = LABELLED.get(widget)
    if kind is None or value in (None, ""):
        return ()
    target = (spec.reference or "") if kind == "reference" else ""
    text = env.texts.get((kind, target), {}).get(value)
    return (Option(str(value), text or str(value), True),)


def _enum_options(spec: FieldSpec, value: Any, env: FormEnv) -> tuple[Option, ...]:
    dictionary = env.dictionaries.get(spec.dictionary or "")
    if dictionary is None:
        return (Option(str(value), str(value), True),) if value else ()
    items = sorted(dictionary.items, key=lambda i: (i.sort, i.code))
    options = [Option(i.code, env.tr(i.label), i.code == value) for i in items
               if i.code == value or _active(i, env.today)]
    if value not in (None, "") and not any(o.selected for o in options):
        options.append(Option(str(value), str(value), True))  # a value no longer known
    return tuple(options)


def _active(item: Any, today: date) -> bool:
    return item.active and (item.valid_from is None or item.valid_from <= today) and (
        item.valid_to is None or today <= item.valid_to)


# -- line editors -------------------------------------------------------------------

def _lines(child: ChildSpec | None, data: FormData, env: FormEnv,
           errors: _Errors) -> LinesView:
    assert child is not None
    code = child.code
    shown = tuple(f for f in child.fields if f"{code}.{f.code}" not in data.access.hidden)
    locked = code in data.access.read_only
    rows = tuple(_line(child, shown, str(i), line, data, env, errors, locked)
                 for i, line in enumerate(data.lines.get(code, ())))
    template = _line(child, shown, TEMPLATE_INDEX, {}, data, env, None, locked)
    columns = tuple(FieldView(code=f.code, name=f.code, id=f"h-{code}-{f.code}",
                              widget=widget_of(f), label=env.tr(f.label),
                              required=f.required and f.default_formula is None)
                    for f in shown)
    return LinesView(child=code, label=env.tr(child.label), columns=columns, lines=rows,
                     template=template, totals=line_totals(child, data.lines.get(code, ()),
                                                           env.language, data.access.hidden),
                     errors=errors.take(code, f"lines-{code}"), readonly=locked)


def _line(child: ChildSpec, shown: tuple[FieldSpec, ...], index: str, line: Mapping[str, Any],
          data: FormData, env: FormEnv, errors: _Errors | None, locked: bool) -> LineView:
    code = child.code
    cells = []
    for spec in shown:
        name = line_name(code, index, spec.code)
        element = f"f-{name}"
        cells.append(_field_view(
            spec, widget_of(spec), line.get(spec.code), env, name=name, element=element,
            testid=f"line-{name}",
            readonly=locked or f"{code}.{spec.code}" in data.access.read_only,
            required=spec.required and spec.default_formula is None,
            errors=errors.take(f"{code}.{index}.{spec.code}", element) if errors else ()))
    own: tuple[str, ...] = ()
    if errors is not None:
        row = f"f-{code}-{index}"
        own = errors.take(f"{code}.{index}", row) + errors.take(f"{code}.{index}.id", row)
    return LineView(index=index, id=line.get("id"), cells=tuple(cells), errors=own)


def line_totals(child: ChildSpec, lines: Sequence[Mapping[str, Any]], language: str,
                hidden: frozenset[str] = frozenset()) -> dict[str, str]:
    """Column totals of the ``totalled`` fields of ``child`` over ``lines``
    (values that are not numbers — text being typed — count as nothing)."""
    totals = {}
    for spec in child.fields:
        if spec.code in child.totalled and f"{child.code}.{spec.code}" not in hidden:
            totals[spec.code] = total_text(spec, (line.get(spec.code) for line in lines),
                                          language)
    return totals


# -- what the page must fetch, and the live form's answer ---------------------------

def wanted_texts(entity: EntitySpec, values: Mapping[str, Any],
                 lines: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[tuple[str, str], set]:
    """The referenced values whose texts the form shows, by ``(kind, target)``."""
    wanted: dict[tuple[str, str], set] = {}

    def note(spec: FieldSpec, value: Any) -> None:
        kind = LABELLED.get(spec.type)
        if kind is not None and value not in (None, "") and not isinstance(value, bool):
            wanted.setdefault((kind, (spec.reference or "") if kind == "reference" else ""),
                              set()).add(value)

    for spec in entity.fields:
        note(spec, values.get(spec.code))
    for child in entity.children:
        for line in lines.get(child.code, ()):
            for spec in child.fields:
                note(spec, line.get(spec.code))
    return wanted


def state_answer(entity: EntitySpec, preview: Mapping[str, Any], language: str,
                 hidden: frozenset[str] = frozenset(),
                 zone: tzinfo = timezone.utc) -> dict[str, Any]:
    """The live form's JSON from ``RecordService.preview``: condition states,
    the texts of computed fields (main and per line) and line totals."""
    values = preview.get("values", {})
    answer: dict[str, Any] = {
        "fields": {code: dict(state) for code, state in preview.get("conditions", {}).items()
                   if code not in hidden},
        "values": {f.code: display_text(f, values.get(f.code), language, zone)
                   for f in entity.fields if f.is_computed and f.code in values
                   and f.code not in hidden},
        "lines": {}, "totals": {}}
    for code, lines in preview.get("lines", {}).items():
        child = entity.child(code)
        if child is None or code in hidden:
            continue
        computed = [f for f in child.fields if f.is_computed and f"{code}.{f.code}" not in hidden]
        answer["lines"][code] = [{f.code: display_text(f, line.get(f.code), language, zone)
                                  for f in computed} for line in lines]
        answer["totals"][code] = line_totals(child, lines, language, hidden)
    return answer

