"""``crnn-infer``: run an engine over ais_bench-style input files, or in a loop (ais_bench options).

File mode writes ``OUTPUT/{stem}_0.bin`` (float32 (T, 1, C); ``--output_batchsize_axis 0``
gives (1, T, C); ``--outfmt NPY`` writes .npy), ``OUTPUT/summary.json`` and ``OUTPUT/meta.json``.
Loop mode (``--loop N``, no ``--input``) prints the summary and writes it with ``--output``.

OUTPUT holds exactly one run (common.outputs): it is built in a hidden ``.OUTPUT.partial-*``
folder beside it and renamed into place when complete; an existing non-empty OUTPUT is refused
unless ``--overwrite`` is given and it is a result folder of ours (then replaced whole).
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import click

from crnn_deploy.common import outputs
from crnn_deploy.common.cli import command
from crnn_deploy.common.errors import UserError, os_errors_as_user_errors
from crnn_deploy.common.fileio import atomic_write_json
from crnn_deploy.common.names import display_name
from crnn_deploy.runtime import batching, runner
from crnn_deploy.runtime.options import backend_options, engine_options
from crnn_deploy.runtime.registry import open_backend
from crnn_deploy.runtime.stats import format_summary

#: Unreadable inputs named one by one on stderr (the rest are counted).
MAX_REPORTED = 20


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, unit="img", desc=desc, disable=None, leave=False)


def _meta(backend, batch: int, **extra) -> dict:
    return {"spec": backend.spec.to_dict(), "engine": str(backend.engine),
            "backend": backend.name, "batch_size": batch, **extra}


@command()
@engine_options
@click.option("--input", "input_dir", type=click.Path(path_type=Path),
              help="Folder of test_{i}.bin files (float32 (1, C, H, W)), e.g. from crnn-preprocess.")
@click.option("--output", type=click.Path(path_type=Path, file_okay=False),
              help="Result folder, published whole when the run is complete. Required with --input.")
@click.option("--overwrite", is_flag=True,
              help="Replace an --output result folder written earlier by crnn-infer (whole).")
@click.option("--batchsize", "--batch-size", "batchsize", type=click.IntRange(min=1), default=None,
              help="Batch for a dynamic engine (default: on a CPU the batch whose input fits in "
                   "half a core's L2: 2 for PP-OCRv4, 16 for nano-ocr; 16 on a GPU); must match a "
                   "static engine's batch.")
@click.option("--output_batchsize_axis", "--output-batchsize-axis", "axis", type=click.IntRange(0, 1),
              default=1, show_default=True,
              help="1: each output file is (T, 1, C); 0: (1, T, C).")
@click.option("--outfmt", type=click.Choice(batching.OUTFMTS, case_sensitive=False), default="BIN",
              show_default=True, help="Raw float32 .bin or .npy output files.")
@click.option("--loop", type=click.IntRange(min=1), default=None,
              help="Pure-throughput mode: run N batches of synthetic data (no --input).")
@click.option("--warmup", "--warmup_count", "warmup", type=click.IntRange(min=0), default=1,
              show_default=True, help="Warm-up batches, excluded from the statistics.")
@click.option("--pure_data_type", "--pure-data-type", "data", default="zero", show_default=True,
              type=click.Choice(["zero", "random"]), help="Loop-mode input data.")
@click.option("--spec", "spec_name", default=None,
              help="Model spec name (e.g. nano-ocr): required for a .pth checkpoint (pytorch "
                   "backend), which carries none; for an engine, checked against its own.")
def main(engine, input_dir, output, overwrite, batchsize, axis, outfmt, backend, device, threads,
         hint, precision, widths, loop, warmup, data, spec_name):
    """Run ENGINE on input files in batches, or in a loop, and report latency and throughput.

    \b
    crnn-infer --engine build/nano-ocr_dynamic.onnx --input input_bin --output result --batchsize 16
    crnn-infer --engine build/nano-ocr_bs16.xml --loop 200 --warmup 20 --hint THROUGHPUT
    crnn-infer --engine weights/nano_ocr_ftr.pth --spec nano-ocr --loop 20   # PyTorch eager

    Latency is per batch in ms (min/max/mean/median/p99); throughput is images/s over the time
    the bare inference calls took. The last batch is zero-padded (except on ONNX Runtime, which
    runs any batch as it is) and its padding dropped.
    --batchsize is at most 1024 (runtime.batching.MAX_BATCH, a memory bound).

    Errors (exit 1, "Error: ..."): an --output that exists and is not an earlier result of
    ours (or is ours but no --overwrite), that is, contains or lies inside --input or the
    engine; an input folder replaced by another run while being read; unreadable inputs; a
    full disk. An input (a *.bin / *.npy entry of --input) that is not a regular file (a
    folder, a FIFO) is named on stderr and skipped; the others are run and written,
    and the command then exits 1 saying how many could not be read. On failure --output is
    unchanged and no temporary folder is left.
    """
    if loop is None and input_dir is None:
        raise UserError("give --input (a folder of .bin files) or --loop N")
    if loop is not None and input_dir is not None:
        raise UserError("--loop runs on synthetic data; give either --loop or --input, not both")
    if input_dir is not None and output is None:
        raise UserError("--output is required with --input")
    staged = _staged_output(output, overwrite, input_dir, engine)
    options = backend_options(threads, hint, precision, widths, kind="recognizer")
    if spec_name:
        options["model"] = spec_name
    pipelined = options.get("hint") == "THROUGHPUT"
    files = batching.list_inputs(input_dir) if input_dir is not None else None
    skipped = batching.unreadable_inputs(input_dir, files) if files else []
    for name, why in skipped[:MAX_REPORTED]:  # before any work, and never silenced
        click.echo(f"skipped {display_name(name)}: {why}", err=True)
    if len(skipped) > MAX_REPORTED:
        click.echo(f"... and {len(skipped) - MAX_REPORTED} more unreadable input(s)", err=True)
    source = outputs.folder_identity(input_dir) if files and input_dir.is_dir() else None

    # disk full, permissions: a message, not a traceback; the stage is published whole or dropped
    with os_errors_as_user_errors(), open_backend(engine, backend, device=device, **options) as be:
        if spec_name and be.spec.name != spec_name:
            raise UserError(f"--spec {spec_name}, but {engine} holds model {be.spec.name!r}")
        batch = runner.resolve_batch(be, batchsize)
        with staged if staged is not None else contextlib.nullcontext() as stage:
            summary = _run(be, files, input_dir, stage, batch, outfmt, axis, pipelined,
                           warmup, loop, data, engine, [n for n, _ in skipped])
            if source is not None:
                outputs.check_unchanged(input_dir, source, "--input")
    click.echo(format_summary(summary))
    if output is not None:
        click.echo(f"wrote {output}/summary.json" + (f" and {summary['count']} outputs"
                                                      if files is not None else ""))
    if skipped:  # the results of the readable inputs are written; the exit status says so
        raise UserError(f"{len(skipped)} of {len(skipped) + len(files)} inputs of "
                        f"{display_name(input_dir)} could not be read (named above); the other "
                        f"{len(files)} were run" + (f" and written to {output}" if output else ""))
    return summary


def _staged_output(output: Path | None, overwrite: bool, input_dir: Path | None,
                   engine: Path) -> outputs.StagedDir | None:
    """Check --output against the output rules (before any work) and prepare its staging."""
    if output is None:
        return None
    engine_files = [engine, engine.with_suffix(".bin"), Path(f"{engine}.json")]
    outputs.check_not_input(output, [("--input", input_dir),
                                     *(("engine file", f) for f in engine_files)])
    return outputs.StagedDir(output, outputs.RESULT, overwrite, "crnn-infer",
                             source=str(input_dir.resolve()) if input_dir else None)


def _run(be, files, input_dir, stage, batch, outfmt, axis, pipelined, warmup, loop, data,
         engine, skipped=()) -> dict:
    """Run file or loop mode; with a stage, write the results, summary.json and meta.json."""
    if files is not None:
        batching.check_input_meta(input_dir, be.spec, engine)
        batching.check_sizes(files, be.spec)
        with _progress(len(files), "infer") as bar:
            summary = runner.run_files(be, files, batch, stage, outfmt.upper(), axis,
                                       pipelined, warmup, bar.update)
    else:
        with _progress(loop * batch, "loop") as bar:
            summary = runner.run_loop(be, loop, batch, warmup, data, pipelined, bar.update)
    if files is not None:
        summary["skipped"] = list(skipped)  # inputs listed but unreadable (names)
    if stage is not None:
        atomic_write_json(stage / "summary.json", summary)
        t, c = be.spec.output_shape
        t = None if be.spec.dynamic_width else t  # T follows each file's width
        shape = [t, 1, c] if axis == 1 else [1, t, c]
        atomic_write_json(stage / "meta.json", _meta(
            be, batch, count=summary["count"], mode=summary["mode"],
            outfmt=outfmt.upper(), output_batchsize_axis=axis, output_shape=shape,
            input=str(input_dir.resolve()) if input_dir is not None else None))
    return summary


if __name__ == "__main__":
    main()
