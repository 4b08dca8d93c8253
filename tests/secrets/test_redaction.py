"""The Redactor that masks secret values in stored job logs."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from apps.workspaces.redaction import MASK, Redactor


def test_every_occurrence_of_a_value_is_masked():
    redactor = Redactor(["hunter2-long"])
    assert redactor.redact("pw=hunter2-long, again hunter2-long.") == "pw=***, again ***."


def test_a_line_without_any_value_comes_back_unchanged_and_is_the_same_object():
    line = "epoch 3 loss=0.12"
    assert Redactor(["hunter2-long"]).redact(line) is line


def test_a_value_glued_to_other_text_is_still_masked():
    # No separator around the value: it is masked wherever it sits.
    assert Redactor(["s3cr3t"]).redact("xxs3cr3tyy") == f"xx{MASK}yy"
    assert Redactor(["s3cr3t"]).redact("s3cr3ts3cr3t") == MASK


def test_values_shorter_than_four_characters_are_not_masked():
    redactor = Redactor(["abc", "", "ok"])
    assert not redactor
    assert redactor.redact("abc ok") == "abc ok"


def test_the_longest_value_wins_where_two_start_at_the_same_place():
    redactor = Redactor(["pass", "password123"])
    assert redactor.redact("x=password123;") == "x=***;"


def test_overlapping_values_leave_no_part_of_either_visible():
    # "abcdef" and "defghi" overlap in "def": a left-to-right regex would leave "ghi".
    redactor = Redactor(["abcdef", "defghi"])
    assert redactor.redact("<abcdefghi>") == "<***>"
    assert redactor.redact("<defghi abcdef>") == "<*** ***>"


def test_a_value_nested_inside_another_is_covered_by_the_longer_one():
    redactor = Redactor(["token", "mytoken-value"])
    assert redactor.redact("mytoken-value token") == "*** ***"


def test_regex_metacharacters_in_a_value_are_taken_literally():
    value = r"a.b*c+(d)[e]{2}|f\g^$?"
    redactor = Redactor([value])
    assert redactor.redact(f"v={value}!") == "v=***!"
    assert redactor.redact("v=aXbbbbc+(d)[e]{2}|f\\g^$?") == "v=aXbbbbc+(d)[e]{2}|f\\g^$?"


def test_url_quoted_and_base64_forms_are_masked_too():
    value = "p@ss w/rd:1&2"
    redactor = Redactor([value])
    encoded = [
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        base64.b64encode(value.encode()).decode(),
        base64.urlsafe_b64encode(value.encode()).decode(),
        json.dumps(value)[1:-1],
    ]
    for form in encoded:
        assert redactor.redact(f"[{form}]") == "[***]", form
    assert redactor.redact(f"postgres://user:{quote(value, safe='')}@db/x") == (
        "postgres://user:***@db/x"
    )


def test_unpadded_base64_is_masked():
    value = "abcde"  # base64 'YWJjZGU=' has padding
    assert Redactor([value]).redact("token YWJjZGU.") == "token ***."


def test_each_line_of_a_multi_line_value_is_masked_on_its_own():
    pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----"
    redactor = Redactor([pem])
    assert redactor.redact("MIIBOgIBAAJBAKj34GkxFhD9") == MASK
    assert redactor.redact(pem) == MASK


def test_non_ascii_values_are_masked():
    assert Redactor(["pässwörd"]).redact("pw: pässwörd") == "pw: ***"


def test_many_secrets_over_many_lines_redact_only_where_they_stand():
    redactor = Redactor([f"secret-value-{i:03d}" for i in range(50)])
    lines = [f"step {i}: loss={i / 7:.4f} acc=0.9" for i in range(20000)]
    lines[1234] = "leak secret-value-042 here"
    out = [redactor.redact(line) for line in lines]
    assert out[1234] == "leak *** here"
    assert out[0] == lines[0]
    assert sum(line != orig for line, orig in zip(out, lines, strict=True)) == 1
