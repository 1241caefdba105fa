"""nano-ocr-37: the classic CRNN contract (1x32x100 -> 26xBx37) on the real nano-ocr weights.

The fold (66 classes -> 37, see ``models.specs.DERIVED``) is checked against an independent
numpy computation, its floor against underflow and INT8, and the whole derived model on the
real IIIT5K through the staged path on ONNX Runtime and OpenVINO against PyTorch.
"""
from __future__ import annotations

import json
import math
import shlex
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from crnn_deploy.converter.cli import main as convert_cli
from crnn_deploy.models.arch import ClassFold, FoldedNanoOCR, NanoOCRCRNN, build_model
from crnn_deploy.models.checkpoint import load_model, read_state_dict
from crnn_deploy.models.specs import DERIVED, DIGITS_LOWER, FOLD_EPS, SPECS, fold_map, get_spec

SPEC = get_spec("nano-ocr-37")
#: Measured here: nano-ocr-37 in PyTorch with the PIL bilinear transform on IIIT5K_3000.
IIIT5K_CORRECT = 2307  # 76.90 %
#: Ascend ModelZoo CRNN_for_PyTorch, published IIIT5K accuracy (910A, batch 16).
MODELZOO_ACCURACY = 0.7657


def test_spec_is_the_classic_contract():
    classic = get_spec("crnn")
    assert SPEC.input_shape == classic.input_shape == (1, 32, 100)
    assert SPEC.sample_bytes == 12_800
    assert SPEC.output_shape == classic.output_shape == (26, 37)
    assert SPEC.alphabet == classic.alphabet == DIGITS_LOWER
    assert (SPEC.output, SPEC.resize, SPEC.mean, SPEC.std) == ("log_softmax", "bilinear", (0.5,), (0.5,))
    assert (SPEC.input_name, SPEC.output_name) == ("actual_input_1", "output1")
    assert DERIVED["nano-ocr-37"] == "nano-ocr" and set(DERIVED) <= set(SPECS)


def test_fold_map_sums_cases_and_sends_punctuation_to_blank():
    src = get_spec("nano-ocr").alphabet
    m = fold_map(src, DIGITS_LOWER)
    assert len(m) == 66 and m[0] == 0
    assert m[1 + src.index("7")] == 1 + DIGITS_LOWER.index("7")
    assert m[1 + src.index("A")] == m[1 + src.index("a")] == 11
    assert m[1 + src.index("Z")] == m[1 + src.index("z")] == 36
    assert [m[1 + src.index(c)] for c in ".- "] == [0, 0, 0]
    counts = np.bincount(m, minlength=37)
    assert counts[0] == 4 and (counts[1:11] == 1).all() and (counts[11:] == 2).all()


def test_state_dict_is_nano_ocr_unchanged_and_the_fold_is_a_constant():
    folded, base = build_model("nano-ocr-37"), build_model("nano-ocr")
    assert isinstance(folded, FoldedNanoOCR)
    got = {k: tuple(v.shape) for k, v in folded.state_dict().items()}
    assert got == {k: tuple(v.shape) for k, v in base.state_dict().items()}
    matrix = folded.fold.matrix
    assert tuple(matrix.shape) == (66, 37)
    assert ((matrix == 0) | (matrix == 1)).all() and (matrix.sum(1) == 1).all()
    with pytest.raises(ValueError, match="37 output classes"):
        FoldedNanoOCR(nclass=66)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def models37(nano_weights):
    """(nano-ocr-37, nano-ocr) with the real weights, eval mode."""
    return load_model("nano-ocr-37", nano_weights), load_model("nano-ocr", nano_weights)


@pytest.fixture(scope="module")
def bins37(iiit5k_lmdb, tmp_path_factory):
    """(input_bin, label.txt) of ``lmdb-to-bin --model nano-ocr-37`` on all of IIIT5K."""
    from crnn_deploy.preprocess.cli import main as preprocess_cli

    out = tmp_path_factory.mktemp("n37")
    res = CliRunner().invoke(preprocess_cli, [
        "lmdb-to-bin", "--lmdb", str(iiit5k_lmdb), "--model", "nano-ocr-37", "--workers", "2",
        "--output", str(out / "input_bin"), "--labels", str(out / "label.txt")])
    assert res.exit_code == 0, res.output
    return out / "input_bin", out / "label.txt"


