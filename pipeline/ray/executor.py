"""The recognition pipeline on Ray Data: LMDB shards, image lists or a GT file -> predictions
Parquet + metrics.

Stages (Ray Data streams blocks between them with backpressure)::

    ranges (driver)  ->  read + decode + preprocess   (CPU tasks, pipeline.ray.read.read_range)
                     ->  engine + greedy CTC + conf.  (actors, pipeline.ray.engine.EngineActor;
                                                       + the spec's second pass, if any)
                     ->  write Parquet                (tasks, Dataset.write_parquet)
    metrics          <-  the written predictions      (driver, pipeline.ray.metrics.aggregate)

Ray is joined or started by :func:`connect`: ``address=None`` starts a new local instance inside
this process (stopped at the end; never a cluster that happens to run on this machine, which
plain ``ray.init()`` would join), ``"auto"`` joins the cluster started with ``ray start --head``
on this machine, ``"host:6379"`` / ``"ray://host:10001"`` a given one. Shards, engine and output
must be at paths every node can read (the output: write) -- a shared file system.

Output folder (built in a hidden ``.NAME.partial-PID-*`` beside it and published whole by
:class:`common.outputs.StagedDir`, so an interrupted run never leaves a folder that looks finished)::

    NAME/predictions/*.parquet   shard, index, source, label, text, confidence, error, node
    NAME/summary.json            counts, timings (s, images/s), actors, nodes, engine
    NAME/accuracy.json, errors.tsv   when labels exist (postprocess.metrics, as crnn-eval)

Fault tolerance is Ray Data's default: a task lost with its worker or node is retried (Ray's
``max_retries=3`` for system failures), a lost engine actor is restarted and its batch resubmitted
(Ray Data sets ``max_restarts=-1``, ``max_task_retries=-1`` for actor pools); a retried write task
rewrites the same file names, so a sample is written once. Engine actors are placed with Ray
Data's ``SPREAD`` strategy (one per node first). User errors (a bad sample with ``strict``, an
unloadable engine) are not retried: they fail the run with the sample's shard and key.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from crnn_deploy.common import outputs
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import atomic_write_json
from crnn_deploy.pipeline.ray.engine import check_engine_file, schema
from crnn_deploy.pipeline.ray.metrics import Aggregate, aggregate
from crnn_deploy.pipeline.ray.plan import CALL_ROWS, balance_ranges, build_dataset, configure
from crnn_deploy.pipeline.ray.read import (
    DEFAULT_RANGE,
    expand_inputs,
    plan_gt_ranges,
    plan_list_ranges,
    plan_lmdb_ranges,
)
from crnn_deploy.pipeline.ray.resources import (
    FIRST_RESULT_TIMEOUT_S,
    FirstResult,
    cluster_nodes,
    plan_resources,
)
from crnn_deploy.postprocess.metrics import write_report

MARKER = {"executor": "ray", "tool": "crnn-deploy"}


@dataclass
class RayRunResult:
    """What :func:`run` produced. ``startup_s``: joining/starting Ray (s); ``wall_s``: from the
    first read task to the last written file (s); ``aggregate``: counts and metrics."""

    output: Path
    aggregate: Aggregate
    startup_s: float
    wall_s: float
    actors: int
    summary: dict = field(default_factory=dict)

    @property
    def images_per_s(self) -> float:
        """End-to-end throughput without Ray's start-up: predicted rows per wall second."""
        return self.aggregate.predicted / self.wall_s if self.wall_s > 0 else 0.0


