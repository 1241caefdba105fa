"""bench.clock: the clock measured by a chain of dependent additions on this machine: the same
clock in two calls, within the range of any x86-64 core; None on another ISA."""
from __future__ import annotations

import mmap

import pytest

from crnn_deploy.bench import clock


@pytest.mark.skipif(not clock.available(), reason="x86-64 machine code")
def test_the_measured_clock_is_a_plausible_and_repeatable_x86_clock():
    a = clock.measured_ghz(trials=3, seconds=0.02)
    if a is None:  # allowed only where the system refuses an executable page
        try:
            mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC).close()
        except OSError:
            pytest.skip("this system refuses an executable page")
        pytest.fail("measured_ghz gave None though an executable page can be had")
    b = clock.measured_ghz(trials=3, seconds=0.02)
    assert b is not None
    assert 0.8 < a < 7.0 and 0.8 < b < 7.0  # no x86-64 core runs outside this
    assert abs(a - b) / max(a, b) < 0.25  # the fastest of 3 trials, twice: the same clock


def test_elsewhere_it_says_it_cannot(monkeypatch):
    monkeypatch.setattr(clock.platform, "machine", lambda: "aarch64")
    assert not clock.available() and clock.measured_ghz() is None
