"""crnn-deploy's PP-OCRv4 against RapidOCR's own TextRecognizer, word by word.

RapidOCR (``rapidocr-onnxruntime==1.4.4``, a test-only dependency: ``pip install
'crnn-deploy[test]'``) runs one image per call (``TextRecognizer(cv2.imread(path))``, so the
width is the image's own); crnn-deploy runs :class:`crnn_deploy.Recognizer` on the imported
engine (``crnn-convert import weights/ch_PP-OCRv4_rec_infer.onnx --spec ppocrv4-rec``)
over the same files in batches grouped by width. Prints the agreement, the largest confidence
difference and every differing word; ``--output`` writes that report as Markdown.

Usage: python scripts/compare_rapidocr.py --engine build/ppocrv4-rec.onnx \\
           --gt ../shared/assets/eval_iiit5k_3000/gt.txt [--limit N] [--output docs/X.md]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def rapidocr_recognizer(threads: int | None = None):
    """RapidOCR 1.4.4's TextRecognizer with its packaged Rec config (model of its wheel)."""
    import rapidocr_onnxruntime
    from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
    from rapidocr_onnxruntime.utils import read_yaml

    root = Path(rapidocr_onnxruntime.__file__).parent
    cfg = read_yaml(str(root / "config.yaml"))["Rec"]
    cfg["model_path"] = str(root / cfg["model_path"])
    if threads:
        cfg["intra_op_num_threads"], cfg["inter_op_num_threads"] = threads, 1
    return TextRecognizer(cfg)


def read_gt(gt: Path, limit: int | None) -> list[tuple[Path, str]]:
    rows = []
    for line in gt.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rel, _, label = line.partition("\t")
            rows.append((gt.parent / rel, label))
    return rows[:limit] if limit else rows


def run_rapidocr(paths: list[Path], threads: int | None = None) -> tuple[list[tuple[str, float]], float]:
    """(text, confidence) per path, one image per call; and the wall seconds (decode included)."""
    import cv2

    rec = rapidocr_recognizer(threads)
    start = time.perf_counter()
    out = []
    for p in paths:
        res, _ = rec(cv2.imread(str(p)))
        out.append((res[0][0], float(res[0][1])))
    return out, time.perf_counter() - start


def run_ours(engine: Path, paths: list[Path], threads: int | None = None, **options):
    """(text, confidence) per path with crnn-deploy's Recognizer; and the wall seconds."""
    from crnn_deploy import Recognizer

    with Recognizer(engine, threads=threads, **options) as r:
        start = time.perf_counter()
        out = r.recognize([str(p) for p in paths])
        return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", type=Path, required=True)
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--output", type=Path, default=None)
    args = ap.parse_args(argv)
    rows = read_gt(args.gt, args.limit)
    paths = [p for p, _ in rows]
    theirs, t_theirs = run_rapidocr(paths)
    ours, t_ours = run_ours(args.engine, paths)
    diffs = [(p, lab, a, b) for (p, lab), a, b in zip(rows, theirs, ours) if a[0] != b[0]]
    same = len(rows) - len(diffs)
    conf = max(abs(a[1] - b[1]) for a, b in zip(theirs, ours) if a[0] == b[0])
    lines = [f"Same text: {same} / {len(rows)}; largest confidence difference among them "
             f"{conf:.2e}.", "", "| file | label | RapidOCR (conf) | crnn-deploy (conf) |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {p.relative_to(args.gt.parent)} | {lab} | {a[0]} ({a[1]:.4f}) | {b[0]} ({b[1]:.4f}) |"
              for p, lab, a, b in diffs]
    report = "\n".join(lines)
    print(report)
    print(f"wall: RapidOCR {t_theirs:.1f} s, crnn-deploy {t_ours:.1f} s (default threads)",
          file=sys.stderr)
    if args.output:
        args.output.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
