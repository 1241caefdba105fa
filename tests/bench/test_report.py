"""bench.report: the markdown of docs/BENCHMARKS.md and the plot, from made-up numbers.

Every number in :func:`_results` is distinct, so each can be found where it belongs in the
markdown; the targets must be judged right (met / not met) from them.
"""
from __future__ import annotations

import copy

import crnn_deploy.bench.report as br

SECTIONS = ("## Machine", "## Reproduce", "## Targets", "## Throughput and latency",
            "## OpenVINO benchmark_app beside crnn-bench", "## Word accuracy", "## INT8 models",
            "## Fused path: crnn-eval against the loop", "## Scale:")


def _results() -> dict:
    """Made-up results: every number distinct, so each can be found in the markdown."""
    machine = {"cpu": "Test CPU 9000", "cpu_family_model": "family 6, model 1", "cores": 2,
               "logical_cpus": 2, "threads_per_core": "1", "hypervisor": "KVM", "l2": "4 MiB",
               "l3": "8 MiB", "flags": ["avx512f", "amx_int8"], "ram_gib": 23.5, "os": "Linux",
               "versions": {"python": "3.11.7", "torch": "2.13.0", "onnxruntime": "1.31.1",
                            "openvino": "2026.4.1", "nncf": "3.4.0", "numpy": "2.4.6"}}
    variants = [("pytorch", "PyTorch eager f32"), ("ort-f32", "ONNX Runtime f32"),
                ("ov-f32-latency", "OpenVINO f32, LATENCY"), ("ov-int8", "OpenVINO INT8 (NNCF)"),
                ("ort-int8", "ONNX Runtime INT8 (QDQ)")]
    tp = {"pytorch": (51.5, 161.25), "ort-f32": (190.5, 277.75), "ov-f32-latency": (160.5, 250.25),
          "ov-int8": (400.5, 520.75), "ort-int8": (150.5, 600.25)}
    grid = []
    for key, (t1, t16) in tp.items():
        for b, t in ((1, t1), (16, t16)):
            grid.append({"variant": key, "batch": b, "throughput": t, "tp_min": t - 10,
                         "tp_max": t + 10, "latency_median": 1000 * b / t, "latency_p99": 2000 * b / t,
                         "rounds": 5, "foreign": 0.04 if key == "ort-f32" else 0.01,
                         "retried": 1 if key == "ort-f32" else 0})
    acc = {"pytorch": 2328, "ort-f32": 2328, "ov-f32-latency": 2328, "ov-int8": 2320,
           "ort-int8": 2290}
    accuracy = [{"variant": k, "dataset": "iiit5k", "word_accuracy": c / 3000, "correct": c,
                 "count": 3000} for k, c in acc.items()]
    accuracy.append({"variant": "ov-int8", "dataset": "ic03", "word_accuracy": 0.9, "correct": 774,
                     "count": 860})
    return {
        "meta": {"model": "nano-ocr", "date": "2026-01-02 03:04 UTC", "command": "crnn-bench --x",
                 "threads": 2, "batches": [1, 16], "rounds": 5, "warmup": 3, "loops": None,
                 "seconds_per_point": 10.0, "limit": None, "quick": False, "calib_size": 300,
                 "machine": machine, "load_average": {"before": 0.25, "after": 0.5},
                 "foreign_cpu": {"grid": 0.03, "run": 0.05}, "duration_s": 600.0,
                 "max_foreign": 0.2, "retries": 2,
                 "built": ["crnn-convert openvino --onnx a.onnx --output b.xml"],
                 "plot": "throughput.png", "json": "build/bench/bench_results.json"},
        "variants": [{"key": k, "label": lab, "engine": f"{k}.engine", "options": "threads=2"}
                     for k, lab in variants],
        "throughput": grid, "accuracy": accuracy,
        "fused": [{"label": "ONNX Runtime", "engine": "build/nano-ocr_bs16.onnx", "batch": 16,
                   "count": 3000, "rounds": 3, "workers": None, "eval_workers": 2, "streams": 2,
                   "e2e_ips": 230.5, "loop_ips": 270.0,
                   "eval_engine_ips": 265.0, "ratio": 0.8537, "inline_ips": 235.5,
                   "inline_ratio": 0.8722, "overhead_ms": 0.5, "ratio_bound": 0.8811},
                  {"label": "OpenVINO LATENCY", "engine": "build/nano-ocr_bs16.xml", "batch": 16,
                   "count": 3000, "rounds": 3, "workers": 1, "e2e_ips": 240.0, "loop_ips": 250.0,
                   "eval_engine_ips": 248.0, "ratio": 0.96}],
        "benchmark_app": {"available": True, "source": "console script", "engine": "b.xml",
                          "batch": 16, "seconds": 6, "rounds": 2, "command": "benchmark_app -m b.xml",
                          "real_input": "w/real.npy",
                          "rows": [{"hint": "latency", "bapp_fps": 205.5, "bapp_median_ms": 77.5,
                                    "real_fps": 255.5, "real_median_ms": 62.5,
                                    "ours_ips": 251.5, "ours_wall_ips": 250.25,
                                    "ours_median_ms": 63.75}]},
        "int8": [{"variant": "ov-int8", "path": "w/int8_bs16.xml", "batch": 16, "calib_count": 300,
                  "calib_gt": "ic03/gt.txt", "agreement": 0.97, "max_diff": 1.5, "note": "nncf"}],
    }


