"""crnn-infer end to end: result files, JSON keys, formats, loop mode, padding of static engines."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner

from crnn_deploy.runtime.cli import main

SUMMARY_KEYS = {"backend", "engine", "batch_size", "count", "throughput", "latency_ms", "wall_s"}
LATENCY_KEYS = {"min", "max", "mean", "median", "p99"}


def run(*args: str):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def read_bins(folder, n: int, shape=(33, 1, 66)) -> np.ndarray:
    """result/test_{1..n}_0.bin -> (T, n, C)."""
    outs = [np.fromfile(folder / f"test_{i}_0.bin", dtype=np.float32).reshape(shape)
            for i in range(1, n + 1)]
    return np.concatenate(outs, axis=1)


def test_files_mode_writes_outputs_and_summary(nano_dynamic_onnx, iiit_bins, ort_reference, tmp_path):
    out = tmp_path / "result"
    res = run("--engine", nano_dynamic_onnx, "--input", iiit_bins, "--output", out,
              "--batchsize", 32, "--threads", 2)
    assert "throughput" in res.output
    n = ort_reference.shape[1]
    assert len(list(out.glob("test_*_0.bin"))) == n and not list(out.glob("*.tmp"))
    assert (out / "test_1_0.bin").stat().st_size == 33 * 66 * 4
    assert np.abs(read_bins(out, n) - ort_reference).max() < 1e-5
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= summary.keys() and LATENCY_KEYS == summary["latency_ms"].keys()
    assert summary["backend"] == "onnxruntime" and summary["batch_size"] == 32
    # ONNX Runtime runs the last 8 files as a batch of 8: no zero rows (Backend.batch_rows)
    assert summary["count"] == n and summary["batches"] == 7 and summary["padded"] == 0
    assert summary["throughput"] > 0 and summary["latency_ms"]["min"] <= summary["latency_ms"]["p99"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["spec"]["name"] == "nano-ocr" and meta["backend"] == "onnxruntime"
    assert meta["engine"] == str(nano_dynamic_onnx) and meta["output_shape"] == [33, 1, 66]


def test_static_engine_pads_last_batch(nano_bs16_onnx, iiit_bins_37, ort_reference, tmp_path):
    out = tmp_path / "result"
    run("--engine", nano_bs16_onnx, "--input", iiit_bins_37, "--output", out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["batch_size"] == 16 and summary["count"] == 37 and summary["padded"] == 11
    assert len(list(out.glob("test_*_0.bin"))) == 37
    assert np.abs(read_bins(out, 37) - ort_reference[:, :37]).max() < 1e-5


def test_npy_format_and_batch_axis_0(nano_dynamic_onnx, iiit_bins_37, ort_reference, tmp_path):
    out = tmp_path / "result"
    run("--engine", nano_dynamic_onnx, "--input", iiit_bins_37, "--output", out,
        "--outfmt", "NPY", "--output_batchsize_axis", 0, "--batchsize", 8)
    assert not list(out.glob("*.bin"))
    y = np.load(out / "test_5_0.npy")
    assert y.shape == (1, 33, 66) and y.dtype == np.float32
    assert np.abs(y[0] - ort_reference[:, 4]).max() < 1e-5
    assert json.loads((out / "meta.json").read_text())["output_shape"] == [1, 33, 66]


def test_loop_mode_summary(nano_dynamic_onnx, tmp_path):
    res = run("--engine", nano_dynamic_onnx, "--loop", 3, "--warmup", 2, "--batchsize", 4,
              "--pure_data_type", "random", "--output", tmp_path / "loop")
    assert "images/s" in res.output
    summary = json.loads((tmp_path / "loop" / "summary.json").read_text())
    assert SUMMARY_KEYS <= summary.keys()
    assert summary["count"] == 12 and summary["batches"] == 3 and summary["warmup"] == 2
    assert summary["mode"] == "loop" and summary["pure_data_type"] == "random"
    assert summary["compute_s"] <= summary["wall_s"]


def test_loop_mode_without_output_only_prints(nano_bs16_onnx, tmp_path):
    res = run("--engine", nano_bs16_onnx, "--loop", 2, "--warmup", 0)
    assert "batch 16, 2 batches, 32 images" in res.output


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="openvino not installed")
def test_openvino_throughput_files_match_ort(nano_dynamic_onnx, iiit_bins_37, ort_reference, tmp_path):
    out = tmp_path / "result"
    run("--engine", nano_dynamic_onnx, "--backend", "openvino", "--hint", "THROUGHPUT",
        "--input", iiit_bins_37, "--output", out, "--batchsize", 4)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "openvino" and summary["pipelined"] is True
    assert np.abs(read_bins(out, 37) - ort_reference[:, :37]).max() < 1e-4


def test_runtime_never_imports_torch(nano_dynamic_onnx):
    """runtime/ is numpy + SDKs only: a loop run in a fresh interpreter leaves torch unloaded."""
    import subprocess
    import sys

    code = ("import sys; from runtime.cli import main; "
            f"main.main(['--engine', {str(nano_dynamic_onnx)!r}, '--loop', '1', '--batchsize', '1'], "
            "standalone_mode=False); import runtime.openvino_backend, runtime.batching; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="openvino not installed")
def test_widths_on_the_staged_path(ppocrv4_onnx, tmp_path):
    """--widths auto: each .npy input runs padded to the smallest static width that fits, so its
    (T, 1, C) output has T = that width / 8; ONNX Runtime refuses the option."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    for i, w in enumerate((320, 338, 500), 1):
        np.save(inputs / f"test_{i}.npy", rng.uniform(-1, 1, (1, 3, 48, w)).astype(np.float32))
    run("--engine", ppocrv4_onnx, "--backend", "openvino", "--widths", "auto", "--input", inputs,
        "--output", tmp_path / "res", "--outfmt", "NPY")
    steps = [np.load(tmp_path / "res" / f"test_{i}_0.npy").shape for i in (1, 2, 3)]
    assert steps == [(40, 1, 6625), (60, 1, 6625), (90, 1, 6625)]  # widths 320, 480, 720
    res = CliRunner().invoke(main, ["--engine", str(ppocrv4_onnx), "--widths", "auto", "--input",
                                    str(inputs), "--output", str(tmp_path / "ort")])
    assert res.exit_code == 1 and "Error: --widths compiles static-shape OpenVINO" in res.output
    assert "Traceback" not in res.output
