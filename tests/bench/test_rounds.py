"""bench.rounds: the interleaving order, the median-and-range summary, the round runner and the
whole-process timer."""
from __future__ import annotations

import sys

import pytest

from crnn_deploy.bench.rounds import interleave, round_order, spread, timed_process


def test_round_order_rotates_and_reverses():
    assert round_order("abc", 0, 3) == list("abc")
    assert round_order("abc", 1, 3) == list("bca")[::-1]
    assert round_order("abc", 2, 3) == list("cab")
    assert round_order("abcd", 3, 4) == list("dabc")[::-1]


def test_spread_is_median_and_range_without_none():
    assert spread([3.0, None, 1.0, 10.0]) == {"median": 3.0, "low": 1.0, "high": 10.0, "n": 3}
    assert spread([None])["median"] is None


def test_interleave_runs_each_runner_once_per_round():
    calls = []
    res = interleave({"a": lambda: calls.append("a") or {"rate": 1.0},
                      "b": lambda: calls.append("b") or {"rate": 2.0}}, rounds=3)
    assert sorted(calls) == ["a"] * 3 + ["b"] * 3 and calls[:2] != calls[2:4]
    assert [r["round"] for r in res["a"]] == [1, 2, 3]
    assert all("foreign" in r and "load1" in r for r in res["b"])


def test_timed_process_times_and_fails_with_stderr():
    assert timed_process([sys.executable, "-c", "pass"])["seconds"] > 0
    with pytest.raises(RuntimeError, match="boom"):
        timed_process([sys.executable, "-c", "import sys; sys.exit('boom')"])
