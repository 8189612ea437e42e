"""Applying an entity's formulas to a write (runtime layer).

:func:`derive` runs inside the record service's write, before anything is
stored: it completes the cleaned payload with default-formula and computed
values and adds every failing rule to the error bag. On update, computed
fields and rules see the stored row merged with the changes (the main row
and each line named by id). Values read through references are fetched for
every row of the write at once (:mod:`.paths`).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from sqlalchemy import Connection

from yunying.metadata.spec import FieldSpec
from yunying.platform.errors import ConfigurationError, NotFound
from yunying.platform.i18n import Text
from yunying.runtime.records.formulas import Clock, Extra, RowJob, run_row
from yunying.runtime.records.messages import ErrorBag, Location, Problem
from yunying.runtime.records.paths import read_paths
from yunying.runtime.records.plan import EntityPlan, Part
from yunying.runtime.records.validation import RECORD_PATH, Payload

__all__ = ["derive", "has_formulas"]


def has_formulas(plan: EntityPlan) -> bool:
    """Whether any table of the entity has formulas to apply on writes."""
    return bool(plan.main.formulas) or any(p.formulas for p in plan.children.values())


def derive(conn: Connection, plan: EntityPlan, payload: Payload, errors: ErrorBag,
           clock: Clock, *, record_id: int | None) -> dict[str, dict[str, bool]]:
    """Fill derived values into ``payload``, check the rules and the form
    conditions; returns the main row's condition states (field → visible /
    required / readonly; empty without conditions).

    ``record_id`` is None on create, the record's id on update. Raises
    NotFound when the record to update does not exist, ConfigurationError
    when the installed formulas of the entity do not check.
    """
    if RECORD_PATH in errors.fields or not has_formulas(plan):
        return {}
    for part in (plan.main, *plan.children.values()):
        if part.formulas.broken is not None:
            raise ConfigurationError(part.formulas.broken, code="formula_configuration",
                                     details={"entity": plan.entity})
    jobs = list(_jobs(conn, plan, payload, record_id))
    paths = read_paths(conn, [(part.formulas.paths, job.values) for part, job in jobs])
    checks: dict[str | None, Extra] = {}
    for (part, job), values in zip(jobs, paths):
        extra = checks.get(part.code) or checks.setdefault(part.code,
                                                           _choices_check(part, clock))
        run_row(part.formulas, job, values, clock, errors, extra)
    return next((job.states for part, job in jobs if part is plan.main), {})


def _jobs(conn: Connection, plan: EntityPlan, payload: Payload,
          record_id: int | None) -> Iterator[tuple[Part, RowJob]]:
    """Every row of the write that has formulas, with the values it will store."""
    main = plan.main
    if main.formulas:
        stored: Mapping[str, Any] = {}
        if record_id is not None and main.formulas.needs_stored_row:
            row = conn.execute(main.read, {"record_id": record_id}).first()
            if row is None:
                raise _missing(plan, record_id)
            stored = row._mapping
        if record_id is None or stored:
            yield main, _job(main, stored, payload.values, record_id is None, Location(),
                             RECORD_PATH)
    for code, lines in payload.children.items():
        part = plan.children[code]
        if not part.formulas:
            continue
        stored_lines: dict[int, Mapping[str, Any]] = {}
        if record_id is not None and any(line.id is not None for line in lines):
            stored_lines = {r.id: r._mapping for r in conn.execute(
                part.read, {"parent_id": record_id})}
        for line in lines:
            old = stored_lines.get(line.id, {}) if line.id is not None else {}
            yield part, _job(part, old, line.values, line.id is None,
                             Location(code, part.label, line.row), "")


def _job(part: Part, stored: Mapping[str, Any], given: dict[str, Any], creating: bool,
         location: Location, record_key: str) -> RowJob:
    values = dict.fromkeys(part.stored)
    values.update({k: v for k, v in stored.items() if k in values})
    values.update(given)
    return RowJob(values=values, given=given, creating=creating, location=location,
                  labels=part.labels, record_key=record_key, stored=stored)


def _choices_check(part: Part, clock: Clock) -> Extra:
    """Enum values a default formula gives must be items of the dictionary valid today."""
    choices = dict(part.choices)

    def check(f: FieldSpec, value: Any) -> Problem | None:
        found = choices.get(f.code)
        if found is None or value is None or found.allows(value, clock.today):
            return None
        return Problem("enum", {"value": value, "dictionary": found.label})
    return check


def _missing(plan: EntityPlan, record_id: int) -> NotFound:
    return NotFound(Text(f"{plan.label.zh} 中没有 id 为 {record_id} 的记录",
                         f"{plan.label.en}: there is no record with id {record_id}"),
                    details={"entity": plan.entity, "id": record_id})

