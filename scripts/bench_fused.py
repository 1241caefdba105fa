#!/usr/bin/env python
"""Fused paths against the engine-only loop: crnn-recognize and crnn-eval end-to-end images/s
beside ``crnn-infer --loop`` on the same loaded engine, ONNX Runtime f32 and OpenVINO INT8.

For each engine one backend is loaded once; then ``--rounds`` rounds run, each variant once
per round, in turn (so load from other users of the machine hits every variant alike):

* ``loop``: :func:`runtime.runner.run_loop` on random data (the engine-only limit), images/s
  over the wall time of the timed loop, run right before each variant (the variant's ratio in
  a round is to that loop run);
* ``eval``: :func:`pipeline.fused.evaluate` on the IIIT5K LMDB (first ``--limit`` samples)
  with each preprocessing schedule: ``threads/ahead=1`` (thread pool, the next batch prepared
  while the engine runs; the default), ``threads/ahead=0`` (the next batch prepared on all
  threads between two inference calls), ``processes/1`` (one worker process, the old default);
* ``recognize``: :func:`pipeline.recognizer.recognize_stream` (what crnn-recognize runs) on
  the same images read from their files, ``ahead=1`` and ``ahead=0``.

Printed: per variant the median images/s over the rounds and the median of the per-round
ratios to the loop of the same round. Speeds on a shared machine are noisy: compare the
ratios of one run, not numbers across runs.

    python scripts/bench_fused.py --assets ../shared/assets --onnx build/nano-ocr_bs16.onnx \\
        --int8 build/nano-ocr_bs16_int8.xml --limit 960 --rounds 3
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.fused import evaluate  # noqa: E402 (after the sys.path line)
from pipeline.recognizer import read_image_file, recognize_stream  # noqa: E402
from runtime.registry import open_backend  # noqa: E402
from runtime.runner import resolve_batch, run_loop, warm_up  # noqa: E402

SCHEDULES = [("eval threads ahead=1", "eval", {"ahead": 1}),
             ("eval threads ahead=0", "eval", {"ahead": 0}),
             ("eval processes (1 worker)", "eval", {"workers": 1}),
             ("recognize ahead=1", "recognize", {"ahead": 1}),
             ("recognize ahead=0", "recognize", {"ahead": 0})]


def run_variant(be, kind: str, opts: dict, lmdb: Path, paths: list[str], batch: int,
                threads: int, pipelined: bool) -> float:
    """End-to-end images/s of one run (wall clock, first read to last decode)."""
    if kind == "loop":
        s = run_loop(be, max(1, len(paths) // batch), batch, warmup=1, data="random",
                     pipelined=pipelined)
        return s["count"] / s["wall_s"]
    if kind == "eval":
        res = evaluate(lmdb, be, batch, opts.get("workers"), limit=len(paths), warmup=1,
                       pipelined=pipelined, threads=threads, ahead=opts.get("ahead", 1))
        return res.images_per_s
    warm_up(be, batch, 1, pipelined)
    start = time.perf_counter()
    n = sum(1 for _ in recognize_stream(be, paths, batch, read_image_file, threads,
                                        opts["ahead"], pipelined))
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assets", type=Path, default=ROOT.parent / "shared" / "assets")
    ap.add_argument("--onnx", default=str(ROOT / "build" / "nano-ocr_bs16.onnx"))
    ap.add_argument("--int8", default=str(ROOT / "build" / "nano-ocr_bs16_int8.xml"))
    ap.add_argument("--hint", default=None, choices=["LATENCY", "THROUGHPUT"],
                    help="OpenVINO hint (THROUGHPUT: pipelined async requests)")
    ap.add_argument("--limit", type=int, default=960, help="images per run (IIIT5K, in order)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="preprocessing threads")
    args = ap.parse_args()

    from preprocess.lmdb_build import build_lmdb

    gt = args.assets / "eval_iiit5k_3000" / "gt.txt"
    rels = [line.split("\t", 1)[0] for line in gt.read_text("utf-8").splitlines() if line]
    paths = [str(gt.parent / r) for r in rels[:args.limit]]
    with tempfile.TemporaryDirectory() as tmp:
        lmdb = Path(tmp) / "iiit5k.lmdb"
        build_lmdb(gt, lmdb, log=lambda m: None)
        print(f"IIIT5K: {len(paths)} images per run, {args.rounds} rounds, batch 16, "
              f"{args.threads} preprocessing threads", flush=True)
        table = []
        for label, engine, options in [("onnxruntime f32", args.onnx, {}),
                                       ("openvino int8", args.int8,
                                        {"hint": args.hint} if args.hint else {})]:
            pipelined = options.get("hint") == "THROUGHPUT"
            with open_backend(engine, **options) as be:
                batch = resolve_batch(be, 16)
                got: dict[str, list[float]] = {"loop": []}
                ratios: dict[str, list[float]] = {}
                for r in range(args.rounds):
                    loops = []
                    for name, kind, opts in SCHEDULES:  # each variant beside its own loop run
                        loops.append(run_variant(be, "loop", {}, lmdb, paths, batch,
                                                 args.threads, pipelined))
                        ips = run_variant(be, kind, opts, lmdb, paths, batch, args.threads,
                                          pipelined)
                        got.setdefault(name, []).append(ips)
                        ratios.setdefault(name, []).append(ips / loops[-1])
                    loop = statistics.median(loops)
                    got["loop"].append(loop)
                    print(f"  {label} round {r + 1}: loop {loop:.0f} images/s, " + ", ".join(
                        f"{n} {got[n][-1]:.0f}" for n, _, _ in SCHEDULES), flush=True)
                table.append((label, "engine-only loop", statistics.median(got["loop"]), 1.0))
                for name, _, _ in SCHEDULES:
                    table.append((label, name, statistics.median(got[name]),
                                  statistics.median(ratios[name])))
        print(f"\n{'engine':<16} {'variant':<27} {'images/s':>9} {'ratio to loop':>14}")
        for label, name, ips, ratio in table:
            print(f"{label:<16} {name:<27} {ips:9.1f} {ratio:14.3f}")


if __name__ == "__main__":
    main()
