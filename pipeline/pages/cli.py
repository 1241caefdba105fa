"""``crnn-ocr``: page images (files, folders, lists) -> text boxes as JSONL, one line per page."""
from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import click

from crnn_deploy.common import outputs
from crnn_deploy.common.cli import command
from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.options import quiet_option
from crnn_deploy.pipeline.pages.draw import DRAWINGS, save_drawing
from crnn_deploy.pipeline.pages.scoring import gt_inputs, gt_options, score_run
from crnn_deploy.pipeline.recognize_inputs import gather_inputs
from crnn_deploy.runtime.precision import PRECISIONS

#: Bad pages printed one by one on stderr (the rest are counted).
MAX_REPORTED = 20
#: engine -> (default file, the make target that builds it)
DEFAULTS = {"det": ("build/ppocrv4-det.xml", "make pages"),
            "cls": ("build/ppocr-cls.xml", "make pages"),
            "rec": ("build/ppocrv4-rec.xml", "make ppocrv4")}


def default_engine(role: str, given: Path | None) -> Path:
    """``given``, else the preset engine of ``role`` under build/ (:data:`DEFAULTS`).

    Raises:
        UserError: no engine given and the preset not built, naming the make target.
    """
    if given is not None:
        return given
    path, target = DEFAULTS[role]
    if not Path(path).is_file():
        raise UserError(f"--{role} not given and {path} not found: build it with `{target}` "
                        f"or pass --{role} ENGINE")
    return Path(path)


def check_output(output: Path, inputs: tuple, engines: list[Path], overwrite: bool) -> None:
    """``-o`` must end in .jsonl, be no input page, list or engine, and be new (or ours with
    ``--overwrite``; :mod:`common.outputs`). Raises UserError otherwise."""
    if output.suffix.lower() != ".jsonl":
        raise UserError(f"--output {output}: crnn-ocr writes JSONL; use a name ending in .jsonl")
    outputs.check_not_input(output, [*(("engine file", e) for e in engines),
                                     *(("input", a) for a in inputs)], allow_inside=True)
    outputs.check_file_output(output, overwrite, outputs.is_ours(output))


