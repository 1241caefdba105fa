#!/usr/bin/env python
"""CPU time per image of the work a fused path does outside inference, step by step.

One thread, ``time.process_time`` (CPU seconds of this process), over the first ``--limit``
samples of an LMDB (default: IIIT5K, built by ``make demo``), each step timed over all
samples in turn, best of ``--rounds``:

* LMDB read: :func:`preprocess.lmdb_io.read_sample` in one read transaction;
* PNG/JPEG decode: ``Image.open(...).load()`` (Pillow);
* grey: ``convert('L')`` of the decoded image;
* whole transform: :func:`preprocess.transform.preprocess_image` (decode, grey, resize,
  normalize: what the feeder runs per image);
* greedy CTC + confidence: :func:`postprocess.ctc.greedy_decode_with_confidence` on
  batch-16 engine-shaped random logits, per image.

The sum (LMDB read + whole transform + CTC) is the CPU cost per image that the engine's
cores also have to carry on a machine without spare cores (docs/USAGE.md, "Recognizing
images"; docs/BENCHMARKS-notes.md).

    python scripts/prep_cost.py --lmdb build/data/iiit5k.lmdb --model nano-ocr
"""
from __future__ import annotations

import argparse
import io
import time

import numpy as np
from PIL import Image

from crnn_deploy.models.specs import get_spec
from crnn_deploy.postprocess.ctc import greedy_decode_with_confidence
from crnn_deploy.preprocess.lmdb_io import open_lmdb, read_sample
from crnn_deploy.preprocess.transform import preprocess_image


def cpu_ms_per_item(fn, items, rounds: int) -> float:
    """Best-of-``rounds`` CPU milliseconds per item of ``fn(item)`` over ``items``."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for item in items:
            fn(item)
        best = min(best, time.process_time() - t0)
    return 1000 * best / len(items)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lmdb", default="build/data/iiit5k.lmdb")
    ap.add_argument("--model", default="nano-ocr")
    ap.add_argument("--limit", type=int, default=960)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    spec = get_spec(args.model)
    env = open_lmdb(args.lmdb)
    try:
        with env.begin(buffers=False) as txn:
            indices = list(range(1, args.limit + 1))
            data = [read_sample(txn, i)[0] for i in indices]
            read_ms = cpu_ms_per_item(lambda i: read_sample(txn, i), indices, args.rounds)
    finally:
        env.close()
    decoded = [Image.open(io.BytesIO(d)) for d in data]
    for im in decoded:
        im.load()
    steps = {
        "LMDB read": read_ms,
        "decode (Image.open + load)":
            cpu_ms_per_item(lambda d: Image.open(io.BytesIO(d)).load(), data, args.rounds),
        "grey (convert('L'))": cpu_ms_per_item(lambda im: im.convert("L"), decoded, args.rounds),
        "whole transform (preprocess_image)":
            cpu_ms_per_item(lambda d: preprocess_image(d, spec), data, args.rounds),
    }
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((spec.seq_len, 16, len(spec.alphabet) + 1)).astype(np.float32)
               for _ in range(max(1, len(data) // 16))]
    steps["greedy CTC + confidence"] = cpu_ms_per_item(
        lambda y: greedy_decode_with_confidence(y, spec.alphabet, 1), batches, args.rounds) / 16
    total = steps["LMDB read"] + steps["whole transform (preprocess_image)"] \
        + steps["greedy CTC + confidence"]
    print(f"{args.lmdb}: {len(data)} images, model {spec.name}, best of {args.rounds} rounds, "
          "CPU ms per image (time.process_time, one thread)")
    for name, ms in steps.items():
        print(f"  {name:<36} {ms:7.3f}")
    print(f"  {'outside inference (read + transform + CTC)':<36} {total:7.3f}")


if __name__ == "__main__":
    main()
