"""converter/common.py: reading what an exported ONNX holds, the static-batch guard, the install
hint. (Temporary names and publishing: tests/converter/test_outputs.py.)"""
from __future__ import annotations

import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.common import check_static_batch, import_hint, read_onnx_info
from crnn_deploy.models.specs import get_spec


def test_read_onnx_info_of_the_real_exports(nano_dynamic_onnx, nano_bs16_onnx):
    dyn, static = read_onnx_info(nano_dynamic_onnx), read_onnx_info(str(nano_bs16_onnx))
    assert dyn.spec == get_spec("nano-ocr") and dyn.batch is None and dyn.path == nano_dynamic_onnx
    assert static.spec == dyn.spec and static.batch == 16


def test_read_onnx_info_errors(nano_dynamic_onnx, tmp_path):
    import onnx

    with pytest.raises(UserError, match="ONNX file not found"):
        read_onnx_info(tmp_path / "absent.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff\x00 not a protobuf" * 20)
    with pytest.raises(UserError, match=f"cannot read ONNX model {junk}"):
        read_onnx_info(junk)
    model = onnx.load(str(nano_dynamic_onnx))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    with pytest.raises(UserError, match=f"carries no model spec .*crnn-convert import {bare} "
                       r"--spec PRESET\|spec.json --output bare-spec.onnx"):
        read_onnx_info(bare)
    model = onnx.load(str(nano_dynamic_onnx))
    old = model.graph.input[0].name
    model.graph.input[0].name = "images"
    for node in model.graph.node:
        node.input[:] = ["images" if name == old else name for name in node.input]
    renamed = tmp_path / "renamed.onnx"
    onnx.save(model, str(renamed))
    with pytest.raises(UserError, match=r"expected one input named 'actual_input_1', got \['images'\]"):
        read_onnx_info(renamed)


def test_check_static_batch(nano_dynamic_onnx, nano_bs16_onnx):
    static, dyn = read_onnx_info(nano_bs16_onnx), read_onnx_info(nano_dynamic_onnx)
    check_static_batch(static, 16, "OpenVINO IR")
    for batch in (None, 1, 16, 64):
        check_static_batch(dyn, batch, "OpenVINO IR")
    with pytest.raises(UserError, match="static batch of 16; OpenVINO IR needs batch 8: use the dynamic"):
        check_static_batch(static, 8, "OpenVINO IR")
    with pytest.raises(UserError, match="needs a dynamic batch"):
        check_static_batch(static, None, "a TensorRT profile")


def test_import_hint():
    err = import_hint("openvino", "openvino", "needed for .xml")
    assert isinstance(err, UserError)
    assert str(err) == ("openvino is not installed; install it with: "
                        "pip install 'crnn-deploy[openvino]' (needed for .xml)")
    assert str(import_hint("nncf", "quant")).endswith("'crnn-deploy[quant]'")


def test_an_onnx_file_above_the_protobuf_limit_is_refused_before_it_is_read(tmp_path):
    """One bound (models.specs.MAX_ONNX_BYTES) for every ONNX read: the converter's, the
    runtime's spec reader and a spec argument, each naming the file (a sparse file: no disk)."""
    from crnn_deploy.models.specs import MAX_ONNX_BYTES, spec_from_arg
    from crnn_deploy.runtime.engine_spec import onnx_spec_text

    big = tmp_path / "big.onnx"
    with open(big, "wb") as f:
        f.truncate(MAX_ONNX_BYTES + 1)
    for read in (read_onnx_info, onnx_spec_text, spec_from_arg):
        with pytest.raises(UserError, match=f"{big} is larger than 2 GiB, the protobuf limit"):
            read(big)


# Without torch (a library install without the export extra, issue 29): `crnn-convert onnx`
# and `crnn-convert all --checkpoint` say so with the install command that pulls the CPU build,
# instead of a ModuleNotFoundError traceback; --onnx builds need no torch. torch is hidden in a
# fresh interpreter (sys.modules["torch"] = None makes `import torch` raise ImportError).
HIDE_TORCH = """
import sys
sys.modules["torch"] = None
from crnn_deploy.converter.cli import main
sys.argv = ["crnn-convert", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("args", [
    ["onnx", "--model", "nano-ocr", "--checkpoint", "weights/nano_ocr_ftr.pth", "--output",
     "{tmp}/x.onnx"],
    ["all", "--model", "nano-ocr", "--checkpoint", "weights/nano_ocr_ftr.pth", "--outdir",
     "{tmp}/engines"],
])
def test_without_torch_the_export_says_how_to_install_it(args, tmp_path, nano_weights):
    import subprocess
    import sys

    args = [a.replace("weights/nano_ocr_ftr.pth", str(nano_weights)).format(tmp=tmp_path)
            for a in args]
    proc = subprocess.run([sys.executable, "-c", HIDE_TORCH, *args], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "ModuleNotFoundError" not in proc.stderr
    assert proc.stderr.startswith(f"Error: crnn-convert {args[0]}")
    assert "needs PyTorch, which is not installed; install it with: pip install torch==2.13.0 " \
           "--index-url https://download.pytorch.org/whl/cpu (the CPU build) first, then: " \
           "pip install 'crnn-deploy[export]'" in proc.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_the_pytorch_backend_hint_installs_the_cpu_build_first():
    from crnn_deploy.runtime.torch_backend import TorchBackend

    hint = TorchBackend.install_hint()
    assert hint.index("torch==2.13.0") < hint.index("crnn-deploy[export]")
