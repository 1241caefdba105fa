"""INT8 post-training quantization (converter.int8): real nano-ocr ONNX, real images.

Both INT8 models are built through the CLI command object from the real nano-ocr dynamic ONNX
(exported for the session), calibrated on 64 IC03 images (never IIIT5K, the scored
benchmark), loaded with the runtime backends and scored on the first 500 IIIT5K images.

Floor: standard word accuracy >= 73.0 % on those 500 (FP32 reads 379/500 = 75.8 %; measured
INT8 with 64 IC03 calibration images: OpenVINO 380/500, ONNX Runtime 374-378/500).

Models whose width follows the word (issues 18 and 19; the second half): EasyOCR's english_g2
(export of the real weights) and RapidOCR's PP-OCRv4 (imported), calibrated on 24 IC03 words,
each word at its own width. Measured when written: english_g2's INT8 agrees with FP32 on 24/24
(OpenVINO) and 23/24 (ONNX Runtime) of those words, above the default floor of 90 %. PP-OCRv4's
ONNX is opset 12, which the ONNX Runtime route converts to 13 first (per-channel
DequantizeLinear); its INT8 reads worse (docs/PPOCRV4.md).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

import crnn_deploy.converter.int8.sequence as sequence
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.outputs import record_path
from crnn_deploy.converter.int8 import ROUTES, calibration_batches, quantize, read_calibration
from crnn_deploy.converter.int8.cli import quantize_cmd
from crnn_deploy.converter.parity import CheckResult, compare_on_images, greedy_agreement, onnx_runner
from crnn_deploy.models.specs import METADATA_KEY, get_spec
from crnn_deploy.preprocess.sources import read_image_file
from crnn_deploy.preprocess.transform import preprocess_image

CALIB_SIZE = 64
SCORE_N = 500
FP32_CORRECT_500 = 379  # measured, for the record and the sanity check below
INT8_FLOOR = 0.73


@pytest.fixture(scope="module")
def nano_onnx(nano_dynamic_onnx) -> Path:
    return nano_dynamic_onnx


@pytest.fixture(scope="module")
def calib_gt(assets) -> Path:
    gt = assets / "eval_ic03_860" / "gt.txt"
    if not gt.is_file():
        pytest.skip(f"IC03 calibration set not found at {gt}")
    return gt


@pytest.fixture(scope="module")
def iiit500(assets):
    """First 500 IIIT5K images, preprocessed with the training transform, and their labels."""
    from crnn_deploy.preprocess.transform import preprocess_image

    spec = get_spec("nano-ocr")
    root = assets / "eval_iiit5k_3000"
    rows = [line.split("\t", 1) for line in (root / "gt.txt").read_text().splitlines()
            if line.strip()][:SCORE_N]
    x = np.stack([preprocess_image((root / rel).read_bytes(), spec) for rel, _ in rows])
    return x, [label for _, label in rows], {str((root / rel).resolve()) for rel, _ in rows}


def _build(tmp: Path, nano_onnx: Path, calib_gt: Path, name: str) -> Path:
    out = tmp / name
    result = CliRunner().invoke(quantize_cmd, [
        "--onnx", str(nano_onnx), "--calib-gt", str(calib_gt), "--calib-size", str(CALIB_SIZE),
        "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "greedy-decode agreement" in result.output and "eval_ic03_860" in result.output
    return out


@pytest.fixture(scope="module")
def int8_models(tmp_path_factory, nano_onnx, calib_gt):
    tmp = tmp_path_factory.mktemp("int8")
    return {"xml": _build(tmp, nano_onnx, calib_gt, "nano-ocr_bs16_int8.xml"),
            "onnx": _build(tmp, nano_onnx, calib_gt, "nano-ocr_int8.onnx")}


def _score(engine: Path, x: np.ndarray, labels: list[str]) -> tuple[int, object]:
    from crnn_deploy.postprocess.ctc import greedy_decode
    from crnn_deploy.postprocess.metrics import compute_metrics
    from crnn_deploy.runtime.registry import open_backend

    with open_backend(engine) as backend:
        n = backend.batch_size or 16
        outs = []
        for start in range(0, len(x), n):
            b = x[start:start + n]
            k = len(b)
            if k < n:
                b = np.concatenate([b, np.zeros((n - k, *b.shape[1:]), np.float32)])
            outs.append(backend.infer(b)[:, :k])
        texts = greedy_decode(np.concatenate(outs, axis=1), backend.spec.alphabet)
        return compute_metrics(texts, labels)["correct"], backend.spec


@pytest.mark.parametrize("kind", ["xml", "onnx"])
def test_int8_loads_scores_and_carries_spec(int8_models, iiit500, kind):
    x, labels, _ = iiit500
    correct, spec = _score(int8_models[kind], x, labels)
    assert spec == get_spec("nano-ocr")  # read by the runtime from rt_info / metadata_props
    assert correct / len(labels) >= INT8_FLOOR, (
        f"{kind}: {correct}/{len(labels)} < floor {INT8_FLOOR:.0%} (FP32: {FP32_CORRECT_500})")


def test_fp32_reference_on_the_same_500(nano_onnx, iiit500):
    x, labels, _ = iiit500
    correct, _ = _score(nano_onnx, x, labels)
    assert correct == FP32_CORRECT_500


def test_openvino_ir_is_static_and_records_calibration(int8_models, iiit500):
    import openvino as ov

    model = ov.Core().read_model(str(int8_models["xml"]))
    assert list(model.input(0).get_partial_shape().to_shape()) == [16, 1, 32, 128]
    assert model.get_rt_info(["crnn_deploy", "spec"]).astype(str) == get_spec("nano-ocr").to_json()
    assert any(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
    settings = json.loads(model.get_rt_info(["crnn_deploy", "int8"]).astype(str))
    assert settings["calib_count"] == CALIB_SIZE
    assert "iiit5k" not in settings["calib_gt"].lower()
    assert int8_models["xml"].with_suffix(".bin").is_file()
    # no temporary left; the hidden files are the ownership records (.bin listed with its .xml)
    hidden = sorted(p.name for p in int8_models["xml"].parent.iterdir() if p.name.startswith("."))
    assert hidden == [".nano-ocr_bs16_int8.xml.crnn-deploy.json", ".nano-ocr_int8.onnx.crnn-deploy.json"]
    record = json.loads(record_path(int8_models["xml"]).read_text())
    assert list(record["companions"]) == ["nano-ocr_bs16_int8.bin"]


def test_onnx_keeps_metadata_and_records_calibration(int8_models, nano_onnx):
    model = onnx.load(str(int8_models["onnx"]))
    meta = {p.key: p.value for p in model.metadata_props}
    source = {p.key: p.value for p in onnx.load(str(nano_onnx)).metadata_props}
    assert all(meta.get(k) == v for k, v in source.items() if k != "crnn_deploy.source")
    made_from = json.loads(meta["crnn_deploy.source"])  # the FP32 ONNX, and where it came from
    assert made_from["from"] == "onnx" and made_from["file"] == nano_onnx.name
    assert made_from["origin"] == json.loads(source["crnn_deploy.source"])
    assert json.loads(meta[METADATA_KEY])["name"] == "nano-ocr"
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in model.graph.node}
    settings = json.loads(meta["crnn_deploy.int8"])
    assert settings["calib_count"] == CALIB_SIZE and "iiit5k" not in settings["calib_gt"].lower()


def test_calibration_is_not_the_benchmark(calib_gt, iiit500):
    calib = read_calibration(calib_gt, get_spec("nano-ocr"), CALIB_SIZE)
    assert len(calib.files) == CALIB_SIZE and calib.x.shape == (CALIB_SIZE, 1, 32, 128)
    assert not {str(f.resolve()) for f in calib.files} & iiit500[2]
    assert float(calib.x.min()) >= -1.0 and float(calib.x.max()) <= 1.0


def test_no_readable_calibration_image_is_a_clear_error(tmp_path, nano_onnx):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    gt = tmp_path / "gt.txt"
    gt.write_text("missing.jpg\tWORD\nbad.png\tOTHER\n")
    out = tmp_path / "out.xml"
    result = CliRunner().invoke(quantize_cmd, ["--onnx", str(nano_onnx), "--calib-gt", str(gt),
                                                 "--output", str(out)])
    assert result.exit_code == 1
    assert "no readable calibration image" in result.output and str(gt) in result.output
    assert "missing.jpg" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png", "gt.txt"]


def test_unreadable_images_are_skipped_and_replaced(tmp_path, calib_gt):
    lines = calib_gt.read_text().splitlines()[:6]
    gt = tmp_path / "gt.txt"
    gt.write_text("\n".join(["nope.png\tX", *lines]) + "\n")
    calib = read_calibration(gt, get_spec("nano-ocr"), 4, root=calib_gt.parent)
    assert len(calib.files) == 4 and [r for r, _ in calib.skipped] == ["nope.png"]


def test_bad_arguments(tmp_path, nano_onnx, calib_gt):
    with pytest.raises(UserError, match=r"\.xml suffix .* \.onnx"):
        quantize(nano_onnx, calib_gt, tmp_path / "x.bin")
    with pytest.raises(UserError, match="calibration list not found"):
        read_calibration(tmp_path / "none.txt", get_spec("nano-ocr"))
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(UserError, match="lists no image"):
        read_calibration(tmp_path / "empty.txt", get_spec("nano-ocr"))


@pytest.mark.parametrize("suffix", sorted(ROUTES))
def test_agreement_below_floor_writes_nothing(tmp_path, nano_onnx, calib_gt, monkeypatch, suffix):
    """The shared sequence's floor holds for every route: nothing is written, no temp left."""
    def poor(spec, x, ref, got, names=()):
        return CheckResult(max_diff=9.9, agreement=0.5, count=len(names),
                           examples=[(str(names[0]), "ABC", "AB")])

    monkeypatch.setattr(sequence, "compare_on_images", poor)
    out = tmp_path / f"int8{suffix}"
    with pytest.raises(UserError, match=r"agreement with FP32 50\.0% .* below the floor 90%"):
        quantize(nano_onnx, calib_gt, out, calib_size=8)
    assert list(tmp_path.iterdir()) == []


