"""``crnn-eval``: the fused path, LMDB -> engine -> predictions (+ word accuracy when labeled),
without intermediate files."""
from __future__ import annotations

from pathlib import Path

import click

from common.cli import command
from common.fileio import atomic_write_json
from postprocess.metrics import format_metrics, write_report
from postprocess.predictions import write_predictions
from runtime.options import backend_options, engine_options
from runtime.registry import open_backend


@command()
@click.option("--lmdb", "lmdb_path", required=True, type=click.Path(path_type=Path),
              help="Clovaai LMDB (num-samples, image-%09d, optional label-%09d and path-%09d), "
                   "e.g. from crnn-preprocess build-lmdb.")
@engine_options
@click.option("--batchsize", "--batch-size", "batchsize", type=click.IntRange(min=1), default=None,
              help="Batch for a dynamic engine (default 16); must match a static engine's batch.")
@click.option("--prep-threads", "prep_threads", type=click.IntRange(min=1), default=None,
              help="Preprocessing threads in this process (default: CPU count).")
@click.option("--ahead", type=click.IntRange(min=0), default=1, show_default=True,
              help="Batches preprocessed while the engine runs (0: only between inference calls).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Preprocess in N worker processes instead of threads (0 = inline).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N samples.")
@click.option("--strict", is_flag=True, help="Fail on the first bad sample instead of skipping it.")
@click.option("--warmup", type=click.IntRange(min=0), default=1, show_default=True,
              help="Warm-up batches before timing.")
@click.option("--output", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Write predictions.tsv and summary.json here (+ accuracy.json, errors.tsv "
                   "when the LMDB is labeled).")
def main(lmdb_path, engine, backend, device, threads, hint, precision, batchsize, prep_threads,
         ahead, workers, limit, strict, warmup, output):
    """Run ENGINE on an LMDB in one pass: decode and preprocess in a thread pool,
    overlapped with inference, greedy CTC decode; score when the LMDB has labels.

    \b
    crnn-eval --lmdb build/data/iiit5k.lmdb --engine build/nano-ocr_bs16.onnx --output out/

    A labeled LMDB: prints word accuracy (standard protocol: lowercase, [0-9a-z] only, exact
    match) and the other metrics of crnn-postprocess. An unlabeled one (no label-%09d keys):
    no score. Both print end-to-end images/s (wall clock from the first LMDB read to the last
    decode) beside the engine-only images/s (bare inference calls). --output gets
    predictions.tsv (file, source, text, confidence per sample, LMDB order; confidence: mean
    max-softmax probability of the emitted steps, see the README).
    """
    from tqdm import tqdm

    from pipeline.fused import evaluate

    options = backend_options(threads, hint, precision)
    with open_backend(engine, backend, device=device, **options) as be, \
            tqdm(unit="img", desc="eval", disable=None, leave=False) as bar:
        result = evaluate(lmdb_path, be, batchsize, workers, limit, strict,
                          pipelined=options.get("hint") == "THROUGHPUT", warmup=warmup,
                          progress=bar.update, threads=prep_threads, ahead=ahead)
        alphabet = be.spec.alphabet
    if result.labeled:
        for line in format_metrics(result.metrics):
            click.echo(line)
    else:
        click.echo(f"{lmdb_path} is unlabeled: {len(result.predictions)} predictions, not scored")
    if result.skipped:
        click.echo(f"skipped {result.skipped} bad samples: {', '.join(result.skipped_keys)}")
    s = result.summary
    click.echo(f"end-to-end: {result.images_per_s:.1f} images/s ({len(result.predictions)} images "
               f"in {result.wall_s:.2f} s, {s['workers']} {s['feeder']}); engine only: "
               f"{s['throughput']:.1f} images/s ({s['backend']}, batch {s['batch_size']})")
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        summary = {**s, "end_to_end_images_per_s": round(result.images_per_s, 3),
                   "skipped": result.skipped, "lmdb": str(lmdb_path)}
        write_predictions(output, result.predictions)
        atomic_write_json(output / "summary.json", summary)
        written = "predictions.tsv, summary.json"
        if result.labeled:
            write_report(output, result.metrics, result.errors, alphabet=alphabet,
                         extra={"skipped": result.skipped})
            written += ", accuracy.json, errors.tsv"
        click.echo(f"wrote {output}/{written}")


if __name__ == "__main__":
    main()
