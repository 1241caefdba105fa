"""``crnn-bench``: the one benchmark system. ``crnn-bench run`` (also the bare ``crnn-bench``,
as ``make bench`` runs it): every way of running the model, measured side by side on this machine.
The other subcommands (:data:`SUBCOMMANDS`): ``peers`` (ours against RapidOCR/EasyOCR, whole
processes), ``pages`` (crnn-ocr against RapidOCR's full pipeline, whole processes), ``same``
(text agreement with a peer), ``widths`` (PP-OCRv4 engine settings against
RapidOCR), ``fused`` (fused paths against the loop), ``ray`` (Ray against local crnn-eval),
``scale`` (memory and time on a large LMDB). All share :mod:`bench.rounds` (interleaved rounds,
medians and ranges), :mod:`bench.load` (others' CPU share), :mod:`bench.machine` and
:mod:`bench.peak` (the CPU record and its roofline).

``run``'s variants: PyTorch eager (the ``pytorch`` backend on the checkpoint: the reference a user runs
without us), ONNX Runtime f32, OpenVINO f32 (LATENCY hint; THROUGHPUT hint with async
requests), OpenVINO bf16, and INT8 (OpenVINO NNCF IR, ONNX Runtime QDQ; calibrated on IC03).
For each: throughput (images/s) and per-batch latency (ms) at several batch sizes through
:func:`runtime.runner.run_loop` (the ``crnn-infer --loop`` path), with the same thread count
everywhere, interleaved in rounds (median of rounds); word accuracy on IIIT5K, SVT, IC03 and IC13
through :func:`pipeline.fused.evaluate` (the ``crnn-eval`` path). Also OpenVINO's own
``benchmark_app`` on the same IR, and crnn-eval end-to-end against the loop.

Writes ``docs/BENCHMARKS.md`` (+ a throughput plot) and ``{workdir}/bench_results.json``.
Modules: :mod:`bench.run` (the steps), :mod:`bench.variants`, :mod:`bench.workspace` (files),
:mod:`bench.worker` (one process per variant), :mod:`bench.measure` and :mod:`bench.bapp`
(timing), :mod:`bench.report` (markdown, plot). torch is imported only by the PyTorch worker.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

import click

from crnn_deploy.bench.report import render_markdown, write_plot, write_text_atomic
from crnn_deploy.bench.run import run_bench
from crnn_deploy.bench.variants import VARIANT_KEYS
from crnn_deploy.bench.workspace import DATASET_DIRS, rel
from crnn_deploy.common.cli import Group
from crnn_deploy.common.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ASSETS = Path(os.environ.get("CRNN_ASSETS", ROOT.parent / "shared" / "assets"))
#: Upper bound of a results JSON read back (bench_results.json is ~50 KB).
MAX_JSON_BYTES = 16 * 2**20
#: Settings of --quick (explicit options still win).
QUICK = {"batches": [1, 4], "loops": 3, "rounds": 2, "warmup": 1, "limit": 32, "calib_size": 32,
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


def parse_sets(items) -> dict[str, Path]:
    """``("mine=words/gt.txt", ...)`` -> ``{"mine": Path("words/gt.txt")}``.

    Raises:
        UserError: not NAME=FILE, a NAME that is not ``[A-Za-z0-9_-]+`` or is taken (a built-in
            set or an earlier --set), or a GT file that does not exist.
    """
    taken = {k for k, _ in DATASET_DIRS}
    out: dict[str, Path] = {}
    for item in items:
        name, sep, gt = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_-]+", name) or not gt:
            raise UserError(f"--set {item!r}: expected NAME=gt.txt (NAME: letters, digits, _ -)")
        if name in taken or name in out:
            raise UserError(f"--set {item!r}: the name {name} is taken; choose another")
        if not Path(gt).is_file():
            raise UserError(f"--set {item!r}: GT file not found: {gt}")
        out[name] = Path(gt)
    return out


def canonical_command(p: dict) -> str:
    """The crnn-bench command line that reproduces this run (every setting explicit)."""
    args = ["crnn-bench", "run", "--model", p["model"], "--checkpoint", rel(p["checkpoint"])]
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
    if p["retries"] != 2 and not p["quick"]:
        args += ["--retries", str(p["retries"])]
    if p["threads"] != os.cpu_count():
        args += ["--threads", str(p["threads"])]
    for name, gt in (p.get("sets") or {}).items():
        args += ["--set", f"{name}={rel(gt)}"]
    if p["limit"]:
        args += ["--limit", str(p["limit"])]
    if p["variants"] != list(VARIANT_KEYS):
        args += ["--variants", ",".join(p["variants"])]
    if p["workers"] is not None:
        args += ["--workers", str(p["workers"])]
    args += [f"--no-{k.replace('_', '-')}" for k in ("accuracy", "benchmark_app", "fused")
             if p[f"no_{k}"]]
    if p["quick"]:
        args.append("--quick")
    args += ["--output", rel(p["output"])]
    if p["plot"]:
        args += ["--plot", rel(p["plot"])]
    return " ".join(shlex.quote(a) for a in args)


def read_json(path: Path, limit: int = MAX_JSON_BYTES):
    """A JSON file this tool wrote earlier, read with a size bound.

    Raises:
        UserError: missing, larger than ``limit`` bytes, or not valid JSON.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise UserError(f"{path} is larger than {limit:,} bytes: not a crnn-bench result")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON ({exc}): re-run the command that wrote it") from None