def _first(input_bin, n: int) -> np.ndarray:
    return np.stack([np.fromfile(input_bin / f"test_{i}.bin", dtype=np.float32).reshape(1, 32, 100)
                     for i in range(1, n + 1)])


def test_output_is_the_log_of_case_summed_nano_ocr_probabilities(models37, bins37):
    folded, base = models37
    x = torch.from_numpy(_first(bins37[0], 32))
    with torch.no_grad():
        y = folded(x).numpy()
        logits = base(x).numpy()  # nano-ocr at width 100: 26 steps of 66 classes
    assert y.shape == (26, 32, 37) and logits.shape == (26, 32, 66)
    p = _softmax(logits.astype(np.float64))
    src = get_spec("nano-ocr").alphabet
    expected = np.empty((26, 32, 37))
    expected[..., 0] = p[..., 0] + sum(p[..., 1 + src.index(c)] for c in ".- ")
    for k, c in enumerate(DIGITS_LOWER, start=1):
        expected[..., k] = sum(p[..., 1 + j] for j, s in enumerate(src) if s.lower() == c)
    expected = np.log(np.maximum(expected, FOLD_EPS))
    assert np.abs(y - expected).max() < 1e-5
    # a distribution over 37 classes, up to the floor (< 36 * FOLD_EPS of extra mass)
    assert np.abs(np.exp(y.astype(np.float64)).sum(-1) - 1).max() < 1e-5


