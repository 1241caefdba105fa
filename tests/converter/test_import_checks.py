"""crnn-convert import runs the model on probe inputs and checks the spec against what it does
(converter.import_checks): on the real PP-OCRv4 recognizer with wrong spec fields, and on small
synthetic graphs (a decoy first output, an integer output, an output that ignores the batch)."""
from __future__ import annotations

import copy
import csv
import io
import json
import re

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.cli import main as convert_cli
from crnn_deploy.converter.import_checks import check_outputs, observed_kind, white_input
from crnn_deploy.converter.onnx_import import _outputs, check_shapes
from crnn_deploy.models.presets import PRESETS
from crnn_deploy.models.spec_schema import spec_from_schema
from crnn_deploy.pipeline.recognize_cli import main as recognize_cli

from ..conftest import PPOCR_SOURCE

# -- the real PP-OCRv4 recognizer: (N, T, 6625) softmax probabilities, blank 0 ---------------


@pytest.fixture(scope="module")
def ppocr_probes():
    """The probe outputs of PP-OCRv4 (run once) and its metadata."""
    if not PPOCR_SOURCE.is_file():
        pytest.skip(f"PP-OCRv4 weights not found at {PPOCR_SOURCE} (run `make weights`)")
    model = onnx.load(str(PPOCR_SOURCE))
    meta = {p.key: p.value for p in model.metadata_props}
    spec = spec_from_schema(PRESETS["ppocrv4-rec"], metadata=meta, seq_len=1,
                            output_name="softmax_11.tmp_0")
    shapes = check_shapes(spec)
    *raw, white = _outputs(PPOCR_SOURCE, spec, "x", shapes, spec.output_name, white_input(spec))
    return meta, dict(zip(shapes, raw)), white


def _ppocr_spec(meta, **output):
    d = copy.deepcopy(PRESETS["ppocrv4-rec"])
    d["output"].update(output)
    return spec_from_schema(d, metadata=meta, seq_len=1, output_name="softmax_11.tmp_0")


def test_the_preset_matches_what_ppocrv4_does(ppocr_probes):
    meta, probes, white = ppocr_probes
    t, warnings = check_outputs(_ppocr_spec(meta), probes, white, "rec.onnx")
    assert t == 40 and warnings == []  # T = W / 8 at width 320; white reads as the blank
    assert observed_kind(list(probes.values())) == "probabilities"


@pytest.mark.parametrize("output, message", [
    ({"layout": "TBC"}, "spec output.layout is TBC, but the model's batch is on axis 0 .*that is BTC"),
    ({"kind": "logits"}, "spec output.kind is 'logits', but the model's output sums to 1 over the "
                         "classes on probe inputs: it holds probabilities"),
    ({"kind": "log-probabilities"}, "spec output.kind is 'log-probabilities'.*holds probabilities"),
])
def test_a_spec_field_that_contradicts_ppocrv4_is_an_error_naming_it(ppocr_probes, output, message):
    meta, probes, white = ppocr_probes
    with pytest.raises(UserError, match=message):
        check_outputs(_ppocr_spec(meta, **output), probes, white, "rec.onnx")


def test_a_wrong_blank_on_ppocrv4_is_a_warning_naming_output_blank(ppocr_probes):
    meta, probes, white = ppocr_probes
    _, warnings = check_outputs(_ppocr_spec(meta, blank=6624), probes, white, "rec.onnx")
    assert len(warnings) == 1 and "spec output.blank is 6624" in warnings[0]
    assert "most frequent class is 0" in warnings[0]


def test_wrong_alphabet_and_time_axis_on_ppocrv4(ppocr_probes):
    meta, probes, white = ppocr_probes
    d = copy.deepcopy(PRESETS["ppocrv4-rec"])
    d["alphabet"]["append"] = ""  # without use_space_char: one class short
    spec = spec_from_schema(d, metadata=meta, seq_len=1, output_name="softmax_11.tmp_0")
    with pytest.raises(UserError, match="C = 6625 classes, but the spec's alphabet has 6623"):
        check_outputs(spec, probes, white, "rec.onnx")
    frozen = {k: (y[:, :40] if k[1] > 320 else y) for k, y in probes.items()}  # T not following W
    with pytest.raises(UserError, match=r"time axis \(1\) does not grow with the input width"):
        check_outputs(_ppocr_spec(meta), frozen, white, "rec.onnx")


def test_import_of_ppocrv4_with_a_wrong_layout_fails_before_writing(tmp_path):
    if not PPOCR_SOURCE.is_file():
        pytest.skip("PP-OCRv4 weights not found")
    model = onnx.load(str(PPOCR_SOURCE))
    d = copy.deepcopy(PRESETS["ppocrv4-rec"])
    d["output"]["layout"] = "TBC"
    d["alphabet"] = [line for line in dict(
        (p.key, p.value) for p in model.metadata_props)["character"].splitlines() if line] + [" "]
    (tmp_path / "spec.json").write_text(json.dumps(d))
    res = CliRunner().invoke(convert_cli, ["import", str(PPOCR_SOURCE), "--spec",
                                           str(tmp_path / "spec.json"), "--output", str(tmp_path / "o.onnx")])
    assert res.exit_code == 1 and "Error:" in res.output and "output.layout" in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "o.onnx").exists()


