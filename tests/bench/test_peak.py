"""bench.peak: FLOP per cycle and peak GFLOP/s read from /proc/cpuinfo texts of three CPUs
(Zen 4 family 25: AVX-512 double-pumped; Zen 5 family 26: full width; Intel with AMX)."""
from __future__ import annotations

import pytest

from crnn_deploy.bench.peak import describe, flop_per_cycle, parse_cpuinfo, peak_gflops

BASE = "fpu sse sse2 avx avx2 fma f16c avx512f avx512dq avx512bw avx512vl avx512_vnni"


def cpuinfo(vendor, family, model, name, flags, mhz, cores=2, smt=1):
    blocks = []
    for cpu in range(cores * smt):
        blocks.append(f"processor\t: {cpu}\nvendor_id\t: {vendor}\ncpu family\t: {family}\n"
                      f"model\t\t: {model}\nmodel name\t: {name}\ncpu MHz\t\t: {mhz}\n"
                      f"physical id\t: 0\ncore id\t\t: {cpu // smt}\nflags\t\t: {flags}\n")
    return "\n".join(blocks)


ZEN4 = cpuinfo("AuthenticAMD", 25, 17, "AMD EPYC", BASE + " avx512_bf16", "2596.142")
ZEN5 = cpuinfo("AuthenticAMD", 26, 2, "AMD EPYC 9B45", BASE + " avx512_bf16", "3000.000")
SPR = cpuinfo("GenuineIntel", 6, 143, "Intel(R) Xeon(R) Platinum 8480+",
              BASE + " avx512_bf16 amx_tile amx_bf16 amx_int8", "2000.000", cores=2, smt=2)


def test_zen4_runs_512_bit_double_pumped():
    cpu = parse_cpuinfo(ZEN4)
    assert (cpu["family"], cpu["model"], cpu["cores"]) == (25, 17, 2)
    fpc = flop_per_cycle(cpu)
    assert (fpc["f32"], fpc["bf16"], fpc["int8"]) == (32, 64, 128)
    assert peak_gflops(cpu, "f32") == pytest.approx(2 * 2.596142 * 32)
    assert "family 25, model 17" in describe(cpu) and "avx512_bf16" in describe(cpu)


def test_zen5_runs_512_bit_full_width():
    cpu = parse_cpuinfo(ZEN5)
    fpc = flop_per_cycle(cpu)
    assert (fpc["f32"], fpc["bf16"], fpc["int8"]) == (64, 128, 256)
    assert peak_gflops(cpu, "bf16") == pytest.approx(2 * 3.0 * 128)


def test_zen5_mobile_is_double_pumped():
    cpu = parse_cpuinfo(cpuinfo("AuthenticAMD", 26, 36, "AMD Ryzen AI 9 HX 370",
                                BASE + " avx512_bf16", "2000.000"))
    assert flop_per_cycle(cpu)["f32"] == 32


def test_intel_amx_and_smt_siblings_share_a_core():
    cpu = parse_cpuinfo(SPR)
    assert cpu["cores"] == 2 and cpu["logical"] == 4
    fpc = flop_per_cycle(cpu)
    assert (fpc["f32"], fpc["bf16"], fpc["int8"]) == (64, 2048, 4096)
    assert peak_gflops(cpu, "int8") == pytest.approx(2 * 2.0 * 4096)


def test_without_bf16_or_vnni_the_f32_row_applies():
    cpu = parse_cpuinfo(cpuinfo("AuthenticAMD", 25, 1, "AMD EPYC 7763",
                                "sse2 avx avx2 fma", "2450.000"))
    fpc = flop_per_cycle(cpu)
    assert (fpc["f32"], fpc["bf16"], fpc["int8"]) == (32, 32, 64)


def test_cpufreq_max_wins_and_unknown_precision_fails():
    cpu = parse_cpuinfo(ZEN4, max_freq_khz=3_700_000)
    assert cpu["ghz"] == pytest.approx(3.7)
    with pytest.raises(ValueError, match="precision"):
        peak_gflops(cpu, "f64")
    assert peak_gflops(parse_cpuinfo(""), "f32") is None