def test_check_agreement_decodes_greedily():
    spec = get_spec("nano-ocr")
    ref = np.zeros((4, 2, spec.num_classes), np.float32)
    ref[:, :, 0] = 1.0
    ref[1, :, 11] = 5.0  # 'a' at step 1 for both images
    got = ref.copy()
    got[2, 1, 11] = 6.0  # image 1: 'a' repeated at step 2 merges -> still "a"
    got[3, 0, 12] = 7.0  # image 0: 'b' appended -> "ab"
    check = greedy_agreement(spec, ref, got)
    assert check.count == 2 and check.agreement == 0.5 and check.max_diff == pytest.approx(7.0)
    assert check.examples == [("#0", "a", "ab")]


# -- a width that follows the word -----------------------------------------------------------
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


def test_ppocrv4_openvino_int8_with_mean_minmax_ranges(ppocrv4_onnx, ic03, tmp_path):
    """--activation-range mean_minmax (what PP-OCRv4 needs, docs/PPOCRV4.md) reaches NNCF and is
    recorded in the IR, which keeps 3 x 48 x dynamic width at batch 16 and runs two widths."""
    import openvino as ov

    from crnn_deploy.runtime.registry import open_backend

    out = tmp_path / "ppocrv4-rec_int8.xml"
    output = _int8(ppocrv4_onnx, ic03, out, "--activation-range", "mean_minmax",
                   "--min-agreement", "0.5")
    assert "mean_minmax activation ranges" in output and _agreement(output) >= 0.5
    model = ov.Core().read_model(str(out))
    assert str(model.input(0).get_partial_shape()) == "[16,3,48,?]"
    settings = json.loads(model.get_rt_info(["crnn_deploy", "int8"]).astype(str))
    assert settings["activation_range"] == "mean_minmax" and settings["calib_count"] == CALIB
    with open_backend(out, threads=2) as int8:
        for width in (320, 417):
            y = int8.infer(np.zeros((16, 3, 48, width), np.float32))
            assert y.shape == (width // 8, 16, 6625) and np.isfinite(y).all()


def test_int8_refuses_a_page_model(ppocr_cls_onnx, assets, tmp_path):
    from click.testing import CliRunner

    from crnn_deploy.converter.cli import main as convert_cli

    out = tmp_path / "q.xml"
    res = CliRunner().invoke(convert_cli, ["int8", "--onnx", str(ppocr_cls_onnx), "--calib-gt",
                                           str(assets / "eval_ic03_860" / "gt.txt"), "--output",
                                           str(out)])
    assert res.exit_code == 1 and "holds a classifier (ppocr-cls); INT8 quantization is " \
        "calibrated for recognizers" in res.output, res.output
    assert not out.exists()
