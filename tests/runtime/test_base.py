"""runtime/base.py on a fake backend: availability, the install hint, version, loading once,
input checks, timing fields, close/reload."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.runtime.base import Backend


def test_backend_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        Backend("x.onnx")


def test_available_backend(fake_backend):
    assert fake_backend.unavailable_reason() is None
    assert fake_backend.is_available() is True
    assert fake_backend.install_hint() == "install it with: pip install 'crnn-deploy[fake]'"


def test_unavailable_reason_names_the_module_and_the_import_error(fake_backend, fake_engine):
    class Missing(fake_backend):
        sdk = ("json", "crnn_no_such_sdk")

    reason = Missing.unavailable_reason()
    assert reason == ("crnn_no_such_sdk is not importable "
                      "(ModuleNotFoundError: No module named 'crnn_no_such_sdk')")
    assert Missing.is_available() is False
    with pytest.raises(UserError, match=r"backend 'fake' cannot run here: crnn_no_such_sdk is not "
                                        r"importable .*; install it with: pip install 'crnn-deploy\[fake\]'"):
        Missing(fake_engine()).load()


def test_broken_native_library_is_unavailable_not_a_crash(fake_backend, monkeypatch):
    """An SDK whose import raises something else than ImportError (e.g. OSError of a missing .so)."""
    import importlib

    real_import = importlib.import_module

    def broken(name, *args):
        if name == "json":
            raise OSError("libfoo.so: cannot open shared object file")
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", broken)
    assert fake_backend.unavailable_reason() == ("json is not importable "
                                                 "(OSError: libfoo.so: cannot open shared object file)")


def test_install_hint_without_extra(fake_backend):
    class Core(fake_backend):
        extra = ""

    assert Core.install_hint() == "install it with: pip install crnn-deploy"


def test_version_from_module_or_distribution(fake_backend, monkeypatch):
    import importlib.metadata
    import sys
    import types

    class WithVersion(fake_backend):
        sdk = ("numpy",)

    class NoDunder(fake_backend):
        sdk = ("crnn_fake_sdk.sub",)

    class NoSdk(fake_backend):
        sdk = ()

    assert WithVersion.version() == np.__version__
    monkeypatch.setitem(sys.modules, "crnn_fake_sdk", types.ModuleType("crnn_fake_sdk"))
    monkeypatch.setitem(sys.modules, "crnn_fake_sdk.sub", types.ModuleType("crnn_fake_sdk.sub"))
    assert NoDunder.version() is None  # no __version__ and no installed distribution
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda dist: {"crnn_fake_sdk": "1.2.3"}[dist])
    assert NoDunder.version() == "1.2.3"  # the top-level distribution's version
    assert NoSdk.version() is None and NoSdk.unavailable_reason() is None


def test_subclass_overriding_only_is_available_is_still_refused(fake_backend, fake_engine):
    """Backends written before unavailable_reason() (mmdeploy style) still block load()."""
    class Old(fake_backend):
        @classmethod
        def is_available(cls) -> bool:
            return False

    with pytest.raises(UserError, match="cannot run here: is_available"):
        Old(fake_engine()).load()


def test_missing_engine_is_checked_before_the_sdk(fake_backend, tmp_path):
    class Missing(fake_backend):
        sdk = ("crnn_no_such_sdk",)

    with pytest.raises(UserError, match=f"engine not found: {tmp_path / 'nope.json'}"):
        Missing(tmp_path / "nope.json").load()


def test_load_once_infer_loads_and_close_allows_reload(fake_backend, fake_engine, nano_spec):
    b = fake_backend(fake_engine(16), device="CPU", threads=2)
    assert b.spec is None and b.options == {"threads": 2}
    y = b.infer(np.zeros((16, *nano_spec.input_shape), np.float32))  # infer loads
    assert y.shape == (*nano_spec.output_shape[:1], 16, nano_spec.output_shape[1])
    assert b.spec == nano_spec and b.batch_size == 16 and b.calls == 1
    b.load()
    assert b.calls == 1  # not reloaded (a reload resets calls)
    b.close()
    b.close()
    with b:
        assert b.calls == 0  # reloaded


@pytest.mark.parametrize("x, match", [
    (np.zeros((2, 1, 32, 128), np.float16), "float32 numpy array, got float16"),
    ([[0.0]], "float32 numpy array, got list"),
    (np.zeros((2, 32, 128), np.float32), r"input shape \(2, 32, 128\) does not match"),
    (np.zeros((2, 3, 32, 128), np.float32), r"does not match \(N, 1, 32, 128\) of nano-ocr"),
])
def test_check_input(fake_backend, fake_engine, x, match):
    with fake_backend(fake_engine()) as b:
        with pytest.raises(UserError, match=match):
            b.infer(x)
        assert b.calls == 0


def test_static_batch_and_contiguity(fake_backend, fake_engine):
    with fake_backend(fake_engine(4)) as b:
        with pytest.raises(UserError, match=r"static batch of 4, got a batch of 3"):
            b.infer(np.zeros((3, 1, 32, 128), np.float32))
        x = np.random.default_rng(0).standard_normal((4, 1, 32, 128)).astype(np.float32)
        assert np.array_equal(b.infer(np.asfortranarray(x)), b.infer(x))


def test_timing_fields(fake_backend, fake_engine):
    x = np.ones((2, 1, 32, 128), np.float32)
    with fake_backend(fake_engine()) as b:
        assert b.busy_s == 0.0 and b.last_latency_ms == 0.0
        b.infer(x)
        first = b.last_latency_ms
        assert first >= b.delay_s * 1000  # the bare call includes the fake's 2 ms sleep
        b.infer(x)
        assert b.busy_s == pytest.approx((first + b.last_latency_ms) / 1000, rel=1e-9)
        outs, lat = [], []
        for y in b.infer_many([x * k for k in range(3)]):
            outs.append(float(y[0, 0, 0]))
            lat.append(b.last_latency_ms)
        assert outs == [0.0, 1.0, 2.0]  # input order: y[0, n, 0] = mean(x[n])
        assert min(lat) >= b.delay_s * 1000 and b.calls == 5
        b.reset_timing()
        assert b.busy_s == 0.0 and b.last_latency_ms == 0.0
