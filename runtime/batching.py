"""Input files -> padded batches -> per-sample output files (the ais_bench file layout).

Reusable without the CLI (e.g. a fused preprocess -> infer -> decode path):

* :func:`list_inputs`, :func:`check_sizes`, :func:`check_input_meta` find and validate
  ``input_bin/test_{i}.bin`` files (float32 (1, C, H, W), ``spec.sample_bytes`` bytes each);
* :func:`chunk`, :func:`read_batch`, :func:`pad_batch` build float32 (B, C, H, W) batches,
  zero-padding the last one; :func:`prefetch` reads ahead in a thread;
* :func:`split_outputs` turns a (T, B, C) output into per-sample arrays, dropping padding;
* :func:`write_array` writes atomically (temp name, then rename); JSON goes through
  :func:`common.fileio.atomic_write_json`.
"""
from __future__ import annotations

import io
import re
import threading
from pathlib import Path
from queue import Queue
from typing import Iterable, Iterator, Sequence, TypeVar

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import MAX_META_BYTES, atomic_write_bytes, read_json
from crnn_deploy.common.inputs import open_regular
from crnn_deploy.models.specs import ModelSpec
from crnn_deploy.runtime.widths import check_npy

T = TypeVar("T")
OUTFMTS = ("BIN", "NPY")
#: Largest batch a dynamic engine is run with (crnn-infer, crnn-eval). Peak memory grows with
#: the batch: ONNX Runtime (CPU) on nano-ocr 1x32x128 peaks at 2.0 GB RSS at batch 1024 and
#: 1.05 GB at 512 (about 1.85 MB per image, measured with ru_maxrss; ``--batchsize 100000``
#: made it try to allocate 104 GB). 1024 keeps one batch within ~2 GB, which a small machine
#: has, and CPU throughput no longer rises past batch ~64 anyway.
MAX_BATCH = 1024


def natural_key(path: Path) -> list:
    """Sort key that orders ``test_2.bin`` before ``test_10.bin``."""
    return [int(t) if k % 2 else t for k, t in enumerate(re.split(r"([0-9]+)", path.name))]


def list_inputs(source: str | Path) -> list[Path]:
    """The ``*.bin`` files of folder ``source`` in natural order (or ``[source]`` for one file).

    Raises:
        UserError: ``source`` does not exist, or the folder holds no ``.bin`` file.
    """
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise UserError(f"input not found: {source}")
    files = sorted((p for p in source.glob("*.bin") if p.is_file()), key=natural_key)
    if not files:  # a dynamic-width model's inputs: one .npy per sample, its shape in the header
        files = sorted((p for p in source.glob("*.npy") if p.is_file()), key=natural_key)
    if not files:
        raise UserError(f"input folder {source} holds no .bin files (nor .npy) "
                        "(expected test_{i}.bin from crnn-preprocess lmdb-to-bin)")
    return files


def unreadable_inputs(source: str | Path, files: Sequence[Path]) -> list[tuple[str, str]]:
    """``(name, why)`` of every input of folder ``source`` that :func:`list_inputs` left out:
    a ``*.bin`` / ``*.npy`` entry (the kind of ``files``) that is not a regular file (a
    folder, a FIFO, a device, a dangling symlink), in natural order. Empty for one file.

    A sample deleted from the folder is not an input (running a subset is allowed); its
    missing result is reported by crnn-postprocess against label.txt.
    """
    source = Path(source)
    if not source.is_dir():
        return []
    have = {p.name for p in files}
    suffix = files[0].suffix if files else ".bin"
    return [(p.name, "not a regular file (a folder, FIFO, device, socket or dangling link)")
            for p in sorted(source.glob(f"*{suffix}"), key=natural_key) if p.name not in have]


def check_sizes(files: Sequence[Path], spec: ModelSpec) -> None:
    """Raise UserError naming the first file whose size is not ``spec.sample_bytes`` (``.npy``
    inputs of a dynamic-width spec: :func:`check_npy`)."""
    if files and files[0].suffix == ".npy":
        check_npy(files, spec)
        return
    expected = spec.sample_bytes
    for f in files:
        size = f.stat().st_size
        if size != expected:
            shape = "x".join(map(str, (1, *spec.input_shape)))
            raise UserError(f"input file {f} has {size} bytes, expected {expected} "
                            f"(float32 {shape} for {spec.name})")


