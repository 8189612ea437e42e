"""Database: transactions that read before they write, under concurrency."""

from __future__ import annotations

import threading

from sqlalchemy import Column, Integer, MetaData, Table, select, update

from yunying.platform.database import Database

meta = MetaData()
counter = Table("t_counter", meta, Column("id", Integer, primary_key=True),
                Column("n", Integer, nullable=False))


def _hammer(db: Database, *, threads: int, rounds: int, write: bool) -> list[BaseException]:
    errors: list[BaseException] = []

    def work() -> None:
        for _ in range(rounds):
            try:
                with db.begin(write=write) as conn:
                    conn.execute(select(counter.c.n)).scalar_one()  # read first …
                    conn.execute(update(counter).values(n=counter.c.n + 1))  # … then write
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def test_write_transactions_that_read_first_never_fail_on_lock_upgrade(database_url):
    db = Database(database_url)
    try:
        meta.create_all(db.engine)
        with db.begin(write=True) as conn:
            conn.execute(counter.insert().values(id=1, n=0))
        errors = _hammer(db, threads=6, rounds=15, write=True)
        assert errors == []
        with db.connect() as conn:
            assert conn.execute(select(counter.c.n)).scalar_one() == 90
    finally:
        db.dispose()


def test_failed_transaction_leaves_nothing_behind(database_url):
    db = Database(database_url)
    try:
        meta.create_all(db.engine)
        try:
            with db.begin(write=True) as conn:
                conn.execute(counter.insert().values(id=1, n=0))
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        with db.connect() as conn:
            assert conn.execute(select(counter)).all() == []
    finally:
        db.dispose()