def render_files(results: dict, output: Path, plot: Path | None, workdir: Path) -> None:
    """(Re)write the markdown and the plot; the scale section comes from
    ``{workdir}/scale_eval.json`` when present (:mod:`bench.scale`)."""
    scale = workdir / "scale_eval.json"
    if scale.is_file():
        results = {**results, "scale": read_json(scale)}
    if plot:
        write_plot(results, plot)
    write_text_atomic(output, render_markdown(results))


class BenchGroup(Group):
    """A group whose default subcommand is ``run``: ``crnn-bench [OPTIONS]`` (no subcommand
    name) is ``crnn-bench run [OPTIONS]``, as ``make bench`` and older docs call it."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=BenchGroup)
def main():
    """Benchmarks, one system: every engine side by side (``run``, the default), the peers as
    users run them (``peers``), and the focused runs (``same``, ``widths``, ``fused``, ``ray``,
    ``scale``). Speeds are medians of interleaved rounds with their range, the CPU and the load
    recorded.

    \b
    crnn-bench --quick --output /tmp/b.md                # = crnn-bench run --quick ...
    crnn-bench peers --peer rapidocr --ours build/ppocrv4-rec.onnx \\
        --ours "build/ppocrv4-rec.xml --precision bf16" --gt ../shared/assets/eval_iiit5k_3000/gt.txt
    """


@main.command("run")
@click.option("--model", default="nano-ocr", show_default=True, help="Model spec name.")
@click.option("--checkpoint", type=click.Path(path_type=Path),
              default=Path("weights/nano_ocr_ftr.pth"), show_default=True,
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
@click.option("--retries", type=click.IntRange(min=0), default=None,
              help="Repeats of a disturbed timed run (see --max-foreign) [default: 2; 0 with "
                   "--quick].")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Inference threads of every variant [default: all CPUs].")
@click.option("--variants", default=",".join(VARIANT_KEYS), show_default=True,
              help="Comma-separated subset of the variants.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Score only the first N images of each test set.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Preprocessing processes of the eval runs [default: crnn-eval's thread-pool "
                   "feeder, no process].")
@click.option("--set", "user_sets", multiple=True, metavar="NAME=GT",
              help="Also score your own labeled set: a GT file ('relpath<TAB>label', paths "
                   "relative to it), a column NAME in the accuracy table (repeatable).")
@click.option("--no-accuracy", is_flag=True, help="Skip the word-accuracy runs.")
@click.option("--no-benchmark-app", is_flag=True, help="Skip OpenVINO's benchmark_app.")
@click.option("--no-fused", is_flag=True, help="Skip the crnn-eval-vs-loop check.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("docs/BENCHMARKS.md"), show_default=True, help="Markdown report.")
@click.option("--plot", default="docs/throughput.png", show_default=True,
              help="PNG of throughput vs batch ('' for none).")
@click.option("--quick", is_flag=True,
              help="Smoke test: batches 1,4, 3 loops, 2 rounds, 32 images per test set, "
                   "32 calibration images (explicit options still win).")
@click.option("--render-only", is_flag=True,
              help="Re-render --output/--plot from {workdir}/bench_results.json (+ scale_eval.json).")
def run(model, checkpoint, assets, workdir, engines_dir, batches, seconds_per_point, loops,
         rounds, warmup, max_foreign, retries, threads, variants, limit, workers, no_accuracy,
         no_benchmark_app, no_fused, output, plot, quick, render_only, user_sets):
    """Benchmark MODEL's engines side by side and write docs/BENCHMARKS.md.

    \b
    crnn-bench run                              # full run (~10 min on 2 cores)
    crnn-bench run --quick --output /tmp/b.md   # smoke test (~1 min)

    Throughput in images/s (median of the rounds), latency in ms per batch, accuracy as the
    standard case-insensitive alphanumeric word accuracy. Raises a clear error (exit 1) for
    missing assets/checkpoint, unknown variants or a variant whose worker fails.
    """
    plot = Path(plot) if plot else None
    json_path = workdir / "bench_results.json"
    if render_only:
        if not json_path.is_file():
            raise UserError(f"{json_path} not found: run crnn-bench first")
        render_files(read_json(json_path), output, plot, workdir)
        click.echo(f"wrote {output}" + (f" and {plot}" if plot else ""))
        return
    q = QUICK if quick else {}
    keys = [k.strip() for k in variants.split(",") if k.strip()]
    unknown = [k for k in keys if k not in VARIANT_KEYS]
    if unknown:
        raise UserError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANT_KEYS)}")
    p = {
        "sets": parse_sets(user_sets),
        "model": model, "checkpoint": checkpoint, "assets": assets, "workdir": workdir,
        "engines_dir": engines_dir,
        "batches": _int_list(batches) if batches else q.get("batches", [1, 16, 64]),
        "seconds_per_point": seconds_per_point,
        "loops": loops or q.get("loops"),
        "rounds": rounds or q.get("rounds", 5), "warmup": warmup if warmup is not None else
        q.get("warmup", 3), "threads": threads or os.cpu_count() or 1, "variants": keys,
        "limit": limit or q.get("limit"), "workers": workers, "no_accuracy": no_accuracy,
        "no_benchmark_app": no_benchmark_app, "no_fused": no_fused, "output": output, "plot": plot, "quick": quick,
        "calib_size": q.get("calib_size", 300), "bapp_seconds": q.get("bapp_seconds", 5),
        "bapp_rounds": q.get("bapp_rounds", 2), "fused_rounds": q.get("fused_rounds", 2),
        "max_foreign": max_foreign, "retries": retries if retries is not None else q.get("retries", 2),
        "acc_workers": workers if workers is not None else q.get("acc_workers"),
    }
    p["command"] = canonical_command(p)
    _log(p["command"])
    results = run_bench(p, _log)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json_path, json.dumps(results, indent=2, sort_keys=True) + "\n")
    render_files(results, output, plot, workdir)
    _log(f"wrote {output}" + (f", {plot}" if plot else "") + f", {json_path} "
         f"in {results['meta']['duration_s'] / 60:.1f} min")


def _register() -> None:
    from crnn_deploy.bench.subcommands import SUBCOMMANDS

    for cmd in SUBCOMMANDS:
        main.add_command(cmd)


_register()

if __name__ == "__main__":
    sys.exit(main())
