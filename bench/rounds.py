"""crnn-bench's measurement core: interleaved rounds, medians and ranges, the foreign-load record.

Every crnn-bench command that times more than one thing (``run``'s grid, ``peers``, ``pages``,
``fused``, ``ray``, ``widths``) times them in rounds: each round runs every runner once, the
order rotated by ``len/rounds`` per round and reversed every other round (or only reversed
every other round: :func:`alternate`, ``pages``), so that a change in the machine's load hits
them alike. A run is summarized by :func:`spread` (median, lowest, highest) and each timing
carries the share of the CPUs other processes used meanwhile (:class:`bench.load.ForeignLoad`).
Whole processes are timed by :func:`timed_process` (wall and CPU seconds), run as a round's
runner by :func:`process_runner`; :func:`run_record` is what a report says of the run.
"""
from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from crnn_deploy.bench.load import ForeignLoad
from crnn_deploy.common.errors import UserError

__all__ = ["round_order", "alternate", "spread", "interleave", "timed_process", "load_average",
           "console_script", "process_runner", "run_record"]


def round_order(items: Sequence, r: int, rounds: int) -> list:
    """The order of ``items`` in round ``r`` (0-based) of ``rounds``: rotated by
    ``r * len / rounds`` and reversed in odd rounds."""
    items = list(items)
    shift = (r * len(items)) // max(1, rounds)
    order = items[shift:] + items[:shift]
    return order[::-1] if r % 2 else order


def alternate(items: Sequence, r: int, rounds: int) -> list:
    """The order of ``items`` in round ``r``: as given in even rounds, reversed in odd ones."""
    items = list(items)
    return items[::-1] if r % 2 else items


def spread(values: Sequence[float]) -> dict:
    """``{"median", "low", "high", "n"}`` of ``values`` (None entries dropped; all None when
    nothing is left)."""
    vals = [v for v in values if v is not None]
    if not vals:
        return {"median": None, "low": None, "high": None, "n": 0}
    return {"median": statistics.median(vals), "low": min(vals), "high": max(vals),
            "n": len(vals)}


def load_average() -> float | None:
    """The 1-minute load average (``os.getloadavg``), None where unavailable."""
    import os

    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def interleave(runners: dict[str, Callable[[], dict]], rounds: int,
               log: Callable[[str], None] = lambda m: None,
               order: Callable[[Sequence, int, int], list] = round_order) -> dict[str, list[dict]]:
    """Run every runner once per round for ``rounds`` rounds in ``order`` (:func:`round_order`
    or :func:`alternate`).

    A runner returns a dict (its measurement); each gets ``round``, ``foreign`` (share of the
    CPUs used by others while it ran, :class:`ForeignLoad`) and ``load1`` (load average after
    it) added. Returns name -> its results in round order."""
    out: dict[str, list[dict]] = {name: [] for name in runners}
    for r in range(rounds):
        t0 = time.perf_counter()
        for name in order(list(runners), r, rounds):
            load = ForeignLoad()
            res = dict(runners[name]())
            res.update(round=r + 1, foreign=load.stop(), load1=load_average())
            out[name].append(res)
            log(f"  round {r + 1}/{rounds} {name}: " + ", ".join(
                f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in res.items() if k not in ("round", "stdout")))
        log(f"round {r + 1}/{rounds} done in {time.perf_counter() - t0:.0f} s")
    return out


def timed_process(cmd: Sequence[str], timeout: float | None = None, env: dict | None = None
                  ) -> dict:
    """Run ``cmd`` as a whole process; ``{"seconds": wall time, "cpu_seconds": user + system
    CPU time of the process and the children it waited for, "stderr": its last 2,000
    characters}``. CPU time: ``resource.getrusage(RUSAGE_CHILDREN)`` before and after (the
    rounds run one process at a time, so the difference is this one's).

    Raises:
        RuntimeError: the process failed (its exit status and the end of its stderr)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, env=env)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}: "
                           f"{proc.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"seconds": seconds, "cpu_seconds": cpu, "stderr": proc.stderr[-2000:]}


def console_script(name: str) -> str:
    """The console script ``name`` of this Python's environment (else on PATH).

    Raises:
        UserError: found in neither."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.is_file() else shutil.which(name)
    if not found:
        raise UserError(f"{name} not found beside {sys.executable} or on PATH: install crnn-deploy")
    return found


def process_runner(cmd: list[str], out: Path, n: int) -> Callable[[], dict]:
    """A runner for :func:`interleave`: removes ``out`` (the process's output, written anew each
    round), times ``cmd`` (:func:`timed_process`) and returns ``{"rate": n / seconds,
    "seconds", "cpu_seconds"}`` (``n``: the files it reads).

    Raises (when run):
        UserError: the process failed (its exit status and the end of its stderr)."""
    def run() -> dict:
        out.unlink(missing_ok=True)
        try:
            res = timed_process(cmd)
        except RuntimeError as exc:
            raise UserError(str(exc)) from None
        return {"rate": n / res["seconds"], "seconds": res["seconds"],
                "cpu_seconds": res["cpu_seconds"]}
    return run


def run_record(command: str, t0: float, load_before: float | None) -> dict:
    """What a report says of a run begun at ``t0`` (``time.time()``): ``command``, ``date``
    (UTC), ``minutes``, ``cpu`` (:func:`bench.peak.describe`: name, family/model, flags) and
    ``load`` (1-minute load average before, and now)."""
    from crnn_deploy.bench.peak import describe, this_cpu

    return {"command": command, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t0)),
            "minutes": round((time.time() - t0) / 60, 1), "cpu": describe(this_cpu()),
            "load": [load_before, load_average()]}
