"""Loop-mode overhead: ``crnn-infer --loop`` against a bare ``InferenceSession.run`` loop.

Both run the same ONNX file with ONNX Runtime on the CPU, with the same batch, thread count,
warm-up and iteration count, on zero inputs (``--pure_data_type zero``). The crnn-infer side
goes through the console script's own code (``runtime.cli.main``, in-process), so it includes
the backend's input checks, timing and the progress bar.

On a shared machine other load moves both numbers a lot, so the ``--loops`` iterations are
split into ``--rounds`` short paired rounds that alternate (each side opens its session and
warms up ``--warmup`` runs per round). Reported: pooled throughput over all rounds, and the
median of the per-round ratios (robust to a round disturbed on one side).

Throughput is images/s two ways: over the summed per-call inference time (what crnn-infer
reports as ``throughput``) and over the wall time of the timed loop (what a user waits).

    python -m crnn_deploy.bench.loop_overhead --engine build/nano-ocr_dynamic.onnx --batch 16 --loops 200 \\
        --warmup 20 --threads 2 --rounds 10
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time

import numpy as np


def bare_loop(engine: str, batch: int, loops: int, warmup: int, threads: int) -> dict:
    """A plain ONNX Runtime loop with the same session options as the runtime backend."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(engine, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    x = np.zeros((batch, *inp.shape[1:]), dtype=np.float32)
    feed = {inp.name: x}
    for _ in range(warmup):
        sess.run(None, feed)
    compute = 0.0
    start = time.perf_counter()
    for _ in range(loops):
        t0 = time.perf_counter()
        sess.run(None, feed)
        compute += time.perf_counter() - t0
    wall = time.perf_counter() - start
    return {"count": batch * loops, "compute_s": compute, "wall_s": wall}


def crnn_infer_loop(engine: str, batch: int, loops: int, warmup: int, threads: int) -> dict:
    """``crnn-infer --engine E --loop N --warmup W --batchsize B --threads T`` in-process."""
    from crnn_deploy.runtime.cli import main

    args = ["--engine", engine, "--loop", str(loops), "--warmup", str(warmup),
            "--batchsize", str(batch), "--threads", str(threads), "--pure_data_type", "zero"]
    with contextlib.redirect_stdout(io.StringIO()):  # its own summary print
        summary = main.main(args, standalone_mode=False)
    return {"count": summary["count"], "compute_s": summary["compute_s"], "wall_s": summary["wall_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", default="build/nano-ocr_dynamic.onnx")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--loops", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()

    per_round = max(1, a.loops // a.rounds)
    names = ("crnn-infer --loop", "bare session.run")
    fns = dict(zip(names, (crnn_infer_loop, bare_loop)))
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(a.rounds):
        for name in (names if r % 2 == 0 else names[::-1]):  # alternate who goes first
            res = fns[name](a.engine, a.batch, per_round, a.warmup, a.threads)
            runs[name].append(res)
            print(f"round {r + 1:2d} {name:18s} {res['count'] / res['compute_s']:9.2f} images/s "
                  f"(compute)  {res['count'] / res['wall_s']:9.2f} images/s (wall)", flush=True)

    print(f"\n{a.engine}, batch {a.batch}, {per_round * a.rounds} loops per side "
          f"({a.rounds} rounds of {per_round}), warm-up {a.warmup} per round, {a.threads} threads")
    for key, label in (("compute_s", "compute"), ("wall_s", "wall")):
        pooled = {n: sum(x["count"] for x in rs) / sum(x[key] for x in rs) for n, rs in runs.items()}
        ratios = [o[key] and b[key] / o[key] for o, b in zip(*runs.values())]  # ours/bare throughput
        ours, bare = pooled[names[0]], pooled[names[1]]
        print(f"{label:8s} crnn-infer {ours:9.2f}  bare {bare:9.2f} images/s   crnn-infer/bare: "
              f"pooled {ours / bare:.3f}, median of rounds {statistics.median(ratios):.3f}")
    ours = runs[names[0]]
    outside = 1 - sum(x["compute_s"] for x in ours) / sum(x["wall_s"] for x in ours)
    print(f"crnn-infer time outside the bare inference calls (checks, timing, progress bar): "
          f"{outside * 100:.2f} % of its loop's wall time")
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs; a loaded machine moves single rounds by tens of %")



if __name__ == "__main__":
    main()
