"""Deciding an approval node by its multi-approver mode (runtime layer, workflow engine).

One activation (``round``) of an approval node has *seats* — the tasks of
the approvers the node resolved, in order — and possibly *added* tasks
(加签). :func:`decide` says whether the round has passed, failed, or is still
open, **as soon as the outcome is certain**:

- ``sequential`` (依次) and ``all`` (会签): passes when every seat approved;
- ``any`` (或签): passes with the first approval;
- ``ratio`` (票签): passes as soon as approvals ≥ ratio × seats, fails as soon
  as that can no longer happen (the open seats could not make up the
  difference);
- a reject of a seat fails the round in every mode but ``ratio`` (where it is
  a vote against); a reject of an added signer always fails it (a veto).

A round whose seats have decided "passed" still waits for the signers added
*after* an approval (their adder approved); signers added *before* a seat
only decide that seat (it waits for them, then acts itself). ``auto`` tasks
count as approvals. Pure functions; no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Mapping, Sequence

__all__ = ["APPROVED", "OPEN", "Round", "Decision", "decide", "PASSED", "FAILED"]

APPROVED = frozenset({"approved", "auto"})
OPEN = frozenset({"pending", "waiting"})
PASSED = "passed"
FAILED = "rejected"


@dataclass(frozen=True)
class Round:
    """The statuses of one round: its seats, and its added tasks each with the
    status of the task that added it."""

    seats: Sequence[str]
    added: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class Decision:
    """``outcome`` passed / rejected / None (open); ``seats_done``: the seats
    have decided (any further open seat is moot and is cancelled)."""

    outcome: str | None
    seats_done: bool


def _counts(seats: Sequence[str]) -> tuple[int, int, int]:
    counted = [s for s in seats if s in APPROVED or s in OPEN or s == "rejected"]
    approved = sum(1 for s in counted if s in APPROVED)
    rejected = sum(1 for s in counted if s == "rejected")
    return len(counted), approved, rejected


def _every(seats: Sequence[str], ratio: Fraction | None) -> str | None:
    n, approved, rejected = _counts(seats)
    if rejected:
        return FAILED
    return PASSED if approved == n else None


def _any(seats: Sequence[str], ratio: Fraction | None) -> str | None:
    n, approved, rejected = _counts(seats)
    if rejected:
        return FAILED
    return PASSED if approved or n == 0 else None


def _ratio(seats: Sequence[str], ratio: Fraction | None) -> str | None:
    n, approved, rejected = _counts(seats)
    need = ratio if ratio is not None else Fraction(1)
    if approved >= need * n:
        return PASSED
    if n - rejected < need * n:
        return FAILED
    return None


_MODES: Mapping[str, Callable[[Sequence[str], Fraction | None], str | None]] = {
    "sequential": _every, "all": _every, "any": _any, "ratio": _ratio,
}


def decide(mode: str, ratio: float | None, state: Round) -> Decision:
    """The decision of one round of an approval node (see the module docstring)."""
    if any(status == "rejected" for status, _ in state.added):
        return Decision(FAILED, True)
    share = Fraction(str(ratio)) if ratio is not None else None
    seats = _MODES[mode](state.seats, share)
    if seats != PASSED:
        return Decision(seats, seats is not None)
    waiting = any(status in OPEN and adder in APPROVED for status, adder in state.added)
    return Decision(None if waiting else PASSED, True)
