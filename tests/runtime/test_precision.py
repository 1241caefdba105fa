"""--precision auto's decision and the summary remark, with the CPU capability and the
recorded bf16 change injected (runtime.precision; issue 28). No timing."""
from __future__ import annotations

import pytest

from crnn_deploy.runtime import precision as P


def record(change, words=300, speedup=1.9):
    return {"bf16": {"words": words, "gt": "gt.txt", "f32_correct": 270, "correct": 270,
                     "change_points": change, "agreement": 299, "speedup": speedup,
                     "native": "avx512_bf16"}}


@pytest.mark.parametrize("native, rec, expected", [
    ("avx512_bf16", record(0.0), "bf16"),
    ("avx512_bf16", record(-0.1), "bf16"),       # a loss of exactly 0.1 points is accepted
    ("avx512_bf16", record(+0.33), "bf16"),      # a gain is no reason for f32
    ("avx512_bf16", record(-0.11), "f32"),
    ("avx512_bf16", record(-3.0), "f32"),
    (None, record(0.0), "f32"),                  # no native bf16: emulated bf16 is slower
    ("amx_bf16", {}, "f32"),                     # nothing recorded: f32
    ("amx_bf16", {"bf16": {"change_points": "x"}}, "f32"),
])
def test_auto_picks_bf16_only_native_and_within_a_tenth_of_a_point(native, rec, expected):
    chosen, why = P.choose_precision(native, rec)
    assert chosen == expected, why
    assert why


def test_the_remark_names_the_gain_only_on_a_native_cpu_running_f32():
    note = P.precision_note("f32", record(-0.03, speedup=2.1), "avx512_bf16")
    assert "avx512_bf16" in note and "-0.03 points on 300 check words" in note and "2.1x" in note
    assert P.precision_note("bf16", record(0.0), "avx512_bf16") is None
    assert P.precision_note("f32", record(0.0), None) is None
    assert "no recorded bf16 check" in P.precision_note("f32", {}, "avx512_bf16")


def test_cpu_flags_read_from_a_cpuinfo_file(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\ncpu family\t: 25\nflags\t\t: fpu avx512f avx512_bf16\n")
    assert {"avx512f", "avx512_bf16"} <= P.cpu_flags(str(info))
    assert P.cpu_flags(str(tmp_path / "missing")) == set()


def test_native_bf16_agrees_with_this_cpu():
    """On this machine (/proc/cpuinfo and OpenVINO's OPTIMIZATION_CAPABILITIES) the answer is
    the flag both report, or None when either lacks bf16."""
    ov = pytest.importorskip("openvino")
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    flags = P.cpu_flags()
    has = [f for f in P.BF16_FLAGS if f in flags]
    expected = has[0] if has and "BF16" in caps else None
    assert P.native_bf16() == expected


def test_backend_note_names_bf16_for_onnxruntime_from_the_cpu_flags_alone(monkeypatch):
    from types import SimpleNamespace

    from crnn_deploy.runtime import precision

    def ask_openvino():
        raise AssertionError("the remark must not import OpenVINO")

    monkeypatch.setattr(precision, "native_bf16", ask_openvino)
    ort_cpu = SimpleNamespace(name="onnxruntime", device="CPU")
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert "natively (avx512_bf16)" in precision.backend_note(ort_cpu)
    assert "natively (avx512_bf16)" in precision.backend_note(SimpleNamespace(members=[ort_cpu]))
    assert precision.backend_note(SimpleNamespace(name="onnxruntime", device="GPU")) is None
    assert precision.backend_note(SimpleNamespace(name="pytorch", device="CPU")) is None
    assert precision.backend_note(SimpleNamespace(precision_note="ov says")) == "ov says"
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx512f"})
    assert precision.backend_note(ort_cpu) is None
