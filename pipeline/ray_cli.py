"""The ``--executor ray`` options of ``crnn-eval`` and the command body that runs them.

Kept apart from :mod:`pipeline.eval_cli` so the local command stays as it is: ``eval_cli``
adds :func:`ray_options` and hands over to :func:`eval_on_ray` when ``--executor ray``.
"""
from __future__ import annotations

from pathlib import Path

import click

from common.errors import UserError
from postprocess.metrics import format_metrics

_OPTIONS = [
    click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
                 show_default=True,
                 help="local: this machine (worker processes); ray: Ray Data on a local "
                      "instance or a cluster (--lmdb may then be a glob of shards; needs --output)."),
    click.option("--ray-address", default=None,
                 help="Ray cluster to join: 'auto' (ray start --head on this machine), "
                      "host:6379 or ray://host:10001 [default: start Ray inside this process]."),
    click.option("--actors", type=click.IntRange(min=1), default=None,
                 help="Engine actors [default: half the cluster's CPUs / --cpus-per-actor]."),
    click.option("--cpus-per-actor", type=click.FloatRange(min=0, min_open=True), default=1.0,
                 show_default=True, help="CPUs per engine actor; also its engine threads (rounded up)."),
    click.option("--gpus-per-actor", type=click.FloatRange(min=0), default=0.0, show_default=True,
                 help="GPUs per engine actor (TensorRT, ONNX Runtime CUDA with --device GPU)."),
    click.option("--resources", "ray_resources", multiple=True, metavar="NAME=N",
                 help="Custom Ray resource per engine actor, e.g. NPU=1 for Ascend (repeatable)."),
]


def ray_options(func):
    """Add --executor, --ray-address, --actors, --cpus-per-actor, --gpus-per-actor,
    --resources to a command (crnn-eval has --overwrite itself)."""
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


def eval_on_ray(lmdb_path, engine, backend, device, options, batchsize, limit, strict, output,
                ray_address, actors, cpus_per_actor, gpus_per_actor, ray_resources, overwrite):
    """``crnn-eval --executor ray``: :func:`pipeline.ray_exec.run`, then the metrics lines.

    Prints the metrics of crnn-eval (when the shards carry labels), the skipped samples by
    shard and key, and end-to-end images/s (wall clock of the Ray job, Ray's start-up apart).
    """
    from pipeline.ray_exec import run

    if output is None:
        raise UserError("--executor ray needs --output: a folder (on storage every node can "
                        "write) for the predictions Parquet files and the reports")
    res = run(engine, output, lmdb=str(lmdb_path), backend=backend, device=device,
              options=options, batch=batchsize, address=ray_address, actors=actors,
              cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor,
              resources=parse_resources(ray_resources), limit=limit, strict=strict,
              overwrite=overwrite, log=lambda m: click.echo(m, err=True))
    agg = res.aggregate
    if agg.metrics is not None:
        for line in format_metrics(agg.metrics):
            click.echo(line)
    else:
        click.echo(f"predicted {agg.predicted} samples (no labels: nothing to score)")
    if agg.skipped:
        click.echo(f"skipped {agg.skipped} bad samples: {', '.join(agg.skipped_keys)}")
    click.echo(f"end-to-end: {res.images_per_s:.1f} images/s ({agg.predicted} images in "
               f"{res.wall_s:.2f} s, {res.actors} actor(s) on {len(agg.nodes)} node(s); Ray "
               f"start-up {res.startup_s:.1f} s not included)")
    click.echo(f"wrote {Path(output)}/predictions/*.parquet, summary.json"
               + (", accuracy.json, errors.tsv" if agg.metrics is not None else ""))
