"""What ``crnn-recognize`` reads: image files and folders on the command line, ``-`` for paths
on stdin, ``--list FILE`` (one path per line) or ``--gt FILE`` (``relpath<TAB>label``, scored).

A million paths do not fit on a command line: ``find words -name '*.png' | crnn-recognize
--engine E -`` or ``--list paths.txt`` stream them from a file instead: read lazily, a path
only when the run needs it (:attr:`Inputs.streams`), so memory stays bounded and rows come out
as paths arrive.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.inputs import MAX_LINE_BYTES
from crnn_deploy.pipeline.gt_set import GtSet
from crnn_deploy.preprocess.sources import image_dir_entries, list_file_entries

NO_INPUT = ("no image to recognize: give image files, folders, - (paths on stdin), --list FILE "
            "or --gt FILE")
#: Most inputs an executor that needs the whole list first (Ray) takes from a stream.
MAX_LISTED = 10_000_000


@dataclass
class Inputs:
    """``paths``: the files to open, in order; ``names``: how each is named in the rows
    (the path as given, listed or in the GT file); ``labels``: its label (``--gt`` only);
    ``streams``: iterators of further ``(path, name)`` pairs read lazily, after those (``-``
    and ``--list``: a path is read from stdin or the list only when the run needs it, so
    ``yes PATH | crnn-recognize -`` writes rows as paths arrive, in bounded memory)."""

    paths: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    labels: list[str] | None = None
    streams: list[Iterator[tuple[str, str]]] = field(default_factory=list)

    def add(self, path: str, name: str | None = None) -> None:
        self.paths.append(path)
        self.names.append(path if name is None else name)

    @property
    def total(self) -> int | None:
        """The number of inputs, None while some are still to be read from a stream."""
        return None if self.streams else len(self.paths)

    def rows(self) -> Iterator[tuple[str, str, str | None]]:
        """Every input as ``(path, name, label or None)``, in order, the streams read lazily.

        Raises:
            UserError: a bad stream line (named); no input at all once the streams are read.
        """
        labels = self.labels or [None] * len(self.paths)
        yield from zip(self.paths, self.names, labels)
        count = len(self.paths)
        for stream in self.streams:
            for path, name in stream:
                count += 1
                yield path, name, None
        if count == 0:
            raise UserError(NO_INPUT)

    def materialize(self, limit: int = MAX_LISTED) -> Inputs:
        """The same inputs with every stream read into the lists (for an executor that needs
        the whole list first, Ray), at most ``limit``.

        Raises:
            UserError: more than ``limit`` inputs.
        """
        out = Inputs(labels=self.labels)
        for k, (path, name, _) in enumerate(self.rows()):
            if k >= limit:
                raise UserError(f"more than {limit} input images: this executor takes the whole "
                                "list first; split the list, or use the local executor, which "
                                "streams")
            out.add(path, name)
        return out


def _expand(arg: str, out: Inputs) -> None:
    p = Path(arg)
    if p.is_dir():
        for _, rel, _, _ in image_dir_entries(p):
            out.add(os.path.join(arg, rel))
    elif p.exists():
        out.add(arg)
    else:
        raise UserError(f"input not found: {arg}")


def _stdin_paths(stream) -> Iterator[tuple[str, str]]:
    """Paths on stdin as ``(path, name)``, one per line, read lazily (blank lines and ``#``
    lines skipped, used as given; a line is read up to :data:`common.inputs.MAX_LINE_BYTES`).

    Raises:
        UserError: a line holding a tab or a NUL, or too long (naming the line).
    """
    lines = (iter(lambda: stream.readline(MAX_LINE_BYTES + 1), "")
             if hasattr(stream, "readline") else iter(stream))
    for lineno, line in enumerate(lines, 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith("\n"):
            raise UserError(f"stdin line {lineno}: longer than {MAX_LINE_BYTES} characters; "
                            "expected one image path per line")
        line = line.rstrip("\n").rstrip("\r")
        if line.strip() and not line.startswith("#"):
            if "\t" in line:
                raise UserError(f"stdin line {lineno}: expected one image path per line, got a "
                                "tab (a labeled GT file? use --gt)")
            if "\0" in line:
                raise UserError(f"stdin line {lineno}: the image path holds a NUL byte")
            yield line, line


def _list_paths(list_file: Path, base: Path) -> Iterator[tuple[str, str]]:
    """The paths of ``--list`` as ``(base/rel, rel)``, read lazily (UserError at a bad line)."""
    for where, rel, _, err in list_file_entries(list_file):
        if err is not None:
            raise UserError(f"{where}: {err}")
        yield os.path.join(base, rel), rel


def gather_inputs(args: tuple[str, ...], list_file: Path | None = None, gt: Path | None = None,
                  root: Path | None = None, stdin=None, outside_ok: bool = False) -> Inputs:
    """Command-line inputs -> :class:`Inputs`, in order.

    ``args``: a file as given; a folder -> every image file under it
    (:func:`preprocess.sources.image_dir_entries`: sorted by relative path, hidden entries left
    out), as ``folder/relative/path``; ``-`` -> the paths on ``stdin`` (one per line, as given:
    relative to the working folder). ``list_file``: one path per line, relative to the list
    file's folder or ``root`` (as ``crnn-preprocess build-lmdb --list``), named as listed.
    ``gt``: ``relpath<TAB>label`` lines (:class:`pipeline.gt_set.GtSet`), named by relpath.

    Raises:
        UserError: a path that does not exist, a folder without images, a malformed list or GT
            line (with its line number), ``--gt`` mixed with other inputs, no input at all.
    """
    out = Inputs()
    if gt is not None:
        if args or list_file is not None:
            raise UserError("--gt lists the images itself: give no other input with it")
        gts = GtSet.open(gt, root, outside_ok)
        out.labels = []
        for (_, rel, label), path in zip(gts.samples, gts.paths()):
            out.add(path, rel)
            out.labels.append(label)
        return out
    if root is not None and list_file is None:
        raise UserError("--root goes with --list or --gt (the folder their paths are relative to)")
    if args.count("-") > 1:
        raise UserError("'-' (paths on stdin) may be given once")
    for arg in args:
        if arg == "-":  # read lazily, after the files and folders given before and after it
            out.streams.append(_stdin_paths(stdin if stdin is not None else sys.stdin))
        else:
            _expand(arg, out)
    if list_file is not None:
        list_file = Path(list_file)
        if not list_file.is_file():
            raise UserError(f"list file {list_file} is not a regular file" if list_file.exists()
                            else f"list file not found: {list_file}")
        base = Path(root) if root is not None else list_file.parent
        out.streams.append(_list_paths(list_file, base))
    if not out.paths and not out.streams:
        raise UserError(NO_INPUT)
    return out
