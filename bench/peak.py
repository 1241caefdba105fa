"""The CPU's peak GFLOP/s per precision (the roofline's ceiling): cores x clock x FLOP per cycle.

FLOP per cycle per core comes from the ISA and the microarchitecture, read from
``/proc/cpuinfo`` (vendor, family, model, flags). Counted as the vendors count: an FMA is 2
operations; a bf16 dot product ``VDPBF16PS`` does 2 products + 2 adds per 32-bit lane (4 FLOP);
an int8 ``VPDPBUSD`` (VNNI) does 4 products + 4 adds per 32-bit lane (8 ops). Per core and cycle:

============================  =====  =====  =====  ==============================================
CPU (vendor, family, flags)    f32   bf16   int8   why
============================  =====  =====  =====  ==============================================
AMD 23 (Zen 1, model < 0x30)     16     16     32  2 FMA pipes of 128 bit
AMD 23 (Zen 2)                   32     32     64  2 FMA pipes of 256 bit
AMD 25 (Zen 3, no avx512f)       32     32     64  2 FMA pipes of 256 bit, AVX2 only
AMD 25 + avx512f (Zen 4)         32     64    128  AVX-512 double-pumped: a 512-bit op runs as
                                                   two 256-bit halves on the 2 FMA pipes
AMD 26 (Zen 5)                   64    128    256  full 512-bit datapath, 2 FMA pipes
AMD 26 models 0x20-0x2f, 0x60-   32     64    128  Zen 5 mobile (Strix/Krackan Point): 256-bit
0x7f                                               datapath, 512-bit ops double-pumped
Intel + avx512f                  64    128    256  2 FMA ports (p0+p1 fused, p5) of 512 bit;
                                                   bf16 with avx512_bf16, else as f32
Intel + amx_bf16 / amx_int8      64   2048   4096  AMX tile units: 1,024 bf16 / 2,048 int8 MAC
                                                   per cycle per core
Intel/other + avx2 + fma         32     32     64  2 FMA ports of 256 bit (int8 128 with
                                                   avx_vnni)
other + avx / sse2               16/8   = f32 x2  no FMA: one multiply + one add port
============================  =====  =====  =====  ==============================================

Without the instruction for a reduced precision (no ``avx512_bf16``: bf16 runs as f32 in
OpenVINO; no VNNI: int8 through ``VPMADDUBSW`` + ``VPMADDWD``), its peak is the f32 row's (bf16)
or twice it (int8). Sources: AMD, *Software Optimization Guide for AMD Family 19h Processors*
(pub. 56665, Zen 3, and 57647, Zen 4: "512-bit instructions are executed ... as two 256-bit
operations"), *... Family 1Ah Processors* (pub. 58455, Zen 5: 512-bit datapath, 4 FP pipes of
which 2 FMA); Intel, *64 and IA-32 Architectures Optimization Reference Manual* (AVX-512 FMA
ports; AMX: 2,048 bf16 FLOP and 4,096 int8 ops per cycle per core); Agner Fog, *Instruction
tables* (VFMADD*, VDPBF16PS, VPDPBUSD throughput on Zen 2-4, Ice Lake, Sapphire Rapids).
Intel Xeon Bronze/Silver parts with one 512-bit FMA port have half the Intel f32 row: not
detectable from cpuinfo, so it is an upper bound there.

Cores: physical cores (distinct ``physical id``/``core id`` pairs; SMT siblings share the FMA
pipes). Clock: ``/sys/.../cpufreq/cpuinfo_max_freq`` when present, else the highest ``cpu MHz``
of ``/proc/cpuinfo`` (a VM reports its nominal clock: a CPU that boosts above it makes the peak
an under-estimate and the roofline fraction an over-estimate; ``crnn-bench peers`` also gives
the peak at the clock it measures, :mod:`bench.clock`: 3.65 GHz on the 2-vCPU AMD EPYC family
25 model 17 VM that reports 2.6).
"""
from __future__ import annotations

import re
from pathlib import Path

__all__ = ["parse_cpuinfo", "flop_per_cycle", "peak_gflops", "this_cpu", "PRECISIONS"]

PRECISIONS = ("f32", "bf16", "int8")


