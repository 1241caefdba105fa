"""Page metrics: text detection precision, recall and hmean, and end-to-end word accuracy.

Detection follows the ICDAR 2015 protocol as PaddleOCR's ``DetectionIoUEvaluator``
(``ppocr/metrics/eval_det_iou.py``, after MhLiao/DB's ``icdar2015_eval``) computes it: polygon
IoU (shapely), one-to-one matching, a pair counts at IoU >= ``iou`` (0.5), and the totals are
summed over all pages before dividing (precision = matched / predicted boxes, recall = matched /
GT boxes, hmean = their harmonic mean). Three choices differ on purpose:

* matching is greedy by IoU, best pair first (PaddleOCR takes the first pair above the
  threshold in GT-then-prediction order): the pairs are also used for end-to-end reading, where
  the best-overlapping prediction is the one that should carry the word. The counts differ only
  when a box overlaps two others at IoU >= 0.5 (which then overlap each other);
* the threshold is inclusive (docs/DESIGN.md: IoU >= 0.5; PaddleOCR: > 0.5), equal only at exactly 0.5;
* a self-intersecting quadrilateral is repaired (``shapely.make_valid``) and counted, not
  skipped; there are no "don't care" boxes (a GT text ``###`` is an ordinary word).

End to end: a GT box is read right when its matched prediction's text equals the GT text under
``metric``, a name of :data:`postprocess.metrics.METRICS` (the words' ``--metric``): ``"latin"``
(default; lowercase, keep ``[0-9a-z]``, the benchmark protocol), ``"exact"`` (the raw strings,
for scripts the Latin protocol would strip), ``"exact-nospace"``, ``"case-insensitive"``.
e2e_accuracy = right / GT boxes.
"""
from __future__ import annotations

from crnn_deploy.common.errors import OptionError, UserError
from crnn_deploy.postprocess.metrics import METRICS as WORD_METRICS
from crnn_deploy.postprocess.pages_jsonl import validate_page

METRICS = {name: normalize for name, (normalize, _, _) in WORD_METRICS.items()}


def _polygons(boxes: list[dict]):
    from shapely import make_valid
    from shapely.geometry import Polygon

    polys = []
    for box in boxes:
        poly = Polygon(box["points"])
        polys.append(poly if poly.is_valid else make_valid(poly))
    return polys


def iou_matrix(gt_boxes: list[dict], pred_boxes: list[dict]):
    """(G, P) float64 array of polygon IoU between every GT box and every predicted box (each a
    dict with 4 ``points``); 0 where the union has no area."""
    import numpy as np

    out = np.zeros((len(gt_boxes), len(pred_boxes)))
    gts, preds = _polygons(gt_boxes), _polygons(pred_boxes)
    for i, g in enumerate(gts):
        for j, p in enumerate(preds):
            if not g.intersects(p):
                continue
            union = g.union(p).area
            out[i, j] = g.intersection(p).area / union if union > 0 else 0.0
    return out


def match_boxes(gt_boxes: list[dict], pred_boxes: list[dict], iou: float = 0.5
                ) -> list[tuple[int, int, float]]:
    """One-to-one pairs ``(gt index, pred index, IoU)`` with IoU >= ``iou``, greedy by IoU (best
    first; ties by GT, then prediction index), sorted by GT index."""
    m = iou_matrix(gt_boxes, pred_boxes)
    candidates = sorted(((-m[i, j], i, j) for i in range(m.shape[0]) for j in range(m.shape[1])
                         if m[i, j] >= iou))
    used_gt, used_pred, pairs = set(), set(), []
    for neg, i, j in candidates:
        if i not in used_gt and j not in used_pred:
            used_gt.add(i)
            used_pred.add(j)
            pairs.append((i, j, float(-neg)))
    return sorted(pairs)


def score_page(pred: dict, gt: dict, iou: float = 0.5, metric: str = "latin") -> dict:
    """The matches of one page (both dicts already validated): counts, ``pairs`` [(gt, pred,
    iou)], ``missed`` GT indices, ``extra`` prediction indices, ``misread`` list of
    ``{"gt", "pred", "iou", "gt_text", "text"}`` (matched boxes read wrong)."""
    norm = METRICS[metric]
    pairs = match_boxes(gt["boxes"], pred["boxes"], iou)
    matched_gt = {i for i, _, _ in pairs}
    matched_pred = {j for _, j, _ in pairs}
    misread, right = [], 0
    for i, j, value in pairs:
        gt_text, text = gt["boxes"][i]["text"], pred["boxes"][j].get("text", "")
        if norm(gt_text) == norm(text):
            right += 1
        else:
            misread.append({"gt": i, "pred": j, "iou": round(value, 4), "gt_text": gt_text,
                            "text": text})
    return {
        "page": gt["page"], "pred_page": pred["page"], "gt_boxes": len(gt["boxes"]),
        "pred_boxes": len(pred["boxes"]), "matched": len(pairs), "read_right": right,
        "pairs": [[i, j, round(v, 4)] for i, j, v in pairs],
        "missed": [i for i in range(len(gt["boxes"])) if i not in matched_gt],
        "extra": [j for j in range(len(pred["boxes"])) if j not in matched_pred],
        "misread": misread,
    }


