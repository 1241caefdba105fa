"""crnn-convert import: a tiny CTC ONNX with its own alphabet and a hand-written spec, through
import, crnn-recognize and crnn-eval; and the spec errors that name the field."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from crnn_deploy.converter.cli import main as convert_cli
from crnn_deploy.pipeline.eval_cli import main as eval_cli
from crnn_deploy.pipeline.recognize_cli import main as recognize_cli
from crnn_deploy.runtime.engine_spec import onnx_spec_text

#: the tiny model's classes: 'x' (dark columns), 'y' (never), 'z' (bright columns), blank LAST
SPEC = {
    "name": "tiny-ctc",
    "input": {"name": "pixels", "channels": "gray", "height": 8,
              "width": {"min": 16, "max": 64, "multiple": 4}, "resize": "keep-ratio",
              "pad": "zeros", "interpolation": "bilinear", "library": "opencv"},
    "output": {"layout": "BTC", "kind": "probabilities", "blank": 3},
    "alphabet": {"file": "classes.txt"},
}


def tiny_ctc(path) -> None:
    """(N, 1, 8, W) -> column means v in [-1, 1] -> (N, W, 4) softmax of v * w + b: one time
    step per column; class 0 wins where v < -0.25, class 2 where v > 0.25, else the blank (3)."""
    w = numpy_helper.from_array(np.array([[-8.0, 0.0, 8.0, 0.0]], np.float32), "w")
    b = numpy_helper.from_array(np.array([0.0, -1.0, 0.0, 2.0], np.float32), "b")
    axes = numpy_helper.from_array(np.array([2], np.int64), "axes")
    nodes = [helper.make_node("ReduceMean", ["pixels", "axes"], ["m"], keepdims=0),
             helper.make_node("Transpose", ["m"], ["t"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["t", "w"], ["l"]),
             helper.make_node("Add", ["l", "b"], ["z"]),
             helper.make_node("Softmax", ["z"], ["probs"], axis=2)]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 1, 8, "w"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", "w", 4])], [w, b, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))


def word(pattern: str, height: int = 16, block: int = 12) -> Image.Image:
    """Blocks of black (x), mid grey (gap) and white (z) columns, `height` pixels tall."""
    value = {"x": 0, "-": 128, "z": 255}
    cols = np.concatenate([np.full((height, block), value[c], np.uint8) for c in pattern], axis=1)
    return Image.fromarray(cols)


WORDS = {"a.png": ("x-z", "xz"), "b.png": ("z-x-z", "zxz"), "c.png": ("x-x", "xx"),
         "d.png": ("-z-", "z"), "e.png": ("x-z-x-z-x-z-x", "xzxzxzx"), "f.png": ("---", "")}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    tiny_ctc(root / "tiny.onnx")
    (root / "classes.txt").write_text("x\ny\nz\n", encoding="utf-8")
    (root / "spec.json").write_text(json.dumps(SPEC))
    res = CliRunner().invoke(convert_cli, ["import", str(root / "tiny.onnx"), "--spec",
                                           str(root / "spec.json"), "--output", str(root / "ours.onnx")])
    assert res.exit_code == 0, res.output
    for name, (pattern, _) in WORDS.items():
        word(pattern, height=16 + 2 * len(name)).save(root / name)
    return root


def test_import_writes_the_spec_and_engine_layout(imported):
    spec = json.loads(onnx_spec_text(imported / "ours.onnx"))
    assert (spec["alphabet"], spec["output_layout"], spec["blank"]) == ("xyz", "TBC", 0)
    assert spec["input_shape"] == [1, 8, 16] and spec["width_max"] == 64 and spec["seq_len"] == 16
    model = onnx.load(str(imported / "ours.onnx"))
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1, 8, "width"]
    assert [n.op_type for n in model.graph.node][-2:] == ["Transpose", "Gather"]


def test_crnn_recognize_and_crnn_eval_read_the_tiny_model(imported, tmp_path):
    paths = [str(imported / n) for n in WORDS]
    res = CliRunner().invoke(recognize_cli, ["--engine", str(imported / "ours.onnx"), "--batchsize", "2",
                                             *paths])
    assert res.exit_code == 0, res.output
    got = {r[0].rsplit("/", 1)[-1]: r[1] for r in csv.reader(io.StringIO(res.stdout), delimiter="\t")}
    assert got == {n: text for n, (_, text) in WORDS.items()}
    gt = imported / "gt.txt"
    gt.write_text("".join(f"{n}\t{t or 'none'}\n" for n, (_, t) in WORDS.items()))
    from crnn_deploy.preprocess.cli import main as prep_cli

    res = CliRunner().invoke(prep_cli, ["build-lmdb", "--gt", str(gt), "--output", str(tmp_path / "t.lmdb")])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(eval_cli, ["--lmdb", str(tmp_path / "t.lmdb"), "--engine",
                                        str(imported / "ours.onnx"), "--output", str(tmp_path / "ev")])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader((tmp_path / "ev" / "predictions.tsv").open(encoding="utf-8"), delimiter="\t"))
    assert [r[2] for r in rows[1:]] == [t for _, t in WORDS.values()]
    acc = json.loads((tmp_path / "ev" / "accuracy.json").read_text())
    assert acc["total"] == 6 and acc["correct"] == 5, acc  # f.png reads "" against "none"


@pytest.mark.parametrize("change, named", [
    ({"alphabet": "xyzw"}, "alphabet has 4 characters"),
    ({"input": {**SPEC["input"], "height": 9}}, "input.height is 9"),
    ({"input": {**SPEC["input"], "channels": "RGB"}}, "input.channels is 3"),
    ({"input": {**SPEC["input"], "width": {"min": 16, "max": 8}}}, "width"),
    ({"output": {**SPEC["output"], "blank": 4}}, "blank"),
    ({"input": {**SPEC["input"], "name": "image"}}, "input.name 'image'"),
    ({"decoding": {"confidence": "median"}}, "decoding.confidence"),
])
def test_a_spec_that_contradicts_the_model_is_an_error(imported, tmp_path, change, named):
    (tmp_path / "classes.txt").write_text("x\ny\nz\n")
    (tmp_path / "bad.json").write_text(json.dumps({**SPEC, **change}))
    res = CliRunner().invoke(convert_cli, ["import", str(imported / "tiny.onnx"), "--spec",
                                           str(tmp_path / "bad.json"), "--output", str(tmp_path / "o.onnx")])
    assert res.exit_code == 1 and "Error:" in res.output and named in res.output, res.output
    assert not (tmp_path / "o.onnx").exists()


def test_an_input_rank_that_does_not_match_the_spec_is_an_error(tmp_path):
    w = numpy_helper.from_array(np.ones((8, 4), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["pixels"], ["t"], perm=[0, 2, 1]),
         helper.make_node("MatMul", ["t", "w"], ["probs"])], "rank3",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 8, "w"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", "w", 4])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(tmp_path / "r3.onnx"))
    (tmp_path / "classes.txt").write_text("x\ny\nz\n")
    (tmp_path / "s.json").write_text(json.dumps(SPEC))
    res = CliRunner().invoke(convert_cli, ["import", str(tmp_path / "r3.onnx"), "--spec",
                                           str(tmp_path / "s.json"), "--output", str(tmp_path / "o.onnx")])
    assert res.exit_code == 1 and "has rank 3" in res.output and "NCHW" in res.output, res.output


@pytest.mark.parametrize("output", ["m_bs16.xml", "m_bs16.bin", "m", "m.onnx.json"])
def test_import_output_must_end_in_onnx(imported, tmp_path, output):
    """Writing ONNX bytes over an IR's .xml would orphan its .bin: refused, the pair untouched."""
    (tmp_path / "m_bs16.xml").write_text("<net/>")
    (tmp_path / "m_bs16.bin").write_bytes(b"weights")
    res = CliRunner().invoke(convert_cli, ["import", str(imported / "tiny.onnx"), "--spec",
                                           str(imported / "spec.json"), "--output",
                                           str(tmp_path / output), "--overwrite"])
    assert res.exit_code == 1 and "give a name ending in .onnx" in res.output, res.output
    assert (tmp_path / "m_bs16.xml").read_text() == "<net/>"
    assert (tmp_path / "m_bs16.bin").read_bytes() == b"weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m_bs16.bin", "m_bs16.xml"]


def test_import_of_a_folder_an_empty_file_or_external_data_says_what_it_is(imported, tmp_path):
    (tmp_path / "dir.onnx").mkdir()
    (tmp_path / "empty.onnx").write_bytes(b"")
    model = onnx.load(str(imported / "tiny.onnx"))
    onnx.save(model, str(tmp_path / "ext.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="ext.data", size_threshold=0)
    for name, message in (("dir.onnx", "is a folder, not an ONNX file"),
                          ("empty.onnx", "is empty (0 bytes), not an ONNX model"),
                          ("ext.onnx", "keeps weights as external data")):
        res = CliRunner().invoke(convert_cli, ["import", str(tmp_path / name), "--spec",
                                               str(imported / "spec.json"), "--output",
                                               str(tmp_path / "o.onnx")])
        assert res.exit_code == 1 and message in res.output, res.output
    assert not (tmp_path / "o.onnx").exists()
