"""Ascend OM builder: the atc command line, SoC detection, and our wrapper's failure paths.

atc itself is never faked as succeeding: the only stand-in is a script that fails, to test that
the error carries atc's stderr. The build + NPU parity test runs only where CANN and ais_bench
are installed.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.cli import main as convert_cli
from crnn_deploy.converter.om import (
    atc_args,
    build_om,
    om_prefix,
    parse_dynamic_batch,
    soc_from_npu_smi,
)
from crnn_deploy.models.specs import get_spec

DATA = Path(__file__).parent / "data"


def test_atc_args_static_crnn_is_the_modelzoo_command():
    args = atc_args("crnn.onnx", "crnn_bs16", get_spec("crnn"), 16, "Ascend310P3")
    assert args == ["atc", "--model=crnn.onnx", "--framework=5", "--output=crnn_bs16",
                    "--input_format=NCHW", "--input_shape=actual_input_1:16,1,32,100",
                    "--log=error", "--soc_version=Ascend310P3"]


def test_atc_args_take_the_shape_from_the_spec():
    args = atc_args("n.onnx", "n", get_spec("nano-ocr"), 8, "Ascend910B3", atc="/opt/atc")
    assert args[0] == "/opt/atc"
    assert "--input_shape=actual_input_1:8,1,32,128" in args
    assert not any(a.startswith("--dynamic_batch_size") for a in args)


@pytest.mark.parametrize("model,chw", [("crnn", "1,32,100"), ("nano-ocr", "1,32,128")])
def test_atc_args_dynamic_batch(model, chw):
    args = atc_args("m.onnx", "m", get_spec(model), None, "Ascend310P3", dynamic_batch=[1, 4, 8, 16])
    assert f"--input_shape=actual_input_1:-1,{chw}" in args
    assert args[-1] == "--dynamic_batch_size=1,4,8,16"


def test_parse_dynamic_batch():
    assert parse_dynamic_batch("16, 1,4,8") == [1, 4, 8, 16]
    for bad in ("1", "1,1", "0,4", "a,b"):
        with pytest.raises(UserError, match="--dynamic-batch"):
            parse_dynamic_batch(bad)


def test_om_prefix_accepts_both_forms():
    assert om_prefix("build/x_bs16.om") == Path("build/x_bs16")
    assert om_prefix("build/x_bs16") == Path("build/x_bs16")


@pytest.mark.parametrize("fixture,soc", [("npu_smi_info_910b3.txt", "Ascend910B3"),
                                         ("npu_smi_info_310p3.txt", "Ascend310P3")])
def test_soc_from_recorded_npu_smi_info(fixture, soc):
    assert soc_from_npu_smi((DATA / fixture).read_text()) == soc


def test_soc_from_npu_smi_without_npu():
    with pytest.raises(UserError, match="--soc-version"):
        soc_from_npu_smi("npu-smi: command produced no table\n")


def _no_atc_on_path(monkeypatch, tmp_path):
    empty = tmp_path / "empty_path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("atc") is None


def test_atc_absent_prints_the_command(monkeypatch, tmp_path, crnn_onnx):
    _no_atc_on_path(monkeypatch, tmp_path)
    res = CliRunner().invoke(convert_cli, [
        "om", "--onnx", str(crnn_onnx["bs16"]), "--output", str(tmp_path / "n_bs16"),
        "--batch-size", "16", "--soc-version", "Ascend310P3"])
    assert res.exit_code == 1
    assert "Error: atc (Huawei CANN toolkit) not found" in res.output
    assert "Traceback" not in res.output
    assert (f"atc --model={crnn_onnx['bs16'].absolute()} --framework=5 --output={tmp_path / 'n_bs16'} "
            "--input_format=NCHW --input_shape=actual_input_1:16,1,32,100 --log=error "
            "--soc_version=Ascend310P3") in res.output
    assert not list(tmp_path.glob("n_bs16*"))


def test_atc_absent_without_soc_shows_a_placeholder(monkeypatch, tmp_path, crnn_onnx):
    _no_atc_on_path(monkeypatch, tmp_path)
    with pytest.raises(UserError, match="--soc_version=SOC_VERSION") as err:
        build_om(crnn_onnx["dynamic"], tmp_path / "n.om", dynamic_batch="1,4,8,16")
    assert "--dynamic_batch_size=1,4,8,16" in str(err.value)


def test_failing_atc_gives_its_stderr_tail(tmp_path, crnn_onnx):
    script = tmp_path / "atc"
    lines = "\n".join(f"echo 'log line {i}' >&2" for i in range(30))
    script.write_text(f"#!/bin/sh\necho 'ATC start working now, please wait for a moment.'\n{lines}\n"
                      "echo 'E10001: Value [Ascend999] for parameter [--soc_version] is invalid.' >&2\n"
                      "exit 1\n")
    script.chmod(0o755)
    res = CliRunner().invoke(convert_cli, [
        "om", "--onnx", str(crnn_onnx["bs16"]), "--output", str(tmp_path / "out" / "n_bs16.om"),
        "--batch-size", "16", "--soc-version", "Ascend999", "--atc", str(script)])
    assert res.exit_code == 1
    assert "Error: atc failed (exit 1)" in res.output
    assert "E10001: Value [Ascend999] for parameter [--soc_version] is invalid." in res.output
    assert "log line 29" in res.output and "log line 5\n" not in res.output  # the tail only
    assert "--input_shape=actual_input_1:16,1,32,100" in res.output
    assert not list((tmp_path / "out").iterdir())  # no .om, no sidecar, no temp folder


def test_option_errors(tmp_path, crnn_onnx):
    with pytest.raises(UserError, match="--batch-size is required"):
        build_om(crnn_onnx["bs16"], tmp_path / "x", soc_version="Ascend310P3")
    with pytest.raises(UserError, match="static batch of 16"):
        build_om(crnn_onnx["bs16"], tmp_path / "x", batch_size=8, soc_version="Ascend310P3")
    with pytest.raises(UserError, match="static batch of 16"):
        build_om(crnn_onnx["bs16"], tmp_path / "x", dynamic_batch="1,16", soc_version="Ascend310P3")
    with pytest.raises(UserError, match="not one of --dynamic-batch"):
        build_om(crnn_onnx["dynamic"], tmp_path / "x", batch_size=3, dynamic_batch="1,16")
    with pytest.raises(UserError, match="not an executable"):
        build_om(crnn_onnx["bs16"], tmp_path / "x", batch_size=16, atc=tmp_path / "nope")


# -- the real thing, where CANN + an NPU exist -------------------------------------------------
def _npu_ready() -> str | None:
    from crnn_deploy.runtime.ascend_backend import unavailable_reason

    if shutil.which("atc") is None:
        return "atc (CANN toolkit) not on PATH"
    return unavailable_reason()


@pytest.mark.skipif(_npu_ready() is not None, reason=f"Ascend build+infer: {_npu_ready()}")
@pytest.mark.parametrize("dynamic", [False, True])
def test_build_and_run_om_on_the_npu(tmp_path, dynamic, nano_bs16_onnx, nano_dynamic_onnx):
    import numpy as np

    from crnn_deploy.converter.parity import check_inputs, ort_run
    from crnn_deploy.runtime.registry import open_backend

    onnx_path = nano_dynamic_onnx if dynamic else nano_bs16_onnx
    kw = {"dynamic_batch": "1,4,8,16"} if dynamic else {"batch_size": 16}
    res = build_om(onnx_path, tmp_path / "n.om", **kw)
    assert res.max_diff is not None and res.max_diff <= 0.1
    side = json.loads((tmp_path / "n.om.json").read_text())
    assert side["spec"]["name"] == "nano-ocr"
    spec = get_spec("nano-ocr")
    with open_backend(tmp_path / "n.om") as b:
        for n in ((3, 16) if dynamic else (16,)):
            x = check_inputs(spec, n)
            assert np.max(np.abs(b.infer(x) - ort_run(onnx_path, x, spec))) <= 0.1


def test_atc_args_give_width_gears_for_a_width_that_follows_the_word():
    spec = get_spec("nano-ocr").with_changes(name="dyn", input_shape=(3, 48, 320), channels="BGR",
                                             resize_mode="keep-ratio", width_max=960, input_name="x")
    args = atc_args("p.onnx", "p", spec, 8, "Ascend310P3", widths=[320, 480, 960])
    assert "--input_shape=x:8,3,-1,-1" in args
    assert "--dynamic_image_size=48,320;48,480;48,960" in args


def test_a_width_that_follows_the_word_gets_width_gears_in_the_atc_command(monkeypatch, tmp_path,
                                                                          ppocrv4_onnx):
    """PP-OCRv4 (W 320..3200): atc's --dynamic_image_size over the spec's small width set
    (runtime.widths.default_widths), static batch; shown when atc is absent."""
    from crnn_deploy.converter.om import width_steps
    from crnn_deploy.runtime.widths import default_widths

    _no_atc_on_path(monkeypatch, tmp_path)
    with pytest.raises(UserError, match="atc .* not found") as err:
        build_om(ppocrv4_onnx, tmp_path / "p.om", batch_size=16, soc_version="Ascend310P3")
    assert "--input_shape=x:16,3,-1,-1" in str(err.value)
    assert "--dynamic_image_size=48,320;48,480;48,720;48,1080;48,1620;48,3200" in str(err.value)
    with pytest.raises(UserError, match="does not combine with --dynamic-batch"):
        build_om(ppocrv4_onnx, tmp_path / "p.om", dynamic_batch="1,4", soc_version="Ascend310P3")
    # the sidecar's width -> T map (the OM's output buffer is sized for its largest gear)
    from crnn_deploy.converter.common import read_onnx_info

    spec = read_onnx_info(ppocrv4_onnx).spec
    assert default_widths(spec) == [320, 480, 720, 1080, 1620, 3200]
    assert width_steps(ppocrv4_onnx, spec, [320, 480, 1080]) == {320: 40, 480: 60, 1080: 135}


def test_detector_om_command_has_image_size_gears():
    from dataclasses import replace

    from crnn_deploy.converter.om import det_image_sizes
    from crnn_deploy.models.page_presets import get_page_spec

    det = get_page_spec("ppocrv4-det")
    sizes = det_image_sizes(det)
    assert sizes[0] == (736, 736) and sizes[-1] == (2048, 2048) and len(sizes) == 16
    args = atc_args("det.onnx", "det", det, 1, "Ascend310P3", image_sizes=sizes)
    assert "--input_shape=x:1,3,-1,-1" in args
    gears = [a for a in args if a.startswith("--dynamic_image_size=")]
    assert gears == ["--dynamic_image_size=" + ";".join(f"{h},{w}" for h, w in sizes)]
    assert "736,2048" in gears[0] and not any(a.startswith("--dynamic_batch_size") for a in args)
    small = det.with_changes(input=replace(det.input, max_side=1024))
    assert det_image_sizes(small) == [(736, 736), (736, 1024), (1024, 736), (1024, 1024)]
