"""``crnn-recognize``: word images (files and folders) -> text and confidence, no LMDB needed."""
from __future__ import annotations

import contextlib
import sys
import time
from collections import deque
from pathlib import Path

import click

from crnn_deploy.common import outputs
from crnn_deploy.common.cli import command
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.names import display_name
from crnn_deploy.pipeline.options import feed_options, outside_root_option, quiet_option
from crnn_deploy.pipeline.ray.cli import ray_options, recognize_on_ray
from crnn_deploy.pipeline.recognize_inputs import gather_inputs
from crnn_deploy.pipeline.row_formats import FORMATS, RowWriter
from crnn_deploy.postprocess.metric_option import echo_notes, metric_option
from crnn_deploy.postprocess.metrics import format_metrics, score_samples
from crnn_deploy.runtime.options import backend_options, engine_options
from crnn_deploy.runtime.precision import backend_note

#: Bad images printed one by one on stderr (the rest are counted).
MAX_REPORTED = 20


def check_output(output: Path, inputs: tuple[str, ...], engine: Path, overwrite: bool) -> str:
    """Check ``--output`` before any work; returns its format (:data:`pipeline.row_formats.
    FORMATS`: ``tsv``, ``csv``, ``jsonl`` or ``json``).

    The rules of :mod:`common.outputs`: not one of the input images, not a folder given as
    input nor a folder holding one (a file inside an input folder is fine: only image files
    are read there), not the engine; an existing file is replaced only with ``--overwrite``
    and only when it is exactly the file a run of this tool wrote (its ownership record,
    :func:`common.outputs.single.is_ours`). The same is checked again when the output is
    published (:func:`common.outputs.single.publish_new_file`).

    Raises:
        UserError: an unknown suffix, an overlap with an input, or a file that is not ours.
    """
    fmt = FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise UserError(f"--output {output}: unknown format; use a name ending in "
                        f"{', '.join(FORMATS)}")
    outputs.check_not_input(output, [("engine file", engine), *(("input", a) for a in inputs)],
                            allow_inside=True)
    outputs.check_file_output(output, overwrite, outputs.is_ours(output))
    return fmt


def _write_rows(source, writer: RowWriter, named: deque, labeled: bool, strict: bool,
                metric: str = "latin"):
    """Write the rows of ``source`` (a context manager yielding ``rows`` and ``report``) with
    ``writer``, each named by the next ``(name, label)`` of ``named`` (filled as the inputs
    are read: rows come in input order, one per input); returns ``(done, bad, wall_s, ray_result or None,
    metrics or None, note or None)`` (metrics: with ``labels``, under ``metric``, the unreadable
    images counted as wrong; note: the source's precision remark for the summary line).

    Raises:
        UserError: a bad image with ``strict``; no image recognized at all.
    """
    done = bad = 0
    scored, unreadable, first_bad = [], [], None
    with source as src:
        start = time.perf_counter()
        for _, text, conf, why in src.rows:
            name, label = named.popleft()
            if why is not None:
                if strict:
                    raise UserError(f"{name}: {why} (--strict)")
                bad += 1
                first_bad = first_bad or f"{name}: {why}"
                if labeled:
                    unreadable.append((name, label, why))
                if bad <= MAX_REPORTED:  # --quiet too: quiet is never silence about a skip
                    src.report(f"skipped {display_name(name)}: {why}")
                continue
            writer.write(name, text, conf)
            if labeled:
                scored.append((name, label, text, conf))
            done += 1
        wall = time.perf_counter() - start
        if done == 0:  # nothing to publish: an --output file is not written
            raise UserError(f"no image could be recognized ({bad} bad; first: {first_bad})")
        writer.close()
        writer.out.flush()
        metrics = score_samples(scored, unreadable, metric)[0] if labeled else None
        return done, bad, wall, getattr(src, "result", None), metrics, getattr(src, "note", None)


@command()
@click.argument("inputs", nargs=-1, required=False, metavar="[IMAGES_OR_DIRS|-]...")
@click.option("--list", "list_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="A file of image paths, one per line (relative to its folder "
                                 "or --root); '-' on the command line reads them from stdin.")
@click.option("--gt", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A GT file, 'relpath<TAB>label' per line: recognize its images and print "
                   "word accuracy on stderr (unreadable images count as wrong).")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --list or --gt: the folder their paths are relative to.")
@engine_options
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="preds.tsv (header, then path/text/confidence), .csv, .jsonl or .json "
                   "(one array); default: TSV rows on stdout, no header.")
@feed_options
@click.option("--strict", is_flag=True, help="Stop at the first bad image (nothing written).")
@click.option("--overwrite", is_flag=True,
              help="Replace an --output file written earlier by crnn-recognize.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr [default: only on a terminal]; with --executor ray, "
                   "Ray Data's progress bars (only when asked for).")
