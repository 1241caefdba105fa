#!/usr/bin/env python
"""crnn-deploy's english_g2 against EasyOCR 1.7.2's own recognizer: same text, and speed.

``same``: EasyOCR's ``Reader(['en'], gpu=False, detector=False, quantize=False).recognize(path)``
per file (read from ``--oracle``, the TSV of ``scripts/easyocr_oracle.py``) against
:class:`crnn_deploy.Recognizer` on ENGINE over the same files; prints the agreement, the largest
confidence difference among equal texts, and every differing word; ``--output`` writes that.

``speed``: one run, the same files, file decode included, 2 threads each: EasyOCR at its CPU
defaults (``quantize=True``: torch dynamic INT8 LSTM/Linear; one ``recognize`` call per image,
as its docs show for crops) and then each ENGINE with :class:`crnn_deploy.Recognizer`
(``threads=2``, batches of 16 grouped by width); images/s and the word accuracy (case-insensitive
alphanumeric, ``postprocess.metrics``) of each. Speed numbers belong to one run on one machine.

    python scripts/compare_easyocr.py same --engine build/english_g2.onnx \\
        --gt ../shared/assets/eval_iiit5k_3000/gt.txt --oracle build/easyocr_oracle/iiit5k.tsv
    python scripts/compare_easyocr.py speed --gt ../shared/assets/eval_iiit5k_3000/gt.txt \\
        --engine "ORT f32=build/english_g2.onnx" --engine "OpenVINO bf16=build/english_g2.xml:bf16"
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import easyocr_oracle  # scripts/ is sys.path[0] when run as a script

THREADS = 2


def run_ours(engine: Path, paths: list[Path], precision: str | None = None):
    """(text, confidence) per path with :class:`crnn_deploy.Recognizer`; and the wall seconds."""
    from crnn_deploy import Recognizer

    options = {"precision": precision} if precision else {}
    with Recognizer(engine, threads=THREADS, **options) as r:
        start = time.perf_counter()
        out = r.recognize([str(p) for p in paths])
        return out, time.perf_counter() - start


def accuracy(texts: list[str], labels: list[str]) -> float:
    """Case-insensitive alphanumeric word accuracy in [0, 1] (the standard protocol)."""
    from crnn_deploy.postprocess.metrics import normalize_standard

    return sum(normalize_standard(t) == normalize_standard(g) for t, g in zip(texts, labels)) / len(labels)


def same(args, rows) -> int:
    paths = [args.gt.parent / rel for rel, _ in rows]
    oracle = [line.split("\t") for line in args.oracle.read_text(encoding="utf-8").splitlines()]
    by_path = {rel: (text, float(conf)) for rel, text, conf in oracle}
    theirs = [by_path[rel] for rel, _ in rows]
    ours, _ = run_ours(args.engine, paths)
    diffs = [(rel, lab, a, b) for (rel, lab), a, b in zip(rows, theirs, ours) if a[0] != b[0]]
    conf = max(abs(a[1] - b[1]) for a, b in zip(theirs, ours) if a[0] == b[0])
    lines = [f"Same text: {len(rows) - len(diffs)} / {len(rows)}; largest confidence difference "
             f"among them {conf:.2e}.", "", "| file | label | EasyOCR (conf) | crnn-deploy (conf) |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {rel} | {lab} | {a[0]} ({a[1]:.4f}) | {b[0]} ({b[1]:.4f}) |"
              for rel, lab, a, b in diffs]
    report = "\n".join(lines)
    print(report)
    if args.output:
        args.output.write_text(report + "\n", encoding="utf-8")
    return 0


def speed(args, rows) -> int:
    import torch

    torch.set_num_threads(THREADS)
    paths = [args.gt.parent / rel for rel, _ in rows]
    labels = [lab for _, lab in rows]
    reader = easyocr_oracle.easyocr_reader(args.weights_dir, quantize=True)
    easyocr_oracle.recognize_files(reader, paths[:8])  # warm-up
    start = time.perf_counter()
    theirs = easyocr_oracle.recognize_files(reader, paths)
    base = len(paths) / (time.perf_counter() - start)
    print("| recognizer | images/s | x EasyOCR | word accuracy |\n| --- | ---: | ---: | ---: |")
    print(f"| EasyOCR 1.7.2 recognize, quantize=True, 1 image/call | {base:.1f} | 1.00 | "
          f"{accuracy([t for t, _ in theirs], labels) * 100:.2f} % |")
    for item in args.engine:
        name, _, rest = item.partition("=")
        engine, _, precision = rest.partition(":")
        run_ours(Path(engine), paths[:32], precision or None)  # warm-up (compiles, caches)
        ours, wall = run_ours(Path(engine), paths, precision or None)
        rate = len(paths) / wall
        print(f"| crnn-deploy {name} | {rate:.1f} | {rate / base:.2f} | "
              f"{accuracy([t for t, _ in ours], labels) * 100:.2f} % |")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("same", "speed"))
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--engine", action="append", required=True,
                    help="same: the engine file; speed: NAME=ENGINE[:precision], repeatable")
    ap.add_argument("--oracle", type=Path, help="same: TSV of scripts/easyocr_oracle.py")
    ap.add_argument("--weights-dir", default="weights", help="speed: english_g2.pth here")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--output", type=Path, default=None, help="same: write the report (Markdown)")
    args = ap.parse_args(argv)
    rows = easyocr_oracle.read_gt(args.gt, args.limit)
    if args.mode == "same":
        if args.oracle is None:
            ap.error("same needs --oracle (run scripts/easyocr_oracle.py first)")
        args.engine = Path(args.engine[0])
        return same(args, rows)
    return speed(args, rows)


if __name__ == "__main__":
    sys.exit(main())
