"""images + GT file -> LMDB in the clovaai layout (``crnn-preprocess build-lmdb``).

GT lines are ``relative/path<TAB>label`` (the ``{imagePath}\\t{label}`` format of clovaai
``create_lmdb_dataset.py``); paths are relative to ``root``. The LMDB gets ``num-samples`` and,
for indices 1..n, ``image-%09d`` (the image file's bytes, unchanged), ``label-%09d`` (UTF-8) and
``path-%09d`` (the image path as listed, UTF-8).

Unlabeled input (:func:`preprocess.sources.image_dir_entries`: every image file under a folder, sorted by relative
path; :func:`list_file_entries`: a file of paths, one per line) gives an LMDB without any
``label-%09d`` key, the clovaai reader convention for unlabeled data.

Every image is fully decoded once with Pillow (same guards as the transform: zero-sized and
> 50 Mpixel images are rejected). A bad GT line (no tab, empty label, missing or undecodable
image, non-UTF-8 text) is reported with its line number and skipped, or fails the build with
``strict``. The LMDB is written into a temporary directory next to the output and renamed into
place only when complete; the memory map grows on demand.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import lmdb

from crnn_deploy.common import outputs
from crnn_deploy.common.errors import UserError
from crnn_deploy.preprocess.lmdb_io import NUM_SAMPLES_KEY, image_key, label_key, path_key
from crnn_deploy.preprocess.sources import gt_entries, image_dir_entries, list_file_entries, read_image_file
from crnn_deploy.preprocess.transform import ImageError, open_image

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


def _load_checked(root: Path, rel: str, output: Path) -> bytes:
    path = root / rel
    if outputs.resolved(path).is_relative_to(output):
        raise _BadLine(f"image {path} lies inside --output {output}")
    try:  # regular files only, at most MAX_IMAGE_BYTES
        data = read_image_file(path)
    except OSError as exc:
        raise _BadLine(f"cannot read image {path}: {exc.strerror or exc}") from None
    except ImageError as exc:  # not a regular file, or too large (names the path)
        raise _BadLine(str(exc)) from None
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


def _close(env: lmdb.Environment | None) -> None:
    if env is not None:
        env.close()


def build_lmdb(gt: str | Path | None, output: str | Path, root: str | Path | None = None,
               strict: bool = False, overwrite: bool = False,
               map_size: int = INITIAL_MAP_SIZE,
               log: Callable[[str], None] | None = None, *,
               images: str | Path | None = None,
               list_file: str | Path | None = None, outside_ok: bool = False) -> BuildResult:
    """Pack images into a clovaai-layout LMDB at ``output``, from exactly one source.

    Args:
        gt: GT file, one ``relative/path<TAB>label`` per line (UTF-8; blank lines ignored).
        output: LMDB directory to create (``data.mdb`` + ``lock.mdb``); must not exist unless
            ``overwrite``.
        root: folder the GT / list paths are relative to (default: the folder of that file);
            absolute paths in a list file are used as they are.
        strict: fail on the first bad line instead of skipping it.
        overwrite: replace an existing ``output`` whole, only when it is an LMDB this tool
            wrote (its marker, nothing else in it), after the new LMDB is complete.
        map_size: initial LMDB map size in bytes (grown automatically).
        log: where progress messages go (default: stderr).
        images: instead of ``gt``: every image file under this folder, unlabeled
            (:func:`image_dir_entries`); ``path-%09d`` is the path relative to it.
        list_file: instead of ``gt``: a file of image paths, one per line, unlabeled
            (:func:`list_file_entries`); ``path-%09d`` is the path as listed.

    Returns:
        BuildResult. Samples are numbered 1..written in input order, skipping bad entries.
        With ``images``/``list_file`` the LMDB has no ``label-%09d`` key; every sample has
        ``path-%09d``. ``skipped`` holds (line number, reason); 0 for ``images`` entries.

    Raises:
        UserError: not exactly one source, unreadable GT/list/folder; an output that exists
            (without ``overwrite``, or not ours), is or contains the GT/list file or the image
            root; a bad entry with ``strict``; no valid sample; a write failure (disk full).
            On failure ``output`` is unchanged and no temporary folder is left
            (see common.outputs).
    """
    log = log or (lambda m: print(m, file=sys.stderr))
    given = [s for s in (gt, images, list_file) if s is not None]
    if len(given) != 1:
        raise UserError("give exactly one of --gt, --images, --list")
    output = Path(output)
    if gt is not None:
        gt = Path(gt)
        if not gt.is_file():
            raise UserError(f"GT file {gt} is not a regular file" if gt.exists()
                            else f"GT file not found: {gt}")
        source, entries = gt, gt_entries(gt, outside_ok)  # outside_ok: --allow-outside-root
    elif list_file is not None:
        list_file = Path(list_file)
        if not list_file.is_file():
            raise UserError(f"list file not found: {list_file}")
        source, entries = list_file, list_file_entries(list_file)
    else:
        source = Path(images)
        root = source
        entries = image_dir_entries(source)
    root = Path(root) if root is not None else source.parent
    if not root.is_dir():
        raise UserError(f"image root is not a directory: {root}")
    out = outputs.check_not_input(output, [("GT file", gt)] if gt is not None else [])
    if list_file is not None:
        outputs.check_not_input(output, [("list file", list_file)])
    outputs.check_not_input(output, [("image root", root)], allow_inside=True)
    staged = outputs.StagedDir(out, outputs.LMDB, overwrite, "crnn-preprocess build-lmdb")
    tmp = staged.open()
    res = BuildResult(output=output)
    t0 = time.perf_counter()
    env = None
    try:
        env = lmdb.open(str(tmp), map_size=map_size, subdir=True, meminit=False)
        pending: list[tuple[bytes, bytes]] = []
        pending_bytes = 0
        for where, rel, label, err in entries:
            try:
                if err is not None:
                    raise _BadLine(err)
                data = _load_checked(root, rel, out)
            except _BadLine as bad:
                msg = f"{where}: {bad}" if where != rel else str(bad)
                if strict:
                    raise UserError(msg + " (--strict)") from None
                lineno = int(where.rsplit(":", 1)[1]) if where != rel else 0
                res.skipped.append((lineno, str(bad)))
                if len(res.skipped) <= MAX_REPORTED:
                    log(f"skipped {msg}")
                continue
            res.written += 1
            res.image_bytes += len(data)
            pending.append((image_key(res.written).encode(), data))
            if label is not None:
                pending.append((label_key(res.written).encode(), label.encode("utf-8")))
            pending.append((path_key(res.written).encode(), os.fsencode(rel)))  # exact bytes
            pending_bytes += len(data)
            if len(pending) >= 3 * COMMIT_SAMPLES or pending_bytes >= COMMIT_BYTES:
                _commit(env, pending)
                pending, pending_bytes = [], 0
        if res.written == 0:
            unit = "image(s)" if images is not None else "line(s)"
            raise UserError(f"{source}: no valid sample (skipped {len(res.skipped)} {unit})")
        pending.append((NUM_SAMPLES_KEY, str(res.written).encode("ascii")))
        _commit(env, pending)
        env.sync(True)
        env.close()
        staged.commit()  # renamed into place whole; an old LMDB of ours replaced only now
    except (lmdb.Error, OSError) as exc:  # disk full, I/O error, permissions
        _close(env)
        staged.discard()
        raise UserError(f"writing the LMDB for {output} failed: "
                        f"{getattr(exc, 'strerror', None) or exc}") from None
    except BaseException:
        _close(env)
        staged.discard()
        raise
    res.seconds = time.perf_counter() - t0
    if len(res.skipped) > MAX_REPORTED:
        log(f"... and {len(res.skipped) - MAX_REPORTED} more skipped line(s)")
    return res
