"""bench.ceiling: the measured GEMM ceiling (a real OpenVINO MatMul on this CPU), the clock it
implies, and its refusals. No timing asserted beyond "it ran and counted FLOP"."""
from __future__ import annotations

import pytest

from crnn_deploy.bench import ceiling
from crnn_deploy.bench.peak import parse_cpuinfo

ZEN4 = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
        "cpu MHz\t\t: 2600.000\ncore id\t\t: 0\nflags\t\t: avx2 fma avx512f avx512_bf16\n")


@pytest.mark.skipif(not ceiling.available(), reason="OpenVINO not installed")
@pytest.mark.parametrize("precision", ceiling.PRECISIONS)
def test_a_small_gemm_runs_and_counts_its_flop(precision):
    gflops = ceiling.gemm_gflops(precision, streams=2, seconds=0.05, size=128)
    assert 0.1 < gflops < 100_000  # 2 x 128^3 per call over a real wall time
    assert ceiling.ceiling_runner(precision, 1, 0.01)()["rate"] > 0


def test_refusals():
    with pytest.raises(ValueError, match="precision"):
        ceiling.gemm_gflops("int8", 1)
    with pytest.raises(ValueError, match="streams"):
        ceiling.gemm_gflops("f32", 0)


def test_implied_clock_inverts_the_nominal_peak():
    cpu = parse_cpuinfo(ZEN4)  # one core, 32 f32 / 64 bf16 FLOP per cycle
    assert ceiling.implied_clock(2.6 * 32, cpu, "f32") == pytest.approx(2.6)
    assert ceiling.implied_clock(3.2 * 64, cpu, "bf16") == pytest.approx(3.2)
    assert ceiling.implied_clock(None, cpu, "f32") is None
    assert ceiling.implied_clock(100.0, {**cpu, "cores": None}, "f32") is None
