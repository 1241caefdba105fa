"""Word accuracy, edit distances and the accuracy report; reusable by any evaluation path.

The headline number is word accuracy under a named metric (:data:`METRICS`), the same
normalization on both sides, then an exact comparison:

* ``latin`` (the default): lowercase, keep only ``[0-9a-z]``. The standard protocol of the
  Latin scene-text benchmarks (IIIT5K, SVT, IC03, IC13): the CRNN paper (Shi, Bai, Yao 2015) and
  clovaai/deep-text-recognition-benchmark (Baek et al. 2019, "What is wrong with scene text
  recognition model comparisons", ``test.py``: ``re.sub('[^0-9a-z]', '', s.lower())``). It
  drops every other character, so it must not score Chinese: ``中文`` read as ``★★★`` is
  "right" (both normalize to the empty string).
* ``exact``: the raw strings.
* ``exact-nospace``: spaces removed, otherwise exact (PaddleOCR's ``RecMetric`` with
  ``ignore_space=True``, which removes ``" "``).
* ``case-insensitive``: ``str.lower()`` on both sides, nothing removed.

Case-sensitive word accuracy always compares the raw strings. Normalized edit distance and
character error rate are computed on the metric's normalized strings, so they measure the same
thing as the headline accuracy.

Typical use::

    metrics, errors = score_samples(zip(names, labels, predictions), metric="exact")
    print("\\n".join(format_metrics(metrics)))
    for note in metric_notes(metrics): print(note, file=sys.stderr)
    write_report(result_dir, metrics, errors, missing=0, alphabet=spec.alphabet)
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from crnn_deploy.common.fileio import atomic_write_text
from crnn_deploy.common.names import tsv_line

_NOT_ALNUM = re.compile(r"[^0-9a-z]")

#: Keys of the dict returned by :func:`compute_metrics`.
METRIC_KEYS = (
    "metric", "total", "correct", "word_accuracy", "correct_case_sensitive",
    "word_accuracy_case_sensitive", "mean_ned", "cer", "edit_distance", "gt_chars",
    "labels_with_dropped_chars",
)
#: The default metric: the standard protocol of the Latin benchmarks.
DEFAULT_METRIC = "latin"


def normalize_standard(text: str) -> str:
    """The standard (``latin``) protocol's form of a word: ``text.lower()`` with everything
    outside ``[0-9a-z]`` removed (so spaces, punctuation and non-ASCII letters are dropped).

    >>> normalize_standard("Don't-Stop 2!")
    'dontstop2'
    """
    return _NOT_ALNUM.sub("", text.lower())


def _nospace(text: str) -> str:
    return text.replace(" ", "")


def _same(text: str) -> str:
    return text


#: name -> (normalization applied to both sides, what it drops (for the stderr note), its
#: definition (the --help text and accuracy.json's ``protocol``)).
METRICS: dict[str, tuple[Callable[[str], str], str | None, str]] = {
    "latin": (normalize_standard, "characters outside [0-9a-z]",
              "lowercase, keep [0-9a-z] only, exact match (the Latin benchmarks' protocol, "
              "Baek et al. 2019)"),
    "exact": (_same, None, "the raw strings, exact match"),
    "exact-nospace": (_nospace, "spaces",
                      "spaces removed, otherwise exact (PaddleOCR RecMetric ignore_space)"),
    "case-insensitive": (str.lower, None, "lowercase, nothing removed, exact match"),
}


def normalizer(metric: str = DEFAULT_METRIC) -> Callable[[str], str]:
    """The normalization of ``metric`` (a key of :data:`METRICS`), applied to label and
    prediction before comparing them.

    Raises:
        ValueError: an unknown metric name.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    return METRICS[metric][0]


def drops_characters(label: str, metric: str = DEFAULT_METRIC) -> bool:
    """Whether ``metric`` removes characters of ``label`` (case folding is not removal):
    ``"中文"`` and ``"a b"`` under ``latin``, ``"a b"`` under ``exact-nospace``."""
    norm = normalizer(metric)
    return len(norm(label.lower())) != len(label.lower())


