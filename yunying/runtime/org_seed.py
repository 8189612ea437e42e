"""Org data documents applied to the organisation model (runtime layer).

:func:`apply_org_data` writes the ``org/*.yaml`` documents of packages — or
one document loaded by ``yunying org load`` — as an idempotent upsert in the
caller's transaction, in dependency order across every document: trees,
locations (parents first), units, users, units' locations, edges, heads,
assignments, role grants. Applying the same documents twice changes nothing
the second time.

Dates. A document states history: a new unit's first location and its first
parent in a tree start on the unit's ``valid_from`` (and its edges end with
the unit). A *changed* location or parent of an existing unit takes effect on
the install date ``on`` (today by default; the unit's ``valid_from`` when that
is later): an upgrade does not rewrite the past. Heads and assignments carry
their own dates and are applied on them. Trees a document declares carry no
dates: they start on :data:`TREES_SINCE` (1900-01-01, "always"), so units
of any date can hang in them; an open tree that exists with a later start
is moved back to it. Units closed before ``on`` (by a split or merge) keep their
history. Codes never change, and nothing is ever deleted: an item dropped
from a document stays as it is.

Upgrades keep local changes. With ``previous`` (the documents of the version
installed before), an item — for a unit, each of its names and type, its
location and each tree's parent — is applied only when the new document
changed it; what the package did not change, the hospital's own changes made
through the API or CLI since (a ward re-parented, a head replaced) stay.

Users a document declares are created when missing, with no usable password
(a marker no password matches): they sign in once an administrator sets one
(``yunying user set-password``). Existing users are never changed.

Every item runs in its own savepoint so every problem is found; each becomes
an :class:`~yunying.metadata.issues.Issue` naming the file and JSON path
(``$.units[3].parents.admin``), and all are raised together as
:class:`InvalidPackage` — the caller's transaction then rolls back, so nothing
is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.exc import DBAPIError

from yunying.metadata.issues import Issue
from yunying.metadata.spec import (
    AssignmentSpec, LocationSpec, OrgDataSpec, OrgHeadSpec, OrgTreeSpec, OrgUnitSpec,
    OrgUserSpec, RoleGrantSpec,
)
from yunying.platform import org, org_admin
from yunying.platform.access import AccessControl
from yunying.platform.context import Context
from yunying.platform.errors import InvalidPackage, ValidationFailed, YunyingError
from yunying.platform.i18n import Text
from yunying.platform.identity import create_user, get_user
from yunying.platform.org import LOCATION_KINDS, TREE_KINDS, OrgUnit, _close
from yunying.platform.org_changes import reparent
from yunying.platform.tables import (
    location, org_assignment, org_edge, org_head, org_location, org_tree, org_unit, user,
)
from yunying.runtime.org_documents import Previous, location_order

__all__ = ["OrgSeedReport", "COUNTS", "TREES_SINCE", "apply_org_data"]

#: the start of the trees org documents declare (documents give trees no dates).
TREES_SINCE = date(1900, 1, 1)

#: what a report counts, in the order a summary lists it.
COUNTS = ("trees_created", "trees_updated", "locations_created", "locations_updated",
          "units_created", "units_updated", "users_created", "locations_linked",
          "units_moved", "edges_added", "units_reparented", "heads_set",
          "assignments_made", "roles_granted")


@dataclass(frozen=True)
class OrgSeedReport:
    """What applying org documents wrote."""

    documents: tuple[str, ...]                  # "package/file", in order
    counts: Mapping[str, int] = field(default_factory=dict)   # COUNTS → how many
    new_users: tuple[str, ...] = ()             # created without a usable password

    @property
    def changed(self) -> bool:
        return any(self.counts.values())

    def summary(self) -> str:
        """``2 trees created, 5 units created`` (or ``unchanged``)."""
        parts = [f"{self.counts[k]} {k.replace('_', ' ')}" for k in COUNTS
                 if self.counts.get(k)]
        return ", ".join(parts) or "unchanged"


def apply_org_data(conn: Connection, ctx: Context, specs: Sequence[OrgDataSpec], *,
                   access: AccessControl, on: date | None = None,
                   previous: Sequence[OrgDataSpec] = ()) -> OrgSeedReport:
    """Upsert the org documents ``specs`` on ``conn`` (see the module doc).

    ``on`` is the install date (default: today by ``ctx``); ``previous`` the
    documents of the version installed before; ``access`` writes role grants.
    Raises InvalidPackage with every located issue; the caller's transaction
    must then roll back.
    """
    run = _Run(conn, ctx, specs, access, on or ctx.now().date(), previous)
    run.apply()
    if run.issues:
        raise InvalidPackage(run.issues)
    return OrgSeedReport(tuple(f"{s.package}/{s.file}" for s in specs),
                         {k: run.counts[k] for k in COUNTS if run.counts[k]},
                         tuple(run.new_users))


def _items(specs: Sequence[OrgDataSpec], key: str) -> Iterator[tuple[OrgDataSpec, str, Any]]:
    for doc in specs:
        for index, item in enumerate(getattr(doc, key)):
            yield doc, f"$.{key}[{index}]", item


def _unit_row(conn: Connection, code: str) -> Any:
    return conn.execute(select(org_unit).where(org_unit.c.code == code)).first()


def _existing_unit(conn: Connection, code: str) -> Any:
    """The stored unit ``code``; OrgNotFound when there is none."""
    org._require(conn, org_unit, code, org._UNIT)
    return _unit_row(conn, code)


def _target_date(row: Any, on: date) -> date | None:
    """When a changed link of the unit takes effect; None once it is closed."""
    when = max(on, row.valid_from)
    if row.valid_to is not None and row.valid_to <= when:
        return None
    return when


class _Run:
    """One application of a set of documents: counts, issues, new users."""

    def __init__(self, conn: Connection, ctx: Context, specs: Sequence[OrgDataSpec],
                 access: AccessControl, on: date, previous: Sequence[OrgDataSpec]) -> None:
        self.conn, self.ctx, self.specs, self.access, self.on = conn, ctx, specs, access, on
        self.prev = Previous(previous)
        self.counts = dict.fromkeys(COUNTS, 0)
        self.issues: list[Issue] = []
        self.new_users: list[str] = []

    def apply(self) -> None:
        """Every step of every document, in dependency order."""
        self.each(_items(self.specs, "trees"), "组织树 {}", "org tree {}", self.tree)
        self.locations()
        units = list(_items(self.specs, "units"))
        self.each(units, "组织单元 {}", "org unit {}", self.unit)
        self.each(_items(self.specs, "users"), "用户 {}", "user {}", self.user)
        self.links(units)
        self.each(_items(self.specs, "heads"), "{} 的负责人", "head of {}", self.head,
                  lambda h: h.unit)
        self.each(_items(self.specs, "assignments"), "{} 的任职", "assignment of {}",
                  self.assignment, lambda a: f"{a.user} → {a.unit}")
        self.each(_items(self.specs, "role_grants"), "{} 的角色", "role of {}",
                  self.role_grant, lambda g: f"{g.user}: {g.role} @ {g.domain}")

    def locations(self) -> None:
        """Locations, parents first; those in a cycle of parents are refused."""
        order, cycle = location_order(list(_items(self.specs, "locations")))
        for doc, path, loc in cycle:
            self.issue(doc, path, "org_cycle", Text(
                f"位置 {loc.code} 的上级形成循环", f"location {loc.code}: its parents form a cycle"))
        self.each(order, "位置 {}", "location {}", self.location)

    def links(self, units: list[tuple[OrgDataSpec, str, OrgUnitSpec]]) -> None:
        """Each unit's location and its parent in each tree, once every unit exists."""
        for doc, path, unit in units:
            if unit.location is not None:
                self.attempt(doc, f"{path}.location", Text(
                    f"组织单元 {unit.code} 的位置", f"location of org unit {unit.code}"),
                    self.link, doc, unit)
            for tree, parent in sorted(unit.parents.items()):
                self.attempt(doc, f"{path}.parents.{tree}", Text(
                    f"组织单元 {unit.code} 在组织树 {tree} 中的上级",
                    f"parent of org unit {unit.code} in tree {tree}"),
                    self.edge, doc, unit, tree, parent)

    # -- running items ---------------------------------------------------------

    def each(self, items: Iterable[tuple[OrgDataSpec, str, Any]], zh: str, en: str,
             step: Callable[..., None],
             name: Callable[[Any], str] = lambda item: item.code) -> None:
        for doc, path, item in items:
            self.attempt(doc, path, Text(zh.format(name(item)), en.format(name(item))),
                         step, doc, item)

    def attempt(self, doc: OrgDataSpec, path: str, what: Text,
                step: Callable[..., None], *args: Any) -> None:
        """Run one item's step in a savepoint; a refusal becomes a located issue."""
        try:
            with self.conn.begin_nested():
                step(*args)
        except YunyingError as exc:
            self.issue(doc, path, exc.code, Text(f"{what.zh}：{exc.message.zh}",
                                                 f"{what.en}: {exc.message.en}"))
        except DBAPIError as exc:  # a value the checks missed: still located
            reason = str(exc.orig).splitlines()[0][:200] if exc.orig else "database error"
            self.issue(doc, path, "database_error", Text(
                f"{what.zh}：数据库拒绝写入（{reason}）",
                f"{what.en}: the database refused it ({reason})"))

    def issue(self, doc: OrgDataSpec, path: str, code: str, message: Text) -> None:
        self.issues.append(Issue(code=code, message=message, file=doc.file, path=path,
                                 package=doc.package or None))

    def count(self, key: str) -> None:
        self.counts[key] += 1

    # -- trees, locations, units, users ------------------------------------------

    def tree(self, doc: OrgDataSpec, spec: OrgTreeSpec) -> None:
        row = self.conn.execute(select(org_tree).where(org_tree.c.code == spec.code)).first()
        if row is None:
            org_admin.create_tree(self.conn, spec.code, spec.label.zh, spec.label.en,
                                  spec.kind, TREES_SINCE)
            self.count("trees_created")
            return
        changes: dict[str, Any] = {}
        if self.prev.changed("tree", doc.package, spec.code, spec):
            _kind(spec.kind, TREE_KINDS, Text(f"组织树 {spec.code}", f"org tree {spec.code}"))
            changes = _differences(row, name_zh=org_admin.check_name("name", spec.label.zh),
                                   name_en=org_admin.check_name("name", spec.label.en),
                                   kind=spec.kind)
        if row.valid_to is None and row.valid_from > TREES_SINCE:
            changes["valid_from"] = TREES_SINCE
        if changes:
            self.conn.execute(update(org_tree).where(org_tree.c.code == spec.code)
                              .values(**changes))
            self.count("trees_updated")

    def location(self, doc: OrgDataSpec, spec: LocationSpec) -> None:
        row = self.conn.execute(select(location).where(location.c.code == spec.code)).first()
        if row is None:
            org_admin.create_location(self.conn, spec.code, spec.label.zh, spec.label.en,
                                      spec.kind, spec.parent)
            self.count("locations_created")
            return
        if not self.prev.changed("location", doc.package, spec.code, spec):
            return
        _kind(spec.kind, LOCATION_KINDS, Text(f"位置 {spec.code}", f"location {spec.code}"))
        changes = _differences(row, name_zh=org_admin.check_name("name", spec.label.zh),
                               name_en=org_admin.check_name("name", spec.label.en),
                               kind=spec.kind, parent_code=spec.parent)
        if "parent_code" in changes and spec.parent is not None \
                and spec.code in org.location_path(self.conn, spec.parent):
            raise org.OrgCycle(Text(
                f"位置 {spec.parent} 在 {spec.code} 之下，不能作为其上级",
                f"location {spec.parent!r} is inside {spec.code!r}: it cannot be its parent"),
                details={"location": spec.code, "parent": spec.parent})
        if changes:
            self.conn.execute(update(location).where(location.c.code == spec.code)
                              .values(**changes))
            self.count("locations_updated")

    def unit(self, doc: OrgDataSpec, spec: OrgUnitSpec) -> None:
        if _unit_row(self.conn, spec.code) is None:
            org_admin.create_unit(self.conn, OrgUnit(
                spec.code, spec.label.zh, spec.label.en, spec.type, spec.valid_from,
                spec.valid_to))
            self.count("units_created")
        elif self.prev.unit_changed(doc.package, spec, "names") and org_admin.update_unit(
                self.conn, spec.code, name_zh=spec.label.zh, name_en=spec.label.en,
                unit_type=spec.type):
            self.count("units_updated")

    def user(self, doc: OrgDataSpec, spec: OrgUserSpec) -> None:
        if self.conn.execute(select(user.c.id).where(user.c.code == spec.code)).first():
            return  # existing users are never changed
        create_user(self.conn, self.ctx, spec.code, spec.name, None)
        self.new_users.append(spec.code)
        self.count("users_created")

    # -- links between units ---------------------------------------------------------

    def link(self, doc: OrgDataSpec, spec: OrgUnitSpec) -> None:
        if not self.prev.unit_changed(doc.package, spec, "location"):
            return
        row = _existing_unit(self.conn, spec.code)
        ever = self.conn.execute(select(org_location.c.id)
                                 .where(org_location.c.unit_code == spec.code)).first()
        if ever is None:
            org.move_location(self.conn, spec.code, spec.location, row.valid_from)
            self.count("locations_linked")
            return
        when = _target_date(row, self.on)
        if when is None or org.location_of(self.conn, spec.code, when) == spec.location:
            return
        org.move_location(self.conn, spec.code, spec.location, when)
        self.count("units_moved")

    def edge(self, doc: OrgDataSpec, spec: OrgUnitSpec, tree: str, parent: str) -> None:
        if not self.prev.unit_changed(doc.package, spec, "parent", tree):
            return
        row = _existing_unit(self.conn, spec.code)
        e = org_edge
        mine = and_(e.c.tree_code == tree, e.c.child_code == spec.code)
        if self.conn.execute(select(e.c.id).where(mine)).first() is None:
            org.add_edge(self.conn, tree, parent, spec.code, row.valid_from, row.valid_to)
            self.count("edges_added")
            return
        when = _target_date(row, self.on)
        if when is None:
            return
        current = self.conn.execute(select(e.c.parent_code)
                                    .where(mine, org._active(e, when))).scalar()
        if current != parent:
            reparent(self.conn, tree, spec.code, parent, when)
            self.count("units_reparented")

    # -- people ----------------------------------------------------------------------

    def head(self, doc: OrgDataSpec, spec: OrgHeadSpec) -> None:
        if self.prev.has("heads", doc.package, spec):
            return
        get_user(self.conn, spec.user)
        current = self.conn.execute(select(org_head.c.user_code).where(
            org_head.c.unit_code == spec.unit, org._active(org_head, spec.valid_from))).scalar()
        if current != spec.user:
            org.set_head(self.conn, spec.unit, spec.user, spec.valid_from)
            self.count("heads_set")

    def assignment(self, doc: OrgDataSpec, spec: AssignmentSpec) -> None:
        if self.prev.has("assignments", doc.package, spec):
            return
        get_user(self.conn, spec.user)
        a = org_assignment
        mine = a.c.user_code == spec.user
        row = self.conn.execute(select(a).where(mine, a.c.unit_code == spec.unit,
                                                org._active(a, spec.valid_from))).first()
        if row is not None and bool(row.is_primary) == spec.primary:
            return
        if row is not None:
            _close(self.conn, a, a.c.id == row.id, spec.valid_from)
        if spec.primary:  # the user's primary unit moves here
            _close(self.conn, a, and_(mine, a.c.is_primary.is_(True)), spec.valid_from)
        org.assign(self.conn, spec.user, spec.unit, spec.valid_from, primary=spec.primary)
        self.count("assignments_made")

    def role_grant(self, doc: OrgDataSpec, spec: RoleGrantSpec) -> None:
        if self.prev.has("role_grants", doc.package, spec):
            return
        held = {(h.role, h.domain) for h in self.access.assignments(self.conn, spec.user)}
        if (spec.role, spec.domain) in held:
            return
        self.access.grant_role(self.conn, self.ctx, spec.user, spec.role, spec.domain)
        self.count("roles_granted")


def _kind(value: str, allowed: tuple[str, ...], what: Text) -> None:
    if value not in allowed:
        raise ValidationFailed(Text(f"{what.zh} 的类别 {value} 无效，可选：{'、'.join(allowed)}",
                                    f"{what.en}: kind {value!r} is not one of "
                                    f"{', '.join(allowed)}"),
                               details={"kind": value, "allowed": list(allowed)})


def _differences(row: Any, **wanted: Any) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if getattr(row, k) != v}
