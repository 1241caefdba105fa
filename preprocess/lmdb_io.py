"""Reading LMDBs in the clovaai layout, in streaming fashion.

Layout (``docs/DESIGN.md``): ``num-samples`` (ASCII decimal), ``image-%09d`` (the encoded
image bytes, as read from the image file) and ``label-%09d`` (UTF-8), indices 1..num-samples.
An LMDB without any ``label-%09d`` key is unlabeled (the clovaai reader convention): its samples
have the label None. ``path-%09d`` (UTF-8), when present, is the source path of the image.

Nothing here loads more than one sample at a time: :func:`iter_samples` yields them one by one
from a read transaction on a memory map.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import lmdb

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.inputs import label_problem

NUM_SAMPLES_KEY = b"num-samples"


def image_key(index: int) -> str:
    """``image-%09d`` key of a 1-based sample index (e.g. ``image-000000017``)."""
    return "image-%09d" % index


def label_key(index: int) -> str:
    """``label-%09d`` key of a 1-based sample index."""
    return "label-%09d" % index


def path_key(index: int) -> str:
    """``path-%09d`` key of a 1-based sample index: the image's source path, when it has one."""
    return f"path-{index:09d}"


#: Longest ``path-%09d`` value read (bytes); longer values are cut (a path is < 4096 on Linux).
MAX_PATH_BYTES = 4096


def has_labels(txn: lmdb.Transaction) -> bool:
    """True when the LMDB holds at least one ``label-%09d`` key (one B-tree seek).

    An LMDB without any is unlabeled (clovaai convention), and its samples get the label None.
    """
    cur = txn.cursor()
    return cur.set_range(b"label-") and bytes(cur.key()).startswith(b"label-")


def read_source(txn: lmdb.Transaction, index: int) -> str:
    """The source of sample ``index``: its ``path-%09d`` value (the file name's bytes, at most
    :data:`MAX_PATH_BYTES` read, decoded as ``os.fsdecode`` does: bytes that are not UTF-8
    become lone surrogates, nothing is lost) when present, else its LMDB key ``image-%09d``.
    Writers escape it (:func:`common.names.escape_name`)."""
    raw = txn.get(path_key(index).encode())
    if not raw:
        return image_key(index)
    return bytes(raw[:MAX_PATH_BYTES]).decode("utf-8", errors="surrogateescape")


class SampleError(UserError):
    """A bad sample: missing key, empty or non-UTF-8 label, undecodable image.

    ``key`` names the offending LMDB key (e.g. ``image-000000017``), ``index`` the sample.
    """

    def __init__(self, index: int, key: str, reason: str):
        super().__init__(f"{key}: {reason}")
        self.index = index
        self.key = key
        self.reason = reason

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.index, self.key, self.reason))


def open_lmdb(path: str | Path, readahead: bool = True) -> lmdb.Environment:
    """Open an LMDB read-only, without locking (safe to call in every worker process).

    ``path`` is an LMDB directory (holding ``data.mdb``) or a ``data.mdb`` file.
    ``readahead`` suits the sequential reads done here; pass False for random access to an
    LMDB larger than RAM. Raises UserError when it does not exist or is not an LMDB.
    """
    p = Path(path)
    if not p.exists():
        raise UserError(f"LMDB not found: {p}")
    if p.is_dir() and not (p / "data.mdb").is_file():
        raise UserError(f"{p} is not an LMDB: no data.mdb in this directory")
    if p.is_file() and p.stat().st_size == 0:
        raise UserError(f"{p} is not a readable LMDB: empty file")
    try:
        return lmdb.open(str(p), subdir=p.is_dir(), readonly=True, lock=False,
                         readahead=readahead, meminit=False, max_readers=1)
    except lmdb.InvalidError:
        raise UserError(f"{p} is not a readable LMDB: MDB_INVALID, not an LMDB file") from None
    except lmdb.Error as exc:
        raise UserError(f"cannot open LMDB {p}: {exc}") from None


