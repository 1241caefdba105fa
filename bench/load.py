"""How much of the machine other processes used while we measured (the machine is shared).

:class:`ForeignLoad` reads the machine's busy CPU time from ``/proc/stat`` (Linux, steal
included) and this process tree's own CPU time (psutil) at start and stop; the difference is
what others used. Approximate: sampling granularity is the kernel's clock tick (USER_HZ).
"""
from __future__ import annotations

import os
import time
from pathlib import Path


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
