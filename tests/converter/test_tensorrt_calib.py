"""converter/tensorrt_calib.py: the INT8 calibration reader of the TensorRT builder (files in
sample order, batches padded from the start, the sample cap, every user error); no TensorRT
needed."""
from __future__ import annotations

import json

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.tensorrt_calib import calibration_files, read_calibration_batches
from crnn_deploy.models.specs import get_spec

NANO, CRNN = get_spec("nano-ocr"), get_spec("crnn")


def _write_samples(folder, spec, indices, value=None):
    folder.mkdir(parents=True, exist_ok=True)
    for i in indices:
        x = np.full((1, *spec.input_shape), float(i) if value is None else value, np.float32)
        x.astype("<f4").tofile(folder / f"test_{i}.bin")
    return folder


def test_calibration_files_in_sample_order(tmp_path):
    folder = _write_samples(tmp_path / "input_bin", CRNN, [10, 2, 1])
    assert [f.name for f in calibration_files(folder)] == ["test_1.bin", "test_2.bin", "test_10.bin"]


def test_calibration_batches_pad_the_last_batch_from_the_start(tmp_path):
    folder = _write_samples(tmp_path / "input_bin", CRNN, [1, 2, 3, 4, 5])
    (folder / "meta.json").write_text(json.dumps({"spec": "crnn", "shape": [1, 1, 32, 100]}))
    batches, count = read_calibration_batches(folder, CRNN, batch_size=4)
    assert count == 5 and len(batches) == 2
    assert all(b.shape == (4, 1, 32, 100) and b.dtype == np.float32 for b in batches)
    assert [float(b[0, 0, 0]) for b in np.concatenate(batches)] == [1, 2, 3, 4, 5, 1, 2, 3]


def test_calibration_max_samples(tmp_path):
    folder = _write_samples(tmp_path / "input_bin", CRNN, range(1, 11))
    batches, count = read_calibration_batches(folder, CRNN, batch_size=2, max_samples=4)
    assert count == 4 and len(batches) == 2


def test_calibration_errors(tmp_path):
    with pytest.raises(UserError, match="calibration folder not found"):
        read_calibration_batches(tmp_path / "nope", CRNN, 4)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no .bin files"):
        read_calibration_batches(tmp_path / "empty", CRNN, 4)
    nano_bins = _write_samples(tmp_path / "nano_bin", NANO, [1, 2])
    with pytest.raises(UserError, match=r"test_1.bin: 16384 bytes, expected 12800 .*crnn"):
        read_calibration_batches(nano_bins, CRNN, 2)
    (nano_bins / "meta.json").write_text(json.dumps({"spec": "nano-ocr"}))
    with pytest.raises(UserError, match="made for spec 'nano-ocr'.*'crnn'"):
        read_calibration_batches(nano_bins, CRNN, 2)
    nan_bins = _write_samples(tmp_path / "nan_bin", CRNN, [1], value=np.nan)
    with pytest.raises(UserError, match="NaN"):
        read_calibration_batches(nan_bins, CRNN, 2)
