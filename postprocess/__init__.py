"""CTC decoding, word accuracy and error reports (numpy only, no torch).

Public API, reusable by other evaluation paths:

* :func:`postprocess.ctc.greedy_decode` -- (T, N, C) or (N, T, C) scores -> N strings.
* :func:`postprocess.metrics.score_samples` / :func:`postprocess.metrics.compute_metrics`
  -- (name, label, prediction) triples or predictions + labels -> metrics dict, under a
  named metric (:data:`postprocess.metrics.METRICS`: latin, exact, exact-nospace,
  case-insensitive).
* :func:`postprocess.metrics.write_report` -- accuracy.json + errors.tsv, written atomically.
"""
from crnn_deploy.postprocess.ctc import greedy_decode
from crnn_deploy.postprocess.metrics import (
    compute_metrics,
    edit_distance,
    format_metrics,
    metric_notes,
    normalize_standard,
    normalized_edit_distance,
    score_samples,
    write_report,
)

__all__ = [
    "compute_metrics",
    "edit_distance",
    "format_metrics",
    "greedy_decode",
    "metric_notes",
    "normalize_standard",
    "normalized_edit_distance",
    "score_samples",
    "write_report",
]
