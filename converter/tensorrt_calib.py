"""INT8 calibration for TensorRT: batches read from a preprocessed ``input_bin/`` folder.

``input_bin/`` is the output of ``crnn-preprocess`` (docs/DESIGN.md): ``test_{i}.bin`` files, each a
float32 little-endian C-contiguous (1, C, H, W) sample of the spec, plus ``meta.json`` naming
the spec. The reader is pure numpy (testable without TensorRT); :func:`make_calibrator` wraps
the batches in a ``trt.IInt8EntropyCalibrator2`` (after Polygraphy's ``Calibrator``), which
TensorRT 10 still supports, though deprecated in favour of explicit (Q/DQ) quantization.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import read_json
from crnn_deploy.models.specs import ModelSpec

#: Default number of calibration samples (NVIDIA suggests ~500 images for ImageNet-size nets).
DEFAULT_MAX_SAMPLES = 512
#: Largest meta.json read (bytes); crnn-preprocess writes about 2 KB.
MAX_META_BYTES = 4 << 20


def _index(path: Path) -> tuple[int, str]:
    m = re.search(r"(\d+)$", path.stem)
    return (int(m.group(1)) if m else -1, path.name)


def calibration_files(input_bin: str | Path) -> list[Path]:
    """The ``*.bin`` files of ``input_bin`` in sample order (``test_2`` before ``test_10``).

    Raises:
        UserError: the folder is missing, holds no ``.bin`` file, or its ``meta.json`` cannot
            be read.
    """
    folder = Path(input_bin)
    if not folder.is_dir():
        raise UserError(f"calibration folder not found: {folder} (make it with crnn-preprocess)")
    files = sorted(folder.glob("*.bin"), key=_index)
    if not files:
        raise UserError(f"no .bin files in {folder} (expected test_{{i}}.bin from crnn-preprocess)")
    return files


def check_meta(input_bin: str | Path, spec: ModelSpec) -> None:
    """Raise UserError when ``input_bin/meta.json`` exists and names another spec or shape."""
    meta_path = Path(input_bin) / "meta.json"
    if not meta_path.is_file():
        return
    try:
        meta = read_json(meta_path, max_bytes=MAX_META_BYTES, what="meta.json")
    except UserError as exc:
        raise UserError(f"cannot read {meta_path}: {exc.message}") from None
    if not isinstance(meta, dict):
        raise UserError(f"{meta_path}: expected a JSON object")
    name = meta.get("spec")
    if name is not None and name != spec.name:
        raise UserError(f"{meta_path}: samples were made for spec {name!r}, the ONNX model is "
                        f"{spec.name!r}; run crnn-preprocess with --model {spec.name}")
    shape = meta.get("shape")
    if shape is not None and list(shape) != [1, *spec.input_shape]:
        raise UserError(f"{meta_path}: sample shape {shape} != {[1, *spec.input_shape]} of "
                        f"{spec.name}")


def read_calibration_batches(input_bin: str | Path, spec: ModelSpec, batch_size: int,
                             max_samples: int | None = DEFAULT_MAX_SAMPLES
                             ) -> tuple[list[np.ndarray], int]:
    """Read up to ``max_samples`` samples as float32 (batch_size, C, H, W) batches.

    The last batch is completed with samples from the start (so every sample read is used and
    every batch has the profile's opt batch, which TensorRT calibrates with).

    Returns:
        (batches, count): the batches, and the number of distinct samples read (the first
        ``count`` rows of the concatenated batches; the rest is the padding).

    Args:
        input_bin: folder of ``test_{i}.bin`` files (see module doc).
        spec: the model spec; each file must hold exactly ``spec.sample_bytes`` bytes.
        batch_size: samples per batch (>= 1).
        max_samples: read at most this many files (None: all).

    Raises:
        UserError: bad folder/meta (see :func:`calibration_files`, :func:`check_meta`), a file
            of the wrong size (named, with the expected bytes), or a non-finite value.
    """
    if batch_size < 1:
        raise UserError(f"calibration batch size must be >= 1, got {batch_size}")
    check_meta(input_bin, spec)
    files = calibration_files(input_bin)
    if max_samples is not None:
        files = files[:max_samples]
    samples = []
    for f in files:
        size = f.stat().st_size
        if size != spec.sample_bytes:
            raise UserError(f"{f}: {size} bytes, expected {spec.sample_bytes} (float32 "
                            f"1x{'x'.join(map(str, spec.input_shape))} of {spec.name})")
        x = np.fromfile(f, dtype="<f4").reshape(1, *spec.input_shape)
        if not np.all(np.isfinite(x)):
            raise UserError(f"{f}: holds NaN or infinite values")
        samples.append(x)
    data = np.concatenate(samples).astype(np.float32, copy=False)
    pad = (-len(data)) % batch_size
    if pad:
        data = np.concatenate([data, data[np.arange(pad) % len(data)]])
    batches = [np.ascontiguousarray(data[i:i + batch_size]) for i in range(0, len(data), batch_size)]
    return batches, len(samples)


def make_calibrator(batches: list[np.ndarray], input_name: str, cache: Path | None = None):
    """A ``trt.IInt8EntropyCalibrator2`` feeding ``batches`` (needs tensorrt + a GPU).

    Args:
        batches: equally sized float32 (N, C, H, W) arrays (:func:`read_calibration_batches`).
        input_name: the network input they feed.
        cache: optional calibration cache file (read if present, written after calibration).
    """
    import tensorrt as trt

    from crnn_deploy.runtime.tensorrt_backend import DeviceBuffer, cuda_call, cudart

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)  # required by the pybind trampoline
            self.batches = iter(batches)
            self.buffer = DeviceBuffer(batches[0].nbytes)

        def get_batch_size(self):
            # explicit-batch networks: the batch is in the tensor shape (the calibration
            # profile's opt shape), and TensorRT expects 1 here (as Polygraphy's default)
            return 1

        def get_batch(self, names):
            if input_name not in names:
                raise RuntimeError(f"calibrator asked for {names}, has data for {input_name}")
            try:
                batch = next(self.batches)
            except StopIteration:
                return None
            self.buffer.upload(batch, 0)  # default stream, then wait: TRT reads it at once
            cuda_call(cudart().cudaStreamSynchronize(0))
            return [self.buffer.ptr]

        def read_calibration_cache(self):
            return cache.read_bytes() if cache is not None and cache.is_file() else None

        def write_calibration_cache(self, data):
            if cache is not None:
                cache.write_bytes(bytes(data))

    return EntropyCalibrator()
