"""The machine a benchmark ran on: CPU model, cores, ISA flags, RAM, OS, package versions.

Read from ``lscpu`` (LC_ALL=C), ``/proc/cpuinfo``, ``/proc/meminfo`` and the installed packages'
metadata; every field is None/"unknown" where the source is missing (not Linux, no lscpu).
"""
from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

#: CPU flags worth naming for CNN/LSTM inference (lscpu spelling).
FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                     "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
PACKAGES = ("torch", "onnxruntime", "openvino", "nncf", "numpy", "onnx", "matplotlib")


def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                             env={**os.environ, "LC_ALL": "C"}).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    info = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def machine_info() -> dict:
    """CPU model, cores, ISA flags of interest, RAM, OS and package versions (JSON-ready)."""
    cpu = _lscpu()
    flags = set(cpu.get("Flags", "").split())
    if not flags and Path("/proc/cpuinfo").is_file():
        m = re.search(r"^flags\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M)
        flags = set(m.group(1).split()) if m else set()
    ram_gib = None
    try:
        m = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        ram_gib = round(int(m.group(1)) / 2**20, 1) if m else None
    except OSError:
        pass
    try:
        cores = int(cpu["Core(s) per socket"]) * int(cpu.get("Socket(s)", "1"))
    except (KeyError, ValueError):
        cores = None
    versions = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "cpu": cpu.get("Model name") or platform.processor() or "unknown",
        "cpu_family_model": f"family {cpu.get('CPU family', '?')}, model {cpu.get('Model', '?')}",
        "cores": cores,
        "logical_cpus": os.cpu_count(),
        "threads_per_core": cpu.get("Thread(s) per core"),
        "hypervisor": cpu.get("Hypervisor vendor"),
        "l2": cpu.get("L2 cache"), "l3": cpu.get("L3 cache"),
        "flags": [f for f in FLAGS_OF_INTEREST if f in flags],
        "ram_gib": ram_gib,
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
    }
