"""``crnn-bench ray``: the Ray path vs local crnn-eval, side by side in one run, and the Ray path's peak memory by size.

    crnn-bench ray --engine build/nano-ocr_bs16.onnx \\
        --sizes 25000,50000,100000 --shard-size 25000 --workdir build/bench_ray

For each size N it writes N samples (IIIT5K images repeated, raw LMDB copy) as shards of
``--shard-size``, then runs (1) the local fused path (``pipeline.fused.evaluate``, one shard
after another, default workers and threads) and (2) ``pipeline.ray.executor.run`` on a local
in-process Ray, and prints images/s of both (end-to-end wall clock; Ray's start-up reported
apart) and the peak memory of all Ray processes: the sum of PSS (``/proc/PID/smaps_rollup``,
shared pages split between processes, so the object store is counted once) over this process
and its descendants (raylet, GCS, workers), sampled every 0.25 s.

Variants of the Ray run, measured in the same rounds (local, then each variant, ``--rounds``
times, medians printed), to choose the CPU split and the block settings. ``default`` is what
``crnn-eval --executor ray`` does without options (``pipeline.ray.resources.plan_resources``:
actors, CPUs per actor, engine threads and read-task CPUs derived from the cluster; the plan is
printed); ``old`` is the defaults before issue 20 (1 actor of 1 CPU, read tasks of 1 CPU)::

    --variant default --variant "old:actors=1,cpus_per_actor=1,cpus_per_reader=1" \
    --variant "1actor:actors=1" --variant "range256:range_size=256" \
    --variant "order:preserve_order=1" --variant "block1m:target_max_block_size=1048576"

``KEY=VALUE`` pairs are ``pipeline.ray.executor.run`` arguments (``cpus_per_reader``, ``cpus_per_actor``,
``actors``, ``range_size``) or Ray Data ``DataContext`` settings (``preserve_order`` of
``execution_options``, ``target_max_block_size``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import threading
import time
from pathlib import Path

import lmdb

from crnn_deploy.bench.peak import describe, this_cpu
from crnn_deploy.bench.rounds import load_average, round_order, spread


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                continue
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


class PeakMemory(threading.Thread):
    """Peak of the summed PSS (bytes) of this process tree while running."""

    def __init__(self, every: float = 0.25):
        super().__init__(daemon=True)
        self.every, self.peak, self.stop = every, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, 1024 * sum(_pss_kib(p) for p in _tree(os.getpid())))
            self.stop.wait(self.every)


def make_shards(src: Path, out: Path, n: int, shard_size: int) -> list[Path]:
    """Shards of ``n`` samples: the samples of ``src`` repeated in order."""
    with lmdb.open(str(src), readonly=True, lock=False) as env, env.begin() as txn:
        m = int(txn.get(b"num-samples"))
        items = [(txn.get(b"image-%09d" % i), txn.get(b"label-%09d" % i)) for i in range(1, m + 1)]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, start in enumerate(range(0, n, shard_size)):
        p = out / f"bench-{k:05d}.lmdb"
        count = min(shard_size, n - start)
        with lmdb.open(str(p), map_size=4 << 30) as env, env.begin(write=True) as txn:
            for j in range(count):
                img, lab = items[(start + j) % m]
                txn.put(b"image-%09d" % (j + 1), img)
                txn.put(b"label-%09d" % (j + 1), lab)
            txn.put(b"num-samples", str(count).encode())
        paths.append(p)
    return paths


RUN_ARGS = {"cpus_per_reader": float, "cpus_per_actor": float, "actors": int, "range_size": int,
            "call_rows": int}
# local rounds and Ray rounds alternate, so both see the same load


def parse_variant(text: str) -> tuple[str, dict, dict]:
    """``"name:k=v,k=v"`` -> (name, run() kwargs, DataContext settings)."""
    name, _, rest = text.partition(":")
    kwargs, ctx = {}, {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key in RUN_ARGS:
            kwargs[key] = RUN_ARGS[key](value)
        elif key in ("preserve_order", "target_max_block_size"):
            ctx[key] = int(value)
        else:
            raise SystemExit(f"unknown variant setting {key!r}")
    return name, kwargs, ctx


def set_context(ctx: dict) -> dict:
    """Apply DataContext settings; returns the previous values."""
    from ray.data import DataContext

    dc = DataContext.get_current()
    old = {"preserve_order": dc.execution_options.preserve_order,
           "target_max_block_size": dc.target_max_block_size}
    if "preserve_order" in ctx:
        dc.execution_options.preserve_order = bool(ctx["preserve_order"])
    if "target_max_block_size" in ctx:
        dc.target_max_block_size = ctx["target_max_block_size"]
    return old


def run_local(engine: str, shards: list[Path]) -> float:
    from crnn_deploy.pipeline.fused import evaluate
    from crnn_deploy.pipeline.streams import open_engine

    engine_, pipelined = open_engine(engine)  # as crnn-eval opens it (2 streams on CPU)
    with engine_ as be:
        t0, done = time.perf_counter(), 0
        for s in shards:
            done += len(evaluate(s, be, pipelined=pipelined).samples)
        return done / (time.perf_counter() - t0)


def run_ray(engine: str, shards: list[Path], out: Path, kwargs: dict, ctx: dict):
    """One Ray run: (images/s without start-up, start-up s, peak PSS bytes)."""
    from crnn_deploy.pipeline.ray.executor import run

    shutil.rmtree(out, ignore_errors=True)
    old = set_context(ctx)
    mem = PeakMemory()
    mem.start()
    try:
        res = run(engine, out, lmdb=[str(s) for s in shards], **kwargs)
    finally:
        mem.stop.set()
        mem.join()
        set_context(old)
    shutil.rmtree(out, ignore_errors=True)
    sm = res.summary
    plan = (f"{sm['actors']}x{sm['cpus_per_actor']:g} CPU, {sm['engine_threads']} thr, "
            f"reader {sm['cpus_per_reader']:g}")
    return res.images_per_s, res.startup_s, mem.peak, plan


def main(argv: list[str] | None = None) -> int:
    """``crnn-bench ray [OPTIONS]`` (argparse; ``--help`` lists them)."""
    ap = argparse.ArgumentParser(prog="crnn-bench ray", description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="build/nano-ocr_bs16.onnx")
    ap.add_argument("--source", default="build/data/iiit5k.lmdb", help="LMDB whose samples are repeated")
    ap.add_argument("--sizes", default="25000,50000,100000")
    ap.add_argument("--shard-size", type=int, default=25000)
    ap.add_argument("--workdir", default="build/bench_ray")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--variant", action="append", default=None,
                    help="NAME[:KEY=VALUE,...] (repeatable; default: one run with defaults)")
    ap.add_argument("--no-local", action="store_true", help="skip the local path (memory only)")
    args = ap.parse_args(argv)
    variants = [parse_variant(v) for v in (args.variant or ["default"])]

    work = Path(args.workdir)
    print(f"{describe(this_cpu())}; load average at start: {load_average()}")
    print("| samples | variant | Ray plan | local images/s | Ray images/s | ratio | "
          "Ray start-up s | Ray peak PSS MiB |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for n in (int(s) for s in args.sizes.split(",")):
        shutil.rmtree(work / "shards", ignore_errors=True)
        shards = make_shards(Path(args.source), work / "shards", n, args.shard_size)
        local: list[float] = []
        got: dict[str, list[tuple]] = {name: [] for name, _, _ in variants}
        runs = ([] if args.no_local else [None]) + variants
        for r in range(args.rounds):
            for v in round_order(runs, r, args.rounds):
                if v is None:
                    local.append(run_local(args.engine, shards))
                else:
                    got[v[0]].append(run_ray(args.engine, shards, work / "pred", v[1], v[2]))
        loc = spread(local)["median"] or float("nan")
        for name, rows in got.items():
            ips = spread([r[0] for r in rows])["median"]
            up = spread([r[1] for r in rows])["median"]
            peak = max(r[2] for r in rows)
            print(f"| {n} | {name} | {rows[0][3]} | {loc:.1f} | {ips:.1f} | {ips / loc:.2f} | "
                  f"{up:.1f} | {peak / 2**20:.0f} |", flush=True)
    print(f"load average at end: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