def connect(address: str | None = None, num_cpus: int | None = None,
            quiet: bool = False) -> tuple[bool, float]:
    """Join or start Ray; returns (started here, seconds taken). Reuses an initialized Ray.
    ``quiet``: Ray's own log lines at ERROR only (else WARNING).

    Raises:
        UserError: ``ray`` is not installed, or the cluster cannot be reached.
    """
    try:
        import ray
    except ImportError:
        raise UserError("the Ray executor needs Ray Data: pip install 'crnn-deploy[ray]'") from None
    t0 = time.perf_counter()
    if ray.is_initialized():
        return False, 0.0
    kwargs = {"include_dashboard": False, "logging_level": "ERROR" if quiet else "WARNING",
              "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:  # "local": a new instance, even when `ray start` (or a test cluster) runs here
            ray.init(address="local", num_cpus=num_cpus, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(f"cannot join Ray at {address or 'a new local instance'}: {exc}") from None
    return True, time.perf_counter() - t0


def _engine_spec(engine: Path, backend: str | None):
    """The model spec, read on the driver without running the engine (sidecar, ONNX metadata,
    else the backend's own reader: OpenVINO's read_model, no compile)."""
    from crnn_deploy.models.specs import read_sidecar, sidecar_path
    from crnn_deploy.runtime.engine_spec import onnx_spec_text, spec_from_text
    from crnn_deploy.runtime.registry import backend_for, open_backend

    if sidecar_path(engine).is_file():
        return read_sidecar(engine)
    if engine.suffix.lower() == ".onnx":
        return spec_from_text(onnx_spec_text(engine), engine)
    be = open_backend(engine, backend_for(engine, backend))
    try:
        return be.load().spec
    finally:
        be.close()


_USER_ERROR_LINE = re.compile(r"(?m)^\s*[\w.]*(?:UserError|SampleError): (.+)$")


def _user_error(exc: BaseException) -> UserError | None:
    """The UserError behind a Ray exception. Ray wraps task errors (RayTaskError, then Ray
    Data's UserCodeException), and Ray Data keeps the original only as text: look for it in
    the exception chain first, then for its ``...UserError: message`` line."""
    seen, first = set(), exc
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, UserError):
            return UserError(exc.message)
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    match = _USER_ERROR_LINE.search(str(first))
    return UserError(match.group(1).strip()) if match else None


def _plan(lmdb, image_list, gt, root, range_size: int, limit: int | None):
    """(inputs, read ranges, image root of a GT file or None) of the one input given."""
    if sum(x is not None for x in (lmdb, image_list, gt)) != 1:
        raise UserError("give one of: LMDB shard(s), an image list, a GT file")
    if lmdb is not None:
        shards = expand_inputs(lmdb)
        return shards, plan_lmdb_ranges(shards, range_size, limit), None
    if image_list is not None:
        return [Path(image_list)], plan_list_ranges(image_list, range_size, limit), None
    ranges = plan_gt_ranges(gt, root, range_size, limit)
    return [Path(gt)], ranges, Path(root) if root is not None else Path(gt).parent


def run(engine: str | Path, output: str | Path, lmdb: str | Path | list | None = None,
        image_list: str | Path | None = None, *, gt: str | Path | None = None,
        root: str | Path | None = None, backend: str | None = None,
        device: str = "CPU", options: dict | None = None, batch: int | None = None,
        address: str | None = None, actors: int | None = None,
        cpus_per_actor: float | None = None, gpus_per_actor: float = 0.0,
        resources: dict | None = None, cpus_per_reader: float | None = None,
        range_size: int | None = None, call_rows: int = CALL_ROWS, limit: int | None = None,
        strict: bool = False,
        overwrite: bool = False, progress: bool = False, quiet: bool = False,
        log=None, first_result_timeout: float | None = FIRST_RESULT_TIMEOUT_S,
        metric: str = "latin") -> RayRunResult:
    """Run preprocess -> engine -> decode -> Parquet on Ray Data and score the predictions.

    Args:
        engine: engine file (.onnx, .xml, .engine/.plan, .om), readable on every node.
        output: folder to create (see the module docstring); must not exist unless
            ``overwrite`` and written by this function before.
        lmdb: LMDB shard path(s) or glob pattern(s) (clovaai layout; ``label-`` keys optional).
        image_list: instead of ``lmdb``, a text file of image paths (one per line).
        gt, root: instead of ``lmdb``, a GT file (``relpath<TAB>label``, paths relative to
            ``root``, default its folder; the rules of the local ``crnn-eval --gt``): every
            labeled line is scored, an image that cannot be read or decoded as wrong.
        backend, device, options, batch: as ``crnn-eval`` (``runtime.registry.open_backend``).
        address: None (local Ray in this process), ``"auto"`` or a cluster address.
        actors, cpus_per_actor: engine actors and the CPUs of each (None: derived from the
            cluster, :func:`pipeline.ray.resources.plan_resources`); the engine threads are
            ``options["threads"]``, else ``ceil(cpus_per_actor)``, set explicitly.
        gpus_per_actor, resources: other Ray resources of one engine actor (e.g.
            ``{"NPU": 1}`` for Ascend).
        cpus_per_reader: CPUs of one read/preprocess task and of a write task (None:
            :data:`pipeline.ray.resources.READER_CPUS`; fractional allowed).
        first_result_timeout: seconds to wait for the first predictions file (None or 0: no
            limit; main thread only), :class:`pipeline.ray.resources.FirstResult`.
        range_size: samples per read task (None: :data:`~pipeline.ray.read.DEFAULT_RANGE`,
            split further for small runs by :func:`pipeline.ray.plan.balance_ranges`);
            call_rows: rows per engine actor call (split there into engine batches);
            limit: first N samples only; strict: fail on the first bad sample instead of
            skipping it (reported by shard and key).
        progress: Ray Data's progress bars and execution log lines on stderr.
        quiet: Ray's and Ray Data's log lines at ERROR only (no progress bars either).
        log: callable for progress lines (default: nothing).
        metric: how labels are compared (:data:`postprocess.metrics.METRICS`).

    Returns:
        RayRunResult (images/s exclude Ray's start-up, reported apart as ``startup_s``).

    Raises:
        UserError: bad input (no shard, not an LMDB, missing engine, existing output, a bad
            sample with ``strict``, no sample predicted), no Ray installed / reachable, a
            request the cluster cannot meet (said before any work), no first result within
            ``first_result_timeout``.
    """
    log = log or (lambda msg: None)
    engine, output = Path(engine), Path(output)
    check_engine_file(engine)
    shards, ranges, image_root = _plan(lmdb, image_list, gt, root, range_size or DEFAULT_RANGE, limit)
    if not ranges:
        raise UserError(f"no sample in {', '.join(map(str, shards))}")
    spec = _engine_spec(engine, backend)
    if spec.kind != "recognizer":
        raise UserError(f"engine {engine} holds a {spec.kind} ({spec.name!r}); a recognizer is "
                        "needed here")
    outputs.check_not_input(output, [("engine", engine), *(("input", x) for x in shards)])
    if image_root is not None:  # only the listed images are read: a folder beside them is fine
        outputs.check_not_input(output, [("image root", image_root)], allow_inside=True)
    staged = outputs.StagedDir(output, outputs.RAY_PREDICTIONS, overwrite, "crnn-eval --executor ray")
    tmp = staged.open()
    started, startup_s = False, 0.0
    try:  # on any exit: stop the Ray instance started here, then drop the stage if still there
        try:
            started, startup_s = connect(address, quiet=quiet)
            import ray

            plan = plan_resources(cluster_nodes(), actors, cpus_per_actor, gpus_per_actor,
                                  resources, cpus_per_reader, (options or {}).get("threads"))
            if range_size is None:
                ranges = balance_ranges(ranges, plan.actors)
            log(f"ray: {len(ranges)} read tasks over {len(shards)} input(s), {plan.describe()} "
                f"(start-up {startup_s:.1f} s)")
            configure(progress and not quiet, quiet)
            t0 = time.perf_counter()
            ds = build_dataset(ranges, spec, engine, backend=backend, device=device,
                               options={**(options or {}), "threads": plan.engine_threads},
                               batch=batch, actors=plan.actors,
                               cpus_per_actor=plan.cpus_per_actor,
                               gpus_per_actor=plan.gpus_per_actor, resources=plan.resources,
                               cpus_per_reader=plan.cpus_per_reader, call_rows=call_rows,
                               strict=strict)
            free = lambda: (f"asked for {plan.describe()}; free now: "  # noqa: E731
                            f"{_free(ray.available_resources())}")
            with FirstResult(tmp / "predictions", first_result_timeout, free):
                ds.write_parquet(str(tmp / "predictions"), schema=schema(),
                                 ray_remote_args={"num_cpus": plan.cpus_per_reader})
            wall_s = time.perf_counter() - t0
        except Exception as exc:
            err = _user_error(exc)
            if err is not None:
                raise err from None
            raise
        result = _finish(tmp, output, engine, spec, shards, plan, startup_s, wall_s, address,
                         metric)
        staged.commit()
        return result
    finally:
        _shutdown(started)
        staged.discard()


def _shutdown(started: bool) -> None:
    if started:
        import ray

        ray.shutdown()


def _free(available: dict) -> str:
    return ", ".join(f"{available.get(k, 0.0):g} {k}" for k in ("CPU", "GPU", *sorted(
        k for k in available if k not in ("CPU", "GPU", "memory", "object_store_memory")
        and not k.startswith("node:") and not k.startswith("accelerator_type"))))


def _finish(tmp: Path, output: Path, engine: Path, spec, shards, plan, startup_s, wall_s,
            address, metric="latin") -> RayRunResult:
    agg = aggregate(tmp / "predictions", metric)
    if agg.predicted == 0:
        raise UserError(f"no sample could be predicted ({agg.skipped} bad): "
                        f"{'; '.join(agg.skipped_keys[:3])}")
    summary = {**MARKER, "engine": str(engine), "spec": spec.name, "inputs": [str(s) for s in shards],
               "rows": agg.rows, "predicted": agg.predicted, "skipped": agg.skipped,
               "skipped_keys": agg.skipped_keys, "actors": plan.actors, "nodes": agg.nodes,
               "cpus_per_actor": plan.cpus_per_actor, "gpus_per_actor": plan.gpus_per_actor,
               "cpus_per_reader": plan.cpus_per_reader, "engine_threads": plan.engine_threads,
               "resources": plan.resources, "ray_address": address or "local",
               "startup_s": round(startup_s, 3), "wall_s": round(wall_s, 3),
               "end_to_end_images_per_s": round(agg.predicted / wall_s, 3) if wall_s else 0.0,
               **({"metric": metric} if agg.metrics is not None else {})}
    if agg.metrics is not None:
        write_report(tmp, agg.metrics, agg.errors, alphabet=spec.alphabet,
                     extra={"skipped": agg.skipped, "errors_listed": len(agg.errors)})
    atomic_write_json(tmp / "summary.json", summary)
    return RayRunResult(output, agg, startup_s, wall_s, plan.actors, summary)