def test_markdown_renders_given_numbers():
    md = br.render_markdown(_results())
    for section in SECTIONS:
        assert section in md
    assert "# Benchmarks: nano-ocr on Test CPU 9000" in md
    assert "avx512f amx_int8" in md and "23.5 GiB" in md and "onnxruntime 1.31.1" in md
    assert "crnn-bench --x" in md and "crnn-convert openvino --onnx a.onnx --output b.xml" in md
    # throughput table row of ONNX Runtime: both batches with min-max, and the speed-up at 16
    row = next(ln for ln in md.splitlines() if ln.startswith("| ONNX Runtime f32 | 190.5"))
    assert "190.5 (180-200)" in row and "277.8 (268-288)" in row and "1.72x" in row
    assert row.endswith("| 4 %, 2 repeated |")
    # latency: 1000 * 16 / 161.25 ms median, twice that p99
    assert "99.22 / 198.45" in md
    # accuracy, with the delta to PyTorch and the calibration-set star
    assert "77.60 % (2328/3000)" in md and "77.33 % (2320/3000)" in md and "-0.27" in md
    assert "90.00 %* (774/860)" in md
    assert "the reference 77.60 %" in md
    # targets: 600.25 / 161.25 = 3.72x met; OV INT8 2.08x with 0.27 point loss met;
    # ORT INT8 600.25 / 277.75 = 2.16x but 1.27 point loss: not met; fused 85.4 % not met, 96 % met
    targets = md.split("## Targets")[1].split("## Throughput")[0]
    lines = [ln for ln in targets.splitlines() if ln.startswith("| ") and "target" not in ln
             and "---" not in ln]
    assert len(lines) == 5
    assert "3.72x" in lines[0] and lines[0].endswith("**met** |")
    assert "2.08x" in lines[1] and "+0.27 point loss" in lines[1] and lines[1].endswith("**met** |")
    assert "2.16x" in lines[2] and "+1.27 point loss" in lines[2] and "**not met**" in lines[2]
    assert "85.4 %" in lines[3] and "**not met**" in lines[3]
    assert "`--workers 0`: 87.2 %" in lines[3] and "no-overlap estimate 88.1 %" in lines[3]
    assert "96.0 %" in lines[4] and lines[4].endswith("**met** |")
    # benchmark_app row and ratio 250.25 / 255.5
    assert "| latency | 205.5 | 77.50 | 255.5 | 62.50 | 251.5 | 250.2 | 63.75 | 0.98 |" in md
    assert "`-i w/real.npy`" in md
    assert ("| ONNX Runtime | `build/nano-ocr_bs16.onnx` | 16 | 2 | 230.5 | 235.5 | 270.0 | 85.4 % | "
            "87.2 % | 88.1 % | 265.0 | **not met** |") in md
    assert "crnn-eval's default schedule" in md and "2 preprocessing threads" in md
    assert "takes 0.500 ms per image" in md
    assert "![throughput vs batch size](throughput.png)" in md
    assert "Not run yet" in md  # no scale section data


def test_markdown_scale_section_and_missing_parts():
    res = _results()
    res["scale"] = {"command": "python -m crnn_deploy.bench.scale --sizes 10000,100000",
                    "date": "2026-01-02", "threads": 2, "lmdb_samples": 100000, "lmdb_mb": 1700.0,
                    "build_s": 90.0, "engine": "build/nano-ocr_bs16.onnx", "batch": 16,
                    "rss_method": "psutil", "note": "linear",
                    "rows": [{"limit": 10000, "wall_s": 45.5, "ms_per_sample": 4.55,
                              "images_per_s": 219.8, "peak_rss_tree_mb": 271.0,
                              "peak_rss_self_mb": 164.0, "word_accuracy": 0.7761}]}
    res["benchmark_app"] = {"available": False, "reason": "not installed here"}
    res["fused"] = []
    md = br.render_markdown(res)
    assert "| 10,000 | 45.5 | 4.550 | 219.8 | 271 | 164 | 77.61 % |" in md
    assert "Not run: not installed here." in md
    assert "python -m crnn_deploy.bench.scale --sizes 10000,100000" in md
    assert "crnn-eval end-to-end >= 90% of the loop | not measured | n/a |" in md


def test_plot_and_atomic_write(tmp_path):
    png = tmp_path / "t.png"
    br.write_plot(_results(), png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = tmp_path / "x.md"
    br.write_text_atomic(out, "hello\n")
    br.write_text_atomic(out, "again\n")
    assert out.read_text() == "again\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.png", "x.md"]  # no temp files left


def test_results_dict_is_not_mutated_by_rendering():
    res = _results()
    before = copy.deepcopy(res)
    br.render_markdown(res)
    assert res == before
