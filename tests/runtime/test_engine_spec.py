"""runtime.engine_spec: every backend reads the output the spec names, never simply the first."""
from __future__ import annotations

import importlib.util
import json
import sys
import types

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import METADATA_KEY, get_spec, write_sidecar
from crnn_deploy.runtime.engine_spec import output_index
from crnn_deploy.runtime.registry import open_backend

SPEC = get_spec("crnn")  # (26, N, 37), output named output1


def two_outputs(path, first: str = "decoy") -> np.ndarray:
    """An engine of spec ``crnn`` whose outputs are ``first`` (the negation) and ``output1``
    (26, N, 37): per time step t < 26, the mean of input column t times the class weights.
    Returns the class weights."""
    weights = np.linspace(-1, 1, 37).astype(np.float32)
    inits = [numpy_helper.from_array(weights, "w"),
             numpy_helper.from_array(np.array([1, 2], np.int64), "hw"),
             numpy_helper.from_array(np.array([0], np.int64), "s0"),
             numpy_helper.from_array(np.array([26], np.int64), "s1"),
             numpy_helper.from_array(np.array([1], np.int64), "ax1"),
             numpy_helper.from_array(np.array([2], np.int64), "ax2")]
    nodes = [helper.make_node("ReduceMean", ["actual_input_1", "hw"], ["m"], keepdims=0),
             helper.make_node("Slice", ["m", "s0", "s1", "ax1"], ["s"]),
             helper.make_node("Transpose", ["s"], ["t"], perm=[1, 0]),
             helper.make_node("Unsqueeze", ["t", "ax2"], ["u"]),
             helper.make_node("Mul", ["u", "w"], ["output1"]),
             helper.make_node("Neg", ["output1"], [first])]
    out = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [26, "batch", 37])
           for n in (first, "output1")]
    graph = helper.make_graph(nodes, "two", [helper.make_tensor_value_info(
        "actual_input_1", TensorProto.FLOAT, ["batch", 1, 32, 100])], out, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, SPEC.to_json()
    onnx.save(model, str(path))
    return weights


def test_output_index_picks_the_named_output():
    assert output_index(["decoy", "output1"], SPEC, "e") == 1
    assert output_index([{"a", "decoy"}, {"b", "output1"}], SPEC, "e") == 1  # OpenVINO name sets
    assert output_index(["whatever"], SPEC, "e") == 0  # one output: older engines
    with pytest.raises(UserError, match=r"spec output.name 'output1' is none of its 2 outputs"):
        output_index(["a", "b"], SPEC, "e")


BACKENDS = ["onnxruntime"] + (["openvino"] if importlib.util.find_spec("openvino") else [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_backend_given_two_outputs_reads_the_named_one(tmp_path, backend):
    weights = two_outputs(tmp_path / "two.onnx")
    x = np.random.default_rng(0).uniform(-1, 1, (3, 1, 32, 100)).astype(np.float32)
    want = x.mean(axis=(1, 2))[:, :26].T[:, :, None] * weights
    with open_backend(tmp_path / "two.onnx", backend) as b:
        got = b.infer(x)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_two_outputs_none_named_by_the_spec_is_an_error(tmp_path):
    two_outputs(tmp_path / "two.onnx", first="other")
    model = onnx.load(str(tmp_path / "two.onnx"))
    model.metadata_props[0].value = json.dumps({**SPEC.to_dict(), "output_name": "logits"})
    onnx.save(model, str(tmp_path / "two.onnx"))
    with pytest.raises(UserError, match="spec output.name 'logits' is none of its 2 outputs"):
        open_backend(tmp_path / "two.onnx").load()


def test_an_om_with_two_outputs_returns_the_named_one(tmp_path, monkeypatch):
    """OmSession (ais_bench) on a fake InferSession whose first output is a decoy."""
    from crnn_deploy.runtime.ascend_backend import OmSession

    class Desc:
        def __init__(self, name, shape):
            self.name, self.shape = name, shape

    class FakeSession:
        def __init__(self, device, path):
            pass

        def get_inputs(self):
            return [Desc("actual_input_1", [2, 1, 32, 100])]

        def get_outputs(self):
            return [Desc("decoy", [26, 2, 37]), Desc("output1", [26, 2, 37])]

        def infer(self, xs, mode):
            return [np.full((26, 2, 37), -1, np.float32), np.ones((26, 2, 37), np.float32)]

    fake = types.ModuleType("ais_bench.infer.interface")
    fake.InferSession = FakeSession
    for mod in ("ais_bench", "ais_bench.infer"):
        monkeypatch.setitem(sys.modules, mod, types.ModuleType(mod))
    monkeypatch.setitem(sys.modules, "ais_bench.infer.interface", fake)
    write_sidecar(tmp_path / "m.om", SPEC, batch_size=2)
    session = OmSession(tmp_path / "m.om", SPEC.output_shape, spec=SPEC)
    out = session.infer(np.zeros((2, 1, 32, 100), np.float32))
    assert out.shape == (26, 2, 37) and (out == 1).all()


def test_an_engine_that_is_a_folder_empty_or_a_fifo_says_so(tmp_path):
    import os

    (tmp_path / "dir.onnx").mkdir()
    (tmp_path / "empty.xml").write_bytes(b"")
    os.mkfifo(tmp_path / "fifo.engine")
    for name, message in (("dir.onnx", "is a folder, not an engine file"),
                          ("empty.xml", r"is empty \(0 bytes\)"),
                          ("fifo.engine", "is not a regular file"),
                          ("none.onnx", "engine not found")):
        with pytest.raises(UserError, match=message):
            open_backend(tmp_path / name).load()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_engine_keeping_its_weights_as_external_data_is_refused(tmp_path, backend, monkeypatch):
    """The weights of an engine come from the engine file only: external data could name any
    file, and the result would depend on the working folder (issue 26)."""
    two_outputs(tmp_path / "two.onnx")
    model = onnx.load(str(tmp_path / "two.onnx"))
    onnx.save(model, str(tmp_path / "ext.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="w.bin", size_threshold=0)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"ext.onnx keeps weights as external data: tensor 'w'"):
        open_backend(tmp_path / "ext.onnx", backend).load()
    with open_backend(tmp_path / "two.onnx", backend) as b:  # the same model, weights inside
        assert b.infer(np.zeros((1, 1, 32, 100), np.float32)).shape == (26, 1, 37)
