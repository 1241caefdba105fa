"""``crnn-ocr --gt PAGES.jsonl [--misreads]``: score the pages read against a page GT file."""
from __future__ import annotations

from pathlib import Path

import click

from crnn_deploy.common.errors import UserError


def gt_options(func):
    """Add ``--gt`` and ``--misreads`` to a command."""
    func = click.option("--misreads", is_flag=True,
                        help="With --gt: list each page's missed, extra and misread boxes.")(func)
    return click.option("--gt", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="A page GT file (the output's JSONL format, boxes with texts): "
                             "print detection precision/recall/hmean (IoU 0.5, one-to-one) "
                             "and end-to-end word accuracy on stderr.")(func)


def score_run(records: list, names: list[str], gt: Path, misreads: bool) -> list[str]:
    """The lines ``--gt`` prints for the page ``records`` (None: a bad page) named ``names``.

    Raises:
        UserError: the GT file is unreadable or malformed.
    """
    raise UserError("--gt is not wired yet (page metrics: postprocess/page_metrics.py)")
