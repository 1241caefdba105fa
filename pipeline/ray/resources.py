"""Fitting a Ray run to its cluster: defaults derived from it, a request it cannot meet refused
before anything starts, and a bounded wait for the first result.

Why: Ray queues a task or actor whose resources no node can give, silently and forever. A
request of ``--actors 2 --cpus-per-actor 1`` on a 2-CPU machine leaves no CPU for the read
tasks, so the run used to hang without a word until it was killed.

* :func:`plan_resources` derives what was not given from the alive nodes' resources
  (``ray.nodes()``, the per-node view behind ``ray.cluster_resources()``) and checks the
  request: every engine actor must fit on some node (CPUs, GPUs, custom resources), and beside
  them one read task (``cpus_per_reader``, fractional CPUs allowed). A request that does not
  fit is a :class:`common.errors.UserError` saying what was asked and what each node has.
* :class:`FirstResult` bounds the wait for the first predictions file (any other cause: a
  cluster busy with other jobs, a node lost while starting, an actor stuck loading): after
  ``timeout_s`` (``--first-result-timeout``, default :data:`FIRST_RESULT_TIMEOUT_S`) the run is
  interrupted as by Ctrl-C and fails with a message naming the resources still free.

Defaults (measured side by side with local crnn-eval by ``crnn-bench ray``,
docs/BENCHMARKS-notes.md): read tasks take :data:`READER_CPUS` (a quarter CPU: reading and
preprocessing cost ~0.45 ms of CPU per image against ~10 ms of inference); on each node the
rest goes to ``ceil(CPUs - READER_CPUS)`` engine actors sharing it equally, each running its
engine with ``ceil(cpus_per_actor)`` threads (one per actor on CPU-sized shares, the local
path's one-thread engine streams). On a heterogeneous cluster the share is that of the smallest
node, and the actor count is what fits.
"""
from __future__ import annotations

import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from crnn_deploy.common.errors import UserError

#: CPUs of one read/preprocess (and Parquet write) task when not given.
READER_CPUS = 0.25
#: Seconds to wait for the first predictions file before giving up (``--first-result-timeout``):
#: engine loading, actor start-up and the first block on a slow node included.
FIRST_RESULT_TIMEOUT_S = 600.0
_EPS = 1e-9


@dataclass(frozen=True)
class RayPlan:
    """What a Ray run asks for: ``actors`` engine actors of ``cpus_per_actor`` CPUs,
    ``gpus_per_actor`` GPUs and ``resources`` (custom, per actor) each, running their engine
    with ``engine_threads`` threads; read and write tasks of ``cpus_per_reader`` CPUs."""

    actors: int
    cpus_per_actor: float
    cpus_per_reader: float
    engine_threads: int
    gpus_per_actor: float = 0.0
    resources: dict = field(default_factory=dict)

    def describe(self) -> str:
        extra = "".join(f", {v:g} {k}" for k, v in {"GPU": self.gpus_per_actor,
                                                     **self.resources}.items() if v)
        return (f"{self.actors} engine actor(s) of {self.cpus_per_actor:g} CPU{extra} "
                f"({self.engine_threads} engine thread(s) each) + read tasks of "
                f"{self.cpus_per_reader:g} CPU")


def cluster_nodes() -> list[dict[str, float]]:
    """Total resources of every alive node of the connected Ray cluster."""
    import ray

    return [dict(n["Resources"]) for n in ray.nodes() if n.get("Alive")]


def _fits(node: dict[str, float], need: dict[str, float]) -> int:
    """How many actors of ``need`` fit in ``node`` (a large number when ``need`` is empty)."""
    counts = [math.floor(node.get(k, 0.0) / v + _EPS) for k, v in need.items() if v > 0]
    return min(counts) if counts else 1 << 30


def _capacity(nodes: list[dict[str, float]], need: dict[str, float], reader: float) -> int:
    """Most actors of ``need`` that fit on ``nodes`` with one read task of ``reader`` CPUs
    placed on the node where it costs the fewest actors (0 when the reader fits nowhere)."""
    best = 0
    for k, host in enumerate(nodes):
        if host.get("CPU", 0.0) + _EPS < reader:
            continue
        left = dict(host, CPU=host.get("CPU", 0.0) - reader)
        best = max(best, sum(_fits(left if j == k else n, need) for j, n in enumerate(nodes)))
    return best


