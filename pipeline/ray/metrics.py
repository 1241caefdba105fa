"""Metrics of a Ray run, aggregated from its written predictions (no second pass over images).

The predictions folder (Parquet, :func:`pipeline.ray.engine.schema`) is read column by column in
record batches of :data:`BATCH_ROWS` rows, so the driver's memory does not grow with the number
of samples; each batch is scored with :func:`postprocess.metrics.compute_metrics` and the sums
are merged. Rows are ordered by (shard, index) only where an order is reported (the first bad
samples, the listed errors).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path

from crnn_deploy.postprocess.metrics import score_samples

BATCH_ROWS = 65_536
#: Bad samples listed by shard and key (all are counted).
MAX_REPORTED = 20
#: Wrong predictions listed in errors.tsv (all are counted in the metrics).
MAX_ERRORS = 100_000


@dataclass
class Aggregate:
    """Counts over the predictions.

    ``rows``: every row; ``predicted``: rows with a text; ``skipped``: rows with an error;
    ``skipped_keys``: the first :data:`MAX_REPORTED` ``shard: key: reason`` by (shard, index);
    ``metrics``: :func:`compute_metrics` of the labeled predicted rows merged (None without
    labels); ``errors``: up to :data:`MAX_ERRORS` ``(source, label, text, confidence)`` wrong
    rows (the rows of errors.tsv, the same ids as every other path), by (shard, index);
    ``nodes``: rows per Ray node id.
    """

    rows: int = 0
    predicted: int = 0
    skipped: int = 0
    skipped_keys: list[str] = field(default_factory=list)
    metrics: dict | None = None
    errors: list[tuple[str, str, str, float]] = field(default_factory=list)
    nodes: dict[str, int] = field(default_factory=dict)


_SUMS = ("total", "correct", "correct_case_sensitive", "edit_distance", "gt_chars", "unreadable",
         "labels_with_dropped_chars")


def merge_metrics(parts: list[dict]) -> dict | None:
    """Merge :func:`compute_metrics` dicts of disjoint sample sets into the dict of their union."""
    parts = [p for p in parts if p and p["total"]]
    if not parts:
        return None
    out = {k: sum(p.get(k, 0) for p in parts) for k in _SUMS if any(k in p for p in parts)}
    n = out["total"]
    ned = sum(p["mean_ned"] * p["total"] for p in parts)
    out.update(metric=parts[0].get("metric", "latin"), word_accuracy=out["correct"] / n,
               word_accuracy_case_sensitive=out["correct_case_sensitive"] / n,
               mean_ned=ned / n,
               cer=out["edit_distance"] / out["gt_chars"] if out["gt_chars"] else None)
    return out


def _push(heap: list, item: tuple, bound: int) -> None:
    """Keep the ``bound`` smallest items (by their first fields) in a max-heap of negated keys."""
    if len(heap) < bound:
        heapq.heappush(heap, _Neg(item))
    elif _Neg(item) > heap[0]:  # smaller than the largest kept
        heapq.heapreplace(heap, _Neg(item))


class _Neg:
    """Reverses tuple order so heapq (a min-heap) keeps the smallest tuples."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __lt__(self, other):
        return self.v > other.v

    def __gt__(self, other):
        return self.v < other.v


def aggregate(folder: str | Path, metric: str = "latin") -> Aggregate:
    """Count, score and list from the Parquet files under ``folder`` (labels compared under
    ``metric``, :data:`postprocess.metrics.METRICS`).

    Raises:
        OSError / pyarrow.ArrowInvalid: unreadable files (the folder was written by this run).
    """
    import pyarrow.dataset as pads

    ds = pads.dataset(str(folder), format="parquet")
    agg = Aggregate()
    parts, bad, wrong = [], [], []
    cols = ["shard", "index", "source", "label", "text", "confidence", "error", "node"]
    for rb in ds.to_batches(columns=cols, batch_size=BATCH_ROWS):
        d = rb.to_pydict()
        agg.rows += rb.num_rows
        scored = []  # ((shard, index, source), label, text, confidence) of the labeled predictions
        unread = []  # ((shard, index, source), label, error): labeled but unreadable, scored wrong
        for shard, index, source, label, text, conf, error, node in zip(
                d["shard"], d["index"], d["source"], d["label"], d["text"], d["confidence"],
                d["error"], d["node"]):
            agg.nodes[node] = agg.nodes.get(node, 0) + 1
            if error is not None:
                agg.skipped += 1
                _push(bad, (shard, index, error), MAX_REPORTED)
                if label is not None:
                    unread.append(((shard, index, source), label, error))
                continue
            agg.predicted += 1
            if label is not None:
                scored.append(((shard, index, source), label, text, conf))
        if scored or unread:
            metrics, errors = score_samples(scored, unread, metric)
            parts.append(metrics)
            for (shard, index, source), *rest in errors:
                _push(wrong, (shard, index, source, *rest), MAX_ERRORS)
    agg.metrics = merge_metrics(parts)
    agg.skipped_keys = [f"{s}: {e}" for s, _, e in sorted(x.v for x in bad)]
    agg.errors = [row[2:] for row in sorted(x.v for x in wrong)]
    return agg
