"""Worker processes for the workflow concurrency tests (imported as a plain module).

Each worker is a separate OS process (multiprocessing, spawn) with its own
engine and connections: it waits at the barrier, then plays its jobs one
transaction each and reports every outcome through the queue.
"""

from __future__ import annotations

import json
import multiprocessing
from typing import Any, Mapping, Sequence

from yunying.platform.context import Context
from yunying.platform.database import Database
from yunying.platform.errors import YunyingError
from yunying.runtime.access.resolve import build_grants
from yunying.runtime.container import Services

__all__ = ["Job", "run_at_once"]

#: one action: {"action": "approve" | "reject", "task": id, "user": code, "key": str | None}
Job = Mapping[str, Any]


def _act(services: Services, job: Job) -> dict[str, Any]:
    outcome: dict[str, Any] = {"task": job["task"], "user": job["user"], "action": job["action"]}
    try:
        with services.db.begin(write=True) as conn:
            runtime = services.runtime(conn)
            grants = build_grants(conn, services.access, job["user"], job["today"])
            ctx = Context(actor=job["user"], grants=grants)
            method = getattr(runtime.workflow, job["action"])
            response = method(conn, ctx, job["task"], comment=job.get("comment"),
                              key=job.get("key"))
        outcome.update(outcome="ok", response=json.dumps(response, sort_keys=True, default=str))
    except YunyingError as exc:
        outcome.update(outcome="refused", code=exc.code, kind=type(exc).__name__,
                       details=json.loads(json.dumps(exc.details, default=str)))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        outcome.update(outcome="crashed", error=repr(exc))
    return outcome


def _worker(url: str, jobs: Sequence[Job], barrier, queue) -> None:
    services = Services(Database(url), {})
    services.runtime()  # build the registry before the start line
    try:
        barrier.wait(timeout=60)
        queue.put([_act(services, job) for job in jobs])
    finally:
        services.close()


def run_at_once(url: str, batches: Sequence[Sequence[Job]]) -> list[dict[str, Any]]:
    """Run each batch of jobs in its own process, all starting together;
    returns every outcome (in no particular order)."""
    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(len(batches))
    queue = mp.Queue()
    processes = [mp.Process(target=_worker, args=(url, list(batch), barrier, queue))
                 for batch in batches]
    for process in processes:
        process.start()
    outcomes = [outcome for _ in processes for outcome in queue.get(timeout=120)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0, f"worker exited with {process.exitcode}"
    return outcomes
