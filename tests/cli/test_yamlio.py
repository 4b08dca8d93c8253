"""yamlio: loading YAML with line numbers, --set overrides, and field checks."""

from __future__ import annotations

import datetime as dt

import pytest

from studio.cli import yamlio
from studio.cli.yamlio import LineMap, YamlError, apply_sets, load_yaml, loads

DOC = """\
$schema: https://example.test/x.json
name: churn
tags:
  team: ml
outputs:
  - name: model
    type: mlflow_model
"""


def test_load_yaml_returns_the_data_and_the_line_of_every_key(tmp_path):
    path = tmp_path / "job.yml"
    path.write_text(DOC)

    data, lines = load_yaml(path)

    assert data["tags"] == {"team": "ml"}
    assert lines["name"] == 2
    assert lines["tags.team"] == 4
    assert lines["outputs[0]"] == 6
    assert lines["outputs[0].type"] == 7
    assert lines.source == str(path)


def test_where_names_the_line_of_a_key_or_of_its_nearest_parent():
    _, lines = loads(DOC, "job.yml")

    assert lines.where("tags.team") == "job.yml:4"
    assert lines.where("tags.missing") == "job.yml:3"
    assert lines.where("nowhere") == "job.yml:1"


def test_field_error_reads_file_line_field_message():
    _, lines = loads(DOC, "ws.yml")

    assert (
        str(yamlio.field_error(lines, "tags", "must be a mapping"))
        == "ws.yml:3: tags: must be a mapping"
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: a\ndescription: b\n  tags: c: d\n", 3),
        ("name: a\ntags: [1, 2\n", 2),
        ("name: a\n\tbad: tab\n", 2),
        ('name: "open\n', 1),
    ],
)
def test_yaml_that_does_not_parse_names_its_line(text, line):
    with pytest.raises(YamlError) as info:
        loads(text, "ws.yml")

    assert str(info.value).startswith(f"ws.yml:{line}: ")
    assert "\n" not in str(info.value)


def test_a_missing_file_is_a_yaml_error_naming_it(tmp_path):
    with pytest.raises(YamlError, match="missing.yml: cannot read the file"):
        load_yaml(tmp_path / "missing.yml")


def test_an_empty_file_or_a_list_is_not_a_mapping_of_fields():
    data, lines = loads("", "ws.yml")
    with pytest.raises(YamlError, match="ws.yml: the file is empty"):
        yamlio.require_mapping(data, lines)

    data, lines = loads("- a\n", "ws.yml")
    with pytest.raises(YamlError, match="ws.yml:1: expected a mapping of fields, not a list"):
        yamlio.require_mapping(data, lines)


def test_apply_sets_creates_nested_mappings_and_parses_values_as_yaml_scalars():
    data = {"name": "x", "tags": {"a": "b"}}

    apply_sets(
        data,
        [
            "tags.team=ml",
            "version=3",
            "settings.force_rerun=True",
            "inputs.data.path=azureml:iris:1",
            "description=",
            "outputs.model=null",
            "note=a: b",
        ],
    )

    assert data == {
        "name": "x",
        "tags": {"a": "b", "team": "ml"},
        "version": 3,
        "settings": {"force_rerun": True},
        "inputs": {"data": {"path": "azureml:iris:1"}},
        "description": "",
        "outputs": {"model": None},
        "note": "a: b",
    }


def test_apply_sets_on_none_starts_a_new_mapping_and_indexes_lists():
    data = apply_sets(None, ["jobs[0].name=a", "jobs[0].args[0]=--x", "jobs[1]=b"])

    assert data == {"jobs": [{"name": "a", "args": ["--x"]}, "b"]}


def test_apply_sets_points_the_keys_it_wrote_at_the_set():
    _, lines = loads(DOC, "ws.yml")

    apply_sets({"tags": {"team": "ml"}}, ["tags=3"], lines)

    assert lines.where("tags") == "--set tags=3"
    assert "tags.team" not in lines
    assert lines.where("name") == "ws.yml:2"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("no-equals-sign", "--set no-equals-sign: expected key.path=value"),
        ("=value", "--set =value: expected key.path=value"),
        ("a..b=1", "--set a..b=1: empty name"),
        ("name.first=x", "--set name.first=x: name: is a string, not a mapping"),
        ("items[5]=x", "--set items[5]=x: items[5]: no such list item"),
    ],
)
def test_apply_sets_refuses_what_it_cannot_apply(item, message):
    with pytest.raises(YamlError) as info:
        apply_sets({"name": "churn", "items": ["a"]}, [item])

    assert str(info.value).startswith(message)


def test_remove_paths_deletes_keys_and_refuses_absent_ones():
    data = {"tags": {"a": "1", "b": "2"}}

    yamlio.remove_paths(data, ["tags.a"])

    assert data == {"tags": {"b": "2"}}
    with pytest.raises(YamlError, match="--remove tags.zz: tags.zz: not found"):
        yamlio.remove_paths(data, ["tags.zz"])


def test_check_fields_splits_known_from_unknown_and_drops_schema_and_nulls():
    data, lines = loads(
        "$schema: x\nname: churn\nversion: 3\ndescription:\ntags: {n: 1, ok: true}\nlocation: eu\n",
        "a.yml",
    )
    spec = {
        "name": yamlio.string,
        "version": yamlio.version,
        "description": yamlio.string,
        "tags": yamlio.string_map,
    }

    known, unknown = yamlio.check_fields(data, spec, lines)

    assert known == {"name": "churn", "version": "3", "tags": {"n": "1", "ok": "true"}}
    assert unknown == {"location": "eu"}


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (yamlio.string, 12, "f.yml:1: field: must be a string, not a number"),
        (yamlio.mapping, "x", "f.yml:1: field: must be a mapping, not a string"),
        (yamlio.boolean, "yes please", "f.yml:1: field: must be true or false"),
        (yamlio.integer, 1.5, "f.yml:1: field: must be a whole number"),
        (yamlio.version, [1], "f.yml:1: field: must be a string, not a list"),
    ],
)
def test_field_kinds_refuse_the_wrong_type_with_the_line(kind, value, message):
    lines = LineMap("f.yml", {"field": 1})

    with pytest.raises(YamlError) as info:
        kind(value, "field", lines)

    assert str(info.value).startswith(message)


def test_jsonable_turns_yaml_dates_into_iso_strings():
    assert yamlio.jsonable({"d": dt.date(2024, 1, 2), 3: [dt.datetime(2024, 1, 2, 3, 4)]}) == {
        "d": "2024-01-02",
        "3": ["2024-01-02T03:04:00"],
    }
