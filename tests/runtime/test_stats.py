"""runtime/stats.py: latency summary (ms), throughput (images/s), the terminal lines."""
from __future__ import annotations

import pytest

from crnn_deploy.runtime.stats import LATENCY_KEYS, format_summary, latency_summary, throughput


def test_latency_summary_values():
    got = latency_summary([4.0, 1.0, 3.0, 2.0, 100.0])
    # numpy's linear percentile: p99 at rank 0.99 * 4 = 3.96 -> 4 + 0.96 * (100 - 4)
    assert got == {"min": 1.0, "max": 100.0, "mean": 22.0, "median": 3.0, "p99": 96.16}
    assert tuple(got) == LATENCY_KEYS


def test_latency_summary_rounds_to_4_decimals_and_handles_empty():
    assert latency_summary([1 / 3])["mean"] == 0.3333
    assert latency_summary([]) == dict.fromkeys(LATENCY_KEYS, 0.0)


@pytest.mark.parametrize("count, seconds, expected", [
    (3000, 1.5, 2000.0), (1, 3.0, 0.333), (10, 0.0, 0.0), (0, 1.0, 0.0)])
def test_throughput(count, seconds, expected):
    assert throughput(count, seconds) == expected


def test_format_summary():
    summary = {"backend": "onnxruntime", "device": "CPU", "engine": "m.onnx", "batch_size": 16,
               "batches": 2, "count": 32, "warmup": 1, "throughput": 1234.5678, "compute_s": 0.0259,
               "wall_s": 0.05, "latency_ms": latency_summary([12.0, 13.9])}
    lines = format_summary(summary).splitlines()
    assert lines == [
        "backend onnxruntime (CPU), engine m.onnx",
        "batch 16, 2 batches, 32 images, 1 warm-up runs excluded",
        "latency (ms/batch): min 12.000, max 13.900, mean 12.950, median 12.950, p99 13.881",
        "throughput: 1234.57 images/s (compute 0.026 s, wall 0.050 s)",
    ]
    del summary["warmup"], summary["device"]
    assert format_summary(summary).splitlines()[:2] == [
        "backend onnxruntime (CPU), engine m.onnx", "batch 16, 2 batches, 32 images"]
