"""Each bad input gets a clear one-line error: exit code 1, `Error: ...`, no traceback."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from crnn_deploy.runtime.cli import main


def fails(*args: str, match: str) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    assert "Error:" in result.output and "Traceback" not in result.output
    assert match in result.output, result.output
    return result.output


@pytest.fixture
def inputs(iiit_bins_37, tmp_path):
    """A private copy of the 37 inputs, free to spoil."""
    return shutil.copytree(iiit_bins_37, tmp_path / "input_bin")


def test_wrong_file_size(nano_dynamic_onnx, inputs, tmp_path):
    (inputs / "test_7.bin").write_bytes(b"\0" * 12800)
    out = fails("--engine", nano_dynamic_onnx, "--input", inputs, "--output", tmp_path / "r",
                match="test_7.bin has 12800 bytes, expected 16384")
    assert "nano-ocr" in out


def test_empty_input_folder(nano_dynamic_onnx, tmp_path):
    (tmp_path / "empty").mkdir()
    fails("--engine", nano_dynamic_onnx, "--input", tmp_path / "empty", "--output", tmp_path / "r",
          match="holds no .bin files")


def test_missing_input_folder(nano_dynamic_onnx, tmp_path):
    fails("--engine", nano_dynamic_onnx, "--input", tmp_path / "nope", "--output", tmp_path / "r",
          match="input not found")


def test_meta_spec_differs_from_engine(nano_dynamic_onnx, inputs, tmp_path):
    from crnn_deploy.models.specs import get_spec

    meta = json.loads((inputs / "meta.json").read_text())
    meta["spec"] = get_spec("crnn").to_dict()
    (inputs / "meta.json").write_text(json.dumps(meta))
    out = fails("--engine", nano_dynamic_onnx, "--input", inputs, "--output", tmp_path / "r",
                match="was made for spec 'crnn'")
    assert "has spec 'nano-ocr'" in out and "input_shape" in out


def test_unknown_engine_suffix(tmp_path):
    engine = tmp_path / "model.pb"
    engine.write_bytes(b"x")
    fails("--engine", engine, "--loop", 1, match="unknown suffix '.pb'")


def test_missing_engine(tmp_path):
    fails("--engine", tmp_path / "nope.onnx", "--loop", 1, match="engine not found")


def test_non_model_engine(tmp_path):
    engine = tmp_path / "garbage.onnx"
    engine.write_bytes(b"this is not a protobuf" * 10)
    fails("--engine", engine, "--loop", 1, match=f"cannot read ONNX model {engine}")
    fails("--engine", engine, "--loop", 1, "--backend", "openvino", match=str(engine))


def test_missing_backend_package(nano_dynamic_onnx, monkeypatch):
    from crnn_deploy.runtime.openvino_backend import OpenVINOBackend

    monkeypatch.setattr(OpenVINOBackend, "unavailable_reason", classmethod(lambda cls: "no SDK"))
    fails("--engine", nano_dynamic_onnx, "--backend", "openvino", "--loop", 1,
          match="backend 'openvino' cannot run here: no SDK; "
          "install it with: pip install 'crnn-deploy[openvino]'")


def test_batchsize_contradicts_static_engine(nano_bs16_onnx):
    fails("--engine", nano_bs16_onnx, "--loop", 1, "--batchsize", 8,
          match="static batch of 16; --batchsize 8 contradicts it")


def test_precision_needs_openvino(nano_dynamic_onnx):
    fails("--engine", nano_dynamic_onnx, "--loop", 1, "--precision", "bf16",
          match="needs --backend openvino")


def test_neither_input_nor_loop(nano_dynamic_onnx):
    fails("--engine", nano_dynamic_onnx, match="give --input")


def test_console_script_prints_no_traceback(tmp_path):
    """The real entry point: exit status 1 and one `Error:` line on stderr."""
    engine = tmp_path / "garbage.onnx"
    engine.write_bytes(b"\0" * 64)
    proc = subprocess.run([sys.executable, "-m", "crnn_deploy.runtime.cli", "--engine", str(engine), "--loop", "1"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: cannot read ONNX model") and "Traceback" not in proc.stderr


@pytest.mark.parametrize("meta, match", [
    ({"spec": "crnn", "shape": [1, 1, 32, 100]}, "was made for spec 'crnn'"),
    ({"spec": "nano-ocr", "shape": [1, 1, 32, 100]}, "holds samples of shape [1, 1, 32, 100]"),
])
def test_meta_in_preprocess_layout(nano_dynamic_onnx, inputs, tmp_path, meta, match):
    """crnn-preprocess lmdb-to-bin writes the spec name + shape (and the full spec as model_spec)."""
    (inputs / "meta.json").write_text(json.dumps(meta))
    fails("--engine", nano_dynamic_onnx, "--input", inputs, "--output", tmp_path / "r", match=match)


@pytest.mark.parametrize("kind", ["fifo", "deep", "dev_zero"])
def test_input_meta_json_is_read_bounded_and_guarded(nano_dynamic_onnx, inputs, tmp_path, kind):
    """meta.json as a FIFO hung crnn-infer, /dev/zero read until MemoryError, 100,000 nested
    brackets gave a RecursionError: each is now Error: naming it."""
    import os

    meta = inputs / "meta.json"
    meta.unlink()
    if kind == "fifo":
        os.mkfifo(meta)
    elif kind == "deep":
        meta.write_text('{"spec": ' + "[" * 100_000 + "]" * 100_000 + "}")
    else:
        meta.symlink_to("/dev/zero")
    fails("--engine", str(nano_dynamic_onnx), "--input", str(inputs), "--output",
          str(tmp_path / "out"), match="Error: input meta ")
    assert not (tmp_path / "out").exists()
