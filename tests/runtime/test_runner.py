"""runtime/runner.py: batch resolution, file mode (mapping of inputs to outputs through batching
and padding, warm-up excluded from the timings), loop mode, loop data."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.runtime import batching, runner
from crnn_deploy.runtime.registry import open_backend


def fake_output(x: np.ndarray, spec) -> np.ndarray:
    """What FakeBackend returns for one sample x (C, H, W): float32 (T, C)."""
    t, c = spec.output_shape
    return (float(x.mean(dtype=np.float64)) + np.arange(t)[:, None]
            + np.arange(c)[None, :] / 100).astype(np.float32)


@pytest.mark.parametrize("static, requested, expected", [
    (16, None, 16), (16, 16, 16), (None, None, 16), (None, 5, 5)])
def test_resolve_batch(fake_backend, fake_engine, static, requested, expected):
    assert runner.resolve_batch(fake_backend(fake_engine(static)), requested) == expected


def test_resolve_batch_refuses_a_contradiction(fake_backend, fake_engine):
    with pytest.raises(UserError, match="static batch of 16; --batchsize 8 contradicts it"):
        runner.resolve_batch(fake_backend(fake_engine(16)), 8)


@pytest.mark.parametrize("pipelined", [False, True], ids=["sequential", "pipelined"])
def test_run_files_maps_each_input_to_its_output(fake_backend, fake_engine, iiit_bins_37, nano_spec,
                                                 tmp_path, pipelined):
    files = batching.list_inputs(iiit_bins_37)
    done = []
    with fake_backend(fake_engine(16)) as b:
        summary = runner.run_files(b, files, 16, tmp_path / "out", pipelined=pipelined, warmup=2,
                                   progress=done.append)
        assert b.calls == 2 + 3  # warm-up runs, then ceil(37 / 16) batches
    assert done == [16, 16, 5]
    for f in files:
        x = np.fromfile(f, dtype=np.float32).reshape(nano_spec.input_shape)
        y = np.fromfile(tmp_path / "out" / f"{f.stem}_0.bin", dtype=np.float32)
        assert np.array_equal(y.reshape(33, 1, 66)[:, 0], fake_output(x, nano_spec)), f.name
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{f.stem}_0.bin" for f in files)  # padding outputs dropped, no temp files
    assert summary["count"] == 37 and summary["batches"] == 3 and summary["padded"] == 11
    assert summary["mode"] == "files" and summary["warmup"] == 2 and summary["pipelined"] is pipelined
    assert summary["backend"] == "fake" and summary["batch_size"] == 16
    # the warm-up runs are excluded: 3 timed batches of >= 2 ms each
    assert summary["compute_s"] >= 3 * b.delay_s
    assert summary["compute_s"] == pytest.approx(sum([summary["latency_ms"]["mean"]] * 3) / 1000,
                                                 rel=1e-3)
    assert summary["throughput"] == pytest.approx(37 / summary["compute_s"], rel=1e-3)
    assert summary["wall_s"] >= summary["compute_s"]


def test_run_files_axis_0_and_npy(fake_backend, fake_engine, iiit_bins_37, nano_spec, tmp_path):
    files = batching.list_inputs(iiit_bins_37)[:3]
    with fake_backend(fake_engine()) as b:
        runner.run_files(b, files, 2, tmp_path, outfmt="NPY", axis=0, warmup=0)
    y = np.load(tmp_path / "test_3_0.npy")
    x = np.fromfile(files[2], dtype=np.float32).reshape(nano_spec.input_shape)
    assert y.shape == (1, 33, 66) and np.array_equal(y[0], fake_output(x, nano_spec))


def test_run_files_on_a_real_static_engine(nano_bs16_onnx, iiit_bins_37, ort_reference, tmp_path):
    """ONNX Runtime, static batch 16, through infer_many: 37 files = 2 full batches + 5 padded."""
    files = batching.list_inputs(iiit_bins_37)
    with open_backend(nano_bs16_onnx, threads=1) as b:
        summary = runner.run_files(b, files, runner.resolve_batch(b, None), tmp_path, axis=0,
                                   pipelined=True)
    got = np.concatenate([np.fromfile(tmp_path / f"{f.stem}_0.bin", dtype=np.float32)
                          .reshape(1, 33, 66) for f in files]).transpose(1, 0, 2)
    assert np.abs(got - ort_reference[:, :37]).max() < 1e-5
    assert summary["padded"] == 11 and summary["count"] == 37 and summary["throughput"] > 0


def test_run_loop(fake_backend, fake_engine):
    ticks = []
    with fake_backend(fake_engine()) as b:
        summary = runner.run_loop(b, loops=4, batch=3, warmup=1, data="random", progress=ticks.append)
        assert b.calls == 5
    assert ticks == [3] * 4
    assert summary["count"] == 12 and summary["batches"] == 4 and summary["mode"] == "loop"
    assert summary["pure_data_type"] == "random" and summary["latency_ms"]["min"] >= 2.0


def test_warm_up_resets_timing(fake_backend, fake_engine):
    with fake_backend(fake_engine()) as b:
        runner.warm_up(b, batch=2, runs=3)
        assert b.calls == 3 and b.busy_s == 0.0 and b.last_latency_ms == 0.0
        runner.warm_up(b, batch=2, runs=0)
        assert b.calls == 3


def test_loop_data():
    zero = runner.loop_data((1, 32, 100), 4)
    assert zero.shape == (4, 1, 32, 100) and zero.dtype == np.float32 and not zero.any()
    rnd = runner.loop_data((1, 32, 100), 4, "random", seed=3)
    assert rnd.dtype == np.float32 and -1.0 <= rnd.min() < -0.9 and 0.9 < rnd.max() <= 1.0
    assert np.array_equal(rnd, runner.loop_data((1, 32, 100), 4, "random", seed=3))
    with pytest.raises(UserError, match="unknown pure data type 'ones'"):
        runner.loop_data((1, 32, 100), 4, "ones")
