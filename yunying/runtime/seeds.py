"""Seed and demo rows written through the record service (runtime layer).

Seed rows name other rows by their key value (``item: WS-0001``), never by
database id; the loader resolves those keys, upserts each row by its own key,
and turns every validation failure into an ``invalid_seed`` package issue
located at the row (file + JSON path). All issues are raised together.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from sqlalchemy import Connection

from yunying.metadata.issues import Issue
from yunying.metadata.spec import EntitySpec, FieldSpec, SeedSpec
from yunying.platform.context import Context
from yunying.platform.errors import InvalidPackage, ValidationFailed
from yunying.platform.i18n import Text
from yunying.runtime.records import RecordService
from yunying.runtime.registry import Registry

__all__ = ["SeedLoader"]


class _RowRejected(Exception):
    """A row could not be prepared; its issues are already collected."""


class SeedLoader:
    def __init__(self, registry: Registry, records: RecordService) -> None:
        self._registry = registry
        self._records = records

    def load(self, conn: Connection, ctx: Context,
             seeds: Iterable[SeedSpec]) -> dict[str, int]:
        """Write every seed's rows; returns rows written per seed file."""
        issues: list[Issue] = []
        counts: dict[str, int] = {}
        for seed in self._ordered(seeds):
            counts[f"{seed.package}/{seed.file}"] = self._load_seed(conn, ctx, seed, issues)
        if issues:
            raise InvalidPackage(issues)
        return counts

    def _ordered(self, seeds: Iterable[SeedSpec]) -> list[SeedSpec]:
        """Seeds of referenced entities before the seeds that reference them."""
        pending = list(seeds)
        ordered: list[SeedSpec] = []
        while pending:
            entities = {s.entity for s in pending}
            ready = [s for s in pending if not (self._targets(s.entity) & (entities - {s.entity}))]
            ready = ready or pending[:1]  # a reference cycle: keep file order
            ordered.extend(ready)
            pending = [s for s in pending if s not in ready]
        return ordered

    def _targets(self, entity: str) -> set[str]:
        spec = self._registry.entity(entity)
        if spec is None:
            return set()
        fields = list(spec.fields) + [f for c in spec.children for f in c.fields]
        return {f.reference for f in fields if f.type == "reference" and f.reference}

    def _load_seed(self, conn: Connection, ctx: Context, seed: SeedSpec,
                   issues: list[Issue]) -> int:
        spec = self._registry.entity(seed.entity)
        if spec is None:  # the loader's cross-check makes this unreachable
            issues.append(_issue(seed, "$.entity", Text(
                f"未知实体 {seed.entity}", f"unknown entity {seed.entity}")))
            return 0
        key = seed.key or spec.key_field
        written = 0
        for index, row in enumerate(seed.rows):
            path = f"$.rows[{index}]"
            try:
                data = self._resolve(conn, seed, spec.fields, row, path, issues)
                for child in spec.children:
                    if child.code in row:
                        data[child.code] = [
                            self._resolve(conn, seed, child.fields, line,
                                          f"{path}.{child.code}[{n}]", issues)
                            for n, line in enumerate(row[child.code] or [])]
                self._upsert(conn, ctx, spec, key, data)
                written += 1
            except _RowRejected:
                continue
            except ValidationFailed as exc:
                for field_path, errors in exc.details.get("fields", {}).items():
                    for error in errors:
                        message = error["message"]
                        issues.append(_issue(seed, f"{path}.{field_path}", Text(
                            message["zh-CN"], message["en"])))
        return written

    def _resolve(self, conn: Connection, seed: SeedSpec, fields: Iterable[FieldSpec],
                 row: Mapping[str, Any], path: str, issues: list[Issue]) -> dict[str, Any]:
        """Copy ``row``, replacing reference key values by row ids."""
        data = dict(row)
        failed = False
        for f in fields:
            value = data.get(f.code)
            if f.type != "reference" or value is None:
                continue
            target = self._registry.entity(f.reference or "")
            found = None
            if target is not None and target.key_field:
                found = self._records.find_id_by_key(
                    conn, target.qualified_code, target.key_field, value)
            if found is None:
                failed = True
                issues.append(_issue(seed, f"{path}.{f.code}", Text(
                    f"{f.reference} 中没有键值为 {value!r} 的记录",
                    f"no row with key {value!r} in {f.reference}")))
            data[f.code] = found
        if failed:
            raise _RowRejected()
        return data

    def _upsert(self, conn: Connection, ctx: Context, spec: EntitySpec,
                key: str | None, data: dict[str, Any]) -> None:
        entity = spec.qualified_code
        existing = None
        if key and data.get(key) is not None:
            existing = self._records.find_id_by_key(conn, entity, key, data[key])
        if existing is None:
            self._records.create(conn, ctx, entity, data)
            return
        current = self._records.get(conn, ctx, entity, existing)
        if not any(isinstance(v, list) for v in data.values()) and all(
                _same(current.get(k), v) for k, v in data.items()):
            return  # unchanged: re-installing must not bump versions
        self._records.update(conn, ctx, entity, existing, data, version=current["version"])


def _same(stored: Any, given: Any) -> bool:
    """Seed values arrive as YAML scalars ("32.5000"), stored ones typed."""
    return stored == given or (
        stored is not None and given is not None and str(stored) == str(given))


def _issue(seed: SeedSpec, path: str, message: Text) -> Issue:
    return Issue(code="invalid_seed", message=message, file=seed.file, path=path)
