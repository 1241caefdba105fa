"""bench.clock: the clock measured by a chain of dependent additions on this machine: the same
clock in two calls, within the range of any x86-64 core; None on another ISA."""
from __future__ import annotations

import pytest

from crnn_deploy.bench import clock


@pytest.mark.skipif(not clock.available(), reason="x86-64 machine code")
def test_the_measured_clock_is_a_plausible_and_repeatable_x86_clock():
    a = clock.measured_ghz(trials=3, seconds=0.02)
    b = clock.measured_ghz(trials=3, seconds=0.02)
    assert a is not None and b is not None
    assert 0.8 < a < 7.0 and 0.8 < b < 7.0  # no x86-64 core runs outside this
    assert abs(a - b) / max(a, b) < 0.25  # the fastest of 3 trials, twice: the same clock


def test_elsewhere_it_says_it_cannot(monkeypatch):
    monkeypatch.setattr(clock.platform, "machine", lambda: "aarch64")
    assert not clock.available() and clock.measured_ghz() is None
