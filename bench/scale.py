"""crnn-eval at scale: peak memory and time per sample on a 100,000-sample LMDB.

Builds a large LMDB by repeating IIIT5K's gt.txt (``preprocess.lmdb_build.build_lmdb``, in a
temporary folder under --workdir, deleted afterwards unless --keep), then scores the first N
samples for each N of --sizes with ``pipeline.fused.evaluate`` (the code of ``crnn-eval``) and the
ONNX Runtime batch-16 engine. Each N runs in a fresh child process, so that its peak memory is
its own. Flat peak RSS and a constant time per sample mean the fused path streams (memory does not
grow with the LMDB), as designed (pipeline/feeder.py keeps ``ahead`` batches in flight).

Peak RSS is measured two ways:
* sampling ``/proc`` through psutil every 0.1 s: the sum of the RSS of the child and all its
  descendants (preprocessing worker processes with ``--workers``; none by default), peak over the run (pages shared between processes,
  e.g. the LMDB's memory map, are counted once per process: an upper bound);
* ``resource.getrusage`` ``ru_maxrss`` of the child itself (RUSAGE_SELF).

Writes ``{workdir}/scale_eval.json``; if ``{workdir}/bench_results.json`` exists (from
``crnn-bench``), re-renders --output (docs/BENCHMARKS.md) with the new section.

    crnn-bench scale --sizes 10000,50000,100000   # or python -m crnn_deploy.bench.scale
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from crnn_deploy.common.fileio import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]


def child(args) -> None:
    """Score the first --limit samples; print one JSON line with timings and ru_maxrss."""
    from crnn_deploy.pipeline.fused import evaluate
    from crnn_deploy.pipeline.streams import open_engine

    # as crnn-eval opens it: without --threads, 2 one-thread engine streams (pipeline.streams)
    engine, pipelined = open_engine(args.engine, **({"threads": args.threads} if args.threads
                                                    else {}))
    with engine as be:
        res = evaluate(args.lmdb, be, args.batch, None, limit=args.limit, pipelined=pipelined)
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"count": len(res.samples), "wall_s": res.wall_s,
                      "images_per_s": res.images_per_s,
                      "engine_ips": res.summary["throughput"],
                      "word_accuracy": res.metrics["word_accuracy"],
                      "workers": res.summary["workers"],
                      "ru_maxrss_self_mb": self_kb / 1024, "ru_maxrss_children_mb": children_kb / 1024}))


def _tree_rss(pid: int) -> tuple[int, int]:
    """(sum of RSS of pid and its descendants, RSS of pid), bytes."""
    import psutil

    try:
        p = psutil.Process(pid)
        own = p.memory_info().rss
        total = own
        for c in p.children(recursive=True):
            try:
                total += c.memory_info().rss
            except psutil.Error:
                pass
        return total, own
    except psutil.Error:
        return 0, 0


def _growth(a: float | None, b: float | None) -> str:
    """``+N %`` from ``a`` to ``b`` (``n/a`` without both)."""
    return f"{100 * (b / a - 1):+.0f} %" if a and b else "n/a"


def run_size(args, lmdb: Path, limit: int) -> dict:
    cmd = [sys.executable, "-m", "crnn_deploy.bench.scale", "--child", "--lmdb", str(lmdb.resolve()),
           "--limit", str(limit), "--engine", str(args.engine.resolve()), "--batch", str(args.batch)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    peak = {"tree": 0, "self": 0}
    stop = threading.Event()

    def sample():
        try:
            import psutil  # noqa: F401
        except ImportError:
            return
        while not stop.is_set():
            tree, own = _tree_rss(proc.pid)
            peak["tree"] = max(peak["tree"], tree)
            peak["self"] = max(peak["self"], own)
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"child for {limit} samples failed:\n{err[-3000:]}")
    data = json.loads(out.strip().splitlines()[-1])
    return {"limit": limit, "count": data["count"], "wall_s": round(data["wall_s"], 2),
            "process_s": round(time.perf_counter() - t0, 2),
            "ms_per_sample": 1000 * data["wall_s"] / data["count"],
            "images_per_s": data["images_per_s"], "engine_ips": data["engine_ips"],
            "word_accuracy": data["word_accuracy"], "workers": data["workers"],
            "peak_rss_tree_mb": peak["tree"] / 2**20 if peak["tree"] else None,
            "peak_rss_sampled_self_mb": peak["self"] / 2**20 if peak["self"] else None,
            "peak_rss_self_mb": data["ru_maxrss_self_mb"],
            "ru_maxrss_children_mb": data["ru_maxrss_children_mb"]}


def main(argv: list[str] | None = None) -> int | None:
    """``crnn-bench scale [OPTIONS]`` (also ``python -m crnn_deploy.bench.scale``; argparse)."""
    ap = argparse.ArgumentParser(prog="crnn-bench scale", description=__doc__.split("\n")[0])
    ap.add_argument("--assets", type=Path, default=Path(os.environ.get(
        "CRNN_ASSETS", ROOT.parent / "shared" / "assets")))
    ap.add_argument("--engine", type=Path, default=Path("build/nano-ocr_bs16.onnx"))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--sizes", default="10000,50000,100000",
                    help="Comma-separated sample counts; the LMDB holds the largest.")
    ap.add_argument("--threads", type=int, default=None,
                    help="Engine threads (default: crnn-eval's, 2 one-thread streams on CPU).")
    ap.add_argument("--workdir", type=Path, default=Path("build/bench"))
    ap.add_argument("--keep", action="store_true", help="Keep the large LMDB (printed path).")
    ap.add_argument("--output", type=Path, default=Path("docs/BENCHMARKS.md"),
                    help="Re-rendered when {workdir}/bench_results.json exists.")
    ap.add_argument("--plot", type=Path, default=Path("docs/throughput.png"))
    ap.add_argument("--note", default="", help="A sentence added under the table.")
    # internal: one measured run
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--lmdb", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args)
        return

    from crnn_deploy.preprocess.lmdb_build import build_lmdb

    sizes = sorted({int(x) for x in args.sizes.split(",") if x.strip()})
    if not args.engine.is_file():
        raise SystemExit(f"engine not found: {args.engine} (run `make convert`)")
    gt = args.assets / "eval_iiit5k_3000" / "gt.txt"
    if not gt.is_file():
        raise SystemExit(f"IIIT5K not found: {gt} (set --assets / CRNN_ASSETS)")
    lines = [ln for ln in gt.read_text(encoding="utf-8").splitlines() if ln.strip()]
    n = max(sizes)
    args.workdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="scale_eval.", dir=args.workdir))
    try:
        big_gt = tmp / "gt.txt"
        big_gt.write_text("\n".join(lines[i % len(lines)] for i in range(n)) + "\n",
                          encoding="utf-8")
        lmdb = tmp / f"iiit5k_x{n}.lmdb"
        print(f"building {lmdb} ({n} samples, IIIT5K repeated) ...", flush=True)
        t0 = time.perf_counter()
        built = build_lmdb(big_gt, lmdb, root=gt.parent, log=lambda m: None)
        build_s = time.perf_counter() - t0
        size_mb = sum(f.stat().st_size for f in lmdb.iterdir()) / 1e6
        print(f"  {built.written} samples, {size_mb:.0f} MB in {build_s:.0f} s", flush=True)
        rows = []
        for limit in sizes:
            print(f"scoring the first {limit} samples ...", flush=True)
            row = run_size(args, lmdb, limit)
            rows.append(row)
            print(f"  {row['wall_s']:.1f} s, {row['ms_per_sample']:.3f} ms/sample, "
                  f"{row['images_per_s']:.0f} images/s, peak RSS tree "
                  f"{row['peak_rss_tree_mb'] or 0:.0f} MB (main {row['peak_rss_self_mb']:.0f} MB), "
                  f"accuracy {100 * row['word_accuracy']:.2f} %", flush=True)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    try:
        import psutil  # noqa: F401
        method = ("psutil sampling of /proc every 0.1 s, sum over the eval process and its "
                  "children, if any (\"all processes\"), and the eval process's own "
                  "`ru_maxrss` (resource.getrusage RUSAGE_SELF, \"main process\")")
    except ImportError:
        method = "resource.getrusage RUSAGE_SELF ru_maxrss of the eval process (psutil absent)"
    shown = ["crnn-bench", "scale", "--sizes", ",".join(map(str, sizes))]
    if args.threads:
        shown += ["--threads", str(args.threads)]
    if str(args.engine) != "build/nano-ocr_bs16.onnx":
        shown += ["--engine", str(args.engine)]
    first, last = rows[0], rows[-1]
    note = args.note or (
        f"From {first['limit']:,} to {last['limit']:,} samples ({last['limit'] / first['limit']:.0f}x), "
        f"time per sample went from {first['ms_per_sample']:.3f} to {last['ms_per_sample']:.3f} ms "
        f"({last['ms_per_sample'] / first['ms_per_sample']:.2f}x) and the peak RSS of all processes "
        f"from {first['peak_rss_tree_mb'] or 0:.0f} to {last['peak_rss_tree_mb'] or 0:.0f} MB "
        f"({_growth(first['peak_rss_tree_mb'], last['peak_rss_tree_mb'])}): time grows "
        f"linearly with the sample count; memory grows by that much over "
        f"{last['limit'] / first['limit']:.0f}x the samples.")
    result = {"command": " ".join(shlex.quote(a) for a in shown),
              "date": datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M %Z"),
              "lmdb_samples": n, "lmdb_mb": size_mb, "build_s": build_s,
              "engine": str(args.engine), "batch": args.batch, "threads": args.threads,
              "rss_method": method, "rows": rows, "note": note,
              "load_average_after": os.getloadavg()[0]}
    out = args.workdir / "scale_eval.json"
    atomic_write_json(out, result)
    print(f"wrote {out}")
    bench = args.workdir / "bench_results.json"
    if bench.is_file():
        from crnn_deploy.bench.cli import read_json, render_files

        render_files(read_json(bench), args.output, args.plot, args.workdir)
        print(f"re-rendered {args.output}")


if __name__ == "__main__":
    main()