def metric_notes(metrics: dict) -> list[str]:
    """The stderr notes of a scored run: when labels hold characters the metric drops,
    ``"N labels have characters outside [0-9a-z]; --metric exact scores them"``."""
    n = metrics.get("labels_with_dropped_chars") or 0
    metric = metrics.get("metric", DEFAULT_METRIC)
    if not n or metric not in METRICS:
        return []
    return [f"note: {n} label{'s' if n != 1 else ''} {'have' if n != 1 else 'has'} "
            f"{METRICS[metric][1]}, which --metric {metric} drops; --metric exact scores them"]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the least number of single-character insertions, deletions and
    substitutions that turn ``a`` into ``b`` (unit costs; rapidfuzz's
    ``rapidfuzz.distance.Levenshtein.distance``, bit-parallel)."""
    return Levenshtein.distance(a, b)


def normalized_edit_distance(gt: str, pred: str) -> float:
    """``edit_distance(gt, pred) / max(len(gt), len(pred))`` in [0, 1]; 0.0 when both are
    empty. A distance: 0 is a perfect match, lower is better."""
    longest = max(len(gt), len(pred))
    return edit_distance(gt, pred) / longest if longest else 0.0


def compute_metrics(predictions: Sequence[str], labels: Sequence[str],
                    metric: str = DEFAULT_METRIC) -> dict:
    """Score predictions against ground-truth labels (same order, same length) under
    ``metric`` (a key of :data:`METRICS`; default ``latin``).

    Returns a JSON-ready dict:
        metric: the metric's name.
        total: number of samples N.
        correct, word_accuracy: exact matches after the metric's normalization on both
            sides, as a count and as a fraction in [0, 1].
        correct_case_sensitive, word_accuracy_case_sensitive: exact matches of the raw strings.
        mean_ned: mean over samples of :func:`normalized_edit_distance` of the normalized
            strings, in [0, 1]; a DISTANCE, lower is better (``1 - mean_ned`` is the
            "normalized edit distance" score of some papers, where higher is better).
        edit_distance: total Levenshtein distance of the normalized strings.
        gt_chars: total number of characters of the normalized labels.
        cer: character error rate ``edit_distance / gt_chars`` (may exceed 1); None when
            ``gt_chars == 0`` (undefined).
        labels_with_dropped_chars: labels the metric removes characters from
            (:func:`drops_characters`).

    Raises:
        ValueError: the two sequences differ in length, or are empty, or an unknown metric.
    """
    norm = normalizer(metric)
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions but {len(labels)} labels")
    if not labels:
        raise ValueError("no samples to score")
    correct = correct_cs = dist_total = gt_chars = dropped = 0
    ned_total = 0.0
    for pred, gt in zip(predictions, labels):
        correct_cs += pred == gt
        p, g = norm(pred), norm(gt)
        dropped += drops_characters(gt, metric)
        d = edit_distance(g, p)
        correct += d == 0
        dist_total += d
        gt_chars += len(g)
        longest = max(len(g), len(p))
        ned_total += d / longest if longest else 0.0
    n = len(labels)
    return {
        "metric": metric,
        "total": n,
        "correct": correct,
        "word_accuracy": correct / n,
        "correct_case_sensitive": correct_cs,
        "word_accuracy_case_sensitive": correct_cs / n,
        "mean_ned": ned_total / n,
        "cer": dist_total / gt_chars if gt_chars else None,
        "edit_distance": dist_total,
        "gt_chars": gt_chars,
        "labels_with_dropped_chars": dropped,
    }


def score_samples(
    samples: Iterable[tuple], unreadable: Iterable[tuple[str, str, str]] = (),
    metric: str = DEFAULT_METRIC,
) -> tuple[dict, list[tuple]]:
    """Score ``(id, label, prediction, ...)`` rows under ``metric`` (any further fields, e.g.
    the confidence, ride along into the errors).

    ``unreadable``: ``(id, label, reason)`` of labeled samples whose image could not be read
    or decoded: they count against the score (as an empty prediction), so the denominator is
    every labeled sample; ``metrics["unreadable"]`` counts them.

    Returns:
        (metrics, errors): the dict of :func:`compute_metrics` plus ``unreadable``, and the
        rows that are wrong under ``metric``, in input order, followed by
        ``(id, label, "", None, reason)`` per unreadable sample (the rows of ``errors.tsv``).

    Raises:
        ValueError: no samples, or an unknown metric.
    """
    samples, unreadable = list(samples), list(unreadable)
    metrics = compute_metrics([s[2] for s in samples] + [""] * len(unreadable),
                              [s[1] for s in samples] + [u[1] for u in unreadable], metric)
    metrics["unreadable"] = len(unreadable)
    norm = normalizer(metric)
    errors = [s for s in samples if norm(s[1]) != norm(s[2])]
    errors += [(uid, label, "", None, why) for uid, label, why in unreadable]
    return metrics, errors


def format_metrics(metrics: dict, missing: int = 0) -> list[str]:
    """Human-readable lines for a metrics dict, first
    ``word accuracy (latin): 77.60% (2328/3000)`` (the metric's name beside the number)."""
    n = metrics["total"]
    metric = metrics.get("metric", DEFAULT_METRIC)
    cer = metrics["cer"]
    cer_text = "n/a (no ground-truth characters)" if cer is None else f"{100 * cer:.2f}%"
    lines = [
        f"word accuracy ({metric}): {100 * metrics['word_accuracy']:.2f}% "
        f"({metrics['correct']}/{n})",
        f"word accuracy (case-sensitive): {100 * metrics['word_accuracy_case_sensitive']:.2f}%"
        f" ({metrics['correct_case_sensitive']}/{n})",
        f"mean normalized edit distance ({metric}): {metrics['mean_ned']:.4f} "
        "(lower is better)",
        f"character error rate ({metric}): {cer_text} ({metrics['edit_distance']}/{metrics['gt_chars']}"
        " edits/chars)",
    ]
    if missing:
        lines.append(f"missing: {missing} listed result file(s) not found, not scored")
    if metrics.get("unreadable"):
        lines.append(f"unreadable: {metrics['unreadable']} labeled image(s) could not be read "
                     "or decoded; counted as wrong")
    return lines


#: Columns of ``errors.tsv``: the sample's source path (the one id of every path: the GT /
#: list path, ``path-%09d`` of the LMDB, else its ``image-%09d`` key), then the error.
ERROR_COLUMNS = ("source", "label", "prediction", "confidence", "error")


def format_error_rows(errors: Iterable[tuple]) -> str:
    """``errors.tsv`` text: the :data:`ERROR_COLUMNS` header, then one row per
    ``(source, label, prediction[, confidence[, error]])``, tab-separated, every field escaped
    by :func:`common.names.escape_name` (docs/SAFETY.md, "File names in outputs"); confidence
    with 6 decimals, empty when unknown (an unreadable image)."""
    out = [tsv_line(ERROR_COLUMNS)]
    for row in errors:
        source, label, pred, conf, why = (*row, None, None)[:5]
        out.append(tsv_line((source, label, pred, "" if conf is None else f"{conf:.6f}",
                             why or "")))
    return "".join(out)


def write_report(
    out_dir: str | Path,
    metrics: dict,
    errors: Iterable[tuple],
    *,
    missing: int = 0,
    alphabet: str | None = None,
    extra: dict | None = None,
) -> tuple[Path, Path]:
    """Write ``out_dir/accuracy.json`` and ``out_dir/errors.tsv`` (each atomically).

    accuracy.json: ``metrics`` (see :func:`compute_metrics`, ``metric`` included) plus
    ``missing`` (listed samples without a result, not scored), ``alphabet``, ``protocol`` (the
    metric's definition, :data:`METRICS`) and the items of ``extra``.
    errors.tsv: :func:`format_error_rows` of ``errors`` (``source, label, prediction,
    confidence, error``).

    Returns:
        The two paths written. Raises OSError when ``out_dir`` is not writable.
    """
    out_dir = Path(out_dir)
    metric = metrics.get("metric", DEFAULT_METRIC)
    protocol = (f"word_accuracy, mean_ned, cer: {METRICS[metric][2]}; "
                "case_sensitive: the raw strings, exact match")
    report = {**metrics, "missing": missing, "alphabet": alphabet, "protocol": protocol}
    report.update(extra or {})
    acc = atomic_write_text(out_dir / "accuracy.json",
                            json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    err = atomic_write_text(out_dir / "errors.tsv", format_error_rows(errors))
    return acc, err
