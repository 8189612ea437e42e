"""Concurrent writers: unique numbers, unique-value races, constraint translation."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from yunying.platform.errors import Conflict, ValidationFailed
from yunying.runtime.records.integrity import explain_integrity_error

from record_helpers import (  # noqa: F401 - fixtures
    CTX, ITEM, NOW, REQ, field_errors, items, registry, requisition, service, tables,
)


def _run_at_once(count: int, work) -> tuple[list, list[BaseException]]:
    """Start ``count`` threads together; collect results and unexpected errors."""
    barrier = threading.Barrier(count)
    results: list = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            barrier.wait()
            outcome = work(n)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            with lock:
                failures.append(exc)
            return
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, failures


def test_concurrent_creates_get_distinct_contiguous_numbers(tables, service, items):
    def work(n: int) -> str:
        numbers = []
        for _ in range(3):
            with tables.begin() as conn:
                numbers.append(service.create(conn, CTX, REQ, requisition(items))["number"])
        return numbers

    results, failures = _run_at_once(6, work)
    assert failures == []
    numbers = sorted(n for batch in results for n in batch)
    assert numbers == [f"LY202611-{seq:04d}" for seq in range(1, 19)]
    with tables.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM materials_requisition")).scalar() == 18
        assert conn.execute(text(
            "SELECT count(*) FROM materials_requisition__lines")).scalar() == 36


def test_unique_race_ends_in_one_record_and_validation_errors(tables, service):
    row = {"code": "RACE-1", "name": "并发", "category": "02", "uom": "box", "unit_price": "1"}

    def work(n: int):
        try:
            with tables.begin() as conn:
                return service.create(conn, CTX, ITEM, {**row, "name": f"并发 {n}"})["id"]
        except ValidationFailed as exc:
            return exc

    results, failures = _run_at_once(5, work)
    assert failures == []
    created = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, ValidationFailed)]
    assert len(created) == 1 and len(refused) == 4
    for exc in refused:
        assert field_errors(exc) == {"code": ["unique"]}
    with tables.connect() as conn:
        assert conn.execute(text(
            "SELECT count(*) FROM materials_item WHERE code = 'RACE-1'")).scalar() == 1


def _violation(db, statement, rows) -> IntegrityError:
    with db.begin() as conn:
        with pytest.raises(IntegrityError) as info:
            with conn.begin_nested():
                conn.execute(statement, rows)
    return info.value


def test_unique_violation_the_checks_cannot_see_is_still_located(tables, service, registry):
    """The driver's own error is mapped back to the field (a race the checks lost)."""
    table = registry.tables(ITEM).table
    row = dict(code="DUP-1", name="x", category="02", uom="box", unit_price=1, version=1,
               created_at=NOW, updated_at=NOW)
    exc = _violation(tables, insert(table), [row, row])
    error = explain_integrity_error(service._plan(ITEM), exc)
    assert isinstance(error, ValidationFailed)
    assert field_errors(error) == {"code": ["unique"]}
    message = error.details["fields"]["code"][0]["message"]
    assert message == {"zh-CN": "物资编码 的值已被其他记录使用",
                       "en": "Item code: the value is already used by another record"}


def test_unexplained_violation_becomes_a_conflict(tables, service, registry):
    lines = registry.tables(REQ).children["lines"]
    exc = _violation(tables, insert(lines), [dict(parent_id=4242, line_no=1, quantity=1)])
    error = explain_integrity_error(service._plan(REQ), exc)
    assert isinstance(error, Conflict) and error.code == "integrity"
    assert error.message.zh and error.message.en


def test_foreign_key_violation_is_located_where_the_database_names_it(
        tables, service, registry, items, dialect):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
    lines = registry.tables(REQ).children["lines"]
    exc = _violation(tables, insert(lines), [dict(parent_id=record["id"], line_no=9,
                                                   item=987654, quantity=1)])
    error = explain_integrity_error(service._plan(REQ), exc)
    if dialect == "postgresql":   # names the constraint: mapped to the line field
        assert field_errors(error) == {"lines.item": ["reference"]}
    else:                         # SQLite does not say which key failed
        assert isinstance(error, Conflict) and error.code == "integrity"
