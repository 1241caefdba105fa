"""What ``crnn-recognize`` reads: image files and folders on the command line, ``-`` for paths
on stdin, ``--list FILE`` (one path per line) or ``--gt FILE`` (``relpath<TAB>label``, scored).

A million paths do not fit on a command line: ``find words -name '*.png' | crnn-recognize
--engine E -`` or ``--list paths.txt`` stream them from a file instead.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.gt_set import GtSet
from crnn_deploy.preprocess.sources import image_dir_entries, list_file_entries


@dataclass
class Inputs:
    """``paths``: the files to open, in order; ``names``: how each is named in the rows
    (the path as given, listed or in the GT file); ``labels``: its label (``--gt`` only)."""

    paths: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    labels: list[str] | None = None

    def add(self, path: str, name: str | None = None) -> None:
        self.paths.append(path)
        self.names.append(path if name is None else name)


def _expand(arg: str, out: Inputs) -> None:
    p = Path(arg)
    if p.is_dir():
        for _, rel, _, _ in image_dir_entries(p):
            out.add(os.path.join(arg, rel))
    elif p.exists():
        out.add(arg)
    else:
        raise UserError(f"input not found: {arg}")


def _stdin_paths(stream) -> list[str]:
    """Paths on stdin, one per line (blank lines and ``#`` lines skipped, used as given)."""
    out = []
    for lineno, line in enumerate(stream, 1):
        line = line.rstrip("\n").rstrip("\r")
        if line.strip() and not line.startswith("#"):
            if "\t" in line:
                raise UserError(f"stdin line {lineno}: expected one image path per line, got a "
                                "tab (a labeled GT file? use --gt)")
            out.append(line)
    return out


def gather_inputs(args: tuple[str, ...], list_file: Path | None = None, gt: Path | None = None,
                  root: Path | None = None, stdin=None) -> Inputs:
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
        gts = GtSet.open(gt, root)
        out.labels = []
        for (_, rel, label), path in zip(gts.samples, gts.paths()):
            out.add(path, rel)
            out.labels.append(label)
        return out
    if root is not None and list_file is None:
        raise UserError("--root goes with --list or --gt (the folder their paths are relative to)")
    for arg in args:
        if arg == "-":
            for path in _stdin_paths(stdin if stdin is not None else sys.stdin):
                out.add(path)
        else:
            _expand(arg, out)
    if list_file is not None:
        base = Path(root) if root is not None else Path(list_file).parent
        for where, rel, _, err in list_file_entries(Path(list_file)):
            if err is not None:
                raise UserError(f"{where}: {err}")
            out.add(os.path.join(base, rel), rel)
    if not out.paths:
        raise UserError("no image to recognize: give image files, folders, - (paths on stdin), "
                        "--list FILE or --gt FILE")
    return out
