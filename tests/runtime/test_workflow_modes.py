"""Pure parts of the workflow engine: deciding a round by its mode, and the
chain graph (owners of parallel branches, ancestors, descendants)."""

from __future__ import annotations

import pytest

from yunying.metadata.workflow_spec import BranchSpec, ChainSpec, NodeSpec
from yunying.platform.i18n import Text
from yunying.runtime.workflow.graph import ChainGraph
from yunying.runtime.workflow.modes import Decision, Round, decide

P, W, A, R, AUTO, X, T = "pending", "waiting", "approved", "rejected", "auto", "cancelled", \
    "transferred"


@pytest.mark.parametrize("mode, seats, outcome, done", [
    # sequential and all: every seat, a reject fails at once
    ("sequential", (A, P, W), None, False),
    ("sequential", (A, A, A), "passed", True),
    ("sequential", (A, R, W), "rejected", True),
    ("all", (A, P, P), None, False),
    ("all", (A, AUTO, A), "passed", True),
    ("all", (P, R, P), "rejected", True),
    ("all", (T, A, A), "passed", True),          # a transferred seat is replaced, not counted
    # any: the first decision decides
    ("any", (P, P), None, False),
    ("any", (P, A), "passed", True),
    ("any", (AUTO, P), "passed", True),
    ("any", (R, P), "rejected", True),
    ("any", (), "passed", True),                  # nobody left to act
])
def test_sequential_all_any(mode, seats, outcome, done):
    assert decide(mode, None, Round(seats)) == Decision(outcome, done)


@pytest.mark.parametrize("seats, outcome", [
    ((A, A, P, P, P), None),          # 2 of 5: 3 needed
    ((A, A, A, P, P), "passed"),      # 3 ≥ 0.6 × 5 — decided before the others voted
    ((R, R, P, P, P), None),          # 3 could still approve
    ((R, R, R, P, P), "rejected"),    # at most 2 can approve now: certain
    ((A, R, A, R, A), "passed"),
    ((A, R, R, A, R), "rejected"),
])
def test_ratio_is_decided_as_soon_as_certain(seats, outcome):
    decision = decide("ratio", 0.6, Round(seats))
    assert decision.outcome == outcome
    assert decision.seats_done == (outcome is not None)


def test_ratio_boundaries_are_exact():
    # 0.5 of 4 = 2 approvals exactly (no float rounding)
    assert decide("ratio", 0.5, Round((A, A, P, P))).outcome == "passed"
    assert decide("ratio", 0.5, Round((R, R, R, P))).outcome == "rejected"
    assert decide("ratio", 0.5, Round((R, R, P, P))).outcome is None
    assert decide("ratio", 1.0, Round((A, A, P))).outcome is None
    assert decide("ratio", 1.0, Round((A, A, R))).outcome == "rejected"


def test_signers_added_after_an_approval_hold_the_round():
    # any: a1 approved and added someone after him: the seats decided, the round waits
    waiting = decide("any", None, Round((A, P), added=((P, A),)))
    assert waiting == Decision(None, True)
    assert decide("any", None, Round((A, X), added=((A, A),))) == Decision("passed", True)
    # a signer added *before* a seat only decides that seat
    assert decide("all", None, Round((W, A), added=((P, W),))) == Decision(None, False)


def test_an_added_signer_rejecting_vetoes_the_round():
    assert decide("ratio", 0.5, Round((A, A, P), added=((R, A),))) == Decision("rejected", True)
    assert decide("any", None, Round((W, P), added=((R, W),))) == Decision("rejected", True)


# -- the chain graph ---------------------------------------------------------------

def _node(code: str, kind: str = "approval", next_: str | None = None,
          branches: tuple[str, ...] = ()) -> NodeSpec:
    return NodeSpec(code=code, kind=kind, label=Text(code, code), next=next_,
                    branches=tuple(BranchSpec(next=b) for b in branches))


CHAIN = ChainSpec(code="main", label=Text("链", "Chain"), start="first", nodes=(
    _node("first", next_="check"),
    _node("check", "condition", branches=("big", "small")),
    _node("big", next_="both"),
    _node("small", next_="both"),
    _node("both", "parallel", next_="after", branches=("p1", "p2")),
    _node("p1"),
    _node("p2", next_="inner"),
    _node("inner", "parallel", next_="p2_done", branches=("q1", "q2")),
    _node("q1"),
    _node("q2"),
    _node("p2_done", "cc"),
    _node("after", next_="end"),
    _node("end", "end"),
))


def test_owners_are_the_innermost_parallel():
    graph = ChainGraph.of(CHAIN)
    assert graph.owner["first"] is None and graph.owner["big"] is None
    assert graph.owner["p1"] == "both" and graph.owner["p2"] == "both"
    assert graph.owner["inner"] == "both" and graph.owner["p2_done"] == "both"
    assert graph.owner["q1"] == "inner"
    assert graph.owner["after"] is None and graph.owner["end"] is None
    assert graph.enclosing("q2") == ("inner", "both")
    assert graph.enclosing("after") == ()


def test_ancestors_and_descendants():
    graph = ChainGraph.of(CHAIN)
    assert graph.ancestors("p1") == {"first", "check", "big", "small", "both"}
    assert "p2" not in graph.ancestors("p1")          # a sibling branch is not earlier
    assert graph.descendants("big") >= {"both", "p1", "p2", "q1", "after", "end"}
    assert "small" not in graph.descendants("big")
    assert graph.descendants("end") == frozenset()
    with pytest.raises(KeyError):
        graph.node("nowhere")
