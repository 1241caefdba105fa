"""The ``--executor ray`` options of ``crnn-eval`` and ``crnn-recognize`` and their bodies.

Kept apart from :mod:`pipeline.eval_cli` and :mod:`pipeline.recognize_cli` so the local
commands stay as they are: both add :func:`ray_options` and hand over to :func:`eval_on_ray` /
:func:`recognize_on_ray` when ``--executor ray``.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import click

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.options import outcome_lines
from crnn_deploy.postprocess.metric_option import echo_notes

_OPTIONS = [
    click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
                 show_default=True,
                 help="local: this machine; ray: Ray Data on a local instance or a cluster "
                      "(crnn-eval: --lmdb may then be a glob of shards; needs --output)."),
    click.option("--ray-address", default=None,
                 help="Ray cluster to join: 'auto' (ray start --head on this machine), "
                      "host:6379 or ray://host:10001 [default: start Ray inside this process]."),
    click.option("--actors", type=click.IntRange(min=1), default=None,
                 help="Engine actors [default: what fits the cluster beside one read task; "
                      "pipeline.ray.resources]."),
    click.option("--cpus-per-actor", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="CPUs per engine actor (fractional allowed); its engine threads are "
                      "--threads, else this rounded up [default: each node's CPUs minus "
                      "0.25 for the read tasks, shared by ceil(that) actors]."),
    click.option("--cpus-per-reader", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="CPUs per read/preprocess task and Parquet write task [default: 0.25]."),
    click.option("--first-result-timeout", type=click.FloatRange(min=0), default=600.0,
                 show_default=True,
                 help="Seconds to wait for the first predictions (engine loading and actor "
                      "start-up included) before failing with what is free; 0: no limit."),
    click.option("--gpus-per-actor", type=click.FloatRange(min=0), default=0.0, show_default=True,
                 help="GPUs per engine actor (TensorRT, ONNX Runtime CUDA with --device GPU)."),
    click.option("--resources", "ray_resources", multiple=True, metavar="NAME=N",
                 help="Custom Ray resource per engine actor, e.g. NPU=1 for Ascend (repeatable)."),
]


def ray_options(func):
    """Add --executor, --ray-address, --actors, --cpus-per-actor, --cpus-per-reader,
    --first-result-timeout, --gpus-per-actor, --resources to a command (crnn-eval and crnn-recognize have --overwrite themselves)."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def parse_resources(items) -> dict[str, float]:
    """``("NPU=1", "accel=0.5")`` -> ``{"NPU": 1.0, "accel": 0.5}``. Raises UserError."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name or float(value) <= 0:
                raise ValueError
            out[name] = float(value)
        except ValueError:
            raise UserError(f"--resources {item!r}: expected NAME=N with N > 0 (e.g. NPU=1)") from None
    return out


def eval_on_ray(lmdb_path: list, engine, backend, device, options, batchsize, limit, strict, output,
                ray_address, actors, cpus_per_actor, gpus_per_actor, ray_resources, overwrite,
                cpus_per_reader=None, first_result_timeout=None, quiet=False, gt=None, root=None,
                metric="latin"):
    """``crnn-eval --executor ray``: :func:`pipeline.ray.executor.run` on the LMDB shards
    ``lmdb_path``, or on the GT file ``gt`` (images relative to ``root``, default its folder),
    then the metrics lines (under ``metric``, :data:`postprocess.metrics.METRICS`).

    Prints the metrics of crnn-eval (when the shards carry labels, or for a GT file: every
    labeled line, an unreadable image counted as wrong), the skipped samples by shard and key,
    and end-to-end images/s (wall clock of the Ray job, Ray's start-up apart).
    """
    from crnn_deploy.pipeline.ray.executor import run

    if output is None:
        raise UserError("--executor ray needs --output: a folder (on storage every node can "
                        "write) for the predictions Parquet files and the reports")
    res = run(engine, output, lmdb=[str(p) for p in lmdb_path] if gt is None else None, gt=gt,
              root=root, backend=backend, device=device,
              options=options, batch=batchsize, address=ray_address, actors=actors,
              cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor,
              resources=parse_resources(ray_resources), limit=limit, strict=strict,
              overwrite=overwrite, quiet=quiet,
              log=None if quiet else (lambda m: click.echo(m, err=True)),
              cpus_per_reader=cpus_per_reader, first_result_timeout=first_result_timeout,
              metric=metric)
    agg = res.aggregate
    for line in outcome_lines(agg.metrics, f"predicted {agg.predicted} samples (no labels: "
                              "nothing to score)", agg.skipped, agg.skipped_keys):
        click.echo(line)
    echo_notes(agg.metrics)
    click.echo(f"end-to-end: {res.images_per_s:.1f} images/s ({agg.predicted} images in "
               f"{res.wall_s:.2f} s, {res.actors} actor(s) on {len(agg.nodes)} node(s); Ray "
               f"start-up {res.startup_s:.1f} s not included)")
    click.echo(f"wrote {Path(output)}/predictions/*.parquet, summary.json"
               + (", accuracy.json, errors.tsv" if agg.metrics is not None else ""))


class RayRows:
    """What :func:`recognize_on_ray` yields: ``rows``, an iterator of ``(path, text, confidence,
    error)`` in input order (``error`` set and ``text``/``confidence`` None for a bad image),
    and ``result``, the :class:`pipeline.ray.executor.RayRunResult` (timings, actors)."""

    def __init__(self, rows, result):
        self.rows, self.result = rows, result

    def report(self, line: str) -> None:
        """A line on stderr (a skipped image)."""
        click.echo(line, err=True)


def write_list(paths: list[str], list_file: Path) -> None:
    """Write ``paths`` as absolute paths, one per line, escaped by
    :func:`common.names.escape_name` (any file name: tabs, line breaks, bytes that are not
    UTF-8), for ``pipeline.ray.executor.run(image_list=)``: line k is ``paths[k - 1]``, so a row's
    ``index`` gives its input position."""
    from crnn_deploy.common.names import escape_name

    with open(list_file, "w", encoding="utf-8", newline="\n") as f:
        for path in paths:
            f.write(escape_name(os.path.abspath(path)) + "\n")


@contextlib.contextmanager
def recognize_on_ray(paths: list[str], engine, output: Path | None, *, backend, device, options,
                     batchsize, strict, progress, ray_address, actors, cpus_per_actor,
                     gpus_per_actor, ray_resources, log, cpus_per_reader=None,
                     first_result_timeout=None, quiet=False):
    """``crnn-recognize --executor ray``: run ``paths`` through :func:`pipeline.ray.executor.run`
    and yield a :class:`RayRows` (rows in input order), as the local recognizer would.

    The image list and Ray's Parquet output go to a hidden work folder, removed at the end:
    beside ``output`` (``.NAME.tmp-PID-*``, so on the storage the nodes share), or, writing to
    stdout with a Ray started here, a system temporary folder. Rows are read back from the
    Parquet files (columns ``index, text, confidence, error``) and sorted by input position on
    the driver (memory: a few dozen bytes per image).

    Raises:
        UserError: ``ray_address`` without ``output`` (the nodes need a shared folder), a path
            the list cannot carry, a bad image with ``strict`` (named by its path), and the
            errors of :func:`pipeline.ray.executor.run`.
    """
    from crnn_deploy.common import outputs
    from crnn_deploy.pipeline.ray.executor import run

    if output is None and ray_address:
        raise UserError("--executor ray with --ray-address needs --output (preds.tsv or "
                        ".jsonl on storage every node can read): the image list and the "
                        "predictions pass through a hidden folder beside it")
    if output is not None:
        outputs.cleanup_stale(output)
        work = outputs.temp_path(Path(output).resolve(), "tmp")
        work.mkdir(parents=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="crnn-recognize-ray-"))
    try:
        list_file = work / "list.txt"
        write_list(paths, list_file)
        try:
            res = run(engine, work / "pred", image_list=list_file, backend=backend,
                      device=device, options=options, batch=batchsize, address=ray_address,
                      actors=actors, cpus_per_actor=cpus_per_actor,
                      gpus_per_actor=gpus_per_actor, resources=parse_resources(ray_resources),
                      strict=strict, progress=bool(progress), quiet=quiet, log=log,
                      cpus_per_reader=cpus_per_reader, first_result_timeout=first_result_timeout)
        except UserError as err:  # name the image, not the hidden list file
            raise UserError(err.message.replace(f"{list_file}: ", "")) from None
        yield RayRows(_ordered_rows(work / "pred" / "predictions", paths), res)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _ordered_rows(folder: Path, paths: list[str]):
    import pyarrow.parquet as pq

    from crnn_deploy.common.names import escape_name, unescape_name

    table = pq.read_table(folder, columns=["index", "text", "confidence", "error"])
    table = table.sort_by("index").to_pydict()
    if table["index"] != list(range(1, len(paths) + 1)):
        raise RuntimeError(f"Ray returned {len(table['index'])} rows for {len(paths)} images")
    for k, path in enumerate(paths):
        error = table["error"][k]
        if error is not None:
            full = escape_name(os.path.abspath(path))  # errors are escaped in the Parquet
            error = error[len(full) + 2:] if error.startswith(f"{full}: ") else error
            yield path, None, None, os.fsdecode(unescape_name(error))
        else:
            yield path, table["text"][k], table["confidence"][k], None
