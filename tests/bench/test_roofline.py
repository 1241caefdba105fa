"""bench.roofline: batch widths under each padding policy, the per-row roofline on the real
PP-OCRv4 graph at real IIIT5K widths (padded > own), and its table cells."""
from __future__ import annotations

import pytest

from crnn_deploy.bench.peak import parse_cpuinfo
from crnn_deploy.bench.roofline import batch_widths, fmt_roofline, image_widths, roofline_row

ZEN4 = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
        "cpu MHz\t\t: 2600.000\ncore id\t\t: 0\nflags\t\t: avx2 fma avx512f avx512_bf16\n")


def test_batch_widths_bucket_keeps_own_and_widest_pads_to_batch_max():
    buckets = [320, 640, 320, 960]
    assert batch_widths(buckets, 16, "bucket") == buckets
    assert batch_widths(buckets, 2, "widest") == [320, 960, 320, 960]


def test_roofline_of_real_words(ppocrv4_onnx, assets):
    from crnn_deploy.models.specs import spec_from_arg

    spec = spec_from_arg(ppocrv4_onnx)
    gt = assets / "eval_iiit5k_3000" / "gt.txt"
    paths = [gt.parent / line.split("\t")[0] for line in gt.read_text().splitlines()[:6]]
    widths = image_widths(paths, spec)
    assert all(own <= run and run >= 320 for own, run in widths)  # PP-OCR pads to >= 320
    cpu = parse_cpuinfo(ZEN4)
    r = roofline_row(ppocrv4_onnx, spec, widths, [b for _, b in widths], 50.0, "f32", cpu)
    assert 1.3 < r["gflop_padded"] < 3.0 and r["gflop_own"] < r["gflop_padded"]
    assert r["peak"] == pytest.approx(1 * 2.6 * 32)
    assert r["gflops"] == pytest.approx(50.0 * r["gflop_padded"])
    assert r["fraction"] == pytest.approx(r["gflops"] / r["peak"])
    cells = fmt_roofline(r)
    assert cells[2] == "83 (f32)" and cells[3].endswith("%")
    assert cells[4] == f"{83.2 / r['gflop_padded']:.0f}"
    assert cells[5:] == ["", ""]  # no measured ceiling
    assert fmt_roofline(None) == [""] * 7
    m = roofline_row(ppocrv4_onnx, spec, widths, [b for _, b in widths], 50.0, "f32", cpu, 200.0)
    assert m["measured"] == 200.0 and m["fraction_measured"] == pytest.approx(m["gflops"] / 200)
    assert m["fraction"] == r["fraction"] and fmt_roofline(m)[5:] == [
        "200", f"{m['gflops'] / 2:.1f} %"]


def test_grid_roofline_takes_each_variants_fastest_batch(ppocrv4_onnx):
    from crnn_deploy.bench.report.throughput import roofline_table
    from crnn_deploy.bench.roofline import grid_roofline
    from crnn_deploy.models.specs import spec_from_arg

    grid = [{"variant": "ov-bf16", "batch": 1, "throughput": 10.0},
            {"variant": "ov-bf16", "batch": 16, "throughput": 40.0},
            {"variant": "ort-int8", "batch": 16, "throughput": None}]
    roof = grid_roofline(ppocrv4_onnx, spec_from_arg(ppocrv4_onnx), grid, parse_cpuinfo(ZEN4))
    assert [(r["variant"], r["batch"], r["precision"]) for r in roof] == [("ov-bf16", 16, "bf16")]
    assert roof[0]["peak"] == pytest.approx(2.6 * 64)
    md = roofline_table({"roofline": roof, "variants": [{"key": "ov-bf16", "label": "OV bf16"}]})
    assert "| OV bf16 | 16 |" in md and "(bf16)" in md
