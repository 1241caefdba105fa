"""One crnn-bench run: engines, then the throughput grid, accuracy, benchmark_app, fused path.

:func:`run_bench` takes the settings dict that :func:`bench.cli.main` assembles and returns the
JSON-ready results dict that :mod:`bench.report` renders (and the CLI saves as
``bench_results.json``). The order of the steps is fixed: every variant's worker process is
started together for the grid and the accuracy runs, then closed before benchmark_app and the
fused check start their own.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from crnn_deploy.bench.bapp import measure_benchmark_app, write_real_batch
from crnn_deploy.bench.load import ForeignLoad
from crnn_deploy.bench.machine import machine_info
from crnn_deploy.bench.measure import measure_accuracy, measure_fused, measure_grid
from crnn_deploy.bench.variants import EVAL_BATCH, build_variants, fused_variants
from crnn_deploy.bench.worker import VariantProcess
from crnn_deploy.bench.workspace import DATASET_DIRS, Workspace, rel


def _share(x: float | None) -> str:
    return "unknown" if x is None else f"{x:.0%}"


def run_bench(p: dict, log: Callable[[str], None]) -> dict:
    """Measure everything described by the settings ``p`` (keys: see :func:`bench.cli.main`).

    Returns ``{"meta", "variants", "throughput", "accuracy", "fused", "benchmark_app",
    "int8"}`` (images/s, ms, shares in [0, 1]). Raises UserError for missing assets, engines
    that cannot be built or a variant whose worker fails.
    """
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    run_load = ForeignLoad()
    workdir: Path = p["workdir"]
    workdir.mkdir(parents=True, exist_ok=True)
    ws = Workspace(p["model"], p["checkpoint"], p["assets"], workdir, p["engines_dir"], log=log)
    threads = p["threads"]

    log("preparing engines")
    variants, int8 = build_variants(ws, p["variants"], p["batches"], p["calib_size"])
    sets = dict(p.get("sets") or {})  # --set NAME=gt.txt: the user's labeled sets
    builtin = [(k, f) for k, f in DATASET_DIRS  # beside user sets: those the assets hold
               if not sets or (Path(p["assets"]) / f / "gt.txt").is_file()]
    lmdbs = {} if p["no_accuracy"] else {
        key: ws.lmdb(key, folder, p["limit"]) for key, folder in [*builtin, *sets.items()]}
    fused_lmdb = lmdbs.get("iiit5k") or (
        ws.lmdb(*next(iter(sets.items())), p["limit"]) if sets and not builtin
        else ws.lmdb("iiit5k", "eval_iiit5k_3000", p["limit"]))

    log(f"throughput grid: {len(variants)} variants x batches {p['batches']}, "
        f"{p['rounds']} rounds, {threads} threads")
    procs: dict[str, VariantProcess] = {}
    try:
        for v in variants:
            procs[v.key] = VariantProcess(v, threads)
        grid_load = ForeignLoad()
        grid = measure_grid(procs, p["batches"], p["rounds"], p["warmup"],
                            p["seconds_per_point"], p["loops"], log,
                            max_foreign=p["max_foreign"], retries=p["retries"])
        grid_foreign = grid_load.stop()
        roof = _roofline(ws, p["model"], grid, log)
        log(f"  other processes used {_share(grid_foreign)} of the CPUs during the grid")
        accuracy = []
        if lmdbs:
            log(f"word accuracy: {len(variants)} variants x {len(lmdbs)} test sets, "
                f"batch {EVAL_BATCH}")
            accuracy = measure_accuracy(procs, lmdbs, EVAL_BATCH, p["acc_workers"], log)
    finally:
        for proc in procs.values():
            proc.close()

    bapp = {"available": False, "reason": "skipped (--no-benchmark-app)"}
    if not p["no_benchmark_app"]:
        log("OpenVINO benchmark_app vs run_loop")
        real = write_real_batch(fused_lmdb, p["model"], EVAL_BATCH,
                                workdir / f"iiit5k_first{EVAL_BATCH}.npy")
        bapp = measure_benchmark_app(ws.ir("bs16"), threads, p["bapp_rounds"], p["bapp_seconds"],
                                     log, real_input=real)
        if not bapp.get("available"):
            log(f"  benchmark_app: {bapp['reason']}")

    fused = []
    if not p["no_fused"]:
        log("fused path: crnn-eval end-to-end vs run_loop")
        fused = measure_fused(fused_variants(ws), fused_lmdb, EVAL_BATCH, threads,
                              p["fused_rounds"], p["warmup"], p["workers"], log)

    meta = {
        "model": p["model"], "date": datetime.now(timezone.utc).astimezone().strftime(
            "%Y-%m-%d %H:%M %Z"),
        "command": p["command"], "threads": threads, "batches": p["batches"],
        "rounds": p["rounds"], "warmup": p["warmup"], "loops": p["loops"],
        "seconds_per_point": p["seconds_per_point"], "limit": p["limit"], "quick": p["quick"],
        "calib_size": p["calib_size"], "machine": machine_info(),
        "sets": {k: rel(v) for k, v in sets.items()},
        "max_foreign": p["max_foreign"], "retries": p["retries"], "acc_workers": p["acc_workers"],
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "foreign_cpu": {"grid": grid_foreign, "run": run_load.stop()},
        "duration_s": round(time.perf_counter() - t_start, 1), "built": ws.built,
        "plot": os.path.relpath(p["plot"], p["output"].parent) if p["plot"] else None,
        "json": rel(workdir / "bench_results.json"),
    }
    return {"meta": meta,
            "variants": [{"key": v.key, "label": v.label, "engine": v.engine_desc,
                          "options": v.options_text(threads)} for v in variants],
            "throughput": grid, "accuracy": accuracy, "fused": fused, "benchmark_app": bapp,
            "int8": int8, "roofline": roof}


def _roofline(ws, model: str, grid: list[dict], log: Callable[[str], None]) -> list[dict]:
    """:func:`bench.roofline.grid_roofline` on the model's dynamic ONNX ([] when it cannot be
    counted: the reason is logged)."""
    from crnn_deploy.bench.peak import this_cpu
    from crnn_deploy.bench.roofline import grid_roofline
    from crnn_deploy.models.specs import get_spec

    try:
        return grid_roofline(ws.onnx("dynamic"), get_spec(model), grid, this_cpu())
    except Exception as exc:  # noqa: BLE001 (an aid to the report: never the run's end)
        log(f"  roofline not counted: {type(exc).__name__}: {str(exc)[:300]}")
        return []
