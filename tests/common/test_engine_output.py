"""common/engine_output.py: an engine's NaN, inf or wrong shape is an error in every path.

The probe's cases: an engine returning NaN gave "" with confidence 0 and exit 0, one returning
inf gave random text with confidence NaN, and crnn-infer wrote result files whose size
disagreed with its meta.json. Here the real nano-ocr ONNX engine (ONNX Runtime) is corrupted
after it runs, and every path is run on real IIIT5K data: crnn-infer (staged), crnn-eval,
crnn-recognize and Recognizer, and the Ray engine actor (called in-process)."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from crnn_deploy.common.engine_output import (
    EngineOutputError,
    check_engine_output,
    nonfinite_rows,
    shape_problem,
)
from crnn_deploy.runtime.ort_backend import OnnxRuntimeBackend


def test_helper_accepts_finite_and_names_what_is_wrong():
    y = np.zeros((33, 4, 66), np.float32)
    assert check_engine_output(y, (33, 4, 66), "b") is y
    assert shape_problem(y, (None, 4, 66)) is None
    assert "rank 2" in shape_problem(y[0], (33, 4, 66))
    assert "shape (33, 4, 66), expected (33, 5, 66)" == shape_problem(y, (33, 5, 66))
    assert "dtype int32" in shape_problem(y.astype(np.int32), (33, 4, 66))
    y[3, 2, 1] = np.inf
    y[0, 0, 0] = np.nan
    assert nonfinite_rows(y, 1).tolist() == [0, 2]
    with pytest.raises(EngineOutputError, match=r"b: the engine returned NaN and inf for 2 of 4 "
                                                r"samples \(sample 1, 3 of the batch\)") as err:
        check_engine_output(y, (33, 4, 66), "b")
    assert err.value.rows == [0, 2]


def _corrupt(monkeypatch, kind: str, batch: int = 2):
    """From the ``batch``-th inference call on (warm-up excluded), every ONNX Runtime output is
    corrupted: sample 2 gets NaN or inf, or the output loses its batch axis."""
    calls = {"n": 0}
    real = OnnxRuntimeBackend._infer

    def infer(self, x):
        y = real(self, x)
        if not x.any():  # warm-up batches are zeros
            return y
        calls["n"] += 1
        if calls["n"] < batch:
            return y
        if kind == "rank":
            return y[:, 0]
        y = y.copy()
        y[5, 1, 3] = np.nan if kind == "nan" else np.inf
        return y

    monkeypatch.setattr(OnnxRuntimeBackend, "_infer", infer)


@pytest.fixture(scope="module")
def iiit_bins_40(iiit5k_lmdb, tmp_path_factory):
    """lmdb-to-bin of the first 40 IIIT5K samples for nano-ocr."""
    from crnn_deploy.preprocess.cli import main

    out = tmp_path_factory.mktemp("bins40")
    res = CliRunner().invoke(main, ["lmdb-to-bin", "--lmdb", str(iiit5k_lmdb), "--model",
                                    "nano-ocr", "--limit", "40", "--output", str(out / "in"),
                                    "--labels", str(out / "label.txt")])
    assert res.exit_code == 0, res.output
    return out / "in"


@pytest.mark.parametrize("kind", ["nan", "inf", "rank"])
def test_crnn_infer_writes_nothing_from_a_bad_output(monkeypatch, nano_dynamic_onnx, iiit_bins_40,
                                                      tmp_path, kind):
    from crnn_deploy.runtime.cli import main

    _corrupt(monkeypatch, kind)
    out = tmp_path / "result"
    res = CliRunner().invoke(main, ["--engine", str(nano_dynamic_onnx), "--input", str(iiit_bins_40),
                                    "--output", str(out), "--batchsize", "16"])
    assert res.exit_code == 1, res.output
    assert "Error:" in res.output and ": batch 2: the engine returned" in res.output
    assert "Traceback" not in res.output
    want = "rank 2" if kind == "rank" else ("NaN" if kind == "nan" else "inf")
    assert want in res.output
    if kind != "rank":
        assert "(input test_18.bin)" in res.output  # sample 2 of batch 2
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["nan", "inf", "rank"])
def test_fused_paths_refuse_a_bad_output(monkeypatch, nano_dynamic_onnx, iiit5k_lmdb, assets,
                                         tmp_path, kind):
    from crnn_deploy import Recognizer
    from crnn_deploy.pipeline.eval_cli import main as eval_main
    from crnn_deploy.pipeline.recognize_cli import main as recognize_main

    _corrupt(monkeypatch, kind, batch=1)
    res = CliRunner().invoke(eval_main, ["--lmdb", str(iiit5k_lmdb), "--limit", "40",
                                         "--engine", str(nano_dynamic_onnx), "--output",
                                         str(tmp_path / "eval")])
    assert res.exit_code == 1 and "Error:" in res.output and "the engine returned" in res.output
    assert "word accuracy" not in res.output and not (tmp_path / "eval").exists()

    words = assets / "demo_words"
    res = CliRunner().invoke(recognize_main, ["--engine", str(nano_dynamic_onnx), str(words),
                                              "-o", str(tmp_path / "p.tsv")])
    assert res.exit_code == 1 and "the engine returned" in res.output, res.output
    assert list(tmp_path.iterdir()) == []
    with Recognizer(nano_dynamic_onnx) as rec, pytest.raises(EngineOutputError):
        rec.recognize(sorted(words.iterdir()))


def test_ray_engine_actor_refuses_a_bad_output(monkeypatch, nano_dynamic_onnx, iiit5k_lmdb):
    from crnn_deploy.models.specs import get_spec
    from crnn_deploy.pipeline.ray.engine import EngineActor
    from crnn_deploy.pipeline.ray.read import plan_lmdb_ranges, read_range

    block = read_range(plan_lmdb_ranges([iiit5k_lmdb], 20, limit=20)[0], get_spec("nano-ocr"))
    actor = EngineActor(str(nano_dynamic_onnx), cpus=1)
    assert len(actor(block)) == 20
    _corrupt(monkeypatch, "inf", batch=1)
    with pytest.raises(EngineOutputError, match="inf"):
        actor(block)
