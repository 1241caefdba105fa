"""The clock a core runs at, measured: a chain of dependent integer additions, one per cycle.

A VM reports its nominal clock (`/proc/cpuinfo` ``cpu MHz``; no cpufreq), and the roofline's
peak is cores x clock x FLOP per cycle (:mod:`bench.peak`): with the nominal clock the peak is
too low and every fraction of it too high. The measurement machine (2-vCPU AMD EPYC, family 25
model 17) reports 2.6 GHz; its cores run at 3.65 (2026-12-08: ``add rax, 1``, ``add rax, rdx``
and ``imul rax, rdx`` chains, the last at 3 cycles each, all gave 3.65-3.66 GHz).

How: :func:`measured_ghz` writes a small x86-64 function into an executable page (no input
reaches it: the bytes are the constants below) and calls it through ``ctypes``: ``ADDS``
dependent ``add rax, rdx`` per loop turn, each waiting for the one before, so a turn takes
``ADDS`` cycles on any x86-64 core since the P6 (latency 1: Agner Fog, *Instruction tables*;
the approach of lmbench's ``mhz``, McVoy and Staelin, USENIX 1996). The loop's own ``dec`` /
``jnz`` run beside the chain. Elsewhere (another ISA, or a system that refuses an executable
page) it returns None and the report keeps the nominal clock alone. One thread is timed, between
the rows: with every core busy a CPU may run a lower all-core clock, which would make the peak
too high and the fractions of it under-estimates (on the measurement machine OpenVINO's
two-stream bf16 GEMM attains 0.9 of the peak at 3.65 GHz, so the all-core clock is close).
"""
from __future__ import annotations

import platform
import time

__all__ = ["ADDS", "available", "measured_ghz"]

#: Dependent additions per loop turn.
ADDS = 1000
_SETUP = bytes.fromhex("31c0" "ba01000000")  # xor eax, eax; mov edx, 1
_ADD = bytes.fromhex("4801d0")  # add rax, rdx
_LOOP_END = bytes.fromhex("48ffcf")  # dec rdi (then jnz rel32 to the first add; ret)


def available() -> bool:
    """True on x86-64 (the instructions below are x86-64 machine code)."""
    return platform.machine().lower() in ("x86_64", "amd64")


def _chain():
    import ctypes
    import mmap

    code = bytearray(_SETUP)
    start = len(code)
    code += _ADD * ADDS + _LOOP_END
    code += b"\x0f\x85" + (start - (len(code) + 6)).to_bytes(4, "little", signed=True) + b"\xc3"
    page = mmap.mmap(-1, len(code), prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(bytes(code))
    func = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64)(
        ctypes.addressof(ctypes.c_char.from_buffer(page)))
    return func, page


def measured_ghz(trials: int = 5, seconds: float = 0.05) -> float | None:
    """GHz of the core this thread runs on: the fastest of ``trials`` timings of about
    ``seconds`` each (a slower one is a moment the thread was not running). None where
    :func:`available` is False or the system refuses an executable page (OSError,
    ValueError); ``ctypes`` releases the GIL during the call."""
    if not available():
        return None
    try:
        func, page = _chain()
    except (OSError, ValueError):
        return None
    try:
        turns = max(1, int(seconds * 2e9 / ADDS))  # about ``seconds`` at 2 GHz
        best = 0.0
        for _ in range(max(1, trials)):
            t = time.perf_counter()
            total = func(turns)
            elapsed = time.perf_counter() - t
            if total != turns * ADDS:  # the chain's result: every addition ran
                return None
            best = max(best, turns * ADDS / elapsed / 1e9)
        return best
    finally:
        del func
        page.close()
