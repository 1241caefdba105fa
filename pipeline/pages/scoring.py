"""``crnn-ocr --gt PAGES.jsonl [--misreads]``: read the pages a page GT file lists and score
them (:func:`postprocess.page_metrics.score_pages`: detection precision, recall and hmean at
IoU 0.5, one-to-one, and end-to-end word accuracy)."""
from __future__ import annotations

from pathlib import Path

import click

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.recognize_inputs import Inputs
from crnn_deploy.postprocess.metrics import DEFAULT_METRIC, METRICS

#: --misreads lines printed (the rest are counted)
MAX_MISREADS = 200


def gt_options(func):
    """Add ``--gt``, ``--metric`` and ``--misreads`` to a command."""
    func = click.option("--misreads", is_flag=True,
                        help="With --gt: one line per missed GT box, extra box and misread box "
                             f"on stderr (the first {MAX_MISREADS}).")(func)
    func = click.option("--metric", type=click.Choice(list(METRICS)), default=DEFAULT_METRIC,
                        show_default=True,
                        help="With --gt: how texts are compared; "
                             + "; ".join(f"{name}: {d}" for name, (_, _, d) in METRICS.items())
                             + " (docs/USAGE.md, 'Metrics').")(func)
    return click.option("--gt", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="A page GT file (the output's JSONL format, boxes with texts, page "
                             "paths relative to its folder): read its pages and print "
                             "detection precision/recall/hmean (IoU 0.5, one-to-one) and "
                             "end-to-end word accuracy on stderr.")(func)


def gt_inputs(gt: Path, others: bool) -> tuple[Inputs, list[dict]]:
    """The pages of ``gt`` (:func:`postprocess.pages_jsonl.read_pages`) as inputs named as the
    file names them, and the GT pages.

    Raises:
        UserError: other inputs given too (``others``), or a malformed GT file (naming the
            line and field).
    """
    from crnn_deploy.postprocess.pages_jsonl import read_pages

    if others:
        raise UserError("--gt lists the pages itself: give no other input with it")
    pages = read_pages(gt, require_text=True)
    src = Inputs()
    for page in pages:
        src.add(str(page["path"]), page["page"])
    return src, pages


def score_run(records: list, gt_pages: list[dict], metric: str, misreads: bool) -> list[str]:
    """The lines ``--gt`` prints: :func:`postprocess.page_metrics.format_page_metrics` of the
    page ``records`` (in GT order; None for a page that could not be read: scored as a page
    with no box) against ``gt_pages``, then with ``misreads`` one line per wrong box."""
    from crnn_deploy.postprocess.page_metrics import format_page_metrics, misread_lines, score_pages

    preds = [r if r is not None else {"page": g["page"], "boxes": []}
             for r, g in zip(records, gt_pages)]
    scores = score_pages(preds, gt_pages, metric=metric)
    lines = format_page_metrics(scores)
    if misreads:
        wrong = misread_lines(scores, preds, gt_pages)
        lines += wrong[:MAX_MISREADS]
        if len(wrong) > MAX_MISREADS:
            lines.append(f"... and {len(wrong) - MAX_MISREADS} more wrong box(es)")
    return lines
