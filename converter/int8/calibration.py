"""INT8 calibration images: read from a ``gt.txt``, preprocessed with the training transform.

``gt.txt`` lists ``relpath<TAB>label`` per line (labels are not used); the images are
preprocessed with :func:`preprocess.transform.preprocess_image` (the spec's resize and
normalization). Calibrate on a dataset other than the one you score (e.g. IC03 or SVT when
IIIT5K is the benchmark), or the accuracy you report is optimistic.

A spec whose width follows the word (keep-ratio, or EasyOCR's height fit) gets each image at
its own width, as every inference path runs it (its bucket width, padded with the spec's
``pad``); :func:`calibration_batches` groups them by width, never padding one image to another's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import ModelSpec

#: Calibration images used by default (NNCF's default ``subset_size`` is 300 as well).
DEFAULT_CALIB_SIZE = 300
#: Largest ``gt.txt`` read (IIIT5K's 3000 lines take 60 kB).
MAX_GT_BYTES = 64 << 20


@dataclass
class Calibration:
    """Preprocessed calibration images.

    Attributes:
        images: the N model inputs, float32 (C, H, W_i) each, the spec's transform (values in
            [-1, 1]); W_i is the spec's width, or the image's own for a width that follows
            the word.
        files: the N image files, in the order of ``images``.
        gt: the ``gt.txt`` they were listed in.
        skipped: ``(relpath, reason)`` of listed images that could not be used.
    """

    images: list[np.ndarray]
    files: list[Path]
    gt: Path
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def widths(self) -> list[int]:
        """W_i of every image."""
        return [x.shape[-1] for x in self.images]

    @property
    def x(self) -> np.ndarray:
        """The images as one float32 (N, C, H, W) array.

        Raises:
            ValueError: the widths differ (a width that follows the word; use ``images``).
        """
        if len(set(self.widths)) > 1:
            raise ValueError("calibration images of different widths: use .images")
        return np.stack(self.images)


def read_calibration(gt: str | Path, spec: ModelSpec, size: int = DEFAULT_CALIB_SIZE,
                     root: str | Path | None = None) -> Calibration:
    """Read and preprocess up to ``size`` images listed in ``gt``.

    Args:
        gt: text file, one ``relpath<TAB>label`` per line (the label may be absent; it is not
            used). Relative paths are resolved against ``root``.
        spec: the model spec (input shape, resize filter, normalization).
        size: number of images wanted (>= 1). They are spread evenly over the file (every k-th
            line), so a file sorted by source or difficulty is sampled across; unreadable
            images are skipped and replaced by the following lines.
        root: folder of the images; default: the folder of ``gt``.

    Returns:
        :class:`Calibration` of n = min(size, readable images) float32 (C, H, W_i) images.

    Raises:
        UserError: ``gt`` is missing or empty, or none of its images can be read (the message
            gives the first failures).
    """
    from crnn_deploy.preprocess.sources import read_image_file
    from crnn_deploy.preprocess.transform import ImageError, preprocess_image

    gt = Path(gt)
    if size < 1:
        raise UserError(f"calibration size must be >= 1, got {size}")
    if not gt.is_file():
        raise UserError(f"calibration list not found: {gt}")
    root = Path(root) if root is not None else gt.parent
    if gt.stat().st_size > MAX_GT_BYTES:
        raise UserError(f"calibration list {gt} is larger than {MAX_GT_BYTES >> 20} MiB; "
                        "expected a gt.txt of relpath<TAB>label lines")
    try:
        lines = gt.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read calibration list {gt}: {exc}") from None
    rels = [line.split("\t", 1)[0].strip() for line in lines]
    rels = [r for r in rels if r]
    if not rels:
        raise UserError(f"calibration list {gt} lists no image (expected relpath<TAB>label lines)")
    picked = np.unique(np.linspace(0, len(rels) - 1, min(size, len(rels))).round().astype(int))
    chosen = {int(i) for i in picked}
    order = sorted(chosen) + [i for i in range(len(rels)) if i not in chosen]
    xs, files, skipped = [], [], []
    for i in order:
        if len(xs) >= size:
            break
        path = root / rels[i]
        try:
            xs.append(preprocess_image(read_image_file(path), spec))  # bounded, regular
            files.append(path)
        except (OSError, ImageError) as exc:
            skipped.append((rels[i], f"{type(exc).__name__}: {exc}"))
    if not xs:
        first = "; ".join(f"{r}: {why}" for r, why in skipped[:3])
        raise UserError(f"no readable calibration image in {gt} (root {root}, "
                        f"{len(skipped)} listed): {first}")
    return Calibration(images=xs, files=files, gt=gt, skipped=skipped)


def calibration_batches(images: Sequence[np.ndarray], batch: int | None) -> list[np.ndarray]:
    """Model inputs from (C, H, W_i) images (or one (N, C, H, W) array).

    A dynamic batch (``batch`` None): single images (1, C, H, W_i), each at its own width.
    A static ``batch``: the images grouped by width (in order, widths increasing), each group
    cut into batches of exactly ``batch`` (N, C, H, W); a group's last batch is filled up
    cyclically from that group's first images (same width, so nothing is padded).
    """
    if not batch:
        return [np.ascontiguousarray(x[None]) for x in images]
    groups: dict[int, list[np.ndarray]] = {}
    for x in images:
        groups.setdefault(x.shape[-1], []).append(x)
    out = []
    for width in sorted(groups):
        group = groups[width]
        for start in range(0, len(group), batch):
            b = group[start:start + batch]
            b = b + [group[k % len(group)] for k in range(batch - len(b))]
            out.append(np.ascontiguousarray(np.stack(b)))
    return out
