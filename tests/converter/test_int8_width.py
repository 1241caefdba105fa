"""INT8 of models whose width follows the word (issues 18 and 19): EasyOCR's english_g2 (export
of the real weights) and RapidOCR's PP-OCRv4 (imported), calibrated on a few real IC03 words
(never IIIT5K, the scored set), each word at its own width.

Measured when written (OpenVINO 2026.4, NNCF, ONNX Runtime 1.32; 24 IC03 words, the default
floor 90 %): english_g2 INT8 agrees with FP32 on 95.8 % (OpenVINO) and 95.8 % (ONNX Runtime)
of the calibration words. PP-OCRv4's INT8 misreads more (docs/PPOCRV4.md); its ONNX is opset 12,
which the ONNX Runtime route converts to 13 first (per-channel DequantizeLinear).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from crnn_deploy.converter.cli import main as convert_cli
from crnn_deploy.converter.int8 import calibration_batches, read_calibration
from crnn_deploy.converter.int8.cli import quantize_cmd
from crnn_deploy.converter.parity import compare_on_images, onnx_runner
from crnn_deploy.models.specs import get_spec
from crnn_deploy.preprocess.sources import read_image_file
from crnn_deploy.preprocess.transform import preprocess_image

CALIB = 24


@pytest.fixture(scope="module")
def ic03(assets) -> Path:
    return assets / "eval_ic03_860" / "gt.txt"


def test_calibration_keeps_each_words_width(ic03):
    """Each calibration word is the spec's own transform of its file (its own width, nothing
    padded to another word); static batches group one width; a dynamic batch takes words one
    by one."""
    spec = get_spec("english_g2")
    calib = read_calibration(ic03, spec, CALIB)
    assert len(calib.images) == CALIB and len(set(calib.widths)) >= 3
    for x, f in zip(calib.images, calib.files):
        assert np.array_equal(x, preprocess_image(read_image_file(f), spec))
    with pytest.raises(ValueError, match="different widths"):
        calib.x  # noqa: B018 - the property raises
    batches = calibration_batches(calib.images, 4)
    assert all(b.shape[0] == 4 and b.shape[1:3] == (1, 64) for b in batches)
    assert sorted({b.shape[-1] for b in batches}) == sorted(set(calib.widths))
    seen = {x.tobytes() for b in batches for x in b}
    assert seen == {x.tobytes() for x in calib.images}
    singles = calibration_batches(calib.images, None)
    assert [s.shape[-1] for s in singles] == calib.widths and all(len(s) == 1 for s in singles)


def test_agreement_check_runs_each_word_at_its_own_width(ic03, english_g2_onnx):
    """compare_on_images on words of different widths: the FP32 ONNX against itself agrees on
    every word (0 diff); against a runner that pads every word to the widest (what the old
    calibration did), the check sees the change."""
    spec = get_spec("english_g2")
    calib = read_calibration(ic03, spec, CALIB)

    class Widest:
        def __init__(self, runner):
            self.runner, self.calls = runner, []

        def infer(self, x):
            self.calls.append(x.shape[-1])
            wide = np.pad(x, [(0, 0)] * 3 + [(0, max(calib.widths) - x.shape[-1])], mode="edge")
            return self.runner.infer(wide)[: x.shape[-1] // 4 - 1]

    with onnx_runner(english_g2_onnx) as ref, onnx_runner(english_g2_onnx) as same:
        check = compare_on_images(spec, calib.images, ref, same, calib.files)
        assert (check.count, check.agreement, check.max_diff) == (CALIB, 1.0, 0.0)
        widest = Widest(same)
        padded = compare_on_images(spec, calib.images, ref, widest, calib.files)
    assert sorted(set(widest.calls)) == sorted(set(calib.widths))
    assert padded.count == CALIB and padded.max_diff > 1e-3


def _int8(onnx_path: Path, calib_gt: Path, out: Path, *extra) -> str:
    res = CliRunner().invoke(quantize_cmd, ["--onnx", str(onnx_path), "--calib-gt", str(calib_gt),
                                            "--calib-size", str(CALIB), "--output", str(out),
                                            *extra])
    assert res.exit_code == 0, res.output
    return res.output


def _agreement(output: str) -> float:
    return float(re.search(r"greedy-decode agreement ([\d.]+)%", output).group(1)) / 100


@pytest.mark.parametrize("suffix", [".xml", ".onnx"])
def test_english_g2_int8_passes_its_check_and_reads_iiit5k(suffix, ic03, english_g2_onnx,
                                                           assets, tmp_path):
    """crnn-convert int8 on english_g2 (dynamic batch and width) writes a model that passed the
    default floor on IC03 words; it keeps the width dynamic and reads 48 IIIT5K words (other
    widths than its calibration) mostly as FP32 does."""
    from crnn_deploy.runtime.registry import open_backend

    out = tmp_path / f"english_g2_int8{suffix}"
    output = _int8(english_g2_onnx, ic03, out)
    assert _agreement(output) >= 0.9 and f"({CALIB} images, floor 90%)" in output
    spec = get_spec("english_g2")
    root = assets / "eval_iiit5k_3000"
    rels = [line.split("\t", 1)[0] for line in (root / "gt.txt").read_text().splitlines()[:48]]
    words = [preprocess_image(read_image_file(root / r), spec) for r in rels]
    assert len({w.shape[-1] for w in words}) >= 3
    with onnx_runner(english_g2_onnx) as fp32, open_backend(out, threads=2) as int8:
        assert int8.spec == spec
        check = compare_on_images(spec, words, fp32, int8, rels)
    assert check.count == 48 and check.agreement >= 0.8, check.examples
    if suffix == ".xml":
        import openvino as ov

        model = ov.Core().read_model(str(out))
        shape = model.input(0).get_partial_shape()
        assert [d.get_length() for d in list(shape)[:3]] == [16, 1, 64] and shape[3].is_dynamic
        settings = json.loads(model.get_rt_info(["crnn_deploy", "int8"]).astype(str))
    else:
        meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
        settings = json.loads(meta["crnn_deploy.int8"])
    assert settings["calib_count"] == CALIB and "ic03" in settings["calib_gt"]


def test_ppocrv4_onnx_int8_is_loadable_opset_13(ppocrv4_onnx, ic03, tmp_path):
    """PaddleOCR's opset-12 graph: the ONNX Runtime route converts it to opset 13 before
    quantizing, so its per-channel DequantizeLinear nodes load (they did not: 'Unrecognized
    attribute: axis'); the check runs on the words at their own widths. Its agreement with
    FP32 is poor (docs/PPOCRV4.md), so the floor is lowered here: this test is about the graph."""
    from crnn_deploy.runtime.registry import open_backend

    out = tmp_path / "ppocrv4-rec_int8.onnx"
    output = _int8(ppocrv4_onnx, ic03, out, "--min-agreement", "0")
    assert f"({CALIB} images, floor 0%)" in output
    model = onnx.load(str(out))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [13]
    assert json.loads({p.key: p.value for p in model.metadata_props}["crnn_deploy.int8"])["opset"] == 13
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in model.graph.node}
    with open_backend(out, threads=2) as int8:
        for width in (320, 417):
            y = int8.infer(np.zeros((2, 3, 48, width), np.float32))
            assert y.shape == (width // 8, 2, 6625) and np.isfinite(y).all()


def test_all_from_an_imported_onnx(english_g2_onnx, ic03, tmp_path, monkeypatch):
    """crnn-convert all --onnx: no ONNX row, engines named after the spec, the width kept
    dynamic, TensorRT and OM skipped with their reasons, the INT8 rows calibrated here."""
    import shutil

    monkeypatch.setenv("PATH", str(Path(shutil.which("python")).parent))  # no atc here
    out = tmp_path / "engines"
    res = CliRunner().invoke(convert_cli, ["all", "--onnx", str(english_g2_onnx), "--outdir",
                                           str(out), "--calib-gt", str(ic03), "--calib-size",
                                           str(CALIB)])
    assert res.exit_code == 0, res.output
    names = ("onnx (dynamic)", "onnx (bs16)", "openvino", "tensorrt", "ascend om",
             "openvino int8", "onnx int8")
    lines = {n: line for line in res.stdout.splitlines() for n in names
             if re.match(re.escape(n) + r"\s{2}", line)}
    assert set(lines) == {"openvino", "tensorrt", "ascend om", "openvino int8", "onnx int8"}
    assert " built " in lines["openvino"] and "english_g2_bs16.xml" in lines["openvino"]
    assert "skipped: atc (CANN toolkit) not on PATH" in lines["ascend om"]
    assert "skipped:" in lines["tensorrt"]
    for name in ("openvino int8", "onnx int8"):
        assert " built " in lines[name] and f"on {CALIB} images" in lines[name]
    assert sorted(p.name for p in out.iterdir()) == [
        "english_g2_bs16.bin", "english_g2_bs16.xml", "english_g2_bs16_int8.bin",
        "english_g2_bs16_int8.onnx", "english_g2_bs16_int8.xml"]


def test_all_takes_one_source(english_g2_onnx, nano_weights, tmp_path):
    for args in (["--onnx", str(english_g2_onnx), "--model", "nano-ocr"],
                 ["--model", "nano-ocr"], []):
        res = CliRunner().invoke(convert_cli, ["all", *args, "--outdir", str(tmp_path / "o")])
        assert res.exit_code == 1 and "give --model and --checkpoint" in res.output, args
        assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_all_from_the_english_g2_checkpoint(english_g2_weights, tmp_path, monkeypatch):
    """crnn-convert all --model english_g2: one ONNX, dynamic in batch and width; the
    static-batch ONNX row is skipped with the reason and the IR is built from the dynamic one
    (static batch 16, width still dynamic)."""
    import shutil

    import openvino as ov

    monkeypatch.setenv("PATH", str(Path(shutil.which("python")).parent))  # no atc here
    res = CliRunner().invoke(convert_cli, ["all", "--model", "english_g2", "--checkpoint",
                                           str(english_g2_weights), "--outdir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    table = res.stdout
    assert re.search(r"onnx \(dynamic\)\s+english_g2_dynamic\.onnx .* built .* vs PyTorch\s+"
                     r"dynamic batch and width", table)
    assert re.search(r"onnx \(bs16\)\s+english_g2_bs16\.onnx .* skipped: english_g2's width "
                     r"follows the word: every engine is built from english_g2_dynamic\.onnx", table)
    assert re.search(r"openvino\s+english_g2_bs16\.xml .* built .* vs ONNX Runtime", table)
    assert "skipped: no calibration images (--calib-gt)" in table
    assert not (tmp_path / "english_g2_bs16.onnx").exists()
    shape = ov.Core().read_model(str(tmp_path / "english_g2_bs16.xml")).input(0).get_partial_shape()
    assert str(shape) == "[16,1,64,?]"
