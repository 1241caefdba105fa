"""``crnn-convert all``: every engine this machine can build, a table with built/skipped/failed."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from crnn_deploy.converter.build_all import Row, format_table
from crnn_deploy.converter.cli import main as convert_cli
from crnn_deploy.models.arch import build_model
from crnn_deploy.runtime.tensorrt_backend import unavailable_reason as trt_reason

HAVE_OV = importlib.util.find_spec("openvino") is not None


def _rows(output: str) -> dict[str, str]:
    """engine name -> its table line."""
    names = ("onnx (dynamic)", "onnx (bs16)", "openvino", "tensorrt", "ascend om",
             "openvino int8", "onnx int8")
    return {n: line for line in output.splitlines() for n in names
            if line.startswith(n + " ") and not line[len(n):].startswith(" int8")}


def test_format_table():
    rows = [Row("onnx (bs16)", Path("x/m_bs16.onnx"), "built", 5.7e-06, "PyTorch"),
            Row("tensorrt", Path("x/m_bs16.engine"), "skipped: tensorrt is not importable")]
    lines = format_table(rows).splitlines()
    assert lines[0].split() == ["engine", "file", "size", "(MB)", "status", "max", "abs", "diff",
                                "check"]
    assert "5.70e-06 vs PyTorch" in lines[2] and "m_bs16.onnx" in lines[2]
    assert "skipped: tensorrt is not importable" in lines[3] and lines[3].endswith("-")


def test_all_nano_ocr(nano_weights, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(Path(shutil.which("python")).parent))  # no atc here
    res = CliRunner().invoke(convert_cli, ["all", "--model", "nano-ocr", "--checkpoint",
                                           str(nano_weights), "--batch-size", "16",
                                           "--outdir", str(tmp_path)])
    print(res.output)
    assert res.exit_code == 0, res.output
    rows = _rows(res.output)
    assert len(rows) == 7
    for name in ("openvino int8", "onnx int8"):  # no --calib-gt given
        assert "skipped: no calibration images (--calib-gt)" in rows[name]
    for name in ("onnx (dynamic)", "onnx (bs16)"):
        assert " built " in rows[name] and "vs PyTorch" in rows[name]
    assert (tmp_path / "nano-ocr_dynamic.onnx").is_file() and (tmp_path / "nano-ocr_bs16.onnx").is_file()
    if HAVE_OV:
        assert " built " in rows["openvino"] and "vs ONNX Runtime" in rows["openvino"]
        diff = float(re.search(r"(\S+) vs ONNX Runtime", rows["openvino"]).group(1))
        assert diff <= 1e-4
        assert (tmp_path / "nano-ocr_bs16.xml").is_file() and (tmp_path / "nano-ocr_bs16.bin").is_file()
    if trt_reason():
        assert f"skipped: {trt_reason()}" in rows["tensorrt"]
        assert not (tmp_path / "nano-ocr_bs16.engine").exists()
    else:
        assert " built " in rows["tensorrt"]
        assert (tmp_path / "nano-ocr_bs16.engine.json").is_file()
    assert "skipped: atc (CANN toolkit) not on PATH" in rows["ascend om"]
    assert not (tmp_path / "nano-ocr_bs16.om").exists()


def test_a_failed_engine_exits_1_after_the_table(tmp_path):
    torch.manual_seed(0)
    ckpt = tmp_path / "crnn_random.pth"
    torch.save(build_model("crnn").state_dict(), ckpt)
    atc = tmp_path / "atc"
    atc.write_text("#!/bin/sh\necho 'E19999: Inner Error! (fake atc that always fails)' >&2\nexit 3\n")
    atc.chmod(0o755)
    out = tmp_path / "build"
    res = CliRunner().invoke(convert_cli, [
        "all", "--model", "crnn", "--checkpoint", str(ckpt), "--batch-size", "4",
        "--outdir", str(out), "--soc-version", "Ascend310P3", "--atc", str(atc)])
    assert res.exit_code == 1
    rows = _rows(res.stdout.replace("bs4", "bs16"))
    assert " built " in rows["onnx (dynamic)"] and " built " in rows["onnx (bs16)"]
    assert " failed " in rows["ascend om"]
    assert "ascend om failed: atc failed (exit 3)" in res.stderr
    assert "E19999: Inner Error!" in res.stderr
    assert not (out / "crnn_bs4.om").exists() and not (out / "crnn_bs4.om.json").exists()
    # a second run refuses up front to replace the first one's files unless --overwrite
    before = (out / "crnn_dynamic.onnx").stat().st_mtime_ns
    again = CliRunner().invoke(convert_cli, [
        "all", "--model", "crnn", "--checkpoint", str(ckpt), "--batch-size", "4",
        "--outdir", str(out), "--soc-version", "Ascend310P3", "--atc", str(atc)])
    assert again.exit_code == 1 and "crnn_dynamic.onnx exists; pass --overwrite" in again.output
    assert "building" not in again.output and (out / "crnn_dynamic.onnx").stat().st_mtime_ns == before


def test_bad_checkpoint_is_a_user_error(tmp_path):
    res = CliRunner().invoke(convert_cli, ["all", "--model", "crnn", "--checkpoint",
                                           str(tmp_path / "missing.pth"), "--outdir", str(tmp_path)])
    assert res.exit_code == 1 and "Error: checkpoint not found" in res.output
    assert "Traceback" not in res.output


@pytest.fixture(scope="module")
def ic03(assets) -> Path:
    return assets / "eval_ic03_860" / "gt.txt"


def test_all_from_an_imported_onnx(english_g2_onnx, ic03, tmp_path, monkeypatch):
    """crnn-convert all --onnx: no ONNX row, engines named after the spec, the width kept
    dynamic, TensorRT and OM skipped with their reasons, the INT8 rows calibrated here."""
    monkeypatch.setenv("PATH", str(Path(shutil.which("python")).parent))  # no atc here
    out = tmp_path / "engines"
    res = CliRunner().invoke(convert_cli, ["all", "--onnx", str(english_g2_onnx), "--outdir",
                                           str(out), "--calib-gt", str(ic03), "--calib-size",
                                           "24"])
    assert res.exit_code == 0, res.output
    names = ("onnx (dynamic)", "onnx (bs16)", "openvino", "tensorrt", "ascend om",
             "openvino int8", "onnx int8")
    lines = {n: line for line in res.stdout.splitlines() for n in names
             if re.match(re.escape(n) + r"\s{2}", line)}
    assert set(lines) == {"openvino", "tensorrt", "ascend om", "openvino int8", "onnx int8"}
    assert " built " in lines["openvino"] and "english_g2_dynamic.xml" in lines["openvino"]
    assert "skipped: atc (CANN toolkit) not on PATH" in lines["ascend om"]
    assert "skipped:" in lines["tensorrt"]
    for name in ("openvino int8", "onnx int8"):
        assert " built " in lines[name] and "on 24 images" in lines[name]
    entries = ["english_g2_dynamic.xml", "english_g2_bs16_int8.onnx", "english_g2_bs16_int8.xml"]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        entries + ["english_g2_dynamic.bin", "english_g2_bs16_int8.bin"])
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == sorted(
        f".{e}.crnn-deploy.json" for e in entries)  # each entry's ownership record
    # the IR records bf16's change on the calibration (check) words: --precision auto reads it
    import openvino as ov

    from crnn_deploy.runtime.precision import read_record

    rec = read_record(ov.Core().read_model(str(out / "english_g2_dynamic.xml")))["bf16"]
    assert rec["words"] == 24 and rec["gt"] == "gt.txt" and 0 <= rec["agreement"] <= 24
    assert rec["change_points"] == pytest.approx(100 * (rec["correct"] - rec["f32_correct"]) / 24,
                                                 abs=1e-3)
    assert "bf16: " in lines["openvino"] and "on 24 words of gt.txt" in lines["openvino"]


def test_all_takes_one_source(english_g2_onnx, tmp_path):
    for args in (["--onnx", str(english_g2_onnx), "--model", "nano-ocr"],
                 ["--model", "nano-ocr"], []):
        res = CliRunner().invoke(convert_cli, ["all", *args, "--outdir", str(tmp_path / "o")])
        assert res.exit_code == 1 and "give --model and --checkpoint" in res.output, args
        assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_all_from_the_english_g2_checkpoint(english_g2_weights, tmp_path, monkeypatch):
    """crnn-convert all --model english_g2: one ONNX, dynamic in batch and width; the
    static-batch ONNX row is skipped with the reason and the IR is built from the dynamic one,
    batch and width dynamic (issue 28: the fastest layout; the runtime compiles batch gears)."""
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
    assert re.search(r"openvino\s+english_g2_dynamic\.xml .* built .* vs ONNX Runtime\s+"
                     r"dynamic batch, dynamic width", table)
    assert "skipped: no calibration images (--calib-gt)" in table
    assert not (tmp_path / "english_g2_bs16.onnx").exists()
    assert not (tmp_path / "english_g2_bs16.xml").exists()
    shape = ov.Core().read_model(str(tmp_path / "english_g2_dynamic.xml")).input(0).get_partial_shape()
    assert str(shape) == "[?,1,64,?]"


def test_all_overwrite_replaces_its_own_engines_with_or_without_records(tmp_path, monkeypatch):
    """`make convert` runs `all --overwrite` on the engines an earlier run built: with their
    ownership records, and without (engines built before the records existed)."""
    monkeypatch.setenv("PATH", str(Path(shutil.which("python")).parent))  # no atc here
    torch.manual_seed(0)
    ckpt = tmp_path / "crnn_random.pth"
    torch.save(build_model("crnn").state_dict(), ckpt)
    out = tmp_path / "build"
    args = ["all", "--model", "crnn", "--checkpoint", str(ckpt), "--batch-size", "4",
            "--outdir", str(out)]
    assert CliRunner().invoke(convert_cli, args).exit_code == 0
    models = sorted(p.name for p in out.iterdir() if p.suffix in (".onnx", ".xml"))
    assert models == sorted(["crnn_bs4.onnx", "crnn_dynamic.onnx"] + (["crnn_bs4.xml"] if HAVE_OV else []))
    records = sorted(out.glob(".*.crnn-deploy.json"))
    assert sorted(p.name for p in records) == sorted(f".{m}.crnn-deploy.json" for m in models)
    for run in ("records", "no records"):
        if run == "no records":
            for p in records:
                p.unlink()
        before = {p.name: p.stat().st_ino for p in out.iterdir()}
        res = CliRunner().invoke(convert_cli, [*args, "--overwrite"])
        assert res.exit_code == 0, (run, res.output)
        rows = _rows(res.stdout.replace("bs4", "bs16"))
        assert " built " in rows["onnx (dynamic)"] and " built " in rows["onnx (bs16)"]
        assert all(p.stat().st_ino != before.get(p.name) for p in out.iterdir()
                   if p.suffix in (".onnx", ".xml", ".bin")), run  # every file replaced
        assert sorted(p.name for p in out.glob(".*.crnn-deploy.json")) == [p.name for p in records]


@pytest.mark.parametrize("name", ["../../../x", "{abs}/x", "x\x00y", "\x1b[2Jx", "n" * 1_000_000])
def test_a_spec_name_from_the_model_cannot_place_outputs_outside_outdir(crnn_onnx, tmp_path, name):
    """The issue's example: an ONNX whose metadata spec name climbs out of --outdir (or is
    absolute, or holds a NUL) is an Error before anything is written; an IR elsewhere stays."""
    import json

    import onnx

    from crnn_deploy.models.specs import METADATA_KEY

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x_bs16.xml").write_text("<net/>")
    (elsewhere / "x_bs16.bin").write_bytes(b"weights")
    name = name.format(abs=elsewhere)
    model = onnx.load(str(crnn_onnx["bs16"]))
    for p in model.metadata_props:
        if p.key == METADATA_KEY:
            p.value = json.dumps({**json.loads(p.value), "name": name})
    hostile = tmp_path / "hostile.onnx"
    onnx.save(model, str(hostile))
    out = tmp_path / "a" / "b" / "c" / "out"
    res = CliRunner().invoke(convert_cli, ["all", "--onnx", str(hostile), "--outdir", str(out)])
    assert res.exit_code == 1 and "Error:" in res.output and "spec 'name'" in res.output, res.output
    assert "Traceback" not in res.output and "\x1b" not in res.output and len(res.output) < 600
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "hostile.onnx", "x_bs16.bin", "x_bs16.xml"]
    assert (elsewhere / "x_bs16.bin").read_bytes() == b"weights"


def test_outputs_resolving_outside_outdir_are_refused(tmp_path):
    from crnn_deploy.common.errors import UserError
    from crnn_deploy.converter.build_all import check_inside

    out = tmp_path / "out"
    out.mkdir()
    (out / "link.xml").symlink_to(tmp_path / "victim.xml")
    check_inside(out, [out / "m_bs16.xml", out / "sub" / "m.bin"])
    for bad in (out / ".." / "m.xml", out / "link.xml", Path("/tmp/m.xml")):
        with pytest.raises(UserError, match="outside --outdir"):
            check_inside(out, [bad])


def test_all_from_an_imported_classifier(ppocr_cls_onnx, ic03, tmp_path, monkeypatch):
    """A page model through crnn-convert all: its spec's batch (6), no INT8 (skipped, why)."""
    monkeypatch.setenv("PATH", str(Path(shutil.which("python")).parent))  # no atc here
    out = tmp_path / "engines"
    res = CliRunner().invoke(convert_cli, ["all", "--onnx", str(ppocr_cls_onnx), "--outdir",
                                           str(out), "--calib-gt", str(ic03)])
    assert res.exit_code == 0, res.output
    lines = _rows(res.stdout)
    assert " built " in lines["openvino"] and "ppocr-cls_bs6.xml" in lines["openvino"]
    for name in ("openvino int8", "onnx int8"):
        assert "skipped: INT8 is calibrated for recognizers, not a classifier" in lines[name]


@pytest.mark.parametrize("model, expected, absent", [
    ("english_g2", "build/english_g2_dynamic.xml", "build/english_g2_bs16.xml"),
    ("nano-ocr", "build/nano-ocr_bs16.xml", "build/nano-ocr_dynamic.xml"),
])
def test_make_convert_expects_the_ir_build_all_writes(model, expected, absent):
    """`make convert`'s targets name the IR `crnn-convert all` builds: english_g2's of dynamic
    batch and width (issue 28), a fixed-width model's of static batch 16."""
    root = Path(__file__).resolve().parents[2]
    make = shutil.which("make")
    if make is None:
        pytest.skip("make not installed")
    out = subprocess.run([make, "-s", "-C", str(root), "--eval", "print-engines: ; @echo $(ENGINES)",
                          "print-engines", f"MODEL={model}"], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert expected in out and absent not in out
