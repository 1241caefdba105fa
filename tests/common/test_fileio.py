"""common/fileio.py: atomic writes (temporary name beside the target, then rename)."""
from __future__ import annotations

import json
import os
import stat

import pytest

from crnn_deploy.common.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text


def test_writes_and_replaces(tmp_path):
    path = tmp_path / "a.bin"
    assert atomic_write_bytes(path, b"\x00\x01") == path
    assert path.read_bytes() == b"\x00\x01"
    atomic_write_bytes(str(path), b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]  # no temporary file left


def test_mode_is_0644_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        atomic_write_text(tmp_path / "t.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "t.txt").st_mode) == 0o644


def test_text_is_utf8_and_json_sorted_indented(tmp_path):
    atomic_write_text(tmp_path / "t.txt", "café – 文字")
    assert (tmp_path / "t.txt").read_bytes() == "café – 文字".encode()
    atomic_write_json(tmp_path / "j.json", {"b": 1, "a": ["é"]})
    text = (tmp_path / "j.json").read_text(encoding="utf-8")
    assert text == '{\n  "a": [\n    "é"\n  ],\n  "b": 1\n}\n'
    assert json.loads(text) == {"a": ["é"], "b": 1}


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "keep.txt"
    path.write_text("old")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_unserializable_json_writes_nothing(tmp_path):
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "j.json", {"x": object()})
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "absent" / "x.bin", b"")


def _deep(n: int) -> str:
    return '{"a": ' * n + "1" + "}" * n


@pytest.mark.parametrize("text, why", [
    ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),  # was a RecursionError
    (_deep(65), "nested deeper than 64 levels"),
    ('{"blank": 0, "blank": 5}', "duplicate key 'blank'"),
    ('{"a": 1', "Expecting"),
    (b"\xff{}", "can't decode"),
])
def test_loads_json_refuses_what_would_crash_or_mislead(text, why):
    from crnn_deploy.common.errors import UserError
    from crnn_deploy.common.fileio import loads_json

    with pytest.raises(UserError, match=f"^meta.json x is not usable JSON: .*{why}"):
        loads_json(text, "meta.json x")


def test_loads_json_accepts_what_ours_hold():
    from crnn_deploy.common.fileio import json_depth, loads_json

    assert loads_json(_deep(64), "x") is not None
    assert loads_json('{"s": "[[[{{{\\"]]]"}', "x") == {"s": '[[[{{{"]]]'}  # brackets in text
    assert json_depth('{"a": [1, {"b": "[[["}]}') == 3


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "large", "folder", "nul"])
def test_read_json_is_bounded(tmp_path, kind):
    """A FIFO does not hang, /dev/zero and a huge file are refused before reading."""
    from crnn_deploy.common.errors import UserError
    from crnn_deploy.common.fileio import read_json

    path = tmp_path / "meta.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path = "/dev/zero"
    elif kind == "large":
        with open(path, "wb") as f:
            f.truncate(2 << 20)
    elif kind == "folder":
        path.mkdir()
    else:
        path = f"{path}\0x"
    with pytest.raises(UserError, match="not a regular file|more than the limit|NUL byte"):
        read_json(path, max_bytes=1 << 20, what="input meta")
