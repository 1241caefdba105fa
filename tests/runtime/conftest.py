"""Runtime fixtures: the nano-ocr ONNX engines, real IIIT5K inputs as ais_bench .bin files, and
a fake backend (no SDK) for the base-class and contract tests.

The inputs are made here with PIL (convert('L'), bilinear resize to 128x32, (x/255-0.5)/0.5),
the nano-ocr training transform, until `crnn-preprocess lmdb-to-bin` is used instead.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from crnn_deploy.models.specs import get_spec
from crnn_deploy.runtime.base import Backend

N_IMAGES = 200


@pytest.fixture(scope="session")
def nano_spec():
    return get_spec("nano-ocr")


def write_bins(assets: Path, folder: Path, spec, count: int) -> Path:
    """``folder/test_{i}.bin`` (i from 1) for the first ``count`` IIIT5K images + meta.json."""
    from PIL import Image

    root = assets / "eval_iiit5k_3000"
    lines = [ln.split("\t", 1) for ln in (root / "gt.txt").read_text().splitlines() if ln.strip()]
    folder.mkdir(parents=True, exist_ok=True)
    c, h, w = spec.input_shape
    for i, (rel, _label) in enumerate(lines[:count], start=1):
        with Image.open(root / rel) as im:
            grey = im.convert("L").resize((w, h), Image.BILINEAR)
        x = (np.asarray(grey, dtype=np.float32) / 255.0 - spec.mean) / spec.std
        x.reshape(1, c, h, w).astype(np.float32).tofile(folder / f"test_{i}.bin")
    meta = {"spec": spec.to_dict(), "count": min(count, len(lines)), "source": str(root)}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))
    return folder


@pytest.fixture(scope="session")
def iiit_bins(assets, nano_spec, tmp_path_factory) -> Path:
    """200 real IIIT5K samples as input_bin/test_{1..200}.bin (float32 1x1x32x128) + meta.json."""
    return write_bins(assets, tmp_path_factory.mktemp("iiit") / "input_bin", nano_spec, N_IMAGES)


@pytest.fixture(scope="session")
def iiit_bins_37(iiit_bins, tmp_path_factory) -> Path:
    """The first 37 samples (not a multiple of 16: the last static batch needs padding)."""
    folder = tmp_path_factory.mktemp("iiit37") / "input_bin"
    folder.mkdir()
    for i in range(1, 38):
        shutil.copy(iiit_bins / f"test_{i}.bin", folder)
    shutil.copy(iiit_bins / "meta.json", folder)
    return folder


@pytest.fixture(scope="session")
def ort_reference(iiit_bins, nano_dynamic_onnx, nano_spec) -> np.ndarray:
    """ONNX Runtime outputs of all 200 samples at batch 16: float32 (T, 200, C), in file order."""
    import onnxruntime as ort

    files = sorted(iiit_bins.glob("test_*.bin"), key=lambda p: int(p.stem.split("_")[1]))
    x = np.stack([np.fromfile(f, dtype=np.float32).reshape(nano_spec.input_shape) for f in files])
    sess = ort.InferenceSession(str(nano_dynamic_onnx), providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, {nano_spec.input_name: x[i:i + 16]})[0]
                           for i in range(0, len(x), 16)], axis=1)


class FakeBackend(Backend):
    """A backend without SDK for the contract and base tests.

    Its engine is a JSON file ``{"spec": name, "batch": int | null}``; its output is
    float32 (T, N, C) with ``y[t, n, c] = mean(x[n]) + t + c / 100``, after a 2 ms sleep (so
    the timing fields have something to measure), and it counts its calls.
    """

    name = "fake"
    extra = "fake"
    sdk = ("json",)
    delay_s = 0.002

    def _load(self) -> None:
        data = json.loads(self.engine.read_text())
        self.spec = get_spec(data["spec"])
        self.batch_size = data["batch"]
        self.calls = 0

    def _infer(self, x: np.ndarray) -> np.ndarray:
        time.sleep(self.delay_s)
        self.calls += 1
        t, c = self.spec.output_shape
        mean = x.reshape(len(x), -1).mean(axis=1, dtype=np.float64)
        y = mean[None, :, None] + np.arange(t)[:, None, None] + np.arange(c)[None, None, :] / 100
        return y.astype(np.float32)


@pytest.fixture
def fake_engine(tmp_path):
    """``make(batch=None, spec="nano-ocr") -> Path``: a FakeBackend engine file."""
    def make(batch: int | None = None, spec: str = "nano-ocr") -> Path:
        path = tmp_path / f"fake_{spec}_{batch or 'dynamic'}.json"
        path.write_text(json.dumps({"spec": spec, "batch": batch}))
        return path
    return make


@pytest.fixture
def fake_backend():
    """The :class:`FakeBackend` class."""
    return FakeBackend


def real_batch(folder: Path, spec, start: int, n: int) -> np.ndarray:
    """float32 (n, C, H, W) of ``folder/test_{start+1} .. test_{start+n}.bin``."""
    return np.stack([np.fromfile(folder / f"test_{i}.bin", dtype=np.float32).reshape(spec.input_shape)
                     for i in range(start + 1, start + n + 1)])


@pytest.fixture(scope="session")
def real_batch_of(iiit_bins, nano_spec):
    """``take(start, n)``: float32 (n, 1, 32, 128) of real IIIT5K samples start+1 .. start+n
    (at most 200)."""
    return lambda start, n: real_batch(iiit_bins, nano_spec, start, n)