def test_floor_keeps_the_log_finite_in_pytorch_and_onnx(tmp_path):
    import onnxruntime as ort

    fold = ClassFold(fold_map(get_spec("nano-ocr").alphabet, DIGITS_LOWER), 37).eval()
    logits = torch.zeros(2, 3, 66)
    logits[..., 5] = 1e4  # every other probability underflows to exactly 0 in float32
    with torch.no_grad():
        y = fold(logits).numpy()
    floor = np.float32(math.log(FOLD_EPS))
    assert np.isfinite(y).all() and y.min() == pytest.approx(floor) and y[..., 5].max() == 0
    path = tmp_path / "fold.onnx"
    torch.onnx.export(fold, logits, str(path), input_names=["x"], opset_version=17, dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": logits.numpy()})[0]
    assert np.isfinite(got).all() and np.abs(got - y).max() < 1e-6


@pytest.fixture(scope="module")
def onnx37(nano_weights, models37, tmp_path_factory):
    """nano-ocr-37 ONNX files from the real weights: {"dynamic", "bs16"} (checked vs PyTorch)."""
    from crnn_deploy.converter.onnx_export import export_onnx

    folder = tmp_path_factory.mktemp("n37_onnx")
    paths = {"dynamic": folder / "nano-ocr-37_dynamic.onnx", "bs16": folder / "nano-ocr-37_bs16.onnx"}
    export_onnx(models37[0], SPEC, paths["dynamic"], batch_size=16, dynamic=True)
    export_onnx(models37[0], SPEC, paths["bs16"], batch_size=16)
    return paths


def test_onnx_graph_ends_with_the_fold_and_carries_the_spec(onnx37):
    import onnx

    model = onnx.load(str(onnx37["bs16"]))
    assert [n.op_type for n in model.graph.node][-4:] == ["Softmax", "MatMul", "Max", "Log"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["spec_name"] == "nano-ocr-37" and meta["input_shape"] == "1x32x100"
    assert meta["output_layout"] == "TBC, T=26, C=37, log_softmax"


def test_onnx_matches_pytorch_and_is_batch_invariant(onnx37, models37, bins37):
    import onnxruntime as ort

    x = _first(bins37[0], 64)
    with torch.no_grad():
        ref = models37[0](torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(onnx37["dynamic"]), providers=["CPUExecutionProvider"])
    runs = {b: np.concatenate([sess.run(None, {"actual_input_1": x[i:i + b]})[0]
                               for i in range(0, 64, b)], axis=1) for b in (1, 16, 64)}
    for b, y in runs.items():
        assert y.shape == (26, 64, 37)
        assert np.abs(y - ref).max() <= 1e-4, f"batch {b}"
        assert np.abs(y - runs[16]).max() <= 1e-5, f"batch {b} vs 16"


def _infer_and_score(engine, input_bin, label_txt, out, *extra):
    from crnn_deploy.postprocess.cli import main as postprocess_cli
    from crnn_deploy.runtime.cli import main as infer_cli

    res = CliRunner().invoke(infer_cli, ["--engine", str(engine), "--input", str(input_bin),
                                         "--output", str(out), *extra])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(postprocess_cli, [str(out), str(label_txt)])
    assert res.exit_code == 0, res.output
    return (json.loads((out / "accuracy.json").read_text()),
            (out / "errors.tsv").read_text().splitlines()[1:])


def test_iiit5k_staged_onnxruntime_and_openvino_equal_pytorch(
        tmp_path, onnx37, bins37, iiit5k_lmdb, nano_weights):
    pytest.importorskip("openvino")
    from crnn_deploy.converter.openvino_convert import convert_openvino
    from crnn_deploy.pipeline.fused import evaluate
    from crnn_deploy.runtime.torch_backend import TorchBackend

    input_bin, label_txt = bins37
    files = sorted(input_bin.glob("test_*.bin"))
    assert len(files) == 3000 and {f.stat().st_size for f in files} == {12_800}
    xml = tmp_path / "nano-ocr-37_bs16.xml"
    convert_openvino(onnx37["bs16"], xml, batch_size=16)
    scores = {
        "onnxruntime": _infer_and_score(onnx37["bs16"], input_bin, label_txt, tmp_path / "ort"),
        "openvino": _infer_and_score(xml, input_bin, label_txt, tmp_path / "ov"),
    }
    for name in ("ort", "ov"):
        results = sorted((tmp_path / name).glob("test_*_0.bin"))
        assert len(results) == 3000 and {f.stat().st_size for f in results} == {26 * 37 * 4}
        assert json.loads((tmp_path / name / "meta.json").read_text())["output_shape"] == [26, 1, 37]
    with TorchBackend(nano_weights, model="nano-ocr-37") as be:
        torch_eval = evaluate(iiit5k_lmdb, be, batch=16, workers=1)
    torch_errors = [list(e[:3]) for e in torch_eval.errors]  # source, label, prediction
    assert torch_eval.metrics["correct"] == IIIT5K_CORRECT >= MODELZOO_ACCURACY * 3000
    for name, (acc, errors) in scores.items():
        assert (acc["correct"], acc["total"]) == (IIIT5K_CORRECT, 3000), name
        # the same wrong predictions, row for row, named by the same source path
        assert [e.split("\t")[:3] for e in errors] == torch_errors, name


def _no_atc(monkeypatch, tmp_path):
    empty = tmp_path / "empty_path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("atc") is None


def test_om_command_is_the_modelzoo_one(monkeypatch, tmp_path, onnx37):
    _no_atc(monkeypatch, tmp_path)
    prefix = tmp_path / "crnn_bs16"
    res = CliRunner().invoke(convert_cli, ["om", "--onnx", str(onnx37["bs16"]), "--output",
                                           str(prefix), "--batch-size", "16",
                                           "--soc-version", "Ascend310P3"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    printed = res.output.split("The command would have been:\n", 1)[1].strip().splitlines()[0]
    # ModelZoo CRNN_for_PyTorch README, with this run's file names
    modelzoo = (f'atc --model={onnx37["bs16"].absolute()} --framework=5 --output={prefix} '
                '--input_format=NCHW --input_shape="actual_input_1:16,1,32,100" --log=error '
                '--soc_version=Ascend310P3')
    assert shlex.split(printed) == shlex.split(modelzoo)
    assert printed == modelzoo.replace('"', "")  # shlex.join needs no quotes for this shape
    assert not list(tmp_path.glob("crnn_bs16*"))


def test_int8_onnx_keeps_the_floor(onnx37, assets, tmp_path):
    """ONNX Runtime's QDQ quantizer drops a Clip after a quantized MatMul; the Max stays."""
    import onnx

    from crnn_deploy.converter.int8 import quantize

    out = tmp_path / "nano-ocr-37_bs16_int8.onnx"
    result = quantize(onnx37["bs16"], assets / "eval_ic03_860" / "gt.txt", out, calib_size=48)
    assert math.isfinite(result.check.max_diff) and result.check.agreement >= 0.9
    assert [n.op_type for n in onnx.load(str(out)).graph.node][-2:] == ["Max", "Log"]


def test_base_checkpoint_loads_unchanged(nano_weights, models37):
    sd = read_state_dict(nano_weights)
    folded = models37[0].state_dict()
    assert sd.keys() == folded.keys() and all(torch.equal(sd[k], folded[k]) for k in sd)
    assert isinstance(models37[1], NanoOCRCRNN) and not isinstance(models37[1], FoldedNanoOCR)
