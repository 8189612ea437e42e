"""A world for the workflow-engine tests: the ``wfe`` fixture package installed
in a fresh database, an engine over it, and short-hands to act as a user.

``tests/fixtures/wf_engine`` has one entity ``wfe.doc`` whose ``route`` field
chooses the workflow (seq, all, ratio, graph, ret, timeout, choice; anything
else → ``basic_flow``, a single any-one review by a1 / a2). Users: ``nurse``
(the initiator, staff in EAST), approvers ``a1``..``a5``, ``aud``, ``head``,
``sub``, ``boss`` (manager in EAST), ``outsider`` (manager in WEST).
"""

from __future__ import annotations

import functools
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from yunying.metadata.store import MetadataStore
from yunying.platform import identity
from yunying.platform.access import AccessControl
from yunying.platform.context import Context
from yunying.platform.notifications import Notifier
from yunying.platform.tables import notification, wf_instance, wf_task
from yunying.runtime.access.resolve import build_grants
from yunying.runtime.formula import sql_functions
from yunying.runtime.installer import install_packages
from yunying.runtime.records import RecordService
from yunying.runtime.registry import Registry
from yunying.runtime.workflow.engine import WorkflowEngine

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "wf_engine"
DOC = "wfe.doc"
NOW = datetime(2026, 3, 2, 9, 0, 0)


class World:
    """The installed package, an engine over it, and the clock (``now``)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.now = NOW
        self.reload()

    def reload(self) -> None:
        """Rebuild registry, record service and engine from the database (after an upgrade)."""
        store = MetadataStore()
        with self.db.connect() as conn:
            self.registry = Registry.from_packages(store.installed(conn),
                                                   metadata_version=store.current_version(conn))
        self.records = RecordService(self.registry)
        self.engine = WorkflowEngine(self.registry, self.records, Notifier())

    # -- contexts ----------------------------------------------------------------

    def ctx(self, user: str, *, restricted: bool = False) -> Context:
        """``user`` acting now; ``restricted``: with the user's real grants."""
        moment = self.now
        grants = None
        if restricted:
            with self.db.connect() as conn:
                grants = build_grants(conn, AccessControl(self.db), user, moment.date())
        return Context(actor=user, clock=lambda: moment, grants=grants)

    def later(self, **delta: Any) -> None:
        self.now = self.now + timedelta(**delta)

    # -- acting ------------------------------------------------------------------

    def create(self, route: str = "basic", amount: str = "100.00", by: str = "nurse",
               **more: Any) -> int:
        data = {"title": f"{route} request", "route": route, "department": "CARD-W1",
                "amount": amount, **more}
        with self.db.begin(write=True) as conn:
            return self.records.create(conn, self.ctx(by), DOC, data)["id"]

    def call(self, method: str, user: str, *args: Any, restricted: bool = False,
             **kwargs: Any) -> Any:
        """``engine.<method>(conn, ctx(user), *args, **kwargs)`` in one write transaction."""
        with self.db.begin(write=True) as conn:
            return getattr(self.engine, method)(conn, self.ctx(user, restricted=restricted),
                                                *args, **kwargs)

    def submit(self, record_id: int, by: str = "nurse", **kwargs: Any) -> dict:
        return self.call("fire", by, DOC, record_id, "submit", **kwargs)

    def start(self, route: str = "basic", amount: str = "100.00", **kwargs: Any) -> dict:
        """Create a request on ``route`` and submit it as the nurse."""
        return self.submit(self.create(route, amount), **kwargs)

    # -- looking -----------------------------------------------------------------

    def view(self, instance_id: int) -> dict:
        with self.db.connect() as conn:
            return self.engine.instance(conn, self.ctx("system"), instance_id)

    def record(self, record_id: int) -> dict:
        with self.db.connect() as conn:
            return self.records.get(conn, self.ctx("system"), DOC, record_id)

    def pending(self, view_or_id: Any) -> list[tuple[str, str]]:
        """(node, assignee) of the pending tasks, in task order."""
        view = self.view(view_or_id) if isinstance(view_or_id, int) else view_or_id
        return [(t["node"], t["assignee"]) for t in view["tasks"] if t["status"] == "pending"]

    def task_of(self, view: dict, assignee: str, status: str = "pending") -> int:
        found = [t["id"] for t in view["tasks"]
                 if t["assignee"] == assignee and t["status"] == status]
        assert found, f"no {status} task of {assignee}: {view['tasks']}"
        return found[-1]

    def decide(self, view: dict, assignee: str, method: str = "approve", **kwargs: Any) -> dict:
        """``assignee`` acts on his pending task of ``view``'s instance."""
        return self.call(method, assignee, self.task_of(view, assignee), **kwargs)

    def notices(self, user: str, kind: str | None = None) -> int:
        n = notification.c
        query = select(func.count()).select_from(notification).where(n.user_code == user)
        if kind is not None:
            query = query.where(n.kind == kind)
        with self.db.connect() as conn:
            return conn.execute(query).scalar_one()

    def count(self, table: Any) -> int:
        with self.db.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()


def statuses(view: dict) -> list[tuple[str, str, str]]:
    """(node, assignee, status) of every task of a view, in task order."""
    return [(t["node"], t["assignee"], t["status"]) for t in view["tasks"]]


def install(db: Any, path: Path = FIXTURE) -> None:
    install_packages(db, [path], Context(actor="installer", clock=lambda: NOW))


def copy_fixture(tmp: Path, edit: Callable[[Path], None] | None = None) -> Path:
    """A copy of the fixture package under ``tmp`` (``edit`` changes files in it)."""
    target = tmp / "wf_engine"
    shutil.copytree(FIXTURE, target)
    if edit is not None:
        edit(target)
    return target


@pytest.fixture
def world(db, monkeypatch) -> World:
    # users carry no password here: hash their random one cheaply (scrypt costs ~0.3 s each)
    monkeypatch.setattr(identity, "generate_password_hash",
                        functools.partial(generate_password_hash, method="pbkdf2:sha256:1"))
    db.on_sqlite_connect(sql_functions.register)
    install(db)
    return World(db)


__all__ = ["World", "world", "statuses", "install", "copy_fixture", "DOC", "NOW", "FIXTURE",
           "wf_instance", "wf_task"]
