"""Where build-lmdb's samples come from: a GT file (labeled), a folder of images or a list file
of paths (unlabeled). Each source yields :data:`Entry` tuples
``(where, image path relative to root, label or None, error or None)``; reads are bounded
(:data:`common.inputs.MAX_LINE_BYTES` per line) and a bad line is an entry with its error.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.inputs import (
    MAX_IMAGE_BYTES,
    MAX_LINE_BYTES,
    label_problem,
    open_regular,
    read_regular_file,
)
from crnn_deploy.common.names import display_name
from crnn_deploy.preprocess.transform import ImageError

#: File suffixes taken as images by :func:`image_dir_entries` (lowercase compared).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                            ".pgm", ".ppm", ".pbm", ".pnm"})

def read_image_file(path) -> bytes:
    """The bytes of image file ``path``: a regular file of at most
    :data:`common.inputs.MAX_IMAGE_BYTES` (a FIFO or device is refused without blocking).

    Raises:
        ImageError: not a regular file, or too large (the message names the path).
        OSError: it cannot be read (missing, permissions).
    """
    try:
        return read_regular_file(path, MAX_IMAGE_BYTES, "image")
    except UserError as exc:
        raise ImageError(exc.message) from None


# (where: "file:line" or a path, image path relative to root, label or None, error or None)
Entry = tuple[str, "str | None", "str | None", "str | None"]


#: The option that lets GT paths leave their root (:func:`path_problem`).
OUTSIDE_OPTION = "--allow-outside-root"


def path_problem(rel: str, outside_ok: bool = False) -> str | None:
    """None for a usable image path read from a GT file, else why not: a NUL byte (no file
    system allows one), or, unless ``outside_ok``, an absolute path or one whose ``..`` climbs
    out of the root (judged on the text, so a GT file cannot name ``/etc/passwd`` or
    ``../../secret``; a symlink the user put inside the root is followed as usual)."""
    if "\0" in rel:
        return "image path holds a NUL byte"
    if outside_ok:
        return None
    if os.path.isabs(rel):
        return (f"image path {display_name(rel)} is absolute; GT paths are relative to the GT "
                f"file's folder (or --root); pass {OUTSIDE_OPTION} to allow it")
    if os.path.normpath(rel).split(os.sep, 1)[0] == "..":
        return (f"image path {display_name(rel)} climbs out of the root with '..'; pass "
                f"{OUTSIDE_OPTION} to allow it")
    return None


def parse_gt(gt: Path, outside_ok: bool = False
             ) -> Iterator[tuple[int, str | None, str | None, str | None]]:
    """Yield ``(line_number, relpath, label, error)`` for each non-blank GT line.

    ``error`` is None for a well-formed line, else a message (and relpath/label may be None).
    The line is split on its first tab; a trailing ``\\n``/``\\r\\n`` is removed, nothing else.
    The path must pass :func:`path_problem` (``outside_ok``: ``--allow-outside-root``).
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
            if _is_header(rel, label):
                yield lineno, None, None, (f"looks like a header line ({line[:60]!r}); a GT file "
                                           "has no header: remove it")
            elif "\t" in label:
                yield lineno, None, None, (f"{line.count(chr(9)) + 1} tab-separated columns, "
                                           "expected 2 ('path<TAB>label'; a label may not hold "
                                           f"a tab): {line[:60]!r}")
            elif not rel:
                yield lineno, None, label, "empty image path"
            elif why := path_problem(rel, outside_ok):
                yield lineno, None, None, why
            elif why := label_problem(label):  # the one label rule (common.inputs)
                yield lineno, rel, None, f"{why} for {rel}"
            else:
                yield lineno, rel, label, None


_HEADER_PATHS = {"path", "file", "filename", "file_name", "image", "image_path", "img", "relpath",
                 "name", "filepath", "file_path"}
_HEADER_LABELS = {"label", "labels", "text", "word", "gt", "transcription", "transcript"}


def _is_header(rel: str, label: str) -> bool:
    """A first line such as ``file<TAB>label`` or ``path<TAB>text<TAB>source``."""
    return (rel.strip().lower() in _HEADER_PATHS
            and label.split("\t", 1)[0].strip().lower() in _HEADER_LABELS)


#: Malformed GT lines named one by one in :func:`read_gt`'s error (the rest are counted).
MAX_BAD_LINES = 5


def read_gt(gt: str | Path, root: str | Path | None = None, outside_ok: bool = False
            ) -> tuple[Path, list[tuple[int, str, str]]]:
    """Every sample of a GT file to score: ``(root, [(line number, relpath, label), ...])``.

    ``root``: the folder the paths are relative to (default: the GT file's folder); a path
    may not leave it (absolute, ``..``) unless ``outside_ok`` (:func:`path_problem`). Unlike
    build-lmdb, which skips and reports bad lines, a malformed line (a header, extra columns,
    a tab or a line break in the label, no tab, not UTF-8) is an error here: a score is only
    meaningful over every labeled line.

    Raises:
        UserError: the GT file or root cannot be read; malformed lines (the first
            :data:`MAX_BAD_LINES` with their line numbers, and how many); no sample; none of
            the image paths exists under the root (the message says what they are relative to).
    """
    gt = Path(gt)
    if not gt.is_file():
        raise UserError(f"GT file {gt} is not a regular file" if gt.exists()
                        else f"GT file not found: {gt}")
    root = Path(root) if root is not None else gt.parent
    if not root.is_dir():
        raise UserError(f"image root is not a directory: {root}")
    samples, bad = [], []
    for lineno, rel, label, err in parse_gt(gt, outside_ok):
        if err is not None:
            bad.append(f"line {lineno}: {err}")
        else:
            samples.append((lineno, rel, label))
    if bad:
        n = f"{len(bad)} malformed line" + ("s" if len(bad) > 1 else "")
        first = f"; the first {MAX_BAD_LINES}" if len(bad) > MAX_BAD_LINES else ""
        raise UserError(f"{gt}: {n} (expected 'path<TAB>label' per line){first}:\n  "
                        + "\n  ".join(bad[:MAX_BAD_LINES]))
    if not samples:
        raise UserError(f"{gt}: no sample (expected 'path<TAB>label' lines)")
    if not any((root / rel).exists() for _, rel, _ in samples):  # stops at the first found
        where = "--root" if root != gt.parent else "the GT file's folder"
        raise UserError(f"{gt}: none of its {len(samples)} image paths exists (first: "
                        f"{root / samples[0][1]}); paths in a GT file are relative to "
                        f"{where} ({root}); use --root for another folder")
    return root, samples


def gt_entries(gt: Path, outside_ok: bool = False) -> Iterator[Entry]:
    """:func:`parse_gt` as :data:`Entry` tuples (``where`` = ``gt:line``)."""
    for lineno, rel, label, err in parse_gt(gt, outside_ok):
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
    try:  # a regular file (a FIFO is refused, not waited on), streamed line by line
        f = open_regular(list_file, 1 << 62, "list file")
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
            if "\0" in line:
                yield where, None, None, "image path holds a NUL byte"
                continue
            yield where, line, None, None
