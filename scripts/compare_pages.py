"""crnn-deploy's page pipeline against RapidOCR 1.4.4's own full pipeline, page by page.

The oracle is ``from rapidocr_onnxruntime import RapidOCR; RapidOCR()(path)`` at its packaged
defaults (``config.yaml``: det limit_side_len 736 / limit_type min, DB thresh 0.3, box_thresh 0.5,
unclip_ratio 1.6, use_dilation, score_mode fast; cls on, cls_thresh 0.9; text_score 0.5). It is a
test-only dependency (``pip install 'crnn-deploy[test]'``), never imported by the product.
crnn-deploy runs :class:`crnn_deploy.OCR` with the three engines named by each ``--engines``.

Reported, for each of ours against the oracle: the share of RapidOCR's boxes that have one of
ours at IoU >= 0.9 (one-to-one, :func:`postprocess.page_metrics.match_boxes`) and the share with
that box AND the same text (exact strings); and for both against the generator's GT
(``gt.jsonl`` of scripts/make_pages.py): detection precision/recall/hmean (ICDAR 2015, IoU 0.5)
and end-to-end word accuracy (Latin protocol). Every differing box is listed.

Usage:
    python scripts/make_pages.py --seed 0 --count 30 --output build/pages30
    python scripts/compare_pages.py --gt build/pages30/gt.jsonl \\
        --engines ort=build/ppocrv4-det.onnx,build/ppocr-cls.onnx,build/ppocrv4-rec.onnx \\
        --engines ov=build/ppocrv4-det.xml,build/ppocr-cls.xml,build/ppocrv4-rec.xml \\
        [--rec-batching rapidocr] \\
        [--oracle rapidocr.jsonl | --write-oracle rapidocr.jsonl] [--ours crnn-ocr.jsonl]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from crnn_deploy.common import outputs
from crnn_deploy.common.cli import command
from crnn_deploy.common.errors import UserError
from crnn_deploy.postprocess.page_metrics import format_page_metrics, score_pages
from crnn_deploy.postprocess.pages_jsonl import page_line, read_pages

#: IoU at which two pipelines' boxes are "the same box" (issue 27)
SAME_BOX_IOU = 0.9


def rapidocr_pages(gt_pages: list[dict], **options) -> tuple[list[dict], float]:
    """RapidOCR's result for each page (page JSONL dicts named as in the GT, no angle: RapidOCR
    does not return it) and the wall seconds of the loop (decode included, engine load not).
    ``options``: RapidOCR's keyword overrides (none: its defaults; ``rec_batch_num=1`` reads
    each crop at its own width instead of padding it to the widest of a batch of 6)."""
    from rapidocr_onnxruntime import RapidOCR

    from crnn_deploy.bench.oracles import rapidocr_boxes

    engine = RapidOCR(**options)
    start = time.perf_counter()
    out = [{"page": page["page"], "boxes": rapidocr_boxes(engine, page["path"])}
           for page in gt_pages]
    return out, time.perf_counter() - start


def ours_pages(gt_pages: list[dict], det, cls, rec, **options) -> tuple[list[dict], float]:
    """:class:`crnn_deploy.OCR`'s result for each page (named as in the GT) and the wall
    seconds of the call (decode included, engine load not)."""
    from crnn_deploy import OCR

    with OCR(det=det, cls=cls, rec=rec, **options) as ocr:
        start = time.perf_counter()
        result = ocr([str(page["path"]) for page in gt_pages])
        seconds = time.perf_counter() - start
    return [{"page": g["page"], "boxes": r["boxes"]} for g, r in zip(gt_pages, result)], seconds


def agreement(ours: list[dict], oracle: list[dict], iou: float = SAME_BOX_IOU) -> dict:
    """How many of the oracle's boxes ours reproduces: :func:`score_pages` with the oracle as
    GT at IoU ``iou`` and the exact metric; ``recall`` = same box, ``e2e_accuracy`` = same box
    and same text, ``precision`` = share of our boxes that are one of the oracle's."""
    return score_pages(ours, oracle, iou=iou, metric="exact")


def differences(ours: list[dict], oracle: list[dict], scores: dict) -> list[str]:
    """One line per box that differs: only RapidOCR's, only ours, or the same box read
    differently."""
    lines = []
    for k, page in enumerate(scores["per_page"]):
        for i in page["missed"]:
            b = oracle[k]["boxes"][i]
            lines.append(f"{page['page']}: only RapidOCR: {b['text']!r} at {_at(b)}")
        for j in page["extra"]:
            b = ours[k]["boxes"][j]
            lines.append(f"{page['page']}: only ours: {b.get('text')!r} at {_at(b)}")
        for m in page["misread"]:
            lines.append(f"{page['page']}: RapidOCR {m['gt_text']!r}, ours {m['text']!r} "
                         f"(IoU {m['iou']:.3f})")
    return lines


