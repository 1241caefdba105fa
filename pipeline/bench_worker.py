"""One process per benchmarked variant, driven over a pipe.

Why: frameworks in one process disturb each other. Measured here (OpenVINO 2026.4, torch 2.13,
2 vCPUs): once an OpenVINO model has run in a process, PyTorch eager in that process drops from
~60 to 2-15 images/s at batch 1 (its OpenMP threads end up fighting over CPUs that OpenVINO's
pinned TBB threads claimed). A user runs one framework per process, so the bench does too: each
variant lives in its own ``spawn``-ed process (a clean interpreter), keeps its backends loaded, and
runs :func:`runtime.runner.run_loop` or :func:`pipeline.fused.evaluate` when asked. The parent
only sends commands and collects numbers, so the variants can still be interleaved in rounds.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from common.errors import UserError


@dataclass
class Variant:
    """One way of running the model (picklable: it is sent to the worker process).

    ``engines`` maps a batch size to its engine file; key 0 is the engine for any other batch
    (a dynamic-batch engine or the checkpoint of the PyTorch variant).
    """

    key: str
    label: str
    backend: str                      # registry name, or "pytorch" for the eager reference
    engines: dict[int, str]
    engine_desc: str
    options: dict = field(default_factory=dict)
    pipelined: bool = False
    model: str = "nano-ocr"

    def engine_for(self, batch: int) -> str:
        try:
            return self.engines[batch] if batch in self.engines else self.engines[0]
        except KeyError:
            raise UserError(f"variant {self.key}: no engine for batch {batch}") from None

    def open(self, batch: int, threads: int):
        """A loaded backend for ``batch`` with ``threads`` inference threads (in this process)."""
        path = Path(self.engine_for(batch))
        if self.backend == "pytorch":
            from pipeline.torch_reference import TorchBackend

            return TorchBackend(path, self.model, threads=threads).load()
        from runtime.registry import open_backend

        return open_backend(path, self.backend, threads=threads, **self.options).load()

    def options_text(self, threads: int) -> str:
        if self.backend == "pytorch":
            return f"torch.no_grad(), eval(), torch.set_num_threads({threads})"
        opts = {"threads": threads, **self.options}
        text = ", ".join(f"{k}={v}" for k, v in opts.items())
        return text + (", pipelined (AsyncInferQueue)" if self.pipelined else "")


def timed_loop(be, loops: int, batch: int, warmup: int, pipelined: bool) -> tuple[dict, list]:
    """:func:`runtime.runner.run_loop` on zeros, plus every per-batch latency (ms) it recorded."""
    from runtime.runner import run_loop

    lat: list[float] = []
    s = run_loop(be, loops, batch, warmup, "zero", pipelined,
                 progress=lambda _n: lat.append(be.last_latency_ms))
    return s, lat


def _evaluate(be, variant: Variant, lmdb: str, batch: int, workers, warmup: int) -> dict:
    from pipeline.fused import evaluate

    res = evaluate(lmdb, be, batch, workers, pipelined=variant.pipelined, warmup=warmup)
    return {"metrics": res.metrics, "count": len(res.samples), "skipped": res.skipped,
            "images_per_s": res.images_per_s, "wall_s": res.wall_s, "summary": res.summary}


def _serve(conn, variant: Variant, threads: int) -> None:
    backends: dict[int, object] = {}
    try:
        while True:
            cmd, *args = conn.recv()
            if cmd == "stop":
                break
            try:
                if cmd in ("loop", "eval"):
                    batch = args[0]
                    if batch not in backends:
                        backends[batch] = variant.open(batch, threads)
                    be = backends[batch]
                    if cmd == "loop":
                        loops, warmup = args[1:]
                        out = timed_loop(be, loops, batch, warmup, variant.pipelined)
                    else:
                        lmdb, workers, warmup = args[1:]
                        out = _evaluate(be, variant, lmdb, batch, workers, warmup)
                    conn.send(("ok", out))
                else:
                    conn.send(("error", f"unknown command {cmd!r}"))
            except UserError as exc:
                conn.send(("error", exc.format_message()))
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


def _machine_busy_s() -> float | None:
    """CPU-seconds the machine's CPUs have been busy since boot (/proc/stat), including
    ``steal`` (time the hypervisor gave to other guests: lost to us as well)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[:7])
        steal = int(fields[7]) if len(fields) > 7 else 0
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _own_cpu_s() -> float | None:
    """CPU-seconds of this process and all its descendants, live or reaped (needs psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


class ForeignLoad:
    """Share of the CPUs used by others (other processes, other guests) from creation to stop().

    Machine busy time (/proc/stat, steal included) minus the CPU time of this process tree
    (psutil), over wall time x CPU count; None where /proc or psutil is missing."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.busy0, self.own0 = _machine_busy_s(), _own_cpu_s()

    def stop(self) -> float | None:
        busy, own = _machine_busy_s(), _own_cpu_s()
        wall = time.perf_counter() - self.t0
        if None in (busy, own, self.busy0, self.own0) or wall <= 0:
            return None
        other = (busy - self.busy0) - (own - self.own0)
        return round(max(0.0, other) / (wall * (os.cpu_count() or 1)), 3)
