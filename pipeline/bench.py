"""``crnn-bench``: every way of running the model, measured side by side on this machine.

Variants: PyTorch eager (the reference a user runs without us), ONNX Runtime f32, OpenVINO f32
(LATENCY hint; THROUGHPUT hint with async requests), OpenVINO bf16, and INT8 (OpenVINO NNCF IR,
ONNX Runtime QDQ; calibrated on IC03). For each: throughput and per-batch latency at several
batch sizes through :func:`runtime.runner.run_loop` (the ``crnn-infer --loop`` path), with the
same thread count everywhere, interleaved in rounds (median of rounds); word accuracy on IIIT5K,
SVT, IC03 and IC13 through :func:`pipeline.fused.evaluate` (the ``crnn-eval`` path). Also
OpenVINO's own ``benchmark_app`` on the same IR, and crnn-eval end-to-end against the loop.

Writes ``docs/BENCHMARKS.md`` (+ a throughput plot) and ``{workdir}/bench_results.json``.
Modules: :mod:`pipeline.bench_engines` (files), :mod:`pipeline.bench_measure` (timing),
:mod:`pipeline.bench_report` (markdown, plot). torch is imported only by the PyTorch variant.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click

from common.cli import command

from common.errors import UserError
from pipeline.bench_engines import DATASET_DIRS, Workspace, rel
from pipeline.bench_measure import (measure_accuracy, measure_benchmark_app, measure_fused,
                                    measure_grid)
from pipeline.bench_report import machine_info, render_markdown, write_plot, write_text_atomic
from pipeline.bench_worker import ForeignLoad, Variant, VariantProcess

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ASSETS = Path(os.environ.get("CRNN_ASSETS", ROOT.parent / "shared" / "assets"))
VARIANT_KEYS = ("pytorch", "ort-f32", "ov-f32-latency", "ov-f32-throughput", "ov-bf16",
                "ov-int8", "ort-int8")
#: Batch of the accuracy runs and of the fused check (the static engines' batch).
EVAL_BATCH = 16
QUICK = {"batches": [1, 4], "loops": 3, "rounds": 2, "warmup": 1, "limit": 50, "calib_size": 32,
         "bapp_seconds": 1, "bapp_rounds": 1, "fused_rounds": 1, "acc_workers": 0, "retries": 0}


def _log(msg: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise click.BadParameter(f"expected positive batch sizes, got {text!r}")
    return sorted(set(values))


def build_variants(ws: Workspace, keys: list[str], batches: list[int], calib_size: int,
                   log) -> tuple[list[Variant], list[dict]]:
    """The variants asked for, with their engines built; plus the INT8 build records."""
    variants, int8 = [], []
    needed = sorted(set(batches) | {EVAL_BATCH})
    for key in keys:
        if key == "pytorch":
            if not ws.checkpoint.is_file():
                raise UserError(f"checkpoint not found: {ws.checkpoint} (run `make weights`)")
            variants.append(Variant(key, "PyTorch eager f32", "pytorch", {0: str(ws.checkpoint)},
                                    rel(ws.checkpoint), model=ws.model))
        elif key == "ort-f32":
            p = ws.onnx("dynamic")
            variants.append(Variant(key, "ONNX Runtime f32", "onnxruntime", {0: str(p)}, rel(p)))
        elif key.startswith("ov-f32") or key == "ov-bf16":
            p = ws.ir("dynamic")
            hint = "THROUGHPUT" if key.endswith("throughput") else "LATENCY"
            prec = "bf16" if key == "ov-bf16" else "f32"
            label = {"ov-f32-latency": "OpenVINO f32, LATENCY",
                     "ov-f32-throughput": "OpenVINO f32, THROUGHPUT (async)",
                     "ov-bf16": "OpenVINO bf16, LATENCY"}[key]
            variants.append(Variant(key, label, "openvino", {0: str(p)},
                                    f"{rel(p)} (dynamic batch, compiled per batch size)",
                                    {"hint": hint, "precision": prec},
                                    pipelined=hint == "THROUGHPUT"))
        elif key == "ov-int8":
            paths = {}
            for b in needed:
                path, rec = ws.int8("ov", b, calib_size)
                paths[b] = str(path)
                int8.append({"variant": key, **rec})
            stem = rel(paths[needed[0]]).rsplit("_bs", 1)[0]
            variants.append(Variant(key, "OpenVINO INT8 (NNCF), LATENCY", "openvino",
                                    paths,
                                    f"{stem}_bs{{{','.join(map(str, needed))}}}.xml (static, one per batch)",
                                    {"hint": "LATENCY", "precision": "f32"}))
        elif key == "ort-int8":
            p, rec = ws.int8("ort", None, calib_size)
            int8.append({"variant": key, **rec})
            variants.append(Variant(key, "ONNX Runtime INT8 (QDQ)", "onnxruntime", {0: str(p)},
                                    rel(p)))
        else:
            raise UserError(f"unknown variant {key!r}; known: {', '.join(VARIANT_KEYS)}")
    for v in variants:
        v.model = ws.model
    return variants, int8


def canonical_command(p: dict) -> str:
    """The crnn-bench command line that reproduces this run (every setting explicit)."""
    args = ["crnn-bench", "--model", p["model"], "--checkpoint", rel(p["checkpoint"])]
    if Path(p["assets"]).resolve() != DEFAULT_ASSETS.resolve():
        args += ["--assets", rel(p["assets"])]
    if Path(p["engines_dir"]).resolve() != Path("build").resolve():
        args += ["--engines-dir", rel(p["engines_dir"])]
    args += ["--workdir", rel(p["workdir"]), "--batches", ",".join(map(str, p["batches"])),
            "--rounds", str(p["rounds"]), "--warmup", str(p["warmup"])]
    args += ["--loops", str(p["loops"])] if p["loops"] else \
        ["--seconds-per-point", f"{p['seconds_per_point']:g}"]
    if p["max_foreign"] != 0.2:
        args += ["--max-foreign", f"{p['max_foreign']:g}"]
    if p["threads"] != os.cpu_count():
        args += ["--threads", str(p["threads"])]
    if p["limit"]:
        args += ["--limit", str(p["limit"])]
    if p["variants"] != list(VARIANT_KEYS):
        args += ["--variants", ",".join(p["variants"])]
    if p["quick"]:
        args.append("--quick")
    args += ["--output", rel(p["output"])]
    if p["plot"]:
        args += ["--plot", rel(p["plot"])]
    return " ".join(shlex.quote(a) for a in args)


def render_files(results: dict, output: Path, plot: Path | None, workdir: Path) -> None:
    """(Re)write the markdown and the plot; the scale section comes from scale_eval.json."""
    scale = workdir / "scale_eval.json"
    if scale.is_file():
        try:
            results = {**results, "scale": json.loads(scale.read_text())}
        except ValueError:
            pass
    if plot:
        write_plot(results, plot)
    write_text_atomic(output, render_markdown(results))


def run_bench(p: dict) -> dict:
    """Measure everything described by the settings ``p`` (see :func:`main`); return the results."""
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    run_load = ForeignLoad()
    workdir: Path = p["workdir"]
    workdir.mkdir(parents=True, exist_ok=True)
    ws = Workspace(p["model"], p["checkpoint"], p["assets"], workdir, p["engines_dir"], log=_log)
    threads = p["threads"]

    _log("preparing engines")
    variants, int8 = build_variants(ws, p["variants"], p["batches"], p["calib_size"], _log)
    lmdbs = {} if p["no_accuracy"] else {
        key: ws.lmdb(key, folder, p["limit"]) for key, folder in DATASET_DIRS}
    fused_lmdb = lmdbs.get("iiit5k") or ws.lmdb("iiit5k", "eval_iiit5k_3000", p["limit"])

    _log(f"throughput grid: {len(variants)} variants x batches {p['batches']}, "
         f"{p['rounds']} rounds, {threads} threads")
    procs: dict[str, VariantProcess] = {}
    try:
        for v in variants:
            procs[v.key] = VariantProcess(v, threads)
        grid_load = ForeignLoad()
        grid = measure_grid(procs, p["batches"], p["rounds"], p["warmup"],
                            p["seconds_per_point"], p["loops"], _log,
                            max_foreign=p["max_foreign"], retries=p["retries"])
        grid_foreign = grid_load.stop()
        _log(f"  other processes used {grid_foreign if grid_foreign is None else f'{grid_foreign:.0%}'} "
             "of the CPUs during the grid")
        accuracy = []
        if lmdbs:
            _log(f"word accuracy: {len(variants)} variants x {len(lmdbs)} test sets, "
                 f"batch {EVAL_BATCH}")
            accuracy = measure_accuracy(procs, lmdbs, EVAL_BATCH, p["acc_workers"], _log)
    finally:
        for proc in procs.values():
            proc.close()

    bapp = {"available": False, "reason": "skipped (--no-benchmark-app)"}
    if not p["no_benchmark_app"]:
        _log("OpenVINO benchmark_app vs run_loop")
        from pipeline.bench_measure import write_real_batch

        real = write_real_batch(fused_lmdb, p["model"], EVAL_BATCH,
                                workdir / f"iiit5k_first{EVAL_BATCH}.npy")
        bapp = measure_benchmark_app(ws.ir("bs16"), threads, p["bapp_rounds"], p["bapp_seconds"],
                                     _log, real_input=real)
        if not bapp.get("available"):
            _log(f"  benchmark_app: {bapp['reason']}")

    _log("fused path: crnn-eval end-to-end vs run_loop")
    bs16 = ws.onnx("bs16")
    ir16 = ws.ir("bs16")
    fused_items = [
        ("ONNX Runtime", Variant("ort-f32", "ONNX Runtime f32", "onnxruntime", {0: str(bs16)},
                                 rel(bs16))),
        ("OpenVINO LATENCY", Variant("ov-f32-latency", "OpenVINO f32", "openvino", {0: str(ir16)},
                                     rel(ir16), {"hint": "LATENCY", "precision": "f32"})),
        ("OpenVINO THROUGHPUT", Variant("ov-f32-throughput", "OpenVINO f32", "openvino",
                                        {0: str(ir16)}, rel(ir16),
                                        {"hint": "THROUGHPUT", "precision": "f32"},
                                        pipelined=True)),
    ]
    fused = measure_fused(fused_items, fused_lmdb, EVAL_BATCH, threads, p["fused_rounds"],
                          p["warmup"], p["workers"], _log)

    meta = {
        "model": p["model"], "date": datetime.now(timezone.utc).astimezone().strftime(
            "%Y-%m-%d %H:%M %Z"),
        "command": p["command"], "threads": threads, "batches": p["batches"],
        "rounds": p["rounds"], "warmup": p["warmup"], "loops": p["loops"],
        "seconds_per_point": p["seconds_per_point"], "limit": p["limit"], "quick": p["quick"],
        "calib_size": p["calib_size"], "machine": machine_info(),
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
            "int8": int8}


@command()
@click.option("--model", default="nano-ocr", show_default=True, help="Model spec name.")
@click.option("--checkpoint", type=click.Path(path_type=Path),
              default=Path("build/weights/nano_ocr_ftr.pth"), show_default=True,
              help="PyTorch checkpoint (the PyTorch eager variant; engines are built from it if missing).")
@click.option("--assets", type=click.Path(path_type=Path), default=DEFAULT_ASSETS,
              show_default="$CRNN_ASSETS or ../shared/assets",
              help="Folder with eval_iiit5k_3000, eval_svt_647, eval_ic03_860, eval_ic13_857.")
@click.option("--workdir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("build/bench"), show_default=True,
              help="Where missing engines, INT8 models, LMDBs and bench_results.json go.")
@click.option("--engines-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("build"), show_default=True,
              help="Where existing engines are looked for first ({model}_dynamic.onnx, _bs16.onnx, _bs16.xml).")
@click.option("--batches", default=None, help="Batch sizes of the throughput grid [default: 1,16,64].")
@click.option("--seconds-per-point", type=click.FloatRange(min=0.1), default=10.0,
              show_default=True, help="Timed inference seconds per (variant, batch), over all rounds.")
@click.option("--loops", type=click.IntRange(min=1), default=None,
              help="Fixed loops per round per point (instead of --seconds-per-point).")
@click.option("--rounds", type=click.IntRange(min=1), default=None,
              help="Interleaved rounds (median reported) [default: 5].")
@click.option("--warmup", type=click.IntRange(min=0), default=None,
              help="Warm-up batches per point per round [default: 3].")
@click.option("--max-foreign", type=click.FloatRange(0.0, 1.0), default=0.2, show_default=True,
              help="A timed run during which other processes used more than this share of the "
                   "CPUs is repeated (up to --retries times; the least disturbed one is kept).")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Repeats of a disturbed timed run (see --max-foreign).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Inference threads of every variant [default: all CPUs].")
@click.option("--variants", default=",".join(VARIANT_KEYS), show_default=True,
              help="Comma-separated subset of the variants.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Score only the first N images of each test set.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Preprocessing processes of the eval runs [default: crnn-eval's, CPU count - 1].")
@click.option("--no-accuracy", is_flag=True, help="Skip the word-accuracy runs.")
@click.option("--no-benchmark-app", is_flag=True, help="Skip OpenVINO's benchmark_app.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("docs/BENCHMARKS.md"), show_default=True, help="Markdown report.")
@click.option("--plot", default="docs/throughput.png", show_default=True,
              help="PNG of throughput vs batch ('' for none).")
@click.option("--quick", is_flag=True,
              help="Smoke test: batches 1,4, 3 loops, 2 rounds, 50 images per test set, "
                   "32 calibration images (explicit options still win).")
@click.option("--render-only", is_flag=True,
              help="Re-render --output/--plot from {workdir}/bench_results.json (+ scale_eval.json).")
def main(model, checkpoint, assets, workdir, engines_dir, batches, seconds_per_point, loops,
         rounds, warmup, max_foreign, retries, threads, variants, limit, workers, no_accuracy, no_benchmark_app,
         output, plot, quick, render_only):
    """Benchmark MODEL's engines side by side and write docs/BENCHMARKS.md.

    \b
    crnn-bench                                  # full run (~15 min on 2 cores)
    crnn-bench --quick --output /tmp/b.md       # smoke test (~1 min)
    """
    plot = Path(plot) if plot else None
    json_path = workdir / "bench_results.json"
    if render_only:
        if not json_path.is_file():
            raise UserError(f"{json_path} not found: run crnn-bench first")
        render_files(json.loads(json_path.read_text()), output, plot, workdir)
        click.echo(f"wrote {output}" + (f" and {plot}" if plot else ""))
        return
    q = QUICK if quick else {}
    keys = [k.strip() for k in variants.split(",") if k.strip()]
    unknown = [k for k in keys if k not in VARIANT_KEYS]
    if unknown:
        raise UserError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANT_KEYS)}")
    p = {
        "model": model, "checkpoint": checkpoint, "assets": assets, "workdir": workdir,
        "engines_dir": engines_dir,
        "batches": _int_list(batches) if batches else q.get("batches", [1, 16, 64]),
        "seconds_per_point": seconds_per_point,
        "loops": loops or q.get("loops"),
        "rounds": rounds or q.get("rounds", 5), "warmup": warmup if warmup is not None else
        q.get("warmup", 3), "threads": threads or os.cpu_count() or 1, "variants": keys,
        "limit": limit or q.get("limit"), "workers": workers, "no_accuracy": no_accuracy,
        "no_benchmark_app": no_benchmark_app, "output": output, "plot": plot, "quick": quick,
        "calib_size": q.get("calib_size", 300), "bapp_seconds": q.get("bapp_seconds", 5),
        "bapp_rounds": q.get("bapp_rounds", 2), "fused_rounds": q.get("fused_rounds", 2),
        "max_foreign": max_foreign, "retries": q.get("retries", retries),
        "acc_workers": workers if workers is not None else q.get("acc_workers"),
    }
    p["command"] = canonical_command(p)
    _log(p["command"])
    results = run_bench(p)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json_path, json.dumps(results, indent=2, sort_keys=True) + "\n")
    render_files(results, output, plot, workdir)
    _log(f"wrote {output}" + (f", {plot}" if plot else "") + f", {json_path} "
         f"in {results['meta']['duration_s'] / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(main())
