"""bench.peers: ours (crnn-recognize, a whole process) against RapidOCR's TextRecognizer (the
oracle process of bench.oracles) on real IIIT5K words, one round; the markdown it renders; its
user errors."""
from __future__ import annotations

import pytest

from crnn_deploy.bench import clock
from crnn_deploy.bench.peak import peak_gflops, this_cpu
from crnn_deploy.bench.peers import render_peers, run_peers
from crnn_deploy.common.errors import UserError

pytest.importorskip("rapidocr_onnxruntime", reason="RapidOCR is a test-only install")
N = 6


def _params(tmp_path, assets, ours, **kw):
    return {"peer": "rapidocr", "ours": ours, "gt": assets / "eval_iiit5k_3000" / "gt.txt",
            "limit": N, "rounds": 1, "weights_dir": "weights", "workdir": tmp_path / "w",
            "command": "crnn-bench peers ...", **kw}


def test_ours_and_rapidocr_as_processes(tmp_path, assets, ppocrv4_onnx):
    res = run_peers(_params(tmp_path, assets, [str(ppocrv4_onnx)]), log=lambda m: None)
    ours, peer = res["rows"]
    assert res["images"] == N and len(ours["rates"]) == 1 and ours["median"] > 0
    # f32 ONNX Runtime on RapidOCR's own model: RapidOCR's exact text on every word
    assert ours["same_as_peer"] == N and peer["same_as_peer"] == N
    assert ours["accuracy"] == peer["accuracy"] > 0.5
    # RapidOCR pads each batch of 6 to its widest: never fewer FLOP than ours per image
    assert peer["roofline"]["gflop_padded"] >= ours["roofline"]["gflop_padded"] > \
        ours["roofline"]["gflop_own"] > 0
    assert ours["roofline"]["precision"] == "f32" and ours["roofline"]["fraction"] > 0
    # the clock (where this system gives an executable page, tests/bench/test_clock.py) and
    # OpenVINO's GEMM were measured in the same round
    md = render_peers(res)
    if clock.measured_ghz(trials=1, seconds=0.01) is not None:
        ghz = res["clock"]["high"]
        assert res["clock"]["n"] == 1 and 0.5 < ghz < 10
        assert ours["roofline"]["measured"] == pytest.approx(  # the peak at the clock measured
            peak_gflops({**this_cpu(), "ghz": ghz}, "f32"))
        assert ours["roofline"]["fraction_measured"] == pytest.approx(
            ours["roofline"]["gflops"] / ours["roofline"]["measured"])
        assert "Measured clock" in md and "| of measured peak |" in md
    assert res["ceilings"]["f32"]["n"] == 1 and res["ceilings"]["f32"]["high"] > 1
    assert "OpenVINO MatMul" in md
    assert "family" in md and "Load average" in md and "| round 1 |" in md
    assert f"`crnn-recognize --engine {ppocrv4_onnx}`" in md and "| 1.00 |" in md


def test_missing_engine_or_gt_is_a_user_error(tmp_path, assets):
    with pytest.raises(UserError, match="need"):
        run_peers(_params(tmp_path, assets, [str(tmp_path / "none.xml")]), log=print)
    with pytest.raises(UserError, match="file not found"):
        run_peers(_params(tmp_path, assets, ["x.onnx"], gt=tmp_path / "gt.txt"), log=print)