def check_input_meta(source: str | Path, spec: ModelSpec, engine: str | Path) -> dict | None:
    """Compare ``source/meta.json`` (written by crnn-preprocess) with the engine's spec.

    Understands a full spec dict under ``model_spec`` or ``spec``, a spec name under ``spec``,
    and a sample ``shape`` [1, C, H, W]. Returns the parsed meta (None without meta.json).

    Raises:
        UserError: unreadable meta.json, or its spec differs from the engine's (both named,
            with the differing fields).
    """
    path = Path(source) / "meta.json"
    if not (path.exists() or path.is_symlink()):
        return None
    # bounded (a FIFO or /dev/zero is refused, not read) and guarded (depth, duplicate keys)
    meta = read_json(path, max_bytes=MAX_META_BYTES, what="input meta")
    if not isinstance(meta, dict):
        raise UserError(f"{path} is not a JSON object")
    full = next((meta[k] for k in ("model_spec", "spec") if isinstance(meta.get(k), dict)), None)
    if full is not None:
        theirs = ModelSpec.from_dict(full)
        if theirs != spec:
            fields = [k for k in ModelSpec.__dataclass_fields__
                      if getattr(theirs, k) != getattr(spec, k) and k != "description"]
            raise UserError(f"input {path} was made for spec {theirs.name!r} "
                            f"(input {theirs.input_shape}, resize {theirs.resize}), but engine "
                            f"{engine} has spec {spec.name!r} (input {spec.input_shape}, resize "
                            f"{spec.resize}); differing: {', '.join(fields)}")
    name = meta.get("spec")
    if isinstance(name, str) and name != spec.name:
        raise UserError(f"input {path} was made for spec {name!r}, but engine {engine} "
                        f"has spec {spec.name!r}")
    shape = meta.get("shape")
    if isinstance(shape, list) and spec.dynamic_width and shape[3:] == [None]:
        shape = [*shape[:3], spec.input_shape[2]]  # .npy inputs: each file says its width
    if isinstance(shape, list) and shape[1:] != list(spec.input_shape):
        raise UserError(f"input {path} holds samples of shape {shape}, but engine {engine} "
                        f"({spec.name}) expects [1, {', '.join(map(str, spec.input_shape))}]")
    return meta


def chunk(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """Consecutive slices of ``size`` items (the last may be shorter)."""
    return [items[i:i + size] for i in range(0, len(items), size)]


def read_batch(files: Sequence[Path], spec: ModelSpec, batch: int) -> np.ndarray:
    """Read ``files`` into a float32 (batch, C, H, W) array; rows past ``len(files)`` are zeros."""
    out = np.zeros((batch, *spec.input_shape), dtype=np.float32)
    for row, f in zip(out, files):
        with open_regular(f, row.nbytes, "input file") as fh:  # no FIFO hang, bounded
            if fh.readinto(memoryview(row).cast("B")) != row.nbytes:
                raise UserError(f"input file {f} is shorter than {row.nbytes} bytes")
    return out


def pad_batch(x: np.ndarray, batch: int) -> np.ndarray:
    """Zero-pad float32 (n, C, H, W) to (batch, C, H, W) (n <= batch); no copy when n == batch."""
    n = x.shape[0]
    if n == batch:
        return x
    if n > batch:
        raise ValueError(f"{n} samples do not fit a batch of {batch}")
    return np.concatenate([x, np.zeros((batch - n, *x.shape[1:]), dtype=x.dtype)])


def split_outputs(y: np.ndarray, n: int, axis: int = 1) -> list[np.ndarray]:
    """Per-sample outputs of the first ``n`` samples of a (T, B, C) batch output.

    ``axis=1`` gives (T, 1, C) arrays (ais_bench ``--output_batchsize_axis 1``), ``axis=0``
    gives (1, T, C) arrays. Padding samples (index >= n) are dropped.
    """
    if axis == 1:
        return [np.ascontiguousarray(y[:, i:i + 1, :]) for i in range(n)]
    if axis == 0:
        return [np.ascontiguousarray(y[:, i, :])[None] for i in range(n)]
    raise ValueError(f"output batch axis must be 0 or 1, got {axis}")


def output_path(outdir: Path, stem: str, outfmt: str = "BIN") -> Path:
    """``outdir/{stem}_0.bin`` (or ``.npy``): the ais_bench name of output 0 of sample ``stem``."""
    return outdir / f"{stem}_0.{outfmt.lower()}"


def write_array(path: Path, a: np.ndarray, outfmt: str = "BIN") -> None:
    """Write ``a`` as raw float32 (BIN) or .npy (NPY), atomically (temp name, then rename).

    Raises:
        UserError: the file cannot be written (disk full, permissions).
    """
    if outfmt.upper() == "NPY":
        buf = io.BytesIO()
        np.save(buf, a)
        data = buf.getvalue()
    else:
        data = a.astype(np.float32, copy=False).tobytes()
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` while a background thread produces up to ``depth`` ahead.

    Overlaps file reading with inference; an exception in the producer is re-raised here.
    """
    q: Queue = Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce():
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put((item, None))
        except BaseException as exc:  # handed to the consumer
            q.put((end, exc))
            return
        q.put((end, None))

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is end:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            while not q.empty():
                q.get_nowait()
            thread.join(timeout=0.05)
