"""crnn-bench's measurement core: interleaved rounds, medians and ranges, the foreign-load record.

Every crnn-bench command that times more than one thing (``run``'s grid, ``peers``, ``fused``,
``ray``, ``widths``) times them in rounds: each round runs every runner once, the order rotated
by ``len/rounds`` per round and reversed every other round, so that a change in the machine's
load hits them alike. A run is summarized by :func:`spread` (median, lowest, highest) and each
timing carries the share of the CPUs other processes used meanwhile (:class:`bench.load.ForeignLoad`).
"""
from __future__ import annotations

import statistics
import subprocess
import time
from typing import Callable, Sequence

from crnn_deploy.bench.load import ForeignLoad

__all__ = ["round_order", "spread", "interleave", "timed_process", "load_average"]


def round_order(items: Sequence, r: int, rounds: int) -> list:
    """The order of ``items`` in round ``r`` (0-based) of ``rounds``: rotated by
    ``r * len / rounds`` and reversed in odd rounds."""
    items = list(items)
    shift = (r * len(items)) // max(1, rounds)
    order = items[shift:] + items[:shift]
    return order[::-1] if r % 2 else order


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
               log: Callable[[str], None] = lambda m: None) -> dict[str, list[dict]]:
    """Run every runner once per round for ``rounds`` rounds in :func:`round_order`.

    A runner returns a dict (its measurement); each gets ``round``, ``foreign`` (share of the
    CPUs used by others while it ran, :class:`ForeignLoad`) and ``load1`` (load average after
    it) added. Returns name -> its results in round order."""
    out: dict[str, list[dict]] = {name: [] for name in runners}
    for r in range(rounds):
        t0 = time.perf_counter()
        for name in round_order(list(runners), r, rounds):
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
    """Run ``cmd`` as a whole process; ``{"seconds": wall time, "stderr": its last 2,000
    characters}``.

    Raises:
        RuntimeError: the process failed (its exit status and the end of its stderr)."""
    t0 = time.perf_counter()
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}: "
                           f"{proc.stderr[-2000:]}")
    return {"seconds": seconds, "stderr": proc.stderr[-2000:]}