def _at(box: dict) -> str:
    return "[" + ", ".join(f"({x:.0f},{y:.0f})" for x, y in box["points"]) + "]"


def report(name: str, ours: list[dict], oracle: list[dict], gt: list[dict], seconds: float
           ) -> tuple[list[str], dict]:
    """Lines for one of ours against the oracle and the GT, and the numbers as a dict."""
    same = agreement(ours, oracle)
    vs_gt = score_pages(ours, gt)
    timing = f" in {seconds:.2f} s ({len(ours) / seconds:.2f} pages/s)" if seconds > 0 else ""
    lines = [f"== {name}: {len(ours)} pages{timing}",
             f"same boxes as RapidOCR (IoU >= {SAME_BOX_IOU}): {same['matched']}/{same['gt_boxes']}"
             f" ({100 * same['recall']:.2f} %); same box and text: {same['read_right']}/"
             f"{same['gt_boxes']} ({100 * same['e2e_accuracy']:.2f} %); ours {same['pred_boxes']}",
             "against the generator's GT: " + "; ".join(format_page_metrics(vs_gt)),
             *("  " + d for d in differences(ours, oracle, same))]
    return lines, {"same_box": same["recall"], "same_text": same["e2e_accuracy"],
                   "hmean": vs_gt["hmean"], "e2e": vs_gt["e2e_accuracy"], "seconds": seconds}


def _write_jsonl(path: Path, pages: list[dict]) -> None:
    with outputs.staged_new_file(path, False, "compare_pages.py", "--write-oracle") as tmp:
        tmp.write_text("".join(page_line(p) + "\n" for p in pages), encoding="utf-8")


@command()
@click.option("--gt", "gt_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="gt.jsonl of a page set (scripts/make_pages.py).")
@click.option("--engines", "engines", multiple=True, metavar="NAME=DET,CLS,REC",
              help="Run crnn_deploy.OCR with these engines (CLS may be 'none'); repeatable.")
@click.option("--ours", "ours_files", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A crnn-ocr JSONL output over the same pages, in GT order; repeatable.")
@click.option("--oracle", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Read RapidOCR's results from this JSONL instead of running it.")
@click.option("--write-oracle", type=click.Path(path_type=Path, dir_okay=False),
              help="Write RapidOCR's results to this new JSONL file.")
@click.option("--limit", type=click.IntRange(1), help="Only the first N pages.")
@click.option("--rec-batch-num", type=click.IntRange(1), default=None,
              help="RapidOCR's rec_batch_num [default: its own, 6]; 1 reads each crop alone.")
@click.option("--rec-batching", type=click.Choice(["width", "rapidocr"]), default="width",
              show_default=True, help="crnn-ocr's --rec-batching for the --engines runs.")
def main(gt_path, engines, ours_files, oracle, write_oracle, limit, rec_batch_num, rec_batching):
    """Compare crnn-deploy's pages with RapidOCR's (same boxes, same texts, hmean vs the GT)."""
    gt = read_pages(gt_path)[:limit]
    if oracle:
        rapid, rapid_s = read_pages(oracle, require_text=True, allow_outside=True)[:len(gt)], 0.0
    else:
        rapid, rapid_s = rapidocr_pages(gt, **({"rec_batch_num": rec_batch_num}
                                               if rec_batch_num else {}))
        if write_oracle:
            _write_jsonl(write_oracle, rapid)
    vs_gt = score_pages(rapid, gt)
    name = f"RapidOCR 1.4.4 (rec_batch_num {rec_batch_num})" if rec_batch_num else "RapidOCR 1.4.4"
    click.echo(f"== {name}: {len(rapid)} pages" + (f" in {rapid_s:.2f} s" if rapid_s else ""))
    click.echo("against the generator's GT: " + "; ".join(format_page_metrics(vs_gt)))
    runs = []
    for spec in engines:
        name, _, files = spec.partition("=")
        parts = files.split(",")
        if len(parts) != 3:
            raise UserError(f"--engines {spec!r}: expected NAME=DET,CLS,REC")
        det, cls, rec = (None if p == "none" else p for p in parts)
        runs.append((name, *ours_pages(gt, det, cls, rec, rec_batching=rec_batching)))
    for path in ours_files:
        pages = read_pages(path, require_text=False, allow_outside=True)[:len(gt)]
        runs.append((path.name, pages, 0.0))
    for name, pages, seconds in runs:
        lines, numbers = report(name, pages, rapid, gt, seconds)
        click.echo("\n".join(lines))
        click.echo(f"hmean vs GT: ours {100 * numbers['hmean']:.2f} %, RapidOCR "
                   f"{100 * vs_gt['hmean']:.2f} %")


if __name__ == "__main__":
    sys.exit(main())
