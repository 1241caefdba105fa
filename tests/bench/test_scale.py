"""bench.scale: the large-LMDB run, on a tiny LMDB (IIIT5K's first lines repeated to 64 samples).

Each size runs in a child process (``python -m crnn_deploy.bench.scale --child``); the result JSON must hold
one row per size with its count, timing, peak RSS and the word accuracy of those samples (the
first 32 IIIT5K images: 26 correct with ONNX Runtime), and the big LMDB must be gone afterwards.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_scale_rows_on_a_small_lmdb(assets, nano_bs16_onnx, tmp_path):
    work, out = tmp_path / "work", tmp_path / "B.md"
    cmd = [sys.executable, "-m", "crnn_deploy.bench.scale", "--sizes", "32,64", "--threads", "1",
           "--assets", str(assets), "--engine", str(nano_bs16_onnx), "--workdir", str(work),
           "--output", str(out), "--plot", str(tmp_path / "t.png")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "CRNN_ASSETS": str(assets)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads((work / "scale_eval.json").read_text())
    assert res["lmdb_samples"] == 64 and res["batch"] == 16 and res["threads"] == 1
    assert res["command"].startswith("crnn-bench scale --sizes 32,64 --threads 1")
    rows = {r["limit"]: r for r in res["rows"]}
    assert sorted(rows) == [32, 64] and rows[32]["count"] == 32 and rows[64]["count"] == 64
    assert rows[32]["word_accuracy"] == 26 / 32
    assert all(r["wall_s"] > 0 and r["ms_per_sample"] > 0 and r["peak_rss_self_mb"] > 10
               for r in rows.values())
    assert sorted(p.name for p in work.iterdir()) == ["scale_eval.json"]  # big LMDB removed
    assert not out.exists()  # no bench_results.json in the work dir: nothing to re-render


def test_loop_overhead_prints_both_sides(nano_dynamic_onnx):
    cmd = [sys.executable, "-m", "crnn_deploy.bench.loop_overhead", "--engine", str(nano_dynamic_onnx),
           "--batch", "2", "--loops", "4", "--warmup", "1", "--threads", "1", "--rounds", "2"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("crnn-infer --loop") == 2 and proc.stdout.count("bare session.run") == 2
    assert "crnn-infer/bare: pooled" in proc.stdout and "4 loops per side" in proc.stdout