# -- small synthetic graphs ------------------------------------------------------------------
SPEC = {"name": "tiny", "input": {"name": "pixels", "channels": "gray", "height": 8,
                                  "width": {"min": 16, "max": 64, "multiple": 4},
                                  "resize": "keep-ratio", "library": "opencv"},
        "output": {"name": "probs", "layout": "BTC", "kind": "probabilities", "blank": 3},
        "alphabet": "xyz"}


def tiny(path, decoy: bool = False, tail: list | None = None, out_type=TensorProto.FLOAT) -> None:
    """(N, 1, 8, W) -> (N, W, 4) softmax: class 0 on dark columns, 2 on bright ones, else the
    blank (3); ``decoy`` adds a first output ``decoy`` (the classes reversed); ``tail`` nodes
    after ``probs`` whose last output becomes the output named ``probs``."""
    w = numpy_helper.from_array(np.array([[-8.0, 0.0, 8.0, 0.0]], np.float32), "w")
    b = numpy_helper.from_array(np.array([0.0, -1.0, 0.0, 2.0], np.float32), "b")
    axes = numpy_helper.from_array(np.array([2], np.int64), "axes")
    last = "probs" if not tail else "p0"
    nodes = [helper.make_node("ReduceMean", ["pixels", "axes"], ["m"], keepdims=0),
             helper.make_node("Transpose", ["m"], ["t"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["t", "w"], ["l"]),
             helper.make_node("Add", ["l", "b"], ["z"]),
             helper.make_node("Softmax", ["z"], [last], axis=2), *(tail or [])]
    outputs = [helper.make_tensor_value_info("probs", out_type, None)]
    if decoy:
        nodes.append(helper.make_node("Neg", ["z"], ["nz"]))
        nodes.append(helper.make_node("Softmax", ["nz"], ["decoy"], axis=2))
        outputs.insert(0, helper.make_tensor_value_info("decoy", TensorProto.FLOAT, ["n", "w", 4]))
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 1, 8, "w"])],
        outputs, [w, b, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _import(tmp_path, spec=SPEC):
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    return CliRunner().invoke(convert_cli, ["import", str(tmp_path / "m.onnx"), "--spec",
                                            str(tmp_path / "spec.json"), "--output",
                                            str(tmp_path / "ours.onnx")])


def test_a_decoy_first_output_is_dropped_and_the_named_one_decoded(tmp_path):
    tiny(tmp_path / "m.onnx", decoy=True)
    res = _import(tmp_path)
    assert res.exit_code == 0, res.output
    model = onnx.load(str(tmp_path / "ours.onnx"))
    assert len(model.graph.output) == 1 and model.graph.output[0].name.startswith("probs")
    assert not {"Neg"} & {n.op_type for n in model.graph.node}  # the decoy's nodes pruned
    cols = np.concatenate([np.full((16, 12), v, np.uint8) for v in (0, 128, 255, 128, 0)], axis=1)
    Image.fromarray(cols).save(tmp_path / "w.png")
    res = CliRunner().invoke(recognize_cli, ["--engine", str(tmp_path / "ours.onnx"),
                                             str(tmp_path / "w.png")])
    assert res.exit_code == 0, res.output
    assert next(csv.reader(io.StringIO(res.stdout), delimiter="\t"))[1] == "xzx"
    spec = {**SPEC, "output": {k: v for k, v in SPEC["output"].items() if k != "name"}}
    (tmp_path / "ours.onnx").unlink()
    res = _import(tmp_path, spec)  # two outputs and none named: the spec must say which
    assert res.exit_code == 1 and "output.name None does not pick one" in res.output, res.output


@pytest.mark.parametrize("tail, out_type, message", [
    ([helper.make_node("ArgMax", ["p0"], ["a"], axis=2, keepdims=1),
      helper.make_node("Cast", ["a"], ["probs"], to=TensorProto.INT64)], TensorProto.INT64,
     r"output 'probs' \(spec output.name\) has dtype int64"),
    ([helper.make_node("ReduceMean", ["p0", "ax0"], ["probs"], keepdims=1)], TensorProto.FLOAT,
     r"output 'probs' \(spec output.name\) ignores the batch"),
    ([helper.make_node("Log", ["p0"], ["probs"])], TensorProto.FLOAT,
     "spec output.kind is 'probabilities', but the model's output log-sum-exps to 0"),
    ([helper.make_node("Div", ["p0", "zero"], ["probs"])], TensorProto.FLOAT,
     "holds NaN or infinite values"),
])
def test_outputs_every_later_run_would_refuse_are_refused_at_import(tmp_path, tail, out_type, message):
    tiny(tmp_path / "m.onnx", tail=tail, out_type=out_type)
    model = onnx.load(str(tmp_path / "m.onnx"))
    model.graph.initializer.extend([numpy_helper.from_array(np.array([0], np.int64), "ax0"),
                                    numpy_helper.from_array(np.zeros(4, np.float32), "zero")])
    onnx.save(model, str(tmp_path / "m.onnx"))
    res = _import(tmp_path)
    assert res.exit_code == 1 and "Error:" in res.output and re.search(message, res.output), res.output
    assert "Traceback" not in res.output and not (tmp_path / "ours.onnx").exists()


def test_a_wrong_blank_imports_with_a_warning(tmp_path):
    tiny(tmp_path / "m.onnx")
    res = _import(tmp_path, {**SPEC, "output": {**SPEC["output"], "blank": 1}})
    assert res.exit_code == 0, res.output
    assert "Warning: spec output.blank is 1, but on a blank (white) image" in res.output
