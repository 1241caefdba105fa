"""Runtime fixtures: the nano-ocr ONNX engines and real IIIT5K inputs as ais_bench .bin files.

The inputs are made here with PIL (convert('L'), bilinear resize to 128x32, (x/255-0.5)/0.5),
the nano-ocr training transform, until `crnn-preprocess lmdb-to-bin` is used instead.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from models.specs import get_spec

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
