"""Package roles → casbin policy rows (a pure function), and storing them for
the installed packages (on SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from yunying.metadata.spec import GrantSpec, PackageSpec, RoleSpec
from yunying.metadata.store import MetadataStore
from yunying.platform.access import AccessControl, PolicyRow
from yunying.platform.context import Context
from yunying.platform.i18n import Text
from yunying.platform.tables import audit_event, casbin_rule
from yunying.runtime.access.policy_rows import policy_rows, sync_policies
from yunying.runtime.installer import bundled_package_paths, install_packages
from yunying.runtime.registry import Registry

CTX = Context(actor="installer")
REQ, ITEM = "materials.requisition", "materials.item"


def _role(code, grants=(), platform=(), inherits=(), package="materials"):
    return RoleSpec(package=package, code=code, label=Text(code, code), grants=tuple(grants),
                    platform=tuple(platform), inherits=tuple(inherits))


ROLES = [
    _role("storekeeper", grants=[
        GrantSpec(ITEM, ("read", "create")),
        GrantSpec(REQ, ("read", "approve"), fields={"lines.unit_price": "read_only"}),
    ], inherits=["materials.requester"]),
    _role("requester", grants=[
        GrantSpec(REQ, ("read", "create", "submit"), scope="unit_tree", tree="admin"),
        GrantSpec(REQ, ("read",), scope="own_records"),  # the same permission again
    ]),
    _role("manager", platform=["design", "manage_users"],
          inherits=["materials.storekeeper", "base.clerk"]),
    _role("clerk", package="base"),
]


def test_rows_of_package_roles_exactly():
    assert policy_rows(ROLES) == [
        PolicyRow("p", ("role:platform.admin", "*", "*", "*")),
        # base.clerk: no grants, no rows of its own
        PolicyRow("p", ("role:materials.manager", "*", "platform", "design")),
        PolicyRow("p", ("role:materials.manager", "*", "platform", "manage_users")),
        PolicyRow("g", ("role:materials.manager", "role:materials.storekeeper", "*")),
        PolicyRow("g", ("role:materials.manager", "role:base.clerk", "*")),
        PolicyRow("p", ("role:materials.requester", "*", REQ, "read")),
        PolicyRow("p", ("role:materials.requester", "*", REQ, "create")),
        PolicyRow("p", ("role:materials.requester", "*", REQ, "submit")),
        PolicyRow("p", ("role:materials.storekeeper", "*", ITEM, "read")),
        PolicyRow("p", ("role:materials.storekeeper", "*", ITEM, "create")),
        PolicyRow("p", ("role:materials.storekeeper", "*", REQ, "read")),
        PolicyRow("p", ("role:materials.storekeeper", "*", REQ, "approve")),
        PolicyRow("g", ("role:materials.storekeeper", "role:materials.requester", "*")),
    ]


def test_rows_do_not_depend_on_the_order_roles_come_in():
    assert policy_rows(reversed(ROLES)) == policy_rows(ROLES)


def test_no_roles_still_give_the_superuser():
    assert policy_rows([]) == [PolicyRow.permission("platform.admin", "*", "*")]


def _stored(db) -> set[tuple]:
    c = casbin_rule.c
    with db.connect() as conn:
        return {tuple(v for v in row if v is not None) for row in conn.execute(
            select(c.ptype, c.v0, c.v1, c.v2, c.v3).where(c.v0.startswith("role:")))}


def _syncs(db) -> list[dict]:
    with db.connect() as conn:
        return [row.detail for row in conn.execute(
            select(audit_event).where(audit_event.c.kind == "policy.sync")
            .order_by(audit_event.c.id))]


def test_sync_stores_the_rows_of_the_installed_packages(db):
    install_packages(db, bundled_package_paths(), CTX)
    access = AccessControl(db)
    with db.begin(write=True) as conn:
        registry = Registry.from_packages(MetadataStore().installed(conn))
        assert "materials.storekeeper" in registry.roles
        before = access.version(conn)
        sync_policies(conn, CTX, access, registry)  # again, after the install's own sync
        assert access.version(conn) == before  # nothing changed: no reload anywhere
    expected = policy_rows(registry.roles.values())
    assert _stored(db) == {(row.ptype, *row.values) for row in expected}
    assert _syncs(db)[-1] == {"rows": len(expected), "added": 0, "removed": 0}


def test_sync_replaces_the_rows_of_changed_roles(db):
    access = AccessControl(db)
    first = Registry.from_packages([PackageSpec("materials", "1.0.0", Text("m", "m"),
                                                roles=tuple(ROLES[:3]))])
    second = Registry.from_packages([PackageSpec("materials", "1.1.0", Text("m", "m"),
                                                 roles=(ROLES[1],))])
    with db.begin(write=True) as conn:
        sync_policies(conn, CTX, access, first)
    with db.begin(write=True) as conn:
        sync_policies(conn, CTX, access, second)
        assert access.roles_of(conn, "nobody") == ()
    assert _stored(db) == {(row.ptype, *row.values) for row in policy_rows([ROLES[1]])}
    assert _syncs(db) == [{"rows": 13, "added": 13, "removed": 0},
                          {"rows": 4, "added": 0, "removed": 9}]
