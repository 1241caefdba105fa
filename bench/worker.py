"""One process per benchmarked variant, driven over a pipe.

Why: frameworks in one process disturb each other. Measured here (OpenVINO 2026.4, torch 2.13,
2 vCPUs): once an OpenVINO model has run in a process, PyTorch eager in that process drops from
~60 to 2-15 images/s at batch 1 (its OpenMP threads end up fighting over CPUs that OpenVINO's
pinned TBB threads claimed). A user runs one framework per process, so the bench does too: each
variant lives in its own ``spawn``-ed process (a clean interpreter), keeps its backends loaded, and
runs :func:`runtime.runner.run_loop` or :func:`pipeline.fused.evaluate` when asked. The parent
only sends commands and collects numbers, so the variants can still be interleaved in rounds.
Messages are small tuples (``("loop", batch, loops, warmup)``, ``("eval", batch, lmdb, workers,
warmup)``, ``("eval-default", batch, lmdb, warmup)``, ``("stop",)``); answers are ``("ok", result)`` or ``("error", message)``.
"""
from __future__ import annotations

import multiprocessing as mp
import traceback

from crnn_deploy.bench.variants import Variant
from crnn_deploy.common.errors import UserError


def timed_loop(be, loops: int, batch: int, warmup: int, pipelined: bool) -> tuple[dict, list]:
    """:func:`runtime.runner.run_loop` on zeros, plus every per-batch latency (ms) it recorded."""
    from crnn_deploy.runtime.runner import run_loop

    lat: list[float] = []
    s = run_loop(be, loops, batch, warmup, "zero", pipelined,
                 progress=lambda _n: lat.append(be.last_latency_ms))
    return s, lat


def _evaluate(be, pipelined: bool, lmdb: str, batch: int, workers, warmup: int) -> dict:
    from crnn_deploy.pipeline.fused import evaluate

    res = evaluate(lmdb, be, batch, workers, pipelined=pipelined, warmup=warmup)
    return {"metrics": res.metrics, "count": len(res.samples), "skipped": res.skipped,
            "images_per_s": res.images_per_s, "wall_s": res.wall_s, "summary": res.summary,
            "streams": len(getattr(be, "members", [be]))}


def _serve(conn, variant: Variant, threads: int) -> None:
    from crnn_deploy.pipeline.streams import open_engine

    backends: dict[object, object] = {}
    pipelined: dict[int, bool] = {}
    try:
        while True:
            cmd, *args = conn.recv()
            if cmd == "stop":
                break
            try:
                if cmd == "eval-default":  # the engine as crnn-eval opens it (no --threads)
                    batch, lmdb, warmup = args
                    if ("default", batch) not in backends:
                        be, piped = open_engine(variant.engine_for(batch), variant.backend,
                                                **variant.options)
                        backends[("default", batch)] = be.load()
                        pipelined[batch] = piped
                    out = _evaluate(backends[("default", batch)], pipelined[batch], lmdb, batch,
                                    None, warmup)
                    conn.send(("ok", out))
                elif cmd in ("loop", "eval"):
                    batch = args[0]
                    if batch not in backends:
                        backends[batch] = variant.open(batch, threads)
                    be = backends[batch]
                    if cmd == "loop":
                        loops, warmup = args[1:]
                        out = timed_loop(be, loops, batch, warmup, variant.pipelined)
                    else:
                        lmdb, workers, warmup = args[1:]
                        out = _evaluate(be, variant.pipelined, lmdb, batch, workers, warmup)
                    conn.send(("ok", out))
                else:
                    conn.send(("error", f"unknown command {cmd!r}"))
            except UserError as exc:
                conn.send(("error", str(exc)))
            except Exception as exc:  # report, keep serving
                conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        for be in backends.values():
            be.close()


class VariantProcess:
    """A running worker for one variant: ``loop(batch, loops, warmup)`` -> (summary, latencies);
    ``evaluate(lmdb, batch, workers, warmup)`` -> dict. Use as a context manager."""

    def __init__(self, variant: Variant, threads: int):
        self.variant = variant
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        # not a daemon: evaluate() starts its own pool of preprocessing processes
        self.proc = ctx.Process(target=_serve, args=(child, variant, threads),
                                name=f"crnn-bench-{variant.key}", daemon=False)
        self.proc.start()
        child.close()

    def _call(self, *msg):
        self.conn.send(msg)
        try:
            status, out = self.conn.recv()
        except EOFError:
            raise UserError(f"the worker process of {self.variant.label} died "
                            f"(exit code {self.proc.exitcode})") from None
        if status != "ok":
            raise UserError(f"{self.variant.label}: {out}")
        return out

    def loop(self, batch: int, loops: int, warmup: int) -> tuple[dict, list]:
        return self._call("loop", batch, loops, warmup)

    def evaluate(self, lmdb, batch: int, workers: int | None, warmup: int = 1) -> dict:
        return self._call("eval", batch, str(lmdb), workers, warmup)

    def evaluate_default(self, lmdb, batch: int, warmup: int = 1) -> dict:
        """:meth:`evaluate` on the engine opened as ``crnn-eval`` opens it by default
        (:func:`pipeline.streams.open_engine`: no ``threads``, default streams and feeder)."""
        return self._call("eval-default", batch, str(lmdb), warmup)

    def close(self) -> None:
        if self.proc.is_alive():
            try:
                self.conn.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
            self.proc.join(timeout=60)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join(timeout=10)
        self.conn.close()

    def __enter__(self) -> "VariantProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
