"""crnn-bench (bench.cli): --quick end to end on real data, --render-only, and its user errors.

The quick run measures all seven variants (PyTorch eager through the registered ``pytorch``
backend, ONNX Runtime, OpenVINO f32/bf16/async, both INT8 routes built here) on tiny loops and
32-image test sets into a temporary work dir, and must write every section of the report.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from crnn_deploy.bench.cli import main

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
SECTIONS = ("## Machine", "## Reproduce", "## Targets", "## Throughput and latency",
            "## OpenVINO benchmark_app beside crnn-bench", "## Word accuracy", "## INT8 models",
            "## Fused path: crnn-eval against the loop", "## Scale:")


def test_bench_modules_do_not_import_torch():
    code = ("import sys, bench.cli, bench.scale, bench.loop_overhead, bench.worker; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_unknown_variant_is_a_user_error(tmp_path):
    res = CliRunner().invoke(main, ["--variants", "ort-f32,tflite", "--workdir", str(tmp_path)])
    assert res.exit_code == 1
    assert "Error: unknown variant(s) tflite; known: pytorch, ort-f32" in res.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_user_sets_are_checked(tmp_path):
    gt = tmp_path / "gt.txt"
    gt.write_text("a.png\tA\n")
    for item, msg in (("mine", "expected NAME=gt.txt"), ("a b=x", "expected NAME=gt.txt"),
                      ("svt=" + str(gt), "the name svt is taken"),
                      ("mine=" + str(tmp_path / "no.txt"), "GT file not found")):
        res = CliRunner().invoke(main, ["--set", item, "--workdir", str(tmp_path / "w")])
        assert res.exit_code == 1 and msg in res.output, (item, res.output)
    assert not (tmp_path / "w").exists()


def test_render_only_needs_a_valid_results_file(tmp_path):
    out = tmp_path / "B.md"
    args = ["--render-only", "--workdir", str(tmp_path), "--output", str(out), "--plot", ""]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "bench_results.json not found" in res.output
    (tmp_path / "bench_results.json").write_text("{not json")
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "is not valid JSON" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_quick_mode_end_to_end(assets, nano_weights, tmp_path):
    from click.testing import CliRunner
    out, plot, work = tmp_path / "BENCH.md", tmp_path / "t.png", tmp_path / "work"
    mine = tmp_path / "mine" / "gt.txt"  # a user's labeled set: the first SVT lines, moved
    mine.parent.mkdir()
    lines = (assets / "eval_svt_647" / "gt.txt").read_text("utf-8").splitlines()[:40]
    mine.write_text("".join(f"{(assets / 'eval_svt_647' / ln.split(chr(9))[0]).resolve()}\t"
                            f"{ln.split(chr(9))[1]}\n" for ln in lines), "utf-8")
    args = ["--quick", "--checkpoint", str(nano_weights), "--assets", str(assets),
            "--workdir", str(work), "--engines-dir", str(BUILD), "--output", str(out),
            "--plot", str(plot), "--set", f"mine={mine}"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    md = out.read_text()
    for section in SECTIONS:
        assert section in md
    assert "--quick mode" in md and "first 32 images" in md
    assert "issue" not in md.lower()  # the report carries no issue numbers
    assert f"| mine (`{mine}`) |" in md.replace(" |", " |") and f"--set mine={mine}" in md
    res = json.loads((work / "bench_results.json").read_text())
    keys = {v["key"] for v in res["variants"]}
    assert keys == {"pytorch", "ort-f32", "ov-f32-latency", "ov-f32-throughput", "ov-bf16",
                    "ov-int8", "ort-int8"}
    assert {(p["variant"], p["batch"]) for p in res["throughput"]} == {
        (k, b) for k in keys for b in (1, 4)}
    assert all(p["throughput"] > 0 and p["rounds"] == 2 for p in res["throughput"])
    # the roofline of every variant: one FLOP count (fixed width), the peak of its precision
    roof = {r["variant"]: r for r in res["roofline"]}
    assert set(roof) == keys and len({r["gflop_padded"] for r in roof.values()}) == 1
    assert roof["ov-bf16"]["precision"] == "bf16" and roof["ort-int8"]["precision"] == "int8"
    assert all(0 < r["fraction"] for r in roof.values()) and "| of roofline |" in md
    acc = {(a["variant"], a["dataset"]): a for a in res["accuracy"]}
    assert len(acc) == 7 * 5 and all(a["count"] == 32 for a in acc.values())
    # f32 engines read exactly what PyTorch reads; the user's set is SVT's first 32 words
    assert acc[("pytorch", "mine")]["correct"] == acc[("pytorch", "svt")]["correct"]
    for ds in ("iiit5k", "svt", "ic03", "ic13", "mine"):
        ref = acc[("pytorch", ds)]["correct"]
        assert acc[("ort-f32", ds)]["correct"] == ref
        assert acc[("ov-f32-latency", ds)]["correct"] == ref
    assert len(res["fused"]) == 3 and all(f["ratio"] > 0 for f in res["fused"])
    # crnn-eval's default engine: 2 one-thread streams on ONNX Runtime, one engine under a hint
    assert [f["streams"] for f in res["fused"]] == [2, 1, 1]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    # re-render from the saved JSON
    out.unlink()
    result = CliRunner().invoke(main, ["--render-only", "--workdir", str(work), "--output",
                                       str(out), "--plot", ""], catch_exceptions=False)
    assert result.exit_code == 0 and "## Word accuracy" in out.read_text()