def read_num_samples(env: lmdb.Environment, path: str | Path = "") -> int:
    """The ``num-samples`` value (int >= 0).

    Bounded by the database: every sample needs at least its ``image-%09d`` key, so
    ``num-samples`` may not exceed the entry count minus one (``env.stat()['entries']``; a
    labeled clovaai LMDB has 2n + 1). A header claiming 10^9 samples in a 20-record file would
    otherwise make every reader loop over 10^9 missing keys.

    Raises:
        UserError: missing, not an integer, negative, or larger than the entries allow (both
            numbers given).
    """
    with env.begin() as txn:
        raw = txn.get(NUM_SAMPLES_KEY)
    where = f"{path}: " if path else ""
    if raw is None:
        raise UserError(f"{where}no 'num-samples' key; not an LMDB in the clovaai layout "
                        "(keys num-samples, image-%09d, label-%09d)")
    try:
        n = int(bytes(raw).decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise UserError(f"{where}'num-samples' is not an integer: {bytes(raw)[:40]!r}") from None
    if n < 0:
        raise UserError(f"{where}'num-samples' is negative: {n}")
    entries = env.stat()["entries"]
    if n > entries - 1:
        raise UserError(f"{where}'num-samples' says {n} samples but the database holds only "
                        f"{entries} entries (at most {max(entries - 1, 0)} samples); the header "
                        "is corrupt or the LMDB is truncated")
    return n


def decode_label(index: int, raw: bytes | None) -> str:
    """Label bytes -> str. Raises SampleError if missing, not UTF-8, or breaking the label
    rule of :func:`common.inputs.label_problem` (empty, surrounding spaces, line break)."""
    key = label_key(index)
    if raw is None:
        raise SampleError(index, key, "missing label key")
    try:
        label = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SampleError(index, key, f"label is not valid UTF-8 ({exc.reason} at byte "
                                      f"{exc.start}: {bytes(raw)[:40]!r})") from None
    problem = label_problem(label)  # the one label rule (common.inputs)
    if problem:
        raise SampleError(index, key, problem)
    return label


def read_sample(txn: lmdb.Transaction, index: int) -> tuple[bytes, str | None]:
    """(image bytes, label) of sample ``index`` (1-based) from an open read transaction.

    The label is None when the LMDB is unlabeled (no ``label-%09d`` key at all, see
    :func:`has_labels`). Raises SampleError naming the key when the image key is missing, the
    image is empty, or (labeled LMDB) the label is missing / empty / not UTF-8 / multi-line.
    Image decodability is not checked here (see :func:`preprocess.transform.open_image`).
    """
    img = txn.get(image_key(index).encode())
    if img is None:
        raise SampleError(index, image_key(index), "missing image key")
    if len(img) == 0:
        raise SampleError(index, image_key(index), "empty image (0 bytes)")
    raw = txn.get(label_key(index).encode())
    if raw is None and not has_labels(txn):
        return bytes(img), None
    return bytes(img), decode_label(index, raw)


def iter_samples(path: str | Path, start: int = 1, stop: int | None = None,
                 on_error: Callable[[SampleError], None] | None = None,
                 ) -> Iterator[tuple[int, bytes, str | None]]:
    """Stream the samples ``start <= index < stop`` (default: all) of a clovaai LMDB, in order.

    Yields ``(index, image_bytes, label)``: the 1-based LMDB index, the encoded image bytes
    exactly as stored, and the UTF-8-decoded label (None in an unlabeled LMDB). Only one sample is in memory at a time.

    A bad sample (see :func:`read_sample`) raises SampleError, or, when ``on_error`` is given,
    is passed to it and skipped. Raises UserError if ``path`` is not a clovaai LMDB.
    The LMDB stays open (one read transaction) until the iterator is exhausted or closed;
    py-lmdb allows one open handle per LMDB and process.
    """
    env = open_lmdb(path)
    try:
        n = read_num_samples(env, path)
        stop = n + 1 if stop is None else min(stop, n + 1)
        with env.begin(buffers=False) as txn:
            for index in range(max(start, 1), stop):
                try:
                    img, label = read_sample(txn, index)
                except SampleError as err:
                    if on_error is None:
                        raise
                    on_error(err)
                    continue
                yield index, img, label
    finally:
        env.close()


def keys_sha256(path: str | Path, remap_every: int = 4096) -> str:
    """sha256 (hex) of the LMDB's key order: every key in cursor (byte-sorted) order, each
    followed by ``b"\\n"``. Values are not copied; the LMDB is reopened every ``remap_every``
    keys because LMDB touches each value's first page, and unmapping keeps the resident memory
    bounded on large LMDBs."""
    h = hashlib.sha256()
    last: bytes | None = None
    while True:
        env = open_lmdb(path)
        try:
            with env.begin() as txn:
                cur = txn.cursor()
                if last is None:
                    more = cur.first()
                elif cur.set_range(last) and cur.key() == last:
                    more = cur.next()
                else:
                    more = cur.key() is not None and cur.key() != b""
                n = 0
                while more and n < remap_every:
                    last = bytes(cur.key())
                    h.update(last)
                    h.update(b"\n")
                    n += 1
                    more = cur.next()
        finally:
            env.close()
        if not more:
            return h.hexdigest()
