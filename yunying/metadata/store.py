"""The versioned metadata store (metadata layer).

Installed packages live in the platform tables as their validated JSON
documents: one ``yy_metadata_item`` row per manifest, entity, dictionary,
role, seed, demo, org, workflow, posting and indicator file (layer
``package``), one ``yy_metadata_version`` row per publish with who, when, a
diff and the schema plan, and one ``yy_package`` row per package with its current
version. Specs are rebuilt from the stored documents with the same builder
the loader uses, so they compare equal.
Rows of layer ``local`` (the hospital's overlay) are never touched here.

The store keeps no state: every method takes the caller's connection, so a
record happens inside the caller's install transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, delete, func, insert, select, update

from yunying.metadata.builder import DOCUMENT_KINDS, package_from_documents, with_seed_keys
from yunying.metadata.spec import PackageSpec
from yunying.metadata.versions import dependency_order
from yunying.platform.tables import metadata_item, metadata_version, package

__all__ = ["MetadataStore", "PACKAGE_LAYER", "LOCAL_LAYER", "ITEM_KINDS"]

PACKAGE_LAYER = "package"
LOCAL_LAYER = "local"
#: stored kinds, in the order a diff lists them.
ITEM_KINDS = ("package", *DOCUMENT_KINDS)


class MetadataStore:
    """Reads and records installed package metadata; stateless."""

    def installed(self, conn: Connection) -> list[PackageSpec]:
        """Every installed package, rebuilt from its stored documents, in
        dependency order (required packages first)."""
        checksums = dict(conn.execute(select(package.c.code, package.c.checksum)).all())
        documents: dict[str, dict[str, Any]] = {
            code: {"package": None, **{kind: {} for kind in DOCUMENT_KINDS}}
            for code in checksums}
        rows = conn.execute(
            select(metadata_item.c.package, metadata_item.c.kind, metadata_item.c.code,
                   metadata_item.c.document)
            .where(metadata_item.c.layer == PACKAGE_LAYER)
            .order_by(metadata_item.c.id))
        for code, kind, item, document in rows:
            if code not in documents:
                continue
            if kind == "package":
                documents[code]["package"] = json.loads(document)
            else:
                documents[code][kind][item] = json.loads(document)
        specs = {code: package_from_documents(docs, checksum=checksums[code])
                 for code, docs in documents.items() if docs["package"] is not None}
        entities = {e.qualified_code: e for s in specs.values() for e in s.entities}
        order, _cycles = dependency_order(
            {code: [r.package for r in s.requires] for code, s in specs.items()})
        return [with_seed_keys(specs[code], entities) for code in order]

    def installed_versions(self, conn: Connection) -> dict[str, str]:
        """Package code → installed version."""
        return dict(conn.execute(select(package.c.code, package.c.version)).all())

    def current_version(self, conn: Connection) -> int:
        """The latest metadata version number (0 before the first install)."""
        return conn.execute(select(func.coalesce(func.max(metadata_version.c.id), 0))).scalar_one()

    def history(self, conn: Connection, code: str | None = None) -> list[dict[str, Any]]:
        """Recorded versions (oldest first), optionally of one package, with
        their diff and plan decoded."""
        query = select(metadata_version).order_by(metadata_version.c.id)
        if code is not None:
            query = query.where(metadata_version.c.package == code)
        return [{**row._asdict(), "diff": json.loads(row.diff), "plan": json.loads(row.plan)}
                for row in conn.execute(query)]

    def record(self, conn: Connection, spec: PackageSpec, *, actor: str, now: datetime,
               plan: list[dict]) -> int:
        """Record an install or upgrade of ``spec``; returns the new version number.

        Writes the version row (action ``install`` when the package is not in
        ``yy_package`` yet, else ``upgrade``) with the diff against the stored
        documents, replaces the package's ``package``-layer items, and upserts
        ``yy_package``.
        """
        current = conn.execute(select(package.c.version).where(package.c.code == spec.code)).first()
        new_items = dict(_items(spec))
        diff = _diff(self._stored_items(conn, spec.code), new_items)
        inserted = conn.execute(insert(metadata_version).values(
            package=spec.code, package_version=spec.version,
            action="install" if current is None else "upgrade",
            created_at=now, created_by=actor,
            diff=_dumps(diff), plan=_dumps(plan),
        )).inserted_primary_key
        assert inserted is not None
        version = int(inserted[0])
        conn.execute(delete(metadata_item).where(
            metadata_item.c.package == spec.code, metadata_item.c.layer == PACKAGE_LAYER))
        conn.execute(insert(metadata_item), [
            {"package": spec.code, "kind": kind, "code": code, "layer": PACKAGE_LAYER,
             "document": document, "metadata_version": version}
            for (kind, code), document in new_items.items()])
        values = {"version": spec.version, "name_zh": spec.label.zh, "name_en": spec.label.en,
                  "checksum": spec.checksum, "installed_at": now, "installed_by": actor,
                  "metadata_version": version}
        if current is None:
            conn.execute(insert(package).values(code=spec.code, **values))
        else:
            conn.execute(update(package).where(package.c.code == spec.code).values(**values))
        return version

    def _stored_items(self, conn: Connection, code: str) -> dict[tuple[str, str], str]:
        rows = conn.execute(
            select(metadata_item.c.kind, metadata_item.c.code, metadata_item.c.document)
            .where(metadata_item.c.package == code, metadata_item.c.layer == PACKAGE_LAYER))
        return {(kind, item): document for kind, item, document in rows}


def _items(spec: PackageSpec) -> Iterable[tuple[tuple[str, str], str]]:
    """((kind, code), JSON document) of every item of the package, in order."""
    documents = spec.documents
    if "package" in documents:
        yield ("package", spec.code), _dumps(documents["package"])
    for kind in DOCUMENT_KINDS:
        for code, document in documents.get(kind, {}).items():
            yield (kind, code), _dumps(document)


def _diff(old: Mapping[tuple[str, str], str],
          new: Mapping[tuple[str, str], str]) -> dict[str, list[dict[str, str]]]:
    """Items added, changed (document differs) and removed, by kind then code."""
    def listed(keys: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
        ordered = sorted(keys, key=lambda k: (ITEM_KINDS.index(k[0])
                                              if k[0] in ITEM_KINDS else len(ITEM_KINDS), k))
        return [{"kind": kind, "code": code} for kind, code in ordered]
    return {
        "added": listed(new.keys() - old.keys()),
        "changed": listed(k for k in new.keys() & old.keys()
                          if _canonical(new[k]) != _canonical(old[k])),
        "removed": listed(old.keys() - new.keys()),
    }


def _canonical(document: str) -> str:
    return json.dumps(json.loads(document), sort_keys=True, ensure_ascii=False)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)