@metric_option
@outside_root_option
@quiet_option
@ray_options
def main(inputs, list_file, gt, root, engine, backend, device, threads, hint, precision, widths, output,
         batchsize, prep_threads, ahead, streams, min_width, strict, overwrite, progress, metric, outside_ok, quiet,
         executor,
         **ray_opts):
    """Recognize the words in IMAGES_OR_DIRS (files, or folders searched for image files).

    \b
    crnn-recognize --engine build/nano-ocr_bs16.xml ../shared/assets/demo_words
    crnn-recognize --engine build/nano-ocr_bs16.onnx a.png b.jpg -o preds.jsonl
    find words -name '*.png' | crnn-recognize --engine build/nano-ocr_bs16.onnx - -o preds.csv
    crnn-recognize --engine build/nano-ocr_bs16.onnx --gt words/gt.txt -o preds.json

    Each image is read, decoded and preprocessed as the engine's spec says (channels, size,
    resize, normalization: e.g. nano-ocr grey, PIL bilinear stretch to 128x32, (x/255 -
    0.5)/0.5; PP-OCRv4 BGR, OpenCV keep-ratio to height 48; english_g2 grey, OpenCV, height
    64; `crnn-convert inspect ENGINE` prints it) in a thread pool while the engine runs the
    previous batch; outputs
    are greedy-CTC decoded. One row per image, in input order: path, text (raw greedy decode),
    confidence in [0, 1] (mean softmax probability of the emitted steps, PaddleOCR's formula;
    0 for an empty word). Bad images (unreadable, undecodable, > 50 Mpixel) are reported by
    path on stderr and skipped, or stop the run with --strict; a run where no image could be
    recognized exits with status 1 (and writes no --output). --output is written to a
    hidden temporary beside it and published when complete without ever replacing a file
    that appeared meanwhile (two runs to one path: one wins, the other fails; --overwrite
    replaces only a file this tool wrote, recorded in a hidden .NAME.crnn-deploy.json beside
    it); stdout rows are streamed. A summary line (images, images/s) goes to stderr; with
    --gt, the metrics of crnn-eval too (under --metric). Rows of --list and --gt images are named by the path
    as listed.

    --executor ray runs the same stages on Ray Data (pipeline.ray.executor.run over an image list;
    --ray-address, --actors, --cpus-per-actor, --gpus-per-actor, --resources as in crnn-eval;
    --prep-threads and --ahead are local only) and writes the same TSV/JSONL rows in input
    order, once the whole job is done. The list and Ray's Parquet pass through a hidden folder
    beside --output (needed with --ray-address: the nodes must share it), removed at the end.
    """
    given = tuple(a for a in (*inputs, list_file, gt) if a is not None and a != "-")
    fmt = None if output is None else check_output(output, given, engine, overwrite)
    src = gather_inputs(inputs, list_file, gt, root, outside_ok=outside_ok)
    if executor == "ray":  # Ray takes the whole list first (bounded: MAX_LISTED)
        src = src.materialize()
    named: deque = deque()

    def paths():  # lazily: stdin / --list are read as the run needs them (bounded memory)
        for path, name, label in src.rows():
            named.append((name, label))
            yield path
    options = backend_options(threads, hint, precision, widths, min_width)
    if quiet:
        progress = False
    if executor == "ray":
        source = recognize_on_ray(list(paths()), engine, output, backend=backend, device=device,
                                  options=options, batchsize=batchsize, strict=strict,
                                  progress=progress, quiet=quiet,
                                  log=None if quiet else (lambda m: click.echo(m, err=True)),
                                  **ray_opts)
    else:
        source = _local_rows(paths(), src.total, engine, batchsize, prep_threads, backend,
                             device, ahead, options, progress, streams)
    with contextlib.ExitStack() as stack:
        out = sys.stdout
        if output is not None:  # hidden temporary beside it, renamed when complete
            tmp = stack.enter_context(outputs.staged_new_file(output, overwrite,
                                                              "crnn-recognize"))
            out = stack.enter_context(open(tmp, "w", encoding="utf-8", newline=""))
        writer = RowWriter(out, fmt or "tsv", header=fmt is not None)
        done, bad, wall, ray_res, metrics, note = _write_rows(source, writer, named,
                                                         src.labels is not None, strict,
                                                         metric)
    if bad > MAX_REPORTED:
        click.echo(f"... and {bad - MAX_REPORTED} more bad image(s)", err=True)
    for line in format_metrics(metrics) if metrics is not None else []:
        click.echo(line, err=True)
    echo_notes(metrics)
    if ray_res is not None:  # the Ray job's wall clock (read to Parquet), start-up apart
        rate = f"{ray_res.images_per_s:.1f} images/s end to end on Ray ({ray_res.actors} " \
               f"actor(s); start-up {ray_res.startup_s:.1f} s not included)"
    else:
        rate = f"{done / wall if wall > 0 else 0.0:.1f} images/s end to end"
    if not quiet:
        click.echo(f"recognized {done} image(s), skipped {bad} bad, {rate}"
                   + (f"; wrote {output}" if output is not None else "")
                   + (f"; {note}" if note else ""), err=True)


class _LocalRows:
    """The local executor's rows (``path, text, confidence, error``, input order) and the
    progress bar's ``report`` (a line on stderr that does not break the bar)."""

    def __init__(self, rec, bar, paths: list[str]):
        self.rec, self.bar, self.paths = rec, bar, paths
        self.note = backend_note(rec.backend)  # the summary line's precision remark

    @property
    def rows(self):
        for _, path, text, conf, why in self.rec.iter(self.paths):
            self.bar.update(1)
            yield path, text, conf, why

    def report(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(line, file=sys.stderr)


@contextlib.contextmanager
def _local_rows(paths, total, engine, batchsize, prep_threads, backend, device, ahead, options,
                progress, streams=None):
    from tqdm import tqdm

    from crnn_deploy.pipeline.recognizer import Recognizer

    with Recognizer(engine, batchsize, prep_threads=prep_threads, backend=backend, device=device,
                    ahead=ahead, streams=streams, **options) as rec, \
            tqdm(total=total, unit="img", desc="recognize", file=sys.stderr,
                 disable=None if progress is None else not progress, leave=False) as bar:
        yield _LocalRows(rec, bar, paths)


if __name__ == "__main__":  # pragma: no cover
    main()
