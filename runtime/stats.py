"""Timing summaries in the units ais_bench reports: latency in ms per batch, throughput in images/s."""
from __future__ import annotations

from typing import Sequence

import numpy as np

LATENCY_KEYS = ("min", "max", "mean", "median", "p99")


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    """``{min, max, mean, median, p99}`` of per-batch latencies (ms); zeros when empty.

    p99 is numpy's linear-interpolation percentile.
    """
    if len(latencies_ms) == 0:
        return {k: 0.0 for k in LATENCY_KEYS}
    a = np.asarray(latencies_ms, dtype=np.float64)
    values = (a.min(), a.max(), a.mean(), np.median(a), np.percentile(a, 99))
    return {k: round(float(v), 4) for k, v in zip(LATENCY_KEYS, values)}


def throughput(count: int, compute_s: float) -> float:
    """Images per second: ``count`` images over ``compute_s`` seconds of inference (0 if none)."""
    return round(count / compute_s, 3) if compute_s > 0 else 0.0


def format_summary(summary: dict) -> str:
    """A few human-readable lines for the terminal (the JSON has everything)."""
    lat = summary["latency_ms"]
    lines = [
        f"backend {summary['backend']} ({summary.get('device', 'CPU')}), engine {summary['engine']}",
        f"batch {summary['batch_size']}, {summary['batches']} batches, {summary['count']} images"
        + (f", {summary['warmup']} warm-up runs excluded" if summary.get("warmup") else ""),
        "latency (ms/batch): " + ", ".join(f"{k} {lat[k]:.3f}" for k in LATENCY_KEYS),
        f"throughput: {summary['throughput']:.2f} images/s "
        f"(compute {summary['compute_s']:.3f} s, wall {summary['wall_s']:.3f} s)",
    ]
    return "\n".join(lines)
