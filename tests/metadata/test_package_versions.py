"""Versions, version ranges and dependency order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yunying.metadata.versions import dependency_order, parse_range, parse_version, satisfies
from yunying.platform.errors import YunyingError


def test_versions_compare_numerically():
    assert parse_version("1.10.0") > parse_version("1.9.3")
    assert parse_version("2.0.0") == parse_version("2.0.0")


@pytest.mark.parametrize("version, version_range, expected", [
    ("1.0.0", ">=1.0,<2", True),
    ("1.9.9", ">=1.0,<2", True),
    ("2.0.0", ">=1.0,<2", False),
    ("0.9.0", ">=1.0,<2", False),
    ("1.2.3", "~=1.2", True),
    ("2.0.0", "~=1.2", False),
    ("1.2.3", "==1.2.3", True),
    ("1.2.4", "!=1.2.3", True),
    ("1.2.3", "==1.2.*", True),
    ("1.3.0", ">1.2.9, <=1.3.0", True),
])
def test_ranges(version, version_range, expected):
    assert satisfies(version, version_range) is expected


@pytest.mark.parametrize("bad", ["~=1", ">=1.*", "latest", ">> 1"])
def test_malformed_ranges_raise_a_located_error(bad):
    with pytest.raises(YunyingError) as caught:
        parse_range(bad)
    assert caught.value.code == "invalid_version"
    assert bad in caught.value.message.en and bad in caught.value.message.zh


def test_malformed_versions_raise():
    with pytest.raises(YunyingError) as caught:
        parse_version("one")
    assert caught.value.code == "invalid_version"


def test_dependency_order_puts_requirements_first_and_ignores_installed_ones():
    order, cycles = dependency_order({
        "materials": ["base"], "finance": ["base", "materials", "installed_only"],
        "base": [], "assets": ["finance"]})
    assert order == ["base", "materials", "finance", "assets"]
    assert cycles == []


def test_dependency_cycles_are_listed_once_from_their_smallest_code():
    order, cycles = dependency_order({"c": ["a"], "a": ["b"], "b": ["c"], "d": ["d"], "e": []})
    assert cycles == [["a", "b", "c"], ["d"]]
    assert sorted(order) == ["a", "b", "c", "d", "e"]


@given(st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                         max_size=30))))
def test_any_acyclic_graph_is_ordered_with_every_edge_respected(graph):
    n, edges = graph
    requires: dict[str, list[str]] = {f"p{i:02}": [] for i in range(n)}
    for a, b in edges:
        if a > b:  # only edges to smaller numbers: acyclic
            requires[f"p{a:02}"].append(f"p{b:02}")
    order, cycles = dependency_order(requires)
    assert cycles == []
    assert sorted(order) == sorted(requires)
    position = {code: i for i, code in enumerate(order)}
    for code, wanted in requires.items():
        assert all(position[w] < position[code] for w in wanted)
