"""common.inputs: the guarded JSON parser every spec, metadata and sidecar read goes through."""
from __future__ import annotations

import os

import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.inputs import MAX_JSON_DEPTH, parse_json, read_json_file


def test_json_nested_100000_deep_is_an_error_not_a_recursion_error():
    for text in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
        with pytest.raises(UserError, match=r"spec file x\.json: JSON nested 100000 levels deep"):
            parse_json(text, "spec file x.json")
    deep_ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(deep_ok, "x") is not None
    # brackets inside strings (escaped quotes too) are text, not nesting
    assert parse_json('{"a": "[[[[\\"[[[[", "b": ["]]"]}', "x") == {"a": '[[[["[[[[', "b": ["]]"]}


def test_duplicate_keys_are_refused_at_any_depth():
    with pytest.raises(UserError, match="sidecar s.json: duplicate key 'name'"):
        parse_json('{"name": "a", "name": "b"}', "sidecar s.json")
    with pytest.raises(UserError, match="duplicate key 'kind'"):
        parse_json('{"output": {"kind": "logits", "kind": "probabilities"}}', "x")
    assert parse_json('[{"a": 1}, {"a": 2}]', "x") == [{"a": 1}, {"a": 2}]


def test_invalid_json_and_bytes():
    with pytest.raises(UserError, match="x: not valid JSON"):
        parse_json("{", "x")
    with pytest.raises(UserError, match="x: not UTF-8"):
        parse_json(b"\xff{}", "x")
    assert parse_json('\ufeff{"a": 1}'.encode(), "x") == {"a": 1}


def test_read_json_file_is_bounded_and_refuses_fifos_and_devices(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(2000)
    with pytest.raises(UserError, match="has 2000 bytes, more than the limit of 1000"):
        read_json_file(big, 1000, "sidecar")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        read_json_file(fifo, 1000, "sidecar")  # returns at once: opened non-blocking
    with pytest.raises(UserError, match="not a regular file"):
        read_json_file("/dev/zero", 1000, "sidecar")
    with pytest.raises(UserError, match="sidecar .*missing.json not found"):
        read_json_file(tmp_path / "missing.json", 1000, "sidecar")
