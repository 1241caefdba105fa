"""models.specs: sidecars are read bounded and must hold a JSON object with a valid spec."""
from __future__ import annotations

import json
import os

import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import (
    MAX_SIDECAR_BYTES,
    get_spec,
    read_sidecar,
    sidecar_path,
    spec_from_arg,
    write_sidecar,
)


def test_a_sidecar_round_trips(tmp_path):
    write_sidecar(tmp_path / "m.engine", get_spec("crnn"), batch_size=4)
    assert read_sidecar(tmp_path / "m.engine") == get_spec("crnn")


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "sidecar .*: expected a JSON object, got list"),
    ('{"spec": {"name": "crnn", "name": "x"}}', "duplicate key 'name'"),
    ('{"spec": ' + "[" * 100_000 + "]" * 100_000 + "}", "not usable JSON: nested deeper than 64 levels"),
    ('{"spec": 3}', "model spec must be a JSON object"),
    ('{"spec": {"name": "x"}}', "incomplete model spec: missing 'input_shape'"),
])
def test_a_bad_sidecar_is_an_error(tmp_path, text, message):
    engine = tmp_path / "m.engine"
    sidecar_path(engine).write_text(text)
    with pytest.raises(UserError, match=message):
        read_sidecar(engine)


def test_a_huge_sidecar_fifo_or_device_is_not_read(tmp_path):
    engine = tmp_path / "m.engine"
    with open(sidecar_path(engine), "wb") as f:
        f.truncate(1_500_000_000)  # sparse: 1.5 GB on paper, nothing on disk
    with pytest.raises(UserError, match=f"more than the limit of {MAX_SIDECAR_BYTES} bytes"):
        read_sidecar(engine)
    os.unlink(sidecar_path(engine))
    os.mkfifo(sidecar_path(engine))
    with pytest.raises(UserError, match="not a regular file"):
        read_sidecar(engine)  # returns at once, no writer needed
    os.unlink(sidecar_path(engine))
    os.symlink("/dev/zero", sidecar_path(engine))
    with pytest.raises(UserError, match="not a regular file"):
        read_sidecar(engine)


def test_a_spec_argument_that_is_a_folder_or_empty_says_so(tmp_path):
    (tmp_path / "x.onnx").mkdir()
    with pytest.raises(UserError, match="x.onnx is a folder, not an ONNX file"):
        spec_from_arg(tmp_path / "x.onnx")
    (tmp_path / "e.onnx").write_bytes(b"")
    with pytest.raises(UserError, match=r"e.onnx is empty \(0 bytes\), not an ONNX model"):
        spec_from_arg(tmp_path / "e.onnx")
    with pytest.raises(UserError, match=r"^model .{60}\.\.\. \(1000002 characters\): neither a preset"):
        spec_from_arg("n" * 1_000_000)
    assert json.loads(get_spec("crnn").to_json())["name"] == "crnn"
