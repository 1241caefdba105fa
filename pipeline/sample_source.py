"""Where the fused path's samples come from: the items of a clovaai LMDB (read in the
consuming thread, one transaction per group) or of a GT file (:class:`pipeline.gt_set.GtSet`,
files read in the preprocessing threads), in one layout ``(i, label, source, bytes or Path,
bad key, reason)``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from crnn_deploy.preprocess.lmdb_io import (
    SampleError,
    has_labels,
    image_key,
    open_lmdb,
    read_num_samples,
    read_sample,
    read_source,
)
from crnn_deploy.preprocess.parallel import REMAP_BYTES  # the LMDB is reopened after this many bytes
from crnn_deploy.preprocess.sources import read_image_file


def lmdb_info(lmdb_path: str | Path) -> tuple[int, bool]:
    """(num-samples, labeled) of an LMDB."""
    env = open_lmdb(lmdb_path)
    try:
        n = read_num_samples(env, lmdb_path)
        with env.begin() as txn:
            return n, has_labels(txn)
    finally:
        env.close()


def lmdb_groups(lmdb_path: str | Path, n: int, batch: int) -> Iterator[list[tuple]]:
    """Groups of ``batch`` items ``(i, label, source, bytes, bad key, reason)`` read in this
    thread (one read transaction at a time, reopened every :data:`REMAP_BYTES`)."""
    env = open_lmdb(lmdb_path)
    read = 0
    try:
        for start in range(1, n + 1, batch):
            if read > REMAP_BYTES:
                env.close()
                env, read = open_lmdb(lmdb_path), 0
            group = []
            with env.begin(buffers=False) as txn:
                for i in range(start, min(start + batch, n + 1)):
                    try:
                        data, label = read_sample(txn, i)
                    except SampleError as err:
                        group.append((i, None, None, None, err.key, err.reason))
                        continue
                    read += len(data)
                    group.append((i, label, read_source(txn, i), data, None, None))
            yield group
    finally:
        env.close()


def load_item(item: tuple) -> bytes:
    """The encoded image of a fused-path item ``(i, label, source, bytes or Path, bad key,
    reason)``: the LMDB's bytes, or the file read (bounded) for a GT file's path."""
    i, _, _, data, key, reason = item
    if key is not None:
        raise SampleError(i, key, reason)
    if isinstance(data, Path):
        return read_image_file(data)
    return data


def item_size(item: tuple) -> int:
    """Encoded size of an item's image in bytes (a file's size; 0 if it cannot be stat'ed)."""
    data = item[3]
    if isinstance(data, Path):
        try:
            return data.stat().st_size
        except OSError:
            return 0
    return len(data or b"")


def image_reader(source, predictions) -> Callable[[str], bytes | None]:
    """``source id -> encoded image bytes`` (None when it cannot be read) for the misreads
    page of a fused run over ``source`` (an LMDB path or a :class:`pipeline.gt_set.GtSet`);
    ``predictions``: the run's ``(file test_{i}.bin, source, ...)`` rows (an LMDB sample is
    found by its index). Bounded reads; the LMDB is opened on each call (a few hundred
    misreads, not the whole set)."""
    if hasattr(source, "root"):
        def from_file(src: str) -> bytes | None:
            try:
                return read_image_file(Path(source.root, src))
            except (OSError, ValueError):
                return None
        return from_file
    index = {src: int(f[5:-4]) for f, src, *_ in predictions}

    def from_lmdb(src: str) -> bytes | None:
        i = index.get(src)
        if i is None:
            return None
        env = open_lmdb(source)
        try:
            with env.begin(buffers=False) as txn:
                return txn.get(image_key(i).encode())
        finally:
            env.close()
    return from_lmdb
