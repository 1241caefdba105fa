"""A GT file as the fused path's input: ``relpath<TAB>label`` lines scored without an LMDB.

``crnn-eval --gt FILE`` and ``crnn-recognize --gt FILE`` read the images the GT file lists
(paths relative to its folder, or to ``--root``), in file order. The GT file is parsed whole
first (:func:`preprocess.sources.read_gt`: a malformed line is an error with its line number,
never a label), then the images are read in the preprocessing threads. Every labeled line
counts: an image that cannot be read or decoded is scored as wrong.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crnn_deploy.preprocess.sources import read_gt


@dataclass
class GtSet:
    """The samples of a GT file: ``samples`` = ``(line number, relpath, label)`` in file order;
    an image is ``root / relpath`` and its id (the ``source`` column) is ``relpath``, as in
    the LMDB that ``crnn-preprocess build-lmdb --gt`` would build from the same file."""

    gt: Path
    root: Path
    samples: list[tuple[int, str, str]]

    @classmethod
    def open(cls, gt: str | os.PathLike, root: str | os.PathLike | None = None,
             outside_ok: bool = False) -> GtSet:
        """Parse ``gt`` (raises UserError as :func:`preprocess.sources.read_gt`; a path
        that leaves the root is refused unless ``outside_ok``)."""
        root_, samples = read_gt(gt, root, outside_ok)
        return cls(Path(gt), root_, samples)

    def __len__(self) -> int:
        return len(self.samples)

    def __str__(self) -> str:
        return str(self.gt)

    def paths(self) -> list[str]:
        """The image paths to open, ``root/relpath``, in file order."""
        return [os.path.join(self.root, rel) for _, rel, _ in self.samples]

    def groups(self, n: int, batch: int) -> Iterator[list[tuple]]:
        """The first ``n`` samples in groups of ``batch`` items ``(i, label, source, path,
        None, None)`` (i from 1; the fused path's item layout, the image read later by
        :func:`pipeline.sample_source.load_item` in a preprocessing thread)."""
        for start in range(0, n, batch):
            yield [(k + 1, label, rel, Path(self.root, rel), None, None)
                   for k, (_, rel, label) in enumerate(self.samples[start:min(start + batch, n)],
                                                       start)]
