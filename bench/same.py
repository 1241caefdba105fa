"""``crnn-bench same``: the same text as the originating tool, word by word.

``rapidocr``: crnn-deploy's PP-OCRv4 engine (``crnn-convert import
weights/ch_PP-OCRv4_rec_infer.onnx --spec ppocrv4-rec``) against RapidOCR 1.4.4's own
TextRecognizer, one image per call (``TextRecognizer(cv2.imread(path))``: each word at its own
width; :func:`bench.oracles.run_rapidocr`). ``easyocr``: crnn-deploy's english_g2 engine against
EasyOCR 1.7.2's ``Reader.recognize`` texts read from ``--oracle`` (the TSV of
``scripts/easyocr_oracle.py``, ``quantize=False``). Ours is :class:`crnn_deploy.Recognizer` on
ENGINE over the same files (batches grouped by width). Prints the agreement, the largest
confidence difference among equal texts, and every differing word; ``--output`` writes that
report as Markdown (temp + rename).

    crnn-bench same rapidocr --engine build/ppocrv4-rec.onnx --gt ../shared/assets/eval_iiit5k_3000/gt.txt
    crnn-bench same easyocr --engine build/english_g2_dynamic.onnx \\
        --gt ../shared/assets/eval_iiit5k_3000/gt.txt --oracle build/easyocr_oracle/iiit5k.tsv
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from crnn_deploy.common.errors import UserError

__all__ = ["main", "report"]


def read_gt(gt: Path, limit: int | None) -> list[tuple[str, str]]:
    """(relpath, label) per line of a ``relpath<TAB>label`` file, the first ``limit``.

    Raises:
        UserError: the file cannot be read."""
    try:
        text = gt.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--gt {gt}: {exc.strerror}") from None
    rows = [(rel, label) for rel, _, label in
            (line.partition("\t") for line in text.splitlines() if line.strip())]
    return rows[:limit] if limit else rows


def read_oracle(path: Path) -> dict[str, tuple[str, float]]:
    """relpath -> (text, confidence) of an oracle TSV (``relpath<TAB>text<TAB>confidence``).

    Raises:
        UserError: unreadable, or a line without three fields / a numeric confidence."""
    out = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"--oracle {path}: {exc.strerror}") from None
    for n, line in enumerate(lines, 1):
        parts = line.split("\t")
        try:
            out[parts[0]] = (parts[1], float(parts[2]))
        except (IndexError, ValueError):
            raise UserError(f"--oracle {path}, line {n}: expected relpath<TAB>text<TAB>"
                            "confidence") from None
    return out


def report(rows, theirs, ours, peer: str) -> str:
    """Markdown: agreement count, largest confidence difference among equal texts, and a table
    of every differing word. ``rows``: (relpath, label); ``theirs``/``ours``: (text, conf)."""
    diffs = [(rel, lab, a, b) for (rel, lab), a, b in zip(rows, theirs, ours) if a[0] != b[0]]
    conf = max((abs(a[1] - b[1]) for a, b in zip(theirs, ours) if a[0] == b[0]), default=0.0)
    lines = [f"Same text: {len(rows) - len(diffs)} / {len(rows)}; largest confidence difference "
             f"among them {conf:.2e}.", "", f"| file | label | {peer} (conf) | crnn-deploy (conf) |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {rel} | {lab} | {a[0]} ({a[1]:.4f}) | {b[0]} ({b[1]:.4f}) |"
              for rel, lab, a, b in diffs]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``crnn-bench same {rapidocr,easyocr} [OPTIONS]`` (argparse; ``--help`` lists them)."""
    ap = argparse.ArgumentParser(prog="crnn-bench same", description=__doc__.splitlines()[0])
    ap.add_argument("peer", choices=("rapidocr", "easyocr"))
    ap.add_argument("--engine", type=Path, required=True, help="our engine file")
    ap.add_argument("--gt", type=Path, required=True, help="relpath<TAB>label; images beside it")
    ap.add_argument("--oracle", type=Path, help="easyocr: TSV of scripts/easyocr_oracle.py")
    ap.add_argument("--limit", type=int, default=None, help="first N lines only")
    ap.add_argument("--output", type=Path, default=None, help="write the report (Markdown)")
    args = ap.parse_args(argv)
    from crnn_deploy import Recognizer
    from crnn_deploy.bench.oracles import run_rapidocr
    from crnn_deploy.bench.report import write_text_atomic

    rows = read_gt(args.gt, args.limit)
    paths = [args.gt.parent / rel for rel, _ in rows]
    start = time.perf_counter()
    if args.peer == "rapidocr":
        theirs = run_rapidocr(paths, per_call=True)
        peer = "RapidOCR"
    else:
        if args.oracle is None:
            ap.error("easyocr needs --oracle (run scripts/easyocr_oracle.py first)")
        by_path = read_oracle(args.oracle)
        missing = [rel for rel, _ in rows if rel not in by_path]
        if missing:
            raise UserError(f"--oracle {args.oracle} has no line for {missing[0]} "
                            f"({len(missing)} missing): run it on the same --gt")
        theirs = [by_path[rel] for rel, _ in rows]
        peer = "EasyOCR"
    t_theirs = time.perf_counter() - start
    with Recognizer(args.engine) as r:
        start = time.perf_counter()
        ours = r.recognize([str(p) for p in paths])
        t_ours = time.perf_counter() - start
    text = report(rows, theirs, ours, peer)
    print(text)
    print(f"wall: {peer} {t_theirs:.1f} s, crnn-deploy {t_ours:.1f} s (one run each: for speed "
          "use crnn-bench peers)", file=sys.stderr)
    if args.output:
        write_text_atomic(args.output, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