def _ratio(a: int, b: int, empty: float) -> float:
    return a / b if b else empty


def score_pages(pred_pages: list[dict], gt_pages: list[dict], *, iou: float = 0.5,
                metric: str = "latin") -> dict:
    """Detection and end-to-end scores of predicted pages against GT pages (page JSONL dicts,
    the i-th prediction is scored against the i-th GT page; every GT box needs ``text``).

    Returns a JSON-ready dict: ``precision``, ``recall``, ``hmean`` (detection, totals over all
    pages; precision is 1.0 when nothing is predicted and nothing is expected, recall 1.0 when
    there is no GT box), ``e2e_accuracy`` (GT boxes read right / GT boxes; 1.0 with no GT box),
    counts ``pages``, ``gt_boxes``, ``pred_boxes``, ``matched``, ``read_right``, the
    ``iou`` threshold and ``metric`` used, and ``per_page``: :func:`score_page` of each page.

    Raises:
        OptionError: ``iou`` outside (0, 1] or an unknown ``metric``.
        UserError: the two lists differ in length, or a page or box is malformed (naming it).
    """
    if not 0.0 < iou <= 1.0:
        raise OptionError(f"iou must be in (0, 1], got {iou}")
    if metric not in METRICS:
        raise OptionError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    if len(pred_pages) != len(gt_pages):
        raise UserError(f"{len(pred_pages)} predicted pages for {len(gt_pages)} GT pages; "
                        "expected one prediction per GT page, in the same order")
    per_page = []
    for k, (pred, gt) in enumerate(zip(pred_pages, gt_pages)):
        gt = validate_page(gt, f"GT page {k}", require_text=True)
        pred = validate_page(pred, f"predicted page {k}")
        per_page.append(score_page(pred, gt, iou, metric))
    n_gt = sum(p["gt_boxes"] for p in per_page)
    n_pred = sum(p["pred_boxes"] for p in per_page)
    matched = sum(p["matched"] for p in per_page)
    right = sum(p["read_right"] for p in per_page)
    precision = _ratio(matched, n_pred, 1.0 if n_gt == 0 else 0.0)
    recall = _ratio(matched, n_gt, 1.0)
    hmean = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "hmean": hmean,
            "e2e_accuracy": _ratio(right, n_gt, 1.0), "pages": len(per_page), "gt_boxes": n_gt,
            "pred_boxes": n_pred, "matched": matched, "read_right": right, "iou": iou,
            "metric": metric, "per_page": per_page}


def format_page_metrics(scores: dict) -> list[str]:
    """Human-readable lines of :func:`score_pages`' result (percentages, counts)."""
    s = scores
    return [
        f"detection (IoU >= {s['iou']}, one-to-one): precision {100 * s['precision']:.2f} %, "
        f"recall {100 * s['recall']:.2f} %, hmean {100 * s['hmean']:.2f} % "
        f"({s['matched']} matched, {s['gt_boxes']} GT boxes, {s['pred_boxes']} predicted, "
        f"{s['pages']} pages)",
        f"end to end ({s['metric']}): {100 * s['e2e_accuracy']:.2f} % of GT boxes read right "
        f"({s['read_right']}/{s['gt_boxes']})",
    ]


def misread_lines(scores: dict, pred_pages: list[dict], gt_pages: list[dict]) -> list[str]:
    """One line per box that is not right, from :func:`score_pages`' ``per_page``: a GT box
    missed (no prediction at the IoU threshold), an extra prediction, or a matched box read
    wrong (``GT 'x' read 'y'``); each with its page and its points, rounded to pixels."""
    def at(box):
        return "[" + " ".join(f"{x:.0f},{y:.0f}" for x, y in box["points"]) + "]"

    lines = []
    for k, page in enumerate(scores["per_page"]):
        gt, pred = gt_pages[k]["boxes"], pred_pages[k]["boxes"]
        lines += [f"{page['page']}: missed GT {gt[i]['text']!r} at {at(gt[i])}"
                  for i in page["missed"]]
        lines += [f"{page['page']}: extra {pred[j].get('text', '')!r} at {at(pred[j])}"
                  for j in page["extra"]]
        lines += [f"{page['page']}: GT {m['gt_text']!r} read {m['text']!r} at "
                  f"{at(gt[m['gt']])} (IoU {m['iou']:.2f})" for m in page["misread"]]
    return lines
