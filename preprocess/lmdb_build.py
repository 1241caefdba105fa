"""images + GT file -> LMDB in the clovaai layout (``crnn-preprocess build-lmdb``).

GT lines are ``relative/path<TAB>label`` (the ``{imagePath}\\t{label}`` format of clovaai
``create_lmdb_dataset.py``); paths are relative to ``root``. The LMDB gets ``num-samples`` and,
for indices 1..n, ``image-%09d`` (the image file's bytes, unchanged), ``label-%09d`` (UTF-8) and
``path-%09d`` (the image path as listed, UTF-8).

Unlabeled input (:func:`image_dir_entries`: every image file under a folder, sorted by relative
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
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import lmdb

from common.errors import UserError
from preprocess.lmdb_io import NUM_SAMPLES_KEY, image_key, label_key, path_key
from preprocess.transform import ImageError, open_image

#: Initial LMDB map size (bytes); doubled on MDB_MAP_FULL. Virtual only: the file grows with data.
INITIAL_MAP_SIZE = 1 << 30
#: Commit a write transaction after this many samples or this many bytes, whichever first.
COMMIT_SAMPLES = 1000
COMMIT_BYTES = 64 << 20
#: How many bad lines are printed one by one (the rest are only counted).
MAX_REPORTED = 20
#: File suffixes taken as images by :func:`image_dir_entries` (lowercase compared).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                            ".pgm", ".ppm", ".pbm", ".pnm"})
#: Longest line accepted in a list file (bytes); longer lines are reported as bad.
MAX_LINE_BYTES = 4096

# (where: "file:line" or a path, image path relative to root, label or None, error or None)
Entry = tuple[str, "str | None", "str | None", "str | None"]


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
        f = open(gt, "rb")
    except OSError as exc:
        raise UserError(f"cannot read GT file {gt}: {exc.strerror}") from None
    with f:
        for lineno, raw in enumerate(f, start=1):
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
            elif label == "":
                yield lineno, rel, None, f"empty label for {rel}"
            elif "\r" in label:
                yield lineno, rel, None, f"label contains a line break: {label[:40]!r}"
            else:
                yield lineno, rel, label, None


def gt_entries(gt: Path) -> Iterator[Entry]:
    """:func:`parse_gt` as :data:`Entry` tuples (``where`` = ``gt:line``)."""
    for lineno, rel, label, err in parse_gt(gt):
        yield f"{gt}:{lineno}", rel, label, err


def image_dir_entries(folder: Path) -> Iterator[Entry]:
    """Every image file under ``folder`` (recursively; suffix in :data:`IMAGE_SUFFIXES`), sorted
    by relative POSIX path, unlabeled. Hidden files and folders (``.name``) are left out.

    Raises:
        UserError: ``folder`` is not a directory, or holds no image file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"--images {folder} is not a directory")
    rels = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not rels:
        raise UserError(f"--images {folder}: no image file under it "
                        f"(suffixes {', '.join(sorted(IMAGE_SUFFIXES))})")
    for rel in rels:
        yield rel, rel, None, None


def list_file_entries(list_file: Path) -> Iterator[Entry]:
    """The image paths of a list file, one per line (UTF-8, blank lines and lines starting with
    ``#`` ignored, no labels), in file order. A line longer than :data:`MAX_LINE_BYTES`, not
    UTF-8, or holding a tab (a GT line? use --gt) is reported as bad.

    Raises:
        UserError: the list file cannot be read.
    """
    try:
        f = open(list_file, "rb")
    except OSError as exc:
        raise UserError(f"cannot read list file {list_file}: {exc.strerror}") from None
    with f:
        for lineno, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), start=1):
            where = f"{list_file}:{lineno}"
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                yield where, None, None, f"line longer than {MAX_LINE_BYTES} bytes"
                while (rest := f.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of that line, a bounded chunk at a time
                continue
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            raw = raw.rstrip(b"\n").rstrip(b"\r")
            if not raw.strip() or raw.startswith(b"#"):
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield where, None, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
                continue
            if "\t" in line:
                yield where, None, None, ("expected one image path per line, got a tab "
                                          "(a labeled GT file? use --gt)")
                continue
            yield where, line, None, None


def _load_checked(root: Path, rel: str) -> bytes:
    path = root / rel
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _BadLine(f"cannot read image {path}: {exc.strerror or exc}") from None
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


def _tmp_name(output: Path) -> Path:
    return output.parent / f".{output.name}.tmp-{os.getpid()}"


def build_lmdb(gt: str | Path | None, output: str | Path, root: str | Path | None = None,
               strict: bool = False, overwrite: bool = False,
               map_size: int = INITIAL_MAP_SIZE,
               log: Callable[[str], None] | None = None, *,
               images: str | Path | None = None,
               list_file: str | Path | None = None) -> BuildResult:
    """Pack images into a clovaai-layout LMDB at ``output``, from exactly one source.

    Args:
        gt: GT file, one ``relative/path<TAB>label`` per line (UTF-8; blank lines ignored).
        output: LMDB directory to create (``data.mdb`` + ``lock.mdb``); must not exist unless
            ``overwrite``.
        root: folder the GT / list paths are relative to (default: the folder of that file);
            absolute paths in a list file are used as they are.
        strict: fail on the first bad line instead of skipping it.
        overwrite: replace an existing ``output`` (only after the new LMDB is complete).
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
        UserError: not exactly one source, unreadable GT/list/folder, existing output, a bad
            entry with ``strict``, or no valid sample at all. Nothing is left at ``output``
            (nor a temporary directory) on failure.
    """
    log = log or (lambda m: print(m, file=sys.stderr))
    given = [s for s in (gt, images, list_file) if s is not None]
    if len(given) != 1:
        raise UserError("give exactly one of --gt, --images, --list")
    output = Path(output)
    if gt is not None:
        gt = Path(gt)
        if not gt.is_file():
            raise UserError(f"GT file not found: {gt}")
        source, entries = gt, gt_entries(gt)
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
    if output.exists() and not overwrite:
        raise UserError(f"output already exists: {output} (remove it or pass --overwrite)")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(output)
    shutil.rmtree(tmp, ignore_errors=True)
    res = BuildResult(output=output)
    t0 = time.perf_counter()
    env = lmdb.open(str(tmp), map_size=map_size, subdir=True, meminit=False)
    try:
        pending: list[tuple[bytes, bytes]] = []
        pending_bytes = 0
        for where, rel, label, err in entries:
            try:
                if err is not None:
                    raise _BadLine(err)
                data = _load_checked(root, rel)
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
            pending.append((path_key(res.written).encode(), rel.encode("utf-8")))
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
        if output.exists():  # overwrite: move the old one aside only now
            old = output.parent / f".{output.name}.old-{os.getpid()}"
            os.replace(output, old)
            os.replace(tmp, output)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, output)
    except BaseException:
        env.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    res.seconds = time.perf_counter() - t0
    if len(res.skipped) > MAX_REPORTED:
        log(f"... and {len(res.skipped) - MAX_REPORTED} more skipped line(s)")
    return res