@command()
@click.argument("inputs", nargs=-1, required=False, metavar="[PAGES_OR_DIRS|-]...")
@click.option("--list", "list_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A file of page image paths, one per line (relative to its folder or --root).")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --list: the folder its paths are relative to.")
@click.option("--det", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Text detector engine [default: {DEFAULTS['det'][0]}, `make pages`].")
@click.option("--cls", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Angle classifier engine [default: {DEFAULTS['cls'][0]}, `make pages`].")
@click.option("--no-cls", is_flag=True, help="No angle classifier: every crop read as it is.")
@click.option("--rec", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Recognizer engine [default: {DEFAULTS['rec'][0]}, `make ppocrv4`].")
@click.option("--backend", default=None, help="Force a backend for all three engines "
                                              "(as crnn-infer --backend).")
@click.option("--device", default="CPU", show_default=True, help="Device of the engines.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Threads decoding pages, running DB's postprocess and cutting crops "
                   "(default: CPU count).")
@click.option("--group-pages", type=click.IntRange(min=1), default=4, show_default=True,
              help="Pages whose crops are classified and recognized together.")
@click.option("--engine-threads", type=click.IntRange(min=1), default=None,
              help="Inference threads of each engine (OpenVINO INFERENCE_NUM_THREADS, ONNX "
                   "Runtime intra_op_num_threads) [default: each backend's own].")
@click.option("--rec-batchsize", type=click.IntRange(min=1), default=None,
              help="Recognizer batch for a dynamic-batch engine [default: the batch whose "
                   "input fits in half a core's L2: 2 for ppocrv4-rec].")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None,
              help="Inference precision of the three engines (OpenVINO; as crnn-recognize "
                   "--precision). bf16 runs about 1.7x faster on a CPU with native bf16 (Zen 4, "
                   "Sapphire Rapids) and changes a few boxes and texts (docs/PAGES.md) "
                   "[default: f32: RapidOCR's own results].")
@click.option("--rec-batching", type=click.Choice(["width", "rapidocr"]), default="width",
              show_default=True,
              help="width: crops of --group-pages pages batched by their own width (each read as "
                   "RapidOCR reads a crop alone); rapidocr: RapidOCR's own batching per page "
                   "(sorted by aspect ratio, batches of 6 padded to the widest: its texts).")
@click.option("--text-score", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Boxes whose recognition confidence is below it are left out (RapidOCR's "
                   "text_score).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="out.jsonl, one line per page in input order [default: stdout].")
@click.option("--draw", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A new folder: each page with its boxes and texts drawn, NNNNNN-NAME.jpg.")
@click.option("--overwrite", is_flag=True,
              help="Replace an --output file or --draw folder written earlier by crnn-ocr.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr [default: only on a terminal].")
@quiet_option
@gt_options
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this process; ray: Ray Data actors holding the three engines "
                   "(the same rows, written once the job is done).")
@click.option("--ray-address", default=None,
              help="With --executor ray: the cluster to join ('auto', host:6379) [default: "
                   "a new local instance].")
@click.option("--actors", type=click.IntRange(min=1), default=None,
              help="With --executor ray: page actors [default: one per 2 CPUs].")
@click.option("--cpus-per-actor", type=click.FloatRange(min=0, min_open=True), default=None,
              help="With --executor ray: CPUs per actor [default: 1].")
def main(inputs, list_file, root, det, cls, no_cls, rec, backend, device, threads, group_pages,
         engine_threads, rec_batchsize, precision, rec_batching, text_score, output, draw, overwrite, progress, quiet, gt, metric, misreads, executor, ray_address,
         actors, cpus_per_actor):
    """Find and read the text on pages: PAGES_OR_DIRS are image files, folders (searched for
    image files) or - (paths on stdin).

    \b
    crnn-ocr scans/ -o pages.jsonl
    crnn-ocr --det build/ppocrv4-det.xml --cls build/ppocr-cls.xml \\
             --rec build/ppocrv4-rec.xml page.png --draw drawn/
    find scans -name '*.jpg' | crnn-ocr - --no-cls -o pages.jsonl

    Each page is decoded and resized for the detector in a thread pool while the detector
    (a DB model) runs; its probability map becomes boxes (PaddleOCR's DBPostProcess), put in
    reading order and cut out by a perspective transform; the crops of several pages are
    angle-classified (turned when read as 180 degrees) and recognized together, batched by
    width. RapidOCR 1.4.4's defaults and semantics throughout (docs: the page pipeline).

    One JSON line per page, in input order: {"page": PATH, "boxes": [{"points": [[x, y] x 4],
    "text", "confidence", "angle": 0 | 180}]}: points in pixels of the original image,
    clockwise from the top-left; boxes whose confidence is below --text-score are left out. Bad pages
    (unreadable, undecodable, > 50 Mpixel) are named on stderr and skipped; a run where no
    page could be read exits with status 1 (and writes no --output). --output and --draw are
    published whole when complete, never over an input or a file this tool did not write.

    --gt PAGES.jsonl reads the pages that file lists (same format, boxes with texts) and prints
    detection precision, recall and hmean (IoU >= 0.5, one-to-one) and end-to-end word
    accuracy; --misreads adds one line per missed, extra and misread box. Unreadable pages count
    as pages with no box.
    """
    given = tuple(a for a in (*inputs, list_file, gt) if a is not None and a != "-")
    engines = [default_engine("det", det), None if no_cls else default_engine("cls", cls),
               default_engine("rec", rec)]
    if output is not None:
        check_output(output, given, [e for e in engines if e is not None], overwrite)
    if gt is not None:
        src, gt_pages = gt_inputs(gt, bool(inputs or list_file or root))
    else:
        # stdin / --list are read lazily by gather_inputs: here read whole (bounded, MAX_LISTED)
        src = gather_inputs(inputs, list_file, None, root).materialize()
    if quiet:
        progress = False
    with contextlib.ExitStack() as stack:
        out = sys.stdout
        if output is not None:
            tmp = stack.enter_context(outputs.staged_new_file(output, overwrite, "crnn-ocr"))
            out = stack.enter_context(open(tmp, "w", encoding="utf-8", newline="\n"))
        stage = None
        if draw is not None:
            stage = stack.enter_context(outputs.StagedDir(draw, DRAWINGS, overwrite, "crnn-ocr",
                                                          what="--draw"))
        ray = None if executor == "local" else {"ray_address": ray_address, "actors": actors,
                                                "cpus_per_actor": cpus_per_actor}
        args = {"det": engines[0], "cls": engines[1], "rec": engines[2], "threads": threads,
                "backend": backend, "device": device, "text_score": text_score,
                "rec_batching": rec_batching, "engine_threads": engine_threads,
                "batch_size": rec_batchsize, "precision": precision}
        done, bad, boxes, wall, times, records = _run(src, args, group_pages, out, stage,
                                                      progress, quiet, gt is not None, ray)
    if bad > MAX_REPORTED and not quiet:
        click.echo(f"... and {bad - MAX_REPORTED} more bad page(s)", err=True)
    if gt is not None:
        for line in score_run(records, gt_pages, metric, misreads):
            click.echo(line, err=True)
    if not quiet:
        rate = f"{done / wall:.2f} pages/s, {boxes / wall:.1f} boxes/s" if wall > 0 else ""
        click.echo(f"read {done} page(s), {boxes} box(es), skipped {bad} bad; {rate}; time in "
                   f"{times.summary()}" + (f"; wrote {output}" if output is not None else ""),
                   err=True)


@contextlib.contextmanager
def _rows(paths, args, group_pages, ray, quiet):
    """``(rows, times)``: the page rows ``(k, item, record, error)`` in input order, locally
    (:meth:`OCR.iter`) or on Ray (:func:`pipeline.pages.on_ray.ocr_on_ray`)."""
    from crnn_deploy.pipeline.pages.ocr import OCR
    from crnn_deploy.pipeline.pages.stages import StageTimes

    if ray is not None:
        from crnn_deploy.pipeline.pages.on_ray import ocr_on_ray

        times = StageTimes()
        yield ocr_on_ray(paths, args, group_pages=group_pages, quiet=quiet, times=times, **ray), times
        return
    with OCR(group_pages=group_pages, **args) as ocr:
        yield ocr.iter(paths), ocr.times


def _run(src, args, group_pages, out, stage, progress, quiet, keep=False, ray=None):
    """Run the pages; write each record to ``out`` and its drawing into ``stage``. Returns
    ``(done, bad, boxes, wall_s, times, records or None)``.

    Raises:
        UserError: no page could be read.
    """
    from tqdm import tqdm

    from crnn_deploy.pipeline.pages.run import load_page

    done = bad = boxes = 0
    first_bad, records = None, [] if keep else None
    with _rows(src.paths, args, group_pages, ray, quiet) as (rows, times), \
            tqdm(total=len(src.paths), unit="page", desc="pages", file=sys.stderr,
                 disable=None if progress is None else not progress, leave=False) as bar:
        start = time.perf_counter()
        for k, _, record, why in rows:
            bar.update(1)
            name = src.names[k]
            if why is not None:
                bad += 1
                first_bad = first_bad or f"{name}: {why}"
                if bad <= MAX_REPORTED and not quiet:
                    tqdm.write(f"skipped {name}: {why}", file=sys.stderr)
                if keep:
                    records.append(None)
                continue
            record["page"] = name
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            if stage is not None:
                save_drawing(stage, k, load_page(src.paths[k]), record)
            if keep:
                records.append(record)
            done += 1
            boxes += len(record["boxes"])
        wall = time.perf_counter() - start
        if done == 0:
            raise UserError(f"no page could be read ({bad} bad; first: {first_bad})")
        out.flush()
    return done, bad, boxes, wall, times, records


if __name__ == "__main__":  # pragma: no cover
    main()