def _has(nodes: list[dict[str, float]], keys) -> str:
    return "; ".join(f"node {k + 1}: " + ", ".join(f"{n.get(r, 0.0):g} {r}" for r in keys)
                     for k, n in enumerate(nodes)) or "no alive node"


def plan_resources(nodes: list[dict[str, float]], actors: int | None = None,
                   cpus_per_actor: float | None = None, gpus_per_actor: float = 0.0,
                   resources: dict | None = None, cpus_per_reader: float | None = None,
                   threads: int | None = None) -> RayPlan:
    """Fill in the defaults from ``nodes`` (module docstring) and check that the request fits.

    Args:
        nodes: total resources per alive node (:func:`cluster_nodes`), e.g. ``[{"CPU": 2}]``.
        actors, cpus_per_actor, gpus_per_actor, resources, cpus_per_reader: the request; None
            means "derive from the cluster".
        threads: engine threads per actor (default ``ceil(cpus_per_actor)``).

    Raises:
        UserError: the actors, or one read task beside them, do not fit on the nodes; the
            message gives the request and every node's resources.
    """
    resources = dict(resources or {})
    reader = READER_CPUS if cpus_per_reader is None else float(cpus_per_reader)
    cpus = [n.get("CPU", 0.0) for n in nodes]
    if cpus_per_actor is None:
        small = min(cpus, default=0.0) - reader
        share = small / math.ceil(small - _EPS) if small > _EPS else 0.0
        if actors is not None:  # the given actors share the cluster's CPUs
            share = max(share, min(max(cpus, default=0.0) - reader, (sum(cpus) - reader) / actors))
        cpus_per_actor = math.floor(share * 1000) / 1000 if share > 0 else 1.0
    need = {"CPU": float(cpus_per_actor), "GPU": float(gpus_per_actor or 0.0), **resources}
    room = _capacity(nodes, need, reader)
    if actors is None:
        actors = max(1, room)
    plan = RayPlan(int(actors), float(cpus_per_actor), reader,
                   int(threads or max(1, math.ceil(cpus_per_actor - _EPS))),
                   float(gpus_per_actor or 0.0), resources)
    if plan.actors > room:
        keys = ["CPU", *(["GPU"] if plan.gpus_per_actor else []), *resources]
        why = ("no node can hold one engine actor" if room == 0 and all(
            _fits(n, need) == 0 for n in nodes) else f"at most {room} fit beside one read task")
        raise UserError(f"the Ray cluster cannot run this request: asked for {plan.describe()}; "
                        f"the cluster has {_has(nodes, keys)}; {why}. Lower --actors or "
                        "--cpus-per-actor (fractional CPUs are allowed), or add nodes")
    return plan


class FirstResult:
    """``with FirstResult(folder, timeout_s, describe):`` -- interrupt the main thread (as
    Ctrl-C does) when no file has appeared in ``folder`` after ``timeout_s`` seconds, and turn
    that interruption into a UserError naming the wait and ``describe()`` (what is still free).
    Does nothing outside the main thread (signals go to the main thread only) or with
    ``timeout_s`` None or <= 0."""

    def __init__(self, folder: Path, timeout_s: float | None, describe=lambda: ""):
        self.folder, self.timeout_s, self.describe = Path(folder), timeout_s, describe
        self.fired = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def _watch(self, main_ident: int) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not self._done.wait(0.2):
            if self.folder.is_dir() and any(os.scandir(self.folder)):
                return
            if time.monotonic() > deadline:
                self.fired = True
                signal.pthread_kill(main_ident, signal.SIGINT)
                return

    def __enter__(self) -> FirstResult:
        if self.timeout_s and self.timeout_s > 0 and \
                threading.current_thread() is threading.main_thread():
            self._thread = threading.Thread(target=self._watch, args=(threading.get_ident(),),
                                            name="crnn-first-result", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if self.fired and exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            raise UserError(f"no result from Ray after {self.timeout_s:g} s "
                            f"(--first-result-timeout); {self.describe()}") from None
