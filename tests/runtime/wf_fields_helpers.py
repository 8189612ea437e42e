"""A world for the workflow field-permission tests: the ``wff`` fixture package
(``tests/fixtures/wf_fields``) installed in a fresh database, a record service
and a workflow engine over it, and contexts of its users.

``wff.form`` runs ``form_flow`` (check by ``a1`` → remote approval by ``far``)
unless its amount is over 1000 (``form_big``). Users: ``nurse`` and
``colleague`` (staff in EAST: read / create / update / delete / submit their
unit tree's forms), ``a1`` (checker: read and approve every form), ``far`` and
``outsider`` (a read grant that reaches no ordinary form and hides the
reason).
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug.security import generate_password_hash

from yunying.metadata.store import MetadataStore
from yunying.platform import identity
from yunying.platform.access import AccessControl
from yunying.platform.context import Context
from yunying.platform.notifications import Notifier
from yunying.runtime.access import Grants, RoleInDomain
from yunying.runtime.access.grants import SUPERUSER_ROLE
from yunying.runtime.access.resolve import build_grants
from yunying.runtime.formula import sql_functions
from yunying.runtime.installer import install_packages
from yunying.runtime.records import RecordService
from yunying.runtime.registry import Registry
from yunying.runtime.workflow.engine import WorkflowEngine

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "wf_fields"
FORM = "wff.form"
NOW = datetime(2026, 3, 2, 9, 0, 0)


class Fields:
    """The installed package, its record service and engine, and the users' contexts."""

    def __init__(self, db: Any) -> None:
        self.db = db
        store = MetadataStore()
        with db.connect() as conn:
            self.registry = Registry.from_packages(store.installed(conn),
                                                   metadata_version=store.current_version(conn))
        self.records = RecordService(self.registry)
        self.engine = WorkflowEngine(self.registry, self.records, Notifier())

    def user(self, code: str) -> Context:
        """``code`` as the HTTP edge sees them: restricted by their grants."""
        with self.db.connect() as conn:
            grants = build_grants(conn, AccessControl(self.db), code, NOW.date())
        return Context(actor=code, clock=lambda: NOW, grants=grants)

    def root(self) -> Context:
        """The superuser (restricted context, every grant)."""
        grants = Grants(user="root", roles=(RoleInDomain(SUPERUSER_ROLE, "*"),), today=NOW.date())
        return Context(actor="root", clock=lambda: NOW, grants=grants)

    @staticmethod
    def trusted(actor: str = "system") -> Context:
        return Context(actor=actor, clock=lambda: NOW)

    # -- records -----------------------------------------------------------------

    def create(self, by: str = "nurse", **values: Any) -> dict:
        data = {"title": "paper", "department": "CARD-W1", "amount": "100.00",
                "reason": "for the ward", "secret": "s3cret", "note": "n1",
                "lines": [{"item": "pen", "quantity": "2", "price": "1.50"},
                          {"item": "ink", "quantity": "1", "price": "9.00"}]}
        data.update(values)
        with self.db.begin(write=True) as conn:
            return self.records.create(conn, self.trusted(by), FORM, data)

    def get(self, ctx: Context, rid: int) -> dict:
        with self.db.connect() as conn:
            return self.records.get(conn, ctx, FORM, rid)

    def stored(self, rid: int) -> dict:
        return self.get(self.trusted(), rid)

    def update(self, ctx: Context, rid: int, data: dict) -> dict:
        version = self.stored(rid)["version"]
        with self.db.begin(write=True) as conn:
            return self.records.update(conn, ctx, FORM, rid, data, version=version)

    def delete(self, ctx: Context, rid: int) -> None:
        with self.db.begin(write=True) as conn:
            self.records.delete(conn, ctx, FORM, rid)

    # -- the engine --------------------------------------------------------------

    def act(self, method: str, user: str, *args: Any, **kwargs: Any) -> dict:
        with self.db.begin(write=True) as conn:
            return getattr(self.engine, method)(conn, self.trusted(user), *args, **kwargs)

    def submit(self, rid: int, by: str = "nurse") -> dict:
        return self.act("fire", by, FORM, rid, "submit")

    def task(self, view: dict, assignee: str) -> int:
        found = [t["id"] for t in view["tasks"]
                 if t["assignee"] == assignee and t["status"] == "pending"]
        assert found, view["tasks"]
        return found[-1]


@pytest.fixture
def fields(db, monkeypatch) -> Fields:
    monkeypatch.setattr(identity, "generate_password_hash",
                        functools.partial(generate_password_hash, method="pbkdf2:sha256:1"))
    db.on_sqlite_connect(sql_functions.register)
    install_packages(db, [FIXTURE], Context(actor="installer", clock=lambda: NOW))
    return Fields(db)


__all__ = ["Fields", "fields", "FORM", "NOW", "FIXTURE"]
