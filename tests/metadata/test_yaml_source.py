"""YAML package files → JSON-ready data with the line of every node."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from yunying.metadata.yaml_source import MAX_NODES, parse_yaml

TEXT = """\
code: item
name: {zh: 物资, en: Item}
fields:
  - code: code
    type: string
    length: 32
  - {code: price, type: money}
"""


def test_every_node_has_its_line_and_missing_paths_use_the_nearest_parent():
    source, issues = parse_yaml(TEXT.encode(), "entities/item.yaml")
    assert issues == []
    assert source.data["fields"][1] == {"code": "price", "type": "money"}
    assert source.line("$") == 1
    assert source.line("$.name.en") == 2
    assert source.line("$.fields") == 3
    assert source.line("$.fields[0]") == 4
    assert source.line("$.fields[0].length") == 6
    assert source.line("$.fields[1].type") == 7
    assert source.line("$.fields[1].scale") == 7       # missing: its parent's line
    assert source.line("$.fields[5].code") == 3        # nearest existing parent
    assert source.line("$.nothing") == 1


def test_issue_helper_locates_by_path():
    source, _ = parse_yaml(TEXT.encode(), "entities/item.yaml")
    issue = source.issue("schema", "$.fields[0].length", __import__(
        "yunying.platform.i18n", fromlist=["Text"]).Text("长", "long"), package="p")
    assert (issue.file, issue.line, issue.path, issue.package) == (
        "entities/item.yaml", 6, "$.fields[0].length", "p")
    assert str(issue) == "p/entities/item.yaml:6 $.fields[0].length [schema] 长 / long"


def test_scalars_follow_yaml_1_2_core_and_dates_become_iso_strings():
    source, issues = parse_yaml(
        b"a: no\nb: on\nc: Y\nd: 0101\ne: 12\nf: 0.01\ng: true\nh: ~\n"
        b"i: 2020-01-01\nj: 2020-01-01 08:30:00\nk: 2020-13-01\nl: 1.0.0\n"
        b"m: -3\nn: 1e3\n'7': seven\n", "x.yaml")
    assert issues == []
    assert source.data == {
        "a": "no", "b": "on", "c": "Y", "d": "0101", "e": 12, "f": 0.01, "g": True,
        "h": None, "i": "2020-01-01", "j": "2020-01-01T08:30:00", "k": "2020-13-01",
        "l": "1.0.0", "m": -3, "n": 1000.0, "7": "seven",
    }


def test_a_syntax_error_is_located_by_line_and_column():
    source, issues = parse_yaml(b"code: x\nname: {zh: a, en: b\nfields: []\n", "e.yaml")
    assert source is None
    [issue] = issues
    assert (issue.code, issue.file, issue.path, issue.line) == ("yaml_syntax", "e.yaml", "$", 3)
    assert "line 3, column 7" in issue.message.en and "第 3 行第 7 列" in issue.message.zh


def test_bad_encoding_and_several_documents_are_syntax_errors():
    _, issues = parse_yaml("a: é\n".encode("latin-1"), "x.yaml")
    assert [i.code for i in issues] == ["yaml_syntax"]
    assert "UTF-8" in issues[0].message.en
    _, issues = parse_yaml(b"a: 1\n---\nb: 2\n", "x.yaml")
    assert [(i.code, i.line) for i in issues] == [("yaml_syntax", 2)]


def test_duplicate_keys_are_reported_at_the_second_key():
    source, issues = parse_yaml(b"a: 1\nb: 2\na: 3\n", "x.yaml")
    assert source.data == {"a": 3, "b": 2}
    assert [(i.code, i.path, i.line) for i in issues] == [("yaml_syntax", "$.a", 3)]
    assert "line 1" in issues[0].message.en


def test_unsafe_tags_and_non_json_values_are_refused():
    source, issues = parse_yaml(
        b"a: !!python/object/apply:os.system [echo hi]\nb: !!binary aGk=\n"
        b"c: !!float .inf\nd: {[1, 2]: x}\n", "x.yaml")
    assert source.data["b"] is None and source.data["c"] is None
    assert [(i.code, i.path) for i in issues] == [
        ("yaml_syntax", "$.b"), ("yaml_syntax", "$.c"), ("yaml_syntax", "$.d")]


def test_an_unknown_scalar_tag_is_refused():
    source, issues = parse_yaml(b"a: !custom value\n", "x.yaml")
    assert source.data == {"a": None}
    assert [(i.code, i.path) for i in issues] == [("yaml_syntax", "$.a")]


def test_recursive_aliases_and_alias_bombs_stop():
    source, issues = parse_yaml(b"a: &x [1, *x]\n", "x.yaml")
    assert source.data == {"a": [1, None]}
    assert [i.code for i in issues] == ["yaml_syntax"]
    bomb = ["a: &a [" + ", ".join(["x"] * 10) + "]"]
    for n, name in enumerate("bcdefg"):
        prev = "abcdefg"[n]
        bomb.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    source, issues = parse_yaml("\n".join(bomb).encode(), "x.yaml")
    assert [i.code for i in issues] == ["yaml_syntax"]
    assert "too large" in issues[0].message.en
    assert MAX_NODES < 10 ** 7


def test_an_empty_file_is_null_data():
    source, issues = parse_yaml(b"", "x.yaml")
    assert (source.data, issues) == (None, [])


_TEXT = st.text(alphabet="abcxyzABC 物资单位-_", min_size=1, max_size=12).filter(
    lambda s: s.strip() == s)
_KEY = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True)
_SCALAR = st.one_of(_TEXT, st.integers(-10 ** 9, 10 ** 9), st.booleans(), st.none())
_JSON = st.recursive(_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_KEY, inner, max_size=4)), max_leaves=20)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_KEY, _JSON, min_size=1, max_size=5), st.booleans())
def test_round_trip_of_yaml_dumps_keeps_data_and_lines_point_at_keys(data, flow):
    text = yaml.safe_dump(data, allow_unicode=True, default_flow_style=flow, sort_keys=False)
    source, issues = parse_yaml(text.encode("utf-8"), "x.yaml")
    assert issues == []
    assert source.data == data
    lines = text.splitlines()
    for path, line in source.lines.items():
        assert 1 <= line <= max(len(lines), 1)
        key = path.rsplit(".", 1)[-1]
        if not flow and not key.endswith("]") and path != "$":
            assert key in lines[line - 1]
