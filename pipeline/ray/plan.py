"""The Ray Data plan of the Ray path: read tasks -> engine actors, and the DataContext settings.

:func:`build_dataset` returns the lazy ``Dataset`` whose rows are predictions (the caller adds
the Parquet write). Two operators, kept apart on purpose:

* ``MapBatches(_read_block)``: CPU tasks (``cpus_per_reader`` each) reading, decoding and
  preprocessing one planned range (:func:`pipeline.ray.read.read_range`) into one block;
* ``MapBatches(EngineActor)``: the actor pool (:class:`pipeline.ray.engine.EngineActor`).

Ray Data fuses a task map into the actor map that follows it when their remote arguments are
the same, and the actors would then read and decode as well, one block after the other, between
their inference calls (measured: 0.46x of the local path with one actor). The read tasks state
the memory they need (:func:`read_memory`: Ray's ``memory`` resource, which also keeps a node
from running more read tasks than its memory holds), the actors do not, and operators with
different remote arguments are never fused, so reading runs in its own tasks beside the actors.
``tests/pipeline/ray/test_executor.py`` checks the physical plan, should a Ray release change that
rule. (Ray Data's own ``ray_remote_args_fn``, which also prevents fusion, is deprecated.)
"""
from __future__ import annotations

import json
import math

from crnn_deploy.pipeline.ray.engine import EngineActor
from crnn_deploy.pipeline.ray.read import read_range

#: Rows handed to one engine actor call (split there into engine batches): small, so that the
#: last calls of a run spread over every actor (measured with ``crnn-bench ray``).
CALL_ROWS = 64
#: Memory of a read task besides its block: decoding, the LMDB reader, the Python worker with
#: Ray Data loaded (bytes; Ray Data measured up to 125 MiB per read worker, whatever the block).
READ_BASE_MEMORY = 160 << 20
#: Read ranges wanted per engine actor when the range size is derived (:func:`balance_ranges`)
#: and the smallest range that derivation goes down to (samples).
RANGES_PER_ACTOR = 8
MIN_RANGE = 64


def range_rows(task: dict) -> int:
    """Samples of one planned range (:mod:`pipeline.ray.read`)."""
    if task["kind"] == "lmdb":
        return int(task["stop"]) - int(task["start"])
    return len(json.loads(task["paths"]))


def balance_ranges(ranges: list[dict], actors: int) -> list[dict]:
    """Split the planned ranges so that there are about :data:`RANGES_PER_ACTOR` per engine
    actor (never below :data:`MIN_RANGE` samples): with few samples, large ranges leave an actor
    waiting for its first block and another idle at the end (3,000 IIIT5K words are 8 ranges
    of 512 at most). Large runs keep their ranges. Order and content are unchanged."""
    total = sum(range_rows(r) for r in ranges)
    size = max(MIN_RANGE, math.ceil(total / (RANGES_PER_ACTOR * max(1, actors))))
    out: list[dict] = []
    for r in ranges:
        if range_rows(r) <= size:
            out.append(r)
        elif r["kind"] == "lmdb":
            out.extend(dict(r, start=s, stop=min(s + size, int(r["stop"])))
                       for s in range(int(r["start"]), int(r["stop"]), size))
        else:
            paths = json.loads(r["paths"])
            out.extend(dict(r, start=part[0][0], stop=part[-1][0] + 1, paths=json.dumps(part))
                       for part in (paths[k:k + size] for k in range(0, len(paths), size)))
    return out


def read_memory(range_size: int, spec) -> int:
    """Ray ``memory`` (bytes) of one read task: three blocks of ``range_size`` float32 inputs of
    the spec (the list being stacked, the stacked array, the serialized copy) plus
    :data:`READ_BASE_MEMORY`. 512 nano-ocr inputs (1x32x128): 3 x 8 MiB + 160 MiB = 184 MiB."""
    return 3 * range_size * 4 * math.prod(spec.input_shape) + READ_BASE_MEMORY


def build_dataset(ranges: list[dict], spec, engine: str, *, backend: str | None, device: str,
                  options: dict | None, batch: int | None, actors: int, cpus_per_actor: float,
                  gpus_per_actor: float, resources: dict | None, cpus_per_reader: float,
                  strict: bool, call_rows: int = CALL_ROWS):
    """The lazy ``ray.data.Dataset`` of prediction rows (schema: :func:`pipeline.ray.engine.schema`)
    for the planned ``ranges`` (:mod:`pipeline.ray.read`); arguments as :func:`pipeline.ray.executor.run`.
    Needs an initialized Ray. Nothing runs until the dataset is consumed."""
    import ray
    import ray.data

    ds = ray.data.from_items(ranges, override_num_blocks=len(ranges))
    ds = ds.map_batches(_read_block, batch_size=1, batch_format="numpy",
                        fn_kwargs={"spec": spec, "strict": strict},
                        num_cpus=cpus_per_reader, memory=read_memory(max(map(range_rows, ranges)), spec))
    return ds.map_batches(
        EngineActor, batch_size=call_rows, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpus_per_actor, num_gpus=gpus_per_actor or None, resources=resources or None,
        fn_constructor_kwargs={"engine": str(engine), "backend": backend, "device": device,
                               "options": options or {}, "batch": batch,
                               "cpus": cpus_per_actor})


def _read_block(batch: dict, spec, strict: bool) -> dict:
    """Read task: one planned range (a 1-row batch of :mod:`pipeline.ray.read` plans) -> a block."""
    task = {k: (v[0].item() if hasattr(v[0], "item") else v[0]) for k, v in batch.items()}
    return read_range(task, spec, strict)


def configure(progress: bool, quiet: bool = False) -> None:
    """Ray Data's settings for this driver: progress bars and INFO lines only when asked for;
    ``quiet``: the ``ray`` and ``ray.data`` loggers at ERROR."""
    import logging

    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = progress
    ctx.print_on_execution_start = progress
    level = logging.ERROR if quiet else logging.INFO if progress else logging.WARNING
    logging.getLogger("ray.data").setLevel(level)
    if quiet:
        logging.getLogger("ray").setLevel(logging.ERROR)
