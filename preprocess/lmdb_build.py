"""images + GT file -> LMDB in the clovaai layout (``crnn-preprocess build-lmdb``).

GT lines are ``relative/path<TAB>label`` (the ``{imagePath}\\t{label}`` format of clovaai
``create_lmdb_dataset.py``); paths are relative to ``root``. The LMDB gets ``num-samples`` and,
for indices 1..n, ``image-%09d`` (the image file's bytes, unchanged) and ``label-%09d`` (UTF-8).

Every image is fully decoded once with Pillow (same guards as the transform: zero-sized and
> 50 Mpixel images are rejected). A bad GT line (no tab, empty label, missing or undecodable
image, non-UTF-8 text) is reported with its line number and skipped, or fails the build with
``strict``. The LMDB is written into a temporary directory next to the output and renamed into
place only when complete; the memory map grows on demand.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import lmdb

from common import outputs
from common.errors import UserError
from common.inputs import (
    MAX_IMAGE_BYTES,
    MAX_LINE_BYTES,
    label_problem,
    open_regular,
    read_regular_file,
)
from preprocess.lmdb_io import NUM_SAMPLES_KEY, image_key, label_key
from preprocess.transform import ImageError, open_image

#: Initial LMDB map size (bytes); doubled on MDB_MAP_FULL. Virtual only: the file grows with data.
INITIAL_MAP_SIZE = 1 << 30
#: Commit a write transaction after this many samples or this many bytes, whichever first.
COMMIT_SAMPLES = 1000
COMMIT_BYTES = 64 << 20
#: How many bad lines are printed one by one (the rest are only counted).
MAX_REPORTED = 20


@dataclass
class BuildResult:
    """Outcome of :func:`build_lmdb`.

    Attributes:
        output: the final LMDB directory.
        written: number of samples stored (= ``num-samples``).
        skipped: ``(gt_line_number, reason)`` of every skipped line (1-based line numbers).
        image_bytes: total bytes of the stored images.
        seconds: wall time of the build.
    """

    output: Path
    written: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    image_bytes: int = 0
    seconds: float = 0.0


class _BadLine(Exception):
    pass


def parse_gt(gt: Path) -> Iterator[tuple[int, str | None, str | None, str | None]]:
    """Yield ``(line_number, relpath, label, error)`` for each non-blank GT line.

    ``error`` is None for a well-formed line, else a message (and relpath/label may be None).
    The line is split on its first tab; a trailing ``\\n``/``\\r\\n`` is removed, nothing else.
    """
    try:
        f = open_regular(gt, 1 << 62, "GT file")  # any size, streamed; lines are bounded
    except OSError as exc:
        raise UserError(f"cannot read GT file {gt}: {exc.strerror}") from None
    with f:
        for lineno, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
            if len(raw) > MAX_LINE_BYTES:
                raise UserError(f"{gt}:{lineno}: line longer than {MAX_LINE_BYTES} bytes; "
                                "not a GT file ('path<TAB>label' per line)?")
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            raw = raw.rstrip(b"\n").rstrip(b"\r")
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield lineno, None, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
                continue
            if "\t" not in line:
                yield lineno, None, None, f"expected 'path<TAB>label', got {line[:60]!r}"
                continue
            rel, label = line.split("\t", 1)
            if not rel:
                yield lineno, None, label, "empty image path"
            elif label_problem(label):  # the one label rule (common.inputs)
                yield lineno, rel, None, f"{label_problem(label)} for {rel}"
            else:
                yield lineno, rel, label, None


def _load_checked(root: Path, rel: str, output: Path) -> bytes:
    path = root / rel
    if outputs.resolved(path).is_relative_to(output):
        raise _BadLine(f"image {path} lies inside --output {output}")
    try:  # regular files only, at most MAX_IMAGE_BYTES
        data = read_regular_file(path, MAX_IMAGE_BYTES, "image")
    except OSError as exc:
        raise _BadLine(f"cannot read image {path}: {exc.strerror or exc}") from None
    except UserError as exc:
        raise _BadLine(exc.message) from None
    try:
        open_image(data)
    except ImageError as exc:
        raise _BadLine(f"image {path}: {exc}") from None
    return data


def _commit(env: lmdb.Environment, items: list[tuple[bytes, bytes]]) -> None:
    """Write ``items`` in one transaction, doubling the map size on MDB_MAP_FULL."""
    while True:
        try:
            with env.begin(write=True) as txn:
                for k, v in items:
                    txn.put(k, v)
            return
        except lmdb.MapFullError:
            env.set_mapsize(env.info()["map_size"] * 2)


def build_lmdb(gt: str | Path, output: str | Path, root: str | Path | None = None,
               strict: bool = False, overwrite: bool = False,
               map_size: int = INITIAL_MAP_SIZE,
               log: Callable[[str], None] | None = None) -> BuildResult:
    """Pack the images listed in ``gt`` into a clovaai-layout LMDB at ``output``.

    Args:
        gt: GT file, one ``relative/path<TAB>label`` per line (UTF-8; blank lines ignored).
        output: LMDB directory to create (``data.mdb`` + ``lock.mdb``); must not exist unless
            ``overwrite``.
        root: folder the GT paths are relative to (default: the folder of ``gt``).
        strict: fail on the first bad line instead of skipping it.
        overwrite: replace an existing ``output`` whole, only when it is an LMDB this tool
            wrote (its marker, nothing else in it), after the new LMDB is complete.
        map_size: initial LMDB map size in bytes (grown automatically).
        log: where progress messages go (default: stderr).

    Returns:
        BuildResult. Samples are numbered 1..written in GT order, skipping bad lines.

    Raises:
        UserError: unreadable GT, an output that exists (without ``overwrite``, or not ours),
            is or contains the GT file or the image root; a bad line with ``strict``; no valid
            sample; a write failure (disk full). On failure ``output`` is unchanged and no
            temporary folder is left (see common.outputs).
    """
    log = log or (lambda m: print(m, file=sys.stderr))
    gt, output = Path(gt), Path(output)
    root = Path(root) if root is not None else gt.parent
    if not gt.is_file():
        raise UserError(f"GT file {gt} is not a regular file" if gt.exists()
                        else f"GT file not found: {gt}")
    if not root.is_dir():
        raise UserError(f"image root is not a directory: {root}")
    out = outputs.check_not_input(output, [("GT file", gt)])
    outputs.check_not_input(output, [("image root", root)], allow_inside=True)
    staged = outputs.StagedDir(out, outputs.LMDB, overwrite, "crnn-preprocess build-lmdb")
    tmp = staged.open()
    res = BuildResult(output=output)
    t0 = time.perf_counter()
    env = lmdb.open(str(tmp), map_size=map_size, subdir=True, meminit=False)
    try:
        pending: list[tuple[bytes, bytes]] = []
        pending_bytes = 0
        for lineno, rel, label, err in parse_gt(gt):
            try:
                if err is not None:
                    raise _BadLine(err)
                data = _load_checked(root, rel, out)
            except _BadLine as bad:
                msg = f"{gt}:{lineno}: {bad}"
                if strict:
                    raise UserError(msg + " (--strict)") from None
                res.skipped.append((lineno, str(bad)))
                if len(res.skipped) <= MAX_REPORTED:
                    log(f"skipped {msg}")
                continue
            res.written += 1
            res.image_bytes += len(data)
            pending.append((image_key(res.written).encode(), data))
            pending.append((label_key(res.written).encode(), label.encode("utf-8")))
            pending_bytes += len(data)
            if len(pending) >= 2 * COMMIT_SAMPLES or pending_bytes >= COMMIT_BYTES:
                _commit(env, pending)
                pending, pending_bytes = [], 0
        if res.written == 0:
            raise UserError(f"{gt}: no valid sample (skipped {len(res.skipped)} line(s))")
        pending.append((NUM_SAMPLES_KEY, str(res.written).encode("ascii")))
        _commit(env, pending)
        env.sync(True)
        env.close()
        staged.commit()  # renamed into place whole; an old LMDB of ours replaced only now
    except lmdb.Error as exc:  # disk full, I/O error
        env.close()
        staged.discard()
        raise UserError(f"writing the LMDB for {output} failed: {exc}") from None
    except BaseException:
        env.close()
        staged.discard()
        raise
    res.seconds = time.perf_counter() - t0
    if len(res.skipped) > MAX_REPORTED:
        log(f"... and {len(res.skipped) - MAX_REPORTED} more skipped line(s)")
    return res
