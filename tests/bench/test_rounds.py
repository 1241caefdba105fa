"""bench.rounds: the interleaving orders, the median-and-range summary, the round runner and the
whole-process timer (wall and CPU seconds) and runner."""
from __future__ import annotations

import sys

import pytest

from crnn_deploy.bench.rounds import (
    alternate,
    interleave,
    process_runner,
    round_order,
    spread,
    timed_process,
)
from crnn_deploy.common.errors import UserError


def test_round_order_rotates_and_reverses():
    assert round_order("abc", 0, 3) == list("abc")
    assert round_order("abc", 1, 3) == list("bca")[::-1]
    assert round_order("abc", 2, 3) == list("cab")
    assert round_order("abcd", 3, 4) == list("dabc")[::-1]


def test_alternate_reverses_every_other_round():
    assert [alternate("abc", r, 3) for r in range(3)] == [list("abc"), list("cba"), list("abc")]
    calls = []
    interleave({"a": lambda: calls.append("a") or {}, "b": lambda: calls.append("b") or {}},
               rounds=3, order=alternate)
    assert calls == list("abbaab")


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
    # a busy child's CPU seconds are counted, not the wall time of a sleeping one
    busy = timed_process([sys.executable, "-c", "import time\nt = time.process_time()\n"
                          "while time.process_time() - t < 0.3: pass"])
    idle = timed_process([sys.executable, "-c", "import time; time.sleep(0.3)"])
    assert busy["cpu_seconds"] >= 0.3 and idle["cpu_seconds"] < 0.25 <= idle["seconds"]
    with pytest.raises(RuntimeError, match="boom"):
        timed_process([sys.executable, "-c", "import sys; sys.exit('boom')"])


def test_process_runner_removes_the_old_output_and_fails_as_user_error(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("last round")
    res = process_runner([sys.executable, "-c", "pass"], out, 4)()
    assert not out.exists() and res["rate"] == pytest.approx(4 / res["seconds"])
    with pytest.raises(UserError, match="exited with 3"):
        process_runner([sys.executable, "-c", "raise SystemExit(3)"], out, 1)()
