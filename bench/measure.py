"""crnn-bench's measurements: the interleaved throughput grid, word accuracy and the fused-path
check (OpenVINO's benchmark_app is in :mod:`bench.bapp`). Every timing goes through the project's
own code paths, in the variant's worker process (:mod:`bench.worker`):
:func:`runtime.runner.run_loop` (``crnn-infer --loop``) and :func:`pipeline.fused.evaluate`
(``crnn-eval``). Throughput in images/s, latency in ms per batch.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

from crnn_deploy.bench.load import ForeignLoad
from crnn_deploy.bench.report.fmt import median
from crnn_deploy.bench.variants import Variant
from crnn_deploy.bench.worker import VariantProcess
from crnn_deploy.runtime.stats import latency_summary

__all__ = ["measure_grid", "measure_accuracy", "measure_fused", "ratio_bound"]


def measure_grid(procs: dict[str, VariantProcess], batches: list[int], rounds: int,
                 warmup: int, seconds_per_point: float, loops: int | None,
                 log: Callable[[str], None], max_foreign: float | None = None,
                 retries: int = 2) -> list[dict]:
    """Throughput/latency of every (variant, batch), interleaved in ``rounds`` rounds.

    ``procs``: one worker process per variant (:class:`VariantProcess`, keeps its backends
    loaded), in report order. Loops per round: ``loops`` if given, else sized from a first short run so
    that each point gets about ``seconds_per_point`` seconds of timed inference over all rounds.
    Each round runs every point once; its order is rotated by ``len/rounds`` points per round and
    reversed every other round.

    The machine may be shared: the CPU share used by others is measured around every timed run
    (:class:`ForeignLoad`); a run above ``max_foreign`` is repeated up to ``retries`` times and
    the least disturbed attempt kept. ``foreign`` in the result is the median over the kept runs.
    """
    points = [(proc.variant, b) for proc in procs.values() for b in batches]
    n_loops: dict[tuple[str, int], int] = {}
    runs: dict[tuple[str, int], list[tuple[dict, list]]] = {}
    foreign: dict[tuple[str, int], list] = {}
    retried: dict[tuple[str, int], int] = {}
    for v, b in points:
        key = (v.key, b)
        # first calls are slow (PyTorch's most of all): warm up, then size the loops (unless
        # the loop count is given: then the warm-up run's own numbers are only logged)
        s, _ = procs[v.key].loop(b, 1 if loops else 3, max(3, warmup))
        per_batch = b / s["throughput"] if s["throughput"] else 1.0
        n_loops[key] = loops or max(3, math.ceil(seconds_per_point / rounds / per_batch))
        runs[key] = []
        log(f"  loaded {v.label}, batch {b}: ~{s['throughput']:.0f} images/s, "
            f"{n_loops[key]} loops per round")
    for r in range(rounds):
        shift = (r * len(points)) // rounds
        order = points[shift:] + points[:shift]
        if r % 2:
            order = order[::-1]
        t0 = time.perf_counter()
        repeated = 0
        for v, b in order:
            key = (v.key, b)
            best = None
            for attempt in range(1 + (retries if max_foreign is not None else 0)):
                load = ForeignLoad()
                run = procs[v.key].loop(b, n_loops[key], warmup)
                f = load.stop()
                if best is None or (f is not None and (best[2] is None or f < best[2])):
                    best = (*run, f)
                if f is None or max_foreign is None or f <= max_foreign or attempt == retries:
                    break
                repeated += 1
            runs[key].append(best[:2])
            foreign.setdefault(key, []).append(best[2])
            retried[key] = retried.get(key, 0) + attempt
        log(f"  round {r + 1}/{rounds} done in {time.perf_counter() - t0:.0f} s"
            + (f" ({repeated} disturbed runs repeated)" if repeated else ""))
    out = []
    for v, b in points:
        key = (v.key, b)
        tps = [s["throughput"] for s, _ in runs[key]]
        lat = [x for _, ls in runs[key] for x in ls]
        summ = latency_summary(lat)
        last = runs[key][-1][0] if runs[key] else {}
        out.append({"variant": v.key, "batch": b, "throughput": median(tps),
                    "tp_min": min(tps) if tps else None, "tp_max": max(tps) if tps else None,
                    "tp_rounds": tps, "rounds": len(tps), "loops_per_round": n_loops[key],
                    "latency_median": summ["median"], "latency_p99": summ["p99"],
                    "latency_mean": summ["mean"], "engine": v.engine_for(b),
                    "foreign": median(foreign.get(key, [])),
                    "foreign_max": max((x for x in foreign.get(key, []) if x is not None),
                                       default=None),
                    "retried": retried.get(key, 0),
                    **({"nireq": last["nireq"]} if "nireq" in last else {})})
    return out


def measure_accuracy(procs: dict[str, VariantProcess], lmdbs: dict[str, Path], batch: int,
                     workers: int | None, log: Callable[[str], None]) -> list[dict]:
    """Word accuracy of every variant on every LMDB via :func:`pipeline.fused.evaluate`
    (in the variant's own worker process)."""
    out = []
    for proc in procs.values():
        v = proc.variant
        for ds, path in lmdbs.items():
            res = proc.evaluate(path, batch, workers, warmup=1)
            m = res["metrics"]
            out.append({"variant": v.key, "dataset": ds, "word_accuracy": m["word_accuracy"],
                        "correct": m["correct"], "count": m["total"], "skipped": res["skipped"],
                        "word_accuracy_case_sensitive": m["word_accuracy_case_sensitive"],
                        "e2e_ips": round(res["images_per_s"], 2),
                        "engine_ips": res["summary"]["throughput"], "batch": batch,
                        "engine": v.engine_for(batch)})
            log(f"  {v.label} on {ds}: {100 * m['word_accuracy']:.2f} % "
                f"({m['correct']}/{m['total']}), {res['images_per_s']:.0f} images/s end-to-end")
    return out


def measure_fused(items: list[tuple[str, Variant]], lmdb: Path, batch: int, threads: int,
                  rounds: int, warmup: int, workers: int | None,
                  log: Callable[[str], None]) -> list[dict]:
    """crnn-eval end-to-end images/s against run_loop on the same loaded backend, paired rounds.

    Per round and engine, in the variant's worker process: ``evaluate`` on the engine opened as
    crnn-eval opens it by default (:func:`pipeline.streams.open_engine`: 2 one-thread streams on
    CPU unless a hint is set; thread-pool feeder), or with ``workers`` worker processes on the
    variant's own backend when ``workers`` is given; ``evaluate`` with ``workers=0`` (inline
    preprocessing, ``crnn-eval --workers 0``) and ``run_loop`` over half as many images (its
    throughput is steady), both on the variant's own backend (its ``threads``). The order
    rotates every round. Ratios are medians of per-round ratios.

    ``overhead_ms``: per image, the inline eval's time outside inference ((wall - inference) / n:
    read, decode, resize, normalize, CTC decode, scoring), from the non-pipelined engines.
    ``ratio_bound`` = ``1 / (1 + overhead x loop images/s)``: the end-to-end / loop ratio to
    expect when that work does not overlap inference (see :func:`ratio_bound`).
    """
    from crnn_deploy.preprocess.lmdb_io import open_lmdb, read_num_samples

    env = open_lmdb(lmdb)
    try:
        samples = read_num_samples(env, lmdb)
    finally:
        env.close()
    out, overheads = [], []
    for label, v in items:
        e2e, inl, loop, eng, ratios, ratios0, count = [], [], [], [], [], [], samples
        with VariantProcess(v, threads) as proc:
            steps = [("eval", "default"), ("eval", 0), ("loop", None)]
            for r in range(rounds):
                got = {}
                for kind, w in steps[r % 3:] + steps[:r % 3]:
                    if kind == "loop":
                        got["loop"] = proc.loop(batch, max(1, math.ceil(count / 2 / batch)), warmup)[0]
                    elif w == "default" and workers is None:
                        got[w] = proc.evaluate_default(lmdb, batch, warmup)
                    else:
                        got[w] = proc.evaluate(lmdb, batch, workers if w == "default" else w,
                                               warmup)
                res, res0, lp = got["default"], got[0], got["loop"]
                count = res["count"]
                e2e.append(res["images_per_s"])
                inl.append(res0["images_per_s"])
                eng.append(res["summary"]["throughput"])
                loop.append(lp["throughput"])
                ratios.append(res["images_per_s"] / lp["throughput"] if lp["throughput"] else None)
                ratios0.append(res0["images_per_s"] / lp["throughput"] if lp["throughput"] else None)
                if not v.pipelined:
                    overheads.append((res0["wall_s"] - res0["summary"]["compute_s"]) / res0["count"])
                log(f"  {label} round {r + 1}/{rounds}: crnn-eval {res['images_per_s']:.0f} "
                    f"images/s end-to-end ({res['summary']['throughput']:.0f} engine-only), "
                    f"--workers 0: {res0['images_per_s']:.0f}, loop {lp['throughput']:.0f}")
        out.append({"label": label, "variant": v.key, "engine": v.engine_for(batch),
                    "batch": batch, "count": count, "rounds": rounds, "workers": workers,
                    "feeder": res["summary"].get("feeder"),
                    "eval_workers": res["summary"].get("workers"),
                    "streams": res.get("streams", 1),
                    "e2e_ips": median(e2e), "inline_ips": median(inl), "loop_ips": median(loop),
                    "eval_engine_ips": median(eng), "ratio": median(ratios),
                    "inline_ratio": median(ratios0), "e2e_rounds": e2e, "inline_rounds": inl,
                    "loop_rounds": loop})
    overhead = median(overheads)
    if overhead:
        log(f"  outside inference (inline eval): {1000 * overhead:.3f} ms per image")
        for f in out:
            f["overhead_ms"] = round(1000 * overhead, 4)
            f["ratio_bound"] = ratio_bound(overhead, f["loop_ips"]) if f["loop_ips"] else None
    return out


def ratio_bound(overhead_s: float, loop_ips: float) -> float:
    """End-to-end / loop ratio when ``overhead_s`` seconds per image of other work (preprocessing,
    decoding) do not overlap inference: ``(1 / loop_ips) / (1 / loop_ips + overhead_s)``.

    That is what happens inline, and about what happens with a worker process when the loop
    already keeps every CPU busy (the worker's CPU time comes out of the inference threads).
    Overlap (spare cores, or async requests) can beat it.
    """
    return round(1.0 / (1.0 + overhead_s * loop_ips), 4)
