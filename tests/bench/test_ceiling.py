"""bench.ceiling: the measured GEMM ceiling (a real OpenVINO MatMul on this CPU) and its
refusals. No timing asserted beyond "it ran and counted FLOP"."""
from __future__ import annotations

import pytest

from crnn_deploy.bench import ceiling


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
