"""``crnn-bench fused``: fused paths against the engine-only loop: crnn-recognize and crnn-eval end-to-end images/s
beside ``crnn-infer --loop`` on the same engine file, ONNX Runtime f32 and OpenVINO INT8.

For each engine file, one backend per engine setting (``default``: the engine's own thread
count; ``1 thread``: ``threads=1``; ``2 streams``: :class:`pipeline.streams.Streams`, two
1-thread copies run on consecutive batches at once) is loaded once; then ``--rounds`` rounds run, each variant
once per round, in turn (so load from other users of the machine hits every variant alike):

* ``loop``: :func:`runtime.runner.run_loop` of the default engine on random data (the
  engine-only limit), images/s over the wall time of the timed loop; it runs right before
  each variant, and so does the loop of the variant's own engine setting when that is not
  the default; the variant's ratio in a round is to the faster of these loop runs;
* ``eval``: :func:`pipeline.fused.evaluate` on the IIIT5K LMDB (first ``--limit`` samples)
  with a preprocessing schedule (:func:`pipeline.feeder.prepare_batches`): ``p`` pool
  threads, ``ahead`` batches prepared while the engine runs, pool threads' ``nice``;
  ``processes`` = one worker process (the first feeder);
* ``recognize``: :func:`pipeline.recognizer.recognize_stream` (what crnn-recognize and the
  Recognizer API run) on the same images read from their files.

Printed: per variant the median images/s over the rounds and the median of the per-round
ratios to the loop of the same round. Speeds on a shared machine are noisy: compare the
ratios of one run, not numbers across runs; the load average is printed at each round.

    crnn-bench fused --assets ../shared/assets --limit 960 --rounds 4
    crnn-bench fused --variants "eval p2 ahead1 nice19,recognize p2 ahead1 nice19"
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from crnn_deploy.bench.peak import describe, this_cpu
from crnn_deploy.bench.rounds import load_average, spread
from crnn_deploy.pipeline.fused import evaluate
from crnn_deploy.pipeline.recognizer import recognize_stream
from crnn_deploy.pipeline.streams import open_engine
from crnn_deploy.preprocess.sources import read_image_file
from crnn_deploy.runtime.runner import resolve_batch, run_loop, warm_up

ROOT = Path(__file__).resolve().parents[1]
#: Engine settings as :func:`pipeline.streams.open_engine` arguments.
ENGINE_SETTINGS = {"default": {"streams": 1}, "1 thread": {"streams": 1, "threads": 1},
                   "2 streams": {"streams": 2}}
#: (name, engine setting, kind, feeder options)
VARIANTS = [
    ("eval p2 ahead1", "default", "eval", {"threads": 2, "ahead": 1}),
    ("eval p2 ahead0", "default", "eval", {"threads": 2, "ahead": 0}),
    ("eval p2 ahead1 unbalanced", "default", "eval", {"threads": 2, "ahead": 1, "balance": False}),
    ("eval p2 ahead0 unbalanced", "default", "eval", {"threads": 2, "ahead": 0, "balance": False}),
    ("eval p2 ahead1 slice1", "default", "eval", {"threads": 2, "ahead": 1, "slice_size": 1}),
    ("eval p2 ahead0 slice1", "default", "eval", {"threads": 2, "ahead": 0, "slice_size": 1}),
    ("eval processes (1 worker)", "default", "eval", {"workers": 1}),
    ("eval processes (2 workers)", "default", "eval", {"workers": 2}),
    ("eval p2 ahead1 nice19", "default", "eval", {"threads": 2, "ahead": 1, "nice": 19}),
    ("eval p2 ahead2 nice19", "default", "eval", {"threads": 2, "ahead": 2, "nice": 19}),
    ("eval 1-thread engine p1 ahead1", "1 thread", "eval", {"threads": 1, "ahead": 1}),
    ("eval 1-thread engine p2 ahead1 nice19", "1 thread", "eval",
     {"threads": 2, "ahead": 1, "nice": 19}),
    ("eval 2 streams p2 ahead1", "2 streams", "eval", {"threads": 2, "ahead": 1}),
    ("eval 2 streams p2 ahead0", "2 streams", "eval", {"threads": 2, "ahead": 0}),
    ("eval 2 streams p2 ahead1 nice19", "2 streams", "eval", {"threads": 2, "ahead": 1, "nice": 19}),
    ("eval 2 streams p1 ahead1", "2 streams", "eval", {"threads": 1, "ahead": 1}),
    ("recognize 2 streams p2 ahead1", "2 streams", "recognize", {"threads": 2, "ahead": 1}),
    ("recognize p2 ahead1", "default", "recognize", {"threads": 2, "ahead": 1}),
    ("recognize p2 ahead1 nice19", "default", "recognize", {"threads": 2, "ahead": 1, "nice": 19}),
]


def run_variant(be, kind: str, opts: dict, lmdb: Path, paths: list[str], batch: int,
                pipelined: bool) -> float:
    """End-to-end images/s of one run (wall clock, first read to last decode)."""
    if kind == "loop":
        s = run_loop(be, max(1, len(paths) // batch), batch, warmup=1, data="random",
                     pipelined=pipelined)
        return s["count"] / s["wall_s"]
    feed = {k: opts[k] for k in ("threads", "ahead", "nice", "slice_size", "balance") if k in opts}
    if kind == "eval":
        res = evaluate(lmdb, be, batch, opts.get("workers"), limit=len(paths), warmup=1,
                       pipelined=pipelined, **feed)
        return res.images_per_s
    warm_up(be, batch, 1, pipelined)
    start = time.perf_counter()
    n = sum(1 for _ in recognize_stream(be, paths, batch, read_image_file, pipelined=pipelined,
                                        **feed))
    return n / (time.perf_counter() - start)


def _median(values) -> float:
    return spread(values)["median"]


def main(argv: list[str] | None = None) -> int:
    """``crnn-bench fused [OPTIONS]`` (argparse; ``--help`` lists them)."""
    ap = argparse.ArgumentParser(prog="crnn-bench fused", description=__doc__.split("\n\n")[0])
    ap.add_argument("--assets", type=Path, default=ROOT.parent / "shared" / "assets")
    ap.add_argument("--onnx", default=str(ROOT / "build" / "nano-ocr_bs16.onnx"))
    ap.add_argument("--int8", default=str(ROOT / "build" / "nano-ocr_bs16_int8.xml"))
    ap.add_argument("--hint", default=None, choices=["LATENCY", "THROUGHPUT"],
                    help="OpenVINO hint (THROUGHPUT: pipelined async requests)")
    ap.add_argument("--limit", type=int, default=960, help="images per run (IIIT5K, in order)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variants", default=None,
                    help="comma-separated variant names to run (default: all)")
    args = ap.parse_args(argv)
    variants = VARIANTS
    if args.variants:
        wanted = [v.strip() for v in args.variants.split(",")]
        unknown = set(wanted) - {v[0] for v in VARIANTS}
        if unknown:
            ap.error(f"unknown variant(s) {sorted(unknown)}; known: {[v[0] for v in VARIANTS]}")
        variants = [v for v in VARIANTS if v[0] in wanted]

    from crnn_deploy.preprocess.lmdb_build import build_lmdb

    gt = args.assets / "eval_iiit5k_3000" / "gt.txt"
    rels = [line.split("\t", 1)[0] for line in gt.read_text("utf-8").splitlines() if line]
    paths = [str(gt.parent / r) for r in rels[:args.limit]]
    with tempfile.TemporaryDirectory() as tmp:
        lmdb = Path(tmp) / "iiit5k.lmdb"
        build_lmdb(gt, lmdb, log=lambda m: None)
        print(f"IIIT5K: {len(paths)} images per run, {args.rounds} rounds, batch 16, "
              f"{os.cpu_count()} CPUs; {describe(this_cpu())}", flush=True)
        table, loads = [], []
        for label, engine, options in [("onnxruntime f32", args.onnx, {}),
                                       ("openvino int8", args.int8,
                                        {"hint": args.hint} if args.hint else {})]:
            used = {"default"} | {v[1] for v in variants}
            opened = {k: open_engine(engine, **options, **ENGINE_SETTINGS[k]) for k in used}
            bes = {k: be.load() for k, (be, _) in opened.items()}
            piped_of = {k: piped for k, (_, piped) in opened.items()}
            pipelined = piped_of["default"]
            try:
                batch = resolve_batch(bes["default"], 16)
                got: dict[str, list[float]] = {"loop": []}
                ratios: dict[str, list[float]] = {}
                for r in range(args.rounds):
                    loops = []
                    for name, setting, kind, opts in variants:  # each beside its own loop run
                        piped = piped_of[setting]
                        loops.append(run_variant(bes["default"], "loop", {}, lmdb, paths, batch,
                                                 pipelined))
                        best = loops[-1]
                        if setting != "default":  # the ratio is to the faster of the two loops
                            own = run_variant(bes[setting], "loop", {}, lmdb, paths, batch, piped)
                            got.setdefault(f"loop {setting}", []).append(own)
                            best = max(best, own)
                        ips = run_variant(bes[setting], kind, opts, lmdb, paths, batch, piped)
                        got.setdefault(name, []).append(ips)
                        ratios.setdefault(name, []).append(ips / best)
                    got["loop"].append(_median(loops))
                    loads.append(load_average() or 0.0)
                    print(f"  {label} round {r + 1} (load {loads[-1]:.1f}): loop "
                          f"{got['loop'][-1]:.0f} images/s, " + ", ".join(
                              f"{n} {got[n][-1]:.0f}" for n, *_ in variants), flush=True)
            finally:
                for be in bes.values():
                    be.close()
            table.append((label, "engine-only loop", _median(got["loop"]), 1.0))
            for setting in ENGINE_SETTINGS:
                if got.get(f"loop {setting}"):
                    own = _median(got[f"loop {setting}"])
                    table.append((label, f"engine-only loop, {setting}", own,
                                  own / _median(got["loop"])))
            for name, *_ in variants:
                table.append((label, name, _median(got[name]),
                              _median(ratios[name])))
        print(f"\nload average (1 min) during the rounds: {min(loads):.1f} to {max(loads):.1f}")
        print(f"{'engine':<16} {'variant':<38} {'images/s':>9} {'ratio to loop':>14}")
        for label, name, ips, ratio in table:
            print(f"{label:<16} {name:<38} {ips:9.1f} {ratio:14.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
