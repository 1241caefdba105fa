"""crnn-convert inspect (issue 29) on real engines: the nano-ocr ONNX exported from the real
weights and its OpenVINO IR built here, PP-OCRv4 imported from RapidOCR's ONNX; a TensorRT plan
and an OM file through their sidecars (written as the builders write them: those engines cannot
be built on this machine, and inspect reads only the sidecar of either)."""
from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner

from crnn_deploy.converter.cli import main
from crnn_deploy.converter.common import source_record
from crnn_deploy.converter.inspect import format_report, inspect_engine
from crnn_deploy.models.specs import get_spec, write_sidecar


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def invoke(*args):
    return CliRunner().invoke(main, ["inspect", *map(str, args)])


@pytest.fixture(scope="module")
def nano_ir(nano_bs16_onnx, tmp_path_factory):
    pytest.importorskip("openvino")
    from crnn_deploy.converter.openvino_convert import convert_openvino

    out = tmp_path_factory.mktemp("inspect_ir") / "nano-ocr_bs16.xml"
    convert_openvino(nano_bs16_onnx, out)
    return out


def test_onnx_from_the_checkpoint(nano_bs16_onnx, nano_weights):
    res = invoke(nano_bs16_onnx)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[1].startswith("model: nano-ocr -- ")
    assert "input: actual_input_1 [16, 1, 32, 128] float32 (NCHW, gray)" in lines
    assert "output: output1 [33, 16, 66] float32 (TBC, logits)" in lines
    assert "classes: 66 (65 in the alphabet + the CTC blank, class 0)" in lines
    assert "widths: 128 (fixed)" in lines and "precision: fp32 weights" in lines
    assert f"source: checkpoint nano_ocr_ftr.pth (sha256 {sha(nano_weights)})" in lines
    assert '  alphabet: "0123456789abcdefghijklmnopqrstuvwxyzABCD"... (65 characters)' in lines
    assert "  blank: 0" in lines and '  output_layout: "TBC"' in lines


def test_ir_records_its_onnx_and_the_checkpoint(nano_ir, nano_bs16_onnx, nano_weights):
    res = invoke(nano_ir, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["format"] == "OpenVINO IR" and info["precision"] == "fp32 weights"
    assert info["inputs"] == [{"name": "actual_input_1", "shape": [16, 1, 32, 128],
                               "dtype": "float32"}]
    assert info["outputs"] == [{"name": "output1", "shape": [33, 16, 66], "dtype": "float32"}]
    assert info["source"] == {"from": "onnx", "file": nano_bs16_onnx.name,
                              "sha256": sha(nano_bs16_onnx),
                              "origin": {"from": "checkpoint", "file": "nano_ocr_ftr.pth",
                                         "sha256": sha(nano_weights)}}
    assert info["spec"] == get_spec("nano-ocr").to_dict()
    # the .bin counts in the size
    assert info["size_bytes"] == nano_ir.stat().st_size + nano_ir.with_suffix(".bin").stat().st_size


def test_imported_ppocrv4_with_a_dynamic_width(ppocrv4_onnx):
    from tests.conftest import PPOCR_SOURCE

    info = inspect_engine(ppocrv4_onnx)
    assert info["inputs"][0]["shape"] == ["batch", 3, 48, "width"]
    assert info["outputs"][0]["shape"][1:] == ["batch", 6625]
    assert info["derived"]["widths"].startswith("320..3200")
    assert info["source"] == {"from": "onnx import", "file": PPOCR_SOURCE.name,
                              "sha256": sha(PPOCR_SOURCE)}
    assert "character" not in info["extra"]  # the 6623-line dictionary is not repeated
    text = "\n".join(format_report(info))
    assert "(NCHW, BGR)" in text and "(TBC, probabilities)" in text and "(6624 characters)" in text


@pytest.mark.parametrize("suffix, extra, precision", [
    (".engine", {"profile": {"actual_input_1": [1, 1, 32, 128]}, "precision": "fp16"}, "fp16"),
    (".om", {"batch_size": 16, "soc_version": "Ascend310P3"},
     "atc precision_mode default (FP16 convolutions)"),
])
def test_plan_and_om_through_their_sidecar(nano_bs16_onnx, tmp_path, suffix, extra, precision):
    engine = tmp_path / f"nano-ocr_bs16{suffix}"
    engine.write_bytes(b"\x00" * 64)  # never opened: only the SDK could read it
    write_sidecar(engine, get_spec("nano-ocr"), onnx=str(nano_bs16_onnx),
                  source=source_record("onnx", nano_bs16_onnx), **extra)
    info = inspect_engine(engine)
    batch = 16 if suffix == ".om" else "batch"
    assert info["inputs"][0]["shape"] == [batch, 1, 32, 128]
    assert info["outputs"][0]["shape"] == [33, batch, 66]
    assert info["precision"] == precision and info["source"]["sha256"] == sha(nano_bs16_onnx)
    assert {k: info["extra"][k] for k in extra if k != "precision"} == \
        {k: v for k, v in extra.items() if k != "precision"}
    engine.with_name(engine.name + ".json").unlink()
    res = invoke(engine)
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert f"no sidecar {engine}.json" in res.output


def test_errors(nano_bs16_onnx, tmp_path):
    import onnx

    bare = tmp_path / "bare.onnx"
    model = onnx.load(str(nano_bs16_onnx))
    del model.metadata_props[:]
    onnx.save(model, str(bare))
    res = invoke(bare)
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert f"crnn-convert import {bare} --spec PRESET|spec.json" in res.output
    assert "unknown engine type '.pth'" in invoke(tmp_path / "x.pth").output
    assert "not found" in invoke(tmp_path / "absent.onnx").output


def test_a_page_model_shows_its_own_fields(tmp_path):
    """A spec kind added after inspect (the angle classifier of the pages work) prints from its
    record, with no code for it in converter/inspect.py."""
    from crnn_deploy.converter.import_page_models import import_page_model
    from crnn_deploy.models.page_presets import PAGE_PRESETS
    from tests.conftest import PAGE_WEIGHTS

    source = PAGE_WEIGHTS["ppocr-cls"]
    if not source.is_file():
        pytest.skip(f"{source} not found (run `make weights`)")
    out = tmp_path / "cls.onnx"
    import_page_model(source, PAGE_PRESETS["ppocr-cls"], out)
    info = inspect_engine(out)
    assert info["derived"]["kind"] == "classifier" and info["spec"]["labels"] == ["0", "180"]
    assert info["inputs"][0]["shape"] == ["batch", 3, 48, 192]
    assert info["source"] == {"from": "onnx import", "file": source.name, "sha256": sha(source)}
    assert '  labels: ["0", "180"]' in format_report(info)
