"""models.onnx_file: what an ONNX read refuses (the converter, the runtime and spec arguments all
read through load_onnx_spec)."""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.onnx_file import external_data_tensor, load_onnx_spec


def _model(size: int = 4096) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((size,), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [size])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_external_data_is_refused_naming_the_tensor_and_file(tmp_path, monkeypatch):
    onnx.save(_model(), str(tmp_path / "ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    with pytest.raises(UserError, match=r"ext.onnx keeps weights as external data: tensor 'w' "
                                         r"\(in 'weights.bin'\)"):
        load_onnx_spec(tmp_path / "ext.onnx")
    monkeypatch.chdir(tmp_path)  # the answer does not depend on the working folder
    with pytest.raises(UserError, match="external data"):
        load_onnx_spec("ext.onnx")
    onnx.save(_model(), str(tmp_path / "inside.onnx"))
    model, text = load_onnx_spec(tmp_path / "inside.onnx")
    assert text is None and external_data_tensor(model) is None


def test_external_data_inside_a_subgraph_is_found():
    inner = _model()
    t = inner.graph.initializer[0]
    t.data_location = TensorProto.EXTERNAL
    entry = t.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    outer = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=inner.graph,
                                                else_branch=inner.graph)], "o",
                              [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4096])])
    assert "../../etc/passwd" in external_data_tensor(helper.make_model(outer))


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), r"is empty \(0 bytes\), not an ONNX model"),
    (lambda p: p.mkdir(), "is a folder, not an ONNX file"),
    (lambda p: os.mkfifo(p), "is not a regular file"),
    (lambda p: p.write_bytes(b"\x08\x07"), r"is not an ONNX model \(it holds no graph\)"),
    (lambda p: p.write_bytes(b"\xff" * 64), "cannot read ONNX model"),
    (lambda p: None, "ONNX file not found"),
])
def test_files_that_are_not_onnx_models_say_what_they_are(tmp_path, make, message):
    path = tmp_path / "x.onnx"
    make(path)
    with pytest.raises(UserError, match=message):
        load_onnx_spec(path)


def test_escape_sequences_in_a_file_name_do_not_reach_the_terminal(tmp_path):
    path = tmp_path / "\x1b[2Jevil\n.onnx"
    path.write_bytes(b"")
    with pytest.raises(UserError, match=r"\\x1b\[2Jevil\\n\.onnx is empty") as err:
        load_onnx_spec(path)
    assert "\x1b" not in str(err.value) and "\n" not in str(err.value)
