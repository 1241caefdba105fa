"""``crnn-eval``: the fused path, LMDB -> engine -> predictions (+ word accuracy when labeled),
without intermediate files."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from crnn_deploy.common import outputs
from crnn_deploy.common.cli import command
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import atomic_write_json
from crnn_deploy.pipeline.gt_set import GtSet
from crnn_deploy.pipeline.options import (
    feed_options,
    outcome_lines,
    outside_root_option,
    quiet_option,
)
from crnn_deploy.pipeline.ray.cli import eval_on_ray, ray_options
from crnn_deploy.pipeline.ray.read import expand_inputs
from crnn_deploy.pipeline.sample_source import image_reader
from crnn_deploy.pipeline.streams import open_engine
from crnn_deploy.postprocess.metric_option import echo_notes, metric_option
from crnn_deploy.postprocess.metrics import write_report
from crnn_deploy.postprocess.predictions import write_predictions
from crnn_deploy.postprocess.review import write_misreads
from crnn_deploy.runtime.options import backend_options, engine_options
from crnn_deploy.runtime.precision import backend_note


@command()
@click.option("--lmdb", "lmdb_paths", multiple=True,
              help="Clovaai LMDB (num-samples, image-%09d, optional label-%09d and path-%09d), "
                   "e.g. from crnn-preprocess build-lmdb; repeatable, and a glob "
                   "('shards/w-*.lmdb') takes every match: all are predicted and scored, "
                   "in the order given (local and Ray alike).")
@click.option("--gt", "gt", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Instead of --lmdb: a GT file, 'relpath<TAB>label' per line, the images "
                   "read where it lists them (no LMDB needed).")
@click.option("--root", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="With --gt: the folder its paths are relative to [default: the GT file's].")
@engine_options
@click.option("--spec", "spec_name", default=None,
              help="Model spec name (e.g. english_g2): required for a .pth checkpoint (pytorch "
                   "backend), which carries none; for an engine, checked against its own.")
@feed_options
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Preprocess in N worker processes instead of threads (0 = inline).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N samples.")
@click.option("--strict", is_flag=True, help="Fail on the first bad sample instead of skipping it.")
@click.option("--warmup", type=click.IntRange(min=0), default=1, show_default=True,
              help="Warm-up batches before timing.")
@click.option("--output", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Write predictions.tsv and summary.json into this new folder (+ accuracy.json, "
                   "errors.tsv when the LMDB is labeled), published whole when complete.")
@click.option("--overwrite", is_flag=True,
              help="Replace an --output folder written earlier by crnn-eval (whole).")
@click.option("--misreads", is_flag=True,
              help="Also write misreads.html (each misread word's image, label, prediction, "
                   "confidence) and review.png (accuracy vs. words kept by a confidence "
                   "threshold; needs matplotlib) into --output.")
@metric_option
@outside_root_option
@quiet_option
@ray_options
def main(lmdb_paths, gt, root, engine, backend, device, threads, hint, precision, widths,
         spec_name, batchsize, prep_threads, ahead, streams, min_width, workers, limit, strict, warmup, output,
         overwrite, misreads, metric, outside_ok, quiet, executor, **ray_opts):
    """Run ENGINE on an LMDB in one pass: decode and preprocess in a thread pool,
    overlapped with inference, greedy CTC decode; score when the LMDB has labels.

    \b
    crnn-eval --lmdb build/data/iiit5k.lmdb --engine build/nano-ocr_bs16.onnx --output out/
    crnn-eval --gt words/gt.txt --engine build/nano-ocr_bs16.onnx
    crnn-eval --gt words/gt.txt --engine weights/english_g2.pth --spec english_g2   # PyTorch

    --gt FILE scores your own labels without an LMDB: 'relpath<TAB>label' lines, paths
    relative to the GT file's folder (or --root). A malformed line (a header, a third column,
    a tab in the label) is an error naming its line; an image that cannot be read or decoded
    counts as wrong (the denominator is every labeled line) and is reported as unreadable.
    A run where no image could be recognized exits with status 1.

    A labeled LMDB: prints word accuracy under --metric (default latin: lowercase, [0-9a-z]
    only, exact match; exact for other scripts) and the other metrics of crnn-postprocess,
    the metric's name beside each number and recorded in accuracy.json and summary.json. An unlabeled one (no label-%09d keys):
    no score. Both print end-to-end images/s (wall clock from the first LMDB read to the last
    decode) beside the engine-only images/s (bare inference calls). --output gets
    predictions.tsv (file, source, text, confidence per sample, LMDB order; confidence: mean
    max-softmax probability of the emitted steps, see docs/USAGE.md, "Recognizing images").

    --output follows the output rules of common.outputs: it must not exist, be empty, or
    (with --overwrite) be an earlier crnn-eval output; it may not be, hold or lie in the LMDB
    or the engine. It is built in a hidden folder beside it and renamed when complete.
    --executor ray runs the same stages on Ray Data (pipeline.ray.executor; Parquet predictions),
    over LMDB shards or a --gt file (parsed on the driver by the same rules; the images must be
    at paths every node can read).
    """
    options = backend_options(threads, hint, precision, widths, min_width, kind="recognizer")
    if spec_name:
        options["model"] = spec_name  # the pytorch backend builds this spec's architecture
    if misreads and (output is None or executor == "ray"):
        raise UserError("--misreads writes into --output (local executor): give --output")
    if bool(lmdb_paths) == (gt is not None):
        raise UserError("give exactly one of --lmdb and --gt")
    if root is not None and gt is None:
        raise UserError("--root goes with --gt (the folder its paths are relative to)")
    if outside_ok and executor == "ray":
        raise UserError("--allow-outside-root is for the local executor (Ray's readers take "
                        "the GT file's paths inside its root only)")
    if executor == "ray":  # pipeline.ray.cli: Ray Data over LMDB shards (expanded there) or --gt
        return eval_on_ray(list(lmdb_paths), engine, backend, device, options, batchsize, limit,
                           strict, output, overwrite=overwrite, quiet=quiet, gt=gt, root=root,
                           metric=metric, **ray_opts)
    if gt is not None:
        lmdbs = [GtSet.open(gt, root, outside_ok)]  # parsed whole: a malformed line fails before any work
    if gt is None:
        lmdbs = expand_inputs(list(lmdb_paths))  # paths and globs; a repeated one taken once
        if misreads and len(lmdbs) > 1:
            raise UserError("--misreads takes one --lmdb (it reads the misread images back)")
    staged = None
    if output is not None:
        outputs.check_not_input(output, [("--gt", gt)] if gt is not None else
                                [("--lmdb", p) for p in lmdbs])
        outputs.check_not_input(output, [("engine file", engine)])
        if gt is not None:  # only the listed images are read: a folder beside them is fine
            outputs.check_not_input(output, [("image root", lmdbs[0].root)], allow_inside=True)
        staged = outputs.StagedDir(output, outputs.REPORT, overwrite, "crnn-eval",
                                   lmdb=[str(p) for p in lmdbs])
    engine_, pipelined = open_engine(engine, backend, device, streams, **options)
    with contextlib.ExitStack() as stack:
        # the stage is made before the work, so a folder that cannot be written (a parent that
        # is a file, no permission) fails at once; it is removed on any error
        stage = stack.enter_context(staged) if staged is not None else None
        written = _run(stage, engine_, pipelined, lmdbs, batchsize, workers, limit, strict,
                       warmup, prep_threads, ahead, quiet, misreads, spec_name, metric)
    if written:  # the stage is published now
        click.echo(f"wrote {output}/{written}")


def _run(stage, engine_, pipelined, lmdbs, batchsize, workers, limit, strict, warmup,
         prep_threads, ahead, quiet=False, misreads=False, spec_name=None,
         metric="latin") -> str | None:
    """Evaluate, print the outcome, write the reports into ``stage`` (if any); returns the
    names written."""
    from tqdm import tqdm

    from crnn_deploy.pipeline.eval_many import evaluate_many

    lmdb_path = lmdbs[0] if len(lmdbs) == 1 else f"{len(lmdbs)} LMDBs"
    total = len(lmdb_path) if isinstance(lmdb_path, GtSet) else None
    with engine_ as be, tqdm(total=total, unit="img", desc="eval", disable=quiet or None,
                             leave=False, file=sys.stderr) as bar:
        if spec_name and be.spec.name != spec_name:
            raise UserError(f"--spec {spec_name}, but {be.engine} holds model {be.spec.name!r}")
        result = evaluate_many(lmdbs, be, batchsize, limit=limit, warmup=warmup,
                               workers=workers, strict=strict, pipelined=pipelined,
                               progress=bar.update, threads=prep_threads, ahead=ahead,
                               metric=metric)
        alphabet = be.spec.alphabet
        note = backend_note(be)
    unscored = f"{lmdb_path} is unlabeled: {len(result.predictions)} predictions, not scored"
    for line in outcome_lines(result.metrics if result.labeled else None, unscored,
                              result.skipped, result.skipped_keys):
        click.echo(line)
    echo_notes(result.metrics)
    s = result.summary
    click.echo(f"end-to-end: {result.images_per_s:.1f} images/s ({len(result.predictions)} images "
               f"in {result.wall_s:.2f} s, {s['workers']} {s['feeder']}); engine only: "
               f"{s['throughput']:.1f} images/s ({s['backend']}, batch {s['batch_size']})"
               + (f"; {note}" if note else ""))
    if stage is not None:
        summary = {**s, "end_to_end_images_per_s": round(result.images_per_s, 3),
                   "skipped": result.skipped, "lmdb": [str(p) for p in lmdbs],
                   **({"metric": metric} if result.labeled else {})}
        written = "predictions.tsv, summary.json"
        write_predictions(stage, result.predictions)
        atomic_write_json(stage / "summary.json", summary)
        if result.labeled:
            write_report(stage, result.metrics, result.errors, alphabet=alphabet,
                         extra={"skipped": result.skipped})
            written += ", accuracy.json, errors.tsv"
            if misreads:
                samples = result.samples + [(src, lab, "", None) for src, lab, _ in result.unreadable]
                paths = write_misreads(stage, samples, result.errors,
                                       image_reader(lmdb_path, result.predictions),
                                       f"crnn-eval: {lmdb_path}, {s['backend']} ({s['engine']})",
                                       log=lambda m: click.echo(m, err=True), metric=metric)
                written += "".join(f", {p.name}" for p in paths)
        return written
    return None


if __name__ == "__main__":
    main()