def parse_cpuinfo(text: str, max_freq_khz: int | None = None) -> dict:
    """Vendor, family, model, name, flags, physical cores and clock (GHz) of a /proc/cpuinfo text.

    ``max_freq_khz``: cpufreq's ``cpuinfo_max_freq`` when known (wins over ``cpu MHz``).
    Missing fields are None (flags: empty set)."""
    blocks = [b for b in re.split(r"\n\s*\n", text) if b.strip()]
    procs = []
    for b in blocks:
        fields = {}
        for line in b.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        procs.append(fields)
    first = procs[0] if procs else {}

    def num(key, base=10):
        try:
            return int(first[key], base)
        except (KeyError, ValueError):
            return None

    cores = {(p.get("physical id"), p.get("core id")) for p in procs if "core id" in p}
    mhz = [float(p["cpu MHz"]) for p in procs if p.get("cpu MHz", "").replace(".", "", 1).isdigit()]
    ghz = max_freq_khz / 1e6 if max_freq_khz else (max(mhz) / 1e3 if mhz else None)
    return {"vendor": first.get("vendor_id"), "family": num("cpu family"), "model": num("model"),
            "name": first.get("model name"), "flags": set(first.get("flags", "").split()),
            "cores": len(cores) or len(procs) or None, "logical": len(procs) or None,
            "ghz": ghz}


def flop_per_cycle(cpu: dict) -> dict:
    """``{"f32", "bf16", "int8": FLOP (ops) per cycle per core, "arch": which table row}`` for a
    :func:`parse_cpuinfo` result (see the module's table and sources)."""
    flags, fam, model = cpu["flags"], cpu.get("family"), cpu.get("model") or 0
    amd = cpu.get("vendor") == "AuthenticAMD"
    bf16 = "avx512_bf16" in flags
    vnni = "avx512_vnni" in flags or "avx_vnni" in flags

    def row(arch, f32, wide_bf16, wide_int8):
        return {"arch": arch, "f32": f32, "bf16": wide_bf16 if bf16 else f32,
                "int8": wide_int8 if vnni else 2 * f32}

    if amd and fam == 26:
        if 0x20 <= model <= 0x2F or 0x60 <= model <= 0x7F:
            return row("AMD Zen 5 mobile (256-bit datapath)", 32, 64, 128)
        return row("AMD Zen 5 (full-width AVX-512)", 64, 128, 256)
    if amd and fam == 25:
        if "avx512f" in flags:
            return row("AMD Zen 4 (AVX-512 double-pumped)", 32, 64, 128)
        return row("AMD Zen 3 (AVX2)", 32, 32, 64)
    if amd and fam == 23:
        return row("AMD Zen 2" if model >= 0x30 else "AMD Zen 1", 32 if model >= 0x30 else 16,
                   32, 64)
    if "amx_bf16" in flags or "amx_int8" in flags:
        out = row("Intel AVX-512 + AMX", 64, 128, 256)
        out["bf16"] = 2048 if "amx_bf16" in flags else out["bf16"]
        out["int8"] = 4096 if "amx_int8" in flags else out["int8"]
        return out
    if "avx512f" in flags:
        return row("AVX-512, 2 FMA ports", 64, 128, 256)
    if "fma" in flags and "avx2" in flags:
        return row("AVX2 + FMA", 32, 32, 128)
    if "avx" in flags:
        return row("AVX, no FMA", 16, 16, 32)
    return row("SSE2", 8, 8, 16)


def peak_gflops(cpu: dict, precision: str, cores: int | None = None) -> float | None:
    """Peak GFLOP/s of ``cores`` (default: all physical cores) at ``precision`` (f32, bf16,
    int8); None when the clock or the core count is unknown.

    Raises:
        ValueError: an unknown precision."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    n = cores or cpu.get("cores")
    if not n or not cpu.get("ghz"):
        return None
    return n * cpu["ghz"] * flop_per_cycle(cpu)[precision]


def this_cpu() -> dict:
    """:func:`parse_cpuinfo` of this machine (Linux ``/proc/cpuinfo``, cpufreq's max clock)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    try:
        khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
    except (OSError, ValueError):
        khz = None
    return parse_cpuinfo(text, khz)


def describe(cpu: dict) -> str:
    """One line naming the CPU for a report: name, family/model, flags, cores, clock, arch."""
    wanted = [f for f in ("avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8")
              if f in cpu["flags"]]
    fam = cpu.get("family")
    model = cpu.get("model")
    ghz = f"{cpu['ghz']:.2f} GHz" if cpu.get("ghz") else "clock unknown"
    return (f"{cpu.get('name') or 'unknown CPU'} (family {fam}, model {model}; "
            f"{flop_per_cycle(cpu)['arch']}), {cpu.get('cores')} cores at {ghz}, flags: "
            f"{', '.join(wanted) or 'none of avx512f/avx512_bf16/avx512_vnni/amx'}")
