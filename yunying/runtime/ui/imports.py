"""Import jobs: an uploaded workbook previewed, then committed (runtime layer,
staff UI; no Flask).

A job runs in a background thread with the uploader's
:class:`~yunying.platform.context.Context` (captured from the request, which
ends long before the job). Both phases run every record of the file through
the real record service — ``RecordService.create``, with its validation,
permissions (the ``create`` grant applies per row), numbering, formulas,
postings and audit — inside **one** transaction, each record in a savepoint
of its own so one bad row neither spoils the others nor leaves PostgreSQL's
transaction aborted:

- **preview** collects every row's errors, located by sheet, row and column,
  and always rolls the transaction back: nothing is written;
- **commit** does the same and commits only when no row failed: all or
  nothing.

The file's rows are grouped into records (lines under their main row by
``_row``) and their cells turned into record values first, by
:class:`~yunying.runtime.ui.import_values.Converter`.

Jobs live in memory, in :class:`ImportJobs` (one per app, under
``app.extensions["yunying.imports"]``, a lock-guarded dict), not in a table:
on SQLite only one transaction may write at a time and the import's
transaction holds that lock until it ends — a progress row written from the
job could not be committed before the import itself, and a page reading it
would never see it move. A job belongs to its uploader; anybody else is told
it does not exist.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, Callable, Mapping

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from yunying.platform.context import Context
from yunying.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, \
    YunyingError
from yunying.platform.i18n import Text
from yunying.runtime.ui.excel import PARENT_ROW
from yunying.runtime.ui.excel_read import ReadBook, ReadSheet
from yunying.runtime.ui.import_values import Converter, PendingRecord

__all__ = ["JOBS_KEY", "RowError", "JobView", "ImportJobs", "RUNNING"]

JOBS_KEY = "yunying.imports"
#: states of a job whose thread is still at work.
RUNNING = frozenset({"previewing", "committing"})
_LOG = logging.getLogger(__name__)
_BUSY = Text("数据库正忙，导入未能进行，未写入任何数据；请稍后重试",
             "the database was busy, so the import could not run and wrote nothing; "
             "try again later")
_CRASHED = Text("导入因内部错误中止，未写入任何数据；请联系管理员",
                "the import stopped on an internal error and wrote nothing; "
                "contact the administrator")


@dataclass(frozen=True)
class RowError:
    """One problem of the file: where (sheet, row, column letter and label) and what."""

    sheet: str
    row: int | None
    column: str | None
    label: Text | None
    message: Text


@dataclass
class _Job:
    id: str
    owner: str
    entity: str
    filename: str
    path: str
    zone: tzinfo
    book: ReadBook | None
    state: str = "previewing"
    done: int = 0
    total: int = 0
    created: int = 0
    errors: tuple[RowError, ...] = ()
    seconds: float = 0.0
    finished_at: datetime | None = None
    thread: threading.Thread | None = None


@dataclass(frozen=True)
class JobView:
    """A consistent copy of a job for a page."""

    id: str
    entity: str
    filename: str
    state: str
    done: int
    total: int
    created: int
    errors: tuple[RowError, ...]
    ignored: tuple[Text, ...]
    seconds: float

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    @property
    def can_commit(self) -> bool:
        return self.state == "ready"


class ImportJobs:
    """The import jobs of one app (kept in ``app.extensions[JOBS_KEY]``)."""

    def __init__(self, directory: str, *, keep: timedelta = timedelta(hours=12)) -> None:
        self.directory = directory
        self._keep = keep
        self._lock = threading.Lock()
        # one job at a time per app: on SQLite a second writer would only wait for the first
        self._one_at_a_time = threading.Lock()
        self._jobs: dict[str, _Job] = {}

    def new_file(self) -> tuple[str, str]:
        """A fresh job id and the path its upload is stored at."""
        os.makedirs(self.directory, exist_ok=True)
        job_id = secrets.token_hex(16)
        return job_id, os.path.join(self.directory, f"{job_id}.xlsx")

    def preview(self, services: Any, ctx: Context, job_id: str, path: str, entity: str,
                filename: str, book: ReadBook, zone: tzinfo) -> JobView:
        """Start previewing an uploaded file read as ``book``."""
        job = _Job(job_id, ctx.actor, entity, filename, path, zone, book,
                   total=len(book.main.rows))
        with self._lock:
            self._prune()
            self._jobs[job_id] = job
        self._start(job, services, ctx, commit=False)
        return self.view(job_id, ctx.actor)

    def commit(self, services: Any, ctx: Context, job_id: str) -> JobView:
        """Start writing a previewed file; Conflict unless its preview passed."""
        with self._lock:
            job = self._owned(job_id, ctx.actor)
            if job.state != "ready":
                raise Conflict(Text("该导入任务当前不能提交（预览未通过、正在运行或已完成）",
                                    "this import cannot be committed now (its preview "
                                    "failed, it is running or it is done)"),
                               code="import_not_ready", details={"job": job_id})
            job.state, job.done, job.errors = "committing", 0, ()
        self._start(job, services, ctx, commit=True)
        return self.view(job_id, ctx.actor)

    def view(self, job_id: str, owner: str) -> JobView:
        """The job as it is now; NotFound when missing or someone else's."""
        with self._lock:
            job = self._owned(job_id, owner)
            ignored = tuple(c.label for s in job.book.sheets() for c in s.ignored) \
                if job.book is not None else ()
            return JobView(job.id, job.entity, job.filename, job.state, job.done, job.total,
                           job.created, job.errors, ignored, job.seconds)

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        """Wait for the job's thread (tests, shutdown); False on timeout."""
        with self._lock:
            thread = self._jobs[job_id].thread if job_id in self._jobs else None
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    # -- internals ---------------------------------------------------------------

    def _owned(self, job_id: str, owner: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise NotFound(Text("没有这个导入任务（可能已过期）", "there is no such import job "
                                "(it may have expired)"), code="unknown_import",
                           details={"job": job_id[:40]})
        return job

    def _prune(self) -> None:
        """Forget jobs idle for longer than ``keep`` (previews never committed
        included) and delete their files."""
        limit = datetime.now() - self._keep
        for job_id, job in list(self._jobs.items()):
            if job.state not in RUNNING and job.finished_at is not None \
                    and job.finished_at < limit:
                del self._jobs[job_id]
                if os.path.exists(job.path):
                    os.unlink(job.path)

    def _start(self, job: _Job, services: Any, ctx: Context, *, commit: bool) -> None:
        thread = threading.Thread(target=self._run, args=(job, services, ctx, commit),
                                  name=f"import-{job.id[:8]}", daemon=True)
        job.thread = thread
        thread.start()

    def _advance(self, job: _Job) -> None:
        with self._lock:
            job.done += 1

    def _run(self, job: _Job, services: Any, ctx: Context, commit: bool) -> None:
        with self._one_at_a_time:
            started = time.perf_counter()
            try:
                errors, created = _apply(job, services, ctx, commit, lambda: self._advance(job))
                state = _final_state(commit, errors)
            except OperationalError:  # e.g. SQLite still locked by another writer
                _LOG.exception("import job %s could not write", job.id)
                errors, created, state = [RowError("", None, None, None, _BUSY)], 0, "failed"
            except Exception:  # a bug must end the job visibly, not kill it silently
                _LOG.exception("import job %s failed", job.id)
                errors, created, state = [RowError("", None, None, None, _CRASHED)], 0, "failed"
            seconds = time.perf_counter() - started
        with self._lock:
            job.errors = tuple(errors)
            job.created = created if state == "committed" else 0
            job.state, job.seconds, job.finished_at = state, seconds, datetime.now()
            if state != "ready":
                job.book = _ignored_only(job.book)


def _final_state(commit: bool, errors: list[RowError]) -> str:
    if commit:
        return "rejected" if errors else "committed"
    return "invalid" if errors else "ready"


def _ignored_only(book: ReadBook | None) -> ReadBook | None:
    """The book without its rows (a finished job keeps only what pages show)."""
    if book is None:
        return None
    strip: Callable[[ReadSheet], ReadSheet] = lambda s: replace(s, rows=[])
    return ReadBook(strip(book.main), {k: strip(s) for k, s in book.children.items()})


class _RollBack(Exception):
    """Ends the import's transaction without committing it."""


def _apply(job: _Job, services: Any, ctx: Context, commit: bool,
           advance: Callable[[], None]) -> tuple[list[RowError], int]:
    assert job.book is not None
    records, errors = _records(job.book)
    created = 0
    try:
        with services.db.begin(write=True) as conn:
            runtime = services.runtime(conn)
            if not runtime.records.may(ctx, job.entity, "import"):
                raise PermissionDenied(Text("没有导入此类记录的权限", "not allowed to import "
                                            "these records"), details={"entity": job.entity})
            converter = Converter(conn, runtime.registry, job.book, job.zone)
            for pending in records:
                found = _create(conn, runtime.records, ctx, job, converter, pending)
                errors.extend(found)
                created += not found
                advance()
            if errors or not commit:
                raise _RollBack
    except _RollBack:
        pass
    except YunyingError as exc:
        errors.append(RowError(job.book.main.title, None, None, None, exc.message))
    order = {sheet.title: n for n, sheet in enumerate(job.book.sheets())}
    errors.sort(key=lambda e: (order.get(e.sheet, -1), e.row or 0,
                               len(e.column or ""), e.column or ""))
    return errors, created


def _records(book: ReadBook) -> tuple[list[PendingRecord], list[RowError]]:
    """The file's records, lines grouped under their main row by ``_row``."""
    rows = {number for number, _ in book.main.rows}
    lines: dict[int, dict[str, list[tuple[int, Mapping[str, Any]]]]] = {}
    errors: list[RowError] = []
    for code, sheet in book.children.items():
        column = sheet.spec.column(PARENT_ROW)
        for number, values in sheet.rows:
            values = dict(values)
            parent = _parent_row(values.pop(PARENT_ROW, None))
            if parent not in rows:
                errors.append(RowError(sheet.title, number, sheet.letters.get(PARENT_ROW),
                                       column.label if column else None, Text(
                                           "主表行号应为主表中某个数据行的行号",
                                           "the main sheet row must be the row number of a "
                                           "record in the main sheet")))
                continue
            lines.setdefault(parent, {}).setdefault(code, []).append((number, values))
    records = [PendingRecord(number, values,
                             {k: tuple(v) for k, v in lines.get(number, {}).items()})
               for number, values in book.main.rows]
    return records, errors


def _parent_row(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value if isinstance(value, int) else None


def _create(conn: Connection, records: Any, ctx: Context, job: _Job, converter: Converter,
            pending: PendingRecord) -> list[RowError]:
    """Create one record in a savepoint; its located errors (empty: created)."""
    payload, problems, keys = converter.payload(pending)
    book = job.book
    assert book is not None
    errors = [_located(book, pending, path, message) for path, message in problems.items()]
    try:
        with conn.begin_nested():
            records.create(conn, ctx, job.entity, payload)
            if errors:
                raise _RollBack   # a row with unreadable cells is never kept
    except _RollBack:
        pass
    except ValidationFailed as exc:
        fields = exc.details.get("fields", {}) if isinstance(exc.details, Mapping) else {}
        for path, entries in fields.items():
            if path in problems:
                continue      # the service saw the cell as empty: its own error stands
            for entry in entries:
                message = keys.get(path) if entry.get("code") == "reference" else None
                errors.append(_located(book, pending, path, message or _text(entry)))
    except YunyingError as exc:
        errors.append(_located(book, pending, "", exc.message))
    return errors


def _text(entry: Mapping[str, Any]) -> Text:
    message = entry.get("message") or {}
    return Text(str(message.get("zh-CN", "")), str(message.get("en", "")))


def _located(book: ReadBook, pending: PendingRecord, path: str, message: Text) -> RowError:
    """Where an error path (``field``, ``child.i.field``) of a record sits."""
    parts = path.split(".")
    sheet, row, code = book.main, pending.row, parts[0]
    child_lines = pending.lines.get(parts[0])
    if parts[0] in book.children and child_lines:
        sheet, code = book.children[parts[0]], ""
        if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(child_lines):
            row, code = child_lines[int(parts[1])][0], ".".join(parts[2:])
    column = sheet.spec.column(code)
    return RowError(sheet.title, row, sheet.letters.get(code),
                    column.label if column else None, message)
