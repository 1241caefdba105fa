"""Inputs whose width follows the word (keep-ratio specs of dynamic width): batching by width
and the staged ``.npy`` inputs.

* :func:`plan_widths` groups images by width into engine batches (``bucket`` or ``widest``),
  :func:`padding_share` measures what that padding costs;
* the staged path carries each sample's shape in a ``.npy`` file of shape (1, C, H, W_i), as
  ais_bench reads dynamic shapes from ``.npy`` inputs (``--auto_set_dymshape_mode``):
  :func:`npy_shape` / :func:`check_npy` read the headers (bounded: numpy's header limit),
  :func:`read_npy_batch` reads one width's batch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import ModelSpec
from crnn_deploy.preprocess.transform import pad_width


def npy_shape(path: Path) -> tuple[int, ...]:
    """The shape in the header of ``.npy`` file ``path`` (float32 little-endian, C order).

    Raises:
        UserError: not a .npy file (bad magic or header, read bounded by numpy's header limit),
            another dtype or Fortran order, or a data size that disagrees with the shape.
    """
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(f)
            offset = f.tell()
    except (OSError, ValueError) as exc:
        raise UserError(f"input file {path} is not a readable .npy file: {exc}") from None
    if dtype != np.dtype("<f4") or fortran:
        raise UserError(f"input file {path} holds {dtype}{' (Fortran order)' if fortran else ''}, "
                        "expected float32 little-endian in C order")
    if path.stat().st_size != offset + 4 * int(np.prod(shape)):
        raise UserError(f"input file {path}: size does not match its header shape {shape}")
    return tuple(shape)


def check_npy(files: Sequence[Path], spec: ModelSpec) -> list[int]:
    """Widths of the (1, C, H, W_i) ``.npy`` inputs of a dynamic-width ``spec``.

    Raises:
        UserError: naming the first file with another shape or a width outside the spec's.
    """
    c, h, wmin = spec.input_shape
    widths = []
    for f in files:
        shape = npy_shape(f)
        if (len(shape) != 4 or shape[:3] != (1, c, h) or not wmin <= shape[3] <= (spec.width_max or wmin)):
            raise UserError(f"input file {f} has shape {shape}, expected (1, {c}, {h}, W) with W in "
                            f"{wmin}..{spec.width_max or wmin} for {spec.name}")
        widths.append(shape[3])
    return widths


def read_npy_batch(files: Sequence[Path], width: int, batch: int, spec: ModelSpec) -> np.ndarray:
    """Read (1, C, H, w_i) ``.npy`` files into float32 (batch, C, H, width), each row fitted to
    ``width`` by :func:`fit_columns` (padded on the right with ``spec.pad``, or squeezed when
    wider than every width of a static-width engine); rows past the files are 0."""
    c, h, _ = spec.input_shape
    out = np.zeros((batch, c, h, width), dtype=np.float32)
    for row, f in zip(out, files):
        row[...] = fit_columns(np.load(f, allow_pickle=False)[0], width, spec.pad)
    return out


#: How a keep-ratio model's images are grouped into batches (:func:`plan_widths`).
WIDTH_POLICIES = ("bucket", "widest")


def plan_widths(widths: Sequence[int], batch: int, policy: str = "bucket"
                ) -> list[tuple[list[int], int]]:
    """Batches for images of the given (bucket) widths: ``(positions, batch width)`` each.

    ``bucket``: images of the same width form batches of up to ``batch``, so no image is
    padded beyond its own bucket (with width multiple 1, each image runs at its own width,
    as PaddleOCR's TextRecognizer does for one image per call). ``widest``: images sorted
    by width (stable) are cut into consecutive batches of ``batch``, each padded to its widest
    image (PaddleOCR's batching, which sorts by aspect ratio). Positions index ``widths``;
    every position appears exactly once; batches come in increasing width.
    """
    if policy not in WIDTH_POLICIES:
        raise ValueError(f"width policy must be one of {WIDTH_POLICIES}, got {policy!r}")
    order = sorted(range(len(widths)), key=lambda k: widths[k])
    if policy == "widest":
        return [(order[i:i + batch], max(widths[k] for k in order[i:i + batch]))
                for i in range(0, len(order), batch)]
    plans: list[tuple[list[int], int]] = []
    start = 0
    while start < len(order):
        w = widths[order[start]]
        end = start
        while end < len(order) and widths[order[end]] == w and end - start < batch:
            end += 1
        plans.append((order[start:end], w))
        start = end
    return plans


def ratio_batches(sizes: Sequence[tuple[int, int]], batch: int, height: int, min_width: int,
                  max_width: int | None = None) -> list[tuple[list[int], int]]:
    """PaddleOCR's recognizer batching (RapidOCR 1.4.4 ``ch_ppocr_rec/text_recognize.py``
    ``TextRecognizer.__call__``, ``rec_batch_num`` = ``batch``): images of ``sizes`` = (w, h)
    pixels sorted by aspect ratio w / h (a stable sort: numpy's default sort there is stable
    for the <= 16 images of a page, and differs only on equal ratios), cut into consecutive
    batches of ``batch``; a batch's width is ``int(height * max(min_width / height, its
    largest w / h))`` columns (at most ``max_width``: our engines' bound; PaddleOCR has none).
    Returns ``(positions, width)`` per batch, as :func:`plan_widths` (``widest``) does for
    bucket widths; each image of a batch is then resized to ``min(ceil(height * w / h),
    width)`` columns and padded to ``width`` (:func:`preprocess.transform.keep_ratio_widths`
    with ``batch_width``)."""
    ratios = np.array([w / float(h) for w, h in sizes], dtype=np.float64)
    order = [int(k) for k in np.argsort(ratios, kind="stable")]
    plans = []
    for i in range(0, len(order), batch):
        pos = order[i:i + batch]
        width = int(height * max(min_width / height, *(ratios[k] for k in pos)))
        plans.append((pos, min(width, max_width) if max_width else width))
    return plans


def padding_share(widths: Sequence[int], plans: Sequence[tuple[list[int], int]],
                  content: Sequence[int] | None = None) -> float:
    """Padded columns / all columns run by ``plans`` (rows of a batch share its width).

    ``content``: each image's resized width before any padding (default ``widths``, so only
    the padding added by batching counts)."""
    content = widths if content is None else content
    total = sum(w * len(pos) for pos, w in plans)
    return 1.0 - sum(content[k] for pos, _ in plans for k in pos) / total if total else 0.0


def default_widths(spec: ModelSpec, count: int = 6) -> list[int]:
    """A small set of widths for an engine with static shapes (OM gears, static IRs): the
    smallest width, then steps of x1.5 rounded up to the width multiple, up to the largest
    (at most ``count`` widths; the last is always ``spec.width_max``). A fixed-width spec: [W]."""
    w, top, m = spec.input_shape[2], spec.width_max or spec.input_shape[2], spec.width_multiple
    out = [w]
    while out[-1] < top and len(out) < count - 1:
        out.append(min(top, -(-int(out[-1] * 1.5) // m) * m))
    if out[-1] < top:
        out.append(top)
    return out


#: ``widths`` option values that ask for :func:`default_widths` of the engine's spec.
AUTO_WIDTHS = "auto"


def engine_widths(spec: ModelSpec, option: str | Sequence[int] | None) -> tuple[int, ...] | None:
    """The static widths an engine compiles for a dynamic-width ``spec``, from the ``widths``
    option: None (or ``""``, ``"dynamic"``) -> None, one model of dynamic width;
    ``"auto"`` -> :func:`default_widths`; ``"320,480,720"`` or a sequence of ints -> those
    widths, sorted, each within the spec's range (columns, before padding to it).

    Raises:
        UserError: a fixed-width spec, a value that is not a positive int, a width outside
            ``input_shape[2]..width_max`` of the spec.
    """
    if option is None or (isinstance(option, str) and option.strip().lower() in ("", "dynamic")):
        return None
    if spec.kind != "recognizer":
        raise UserError(f"widths: {spec.name} is a {spec.kind}; a width set is for a recognizer "
                        "whose width follows the word")
    if not spec.dynamic_width:
        raise UserError(f"widths: {spec.name} has a fixed width of {spec.input_shape[2]}; a "
                        "width set is for a width that follows the word")
    if isinstance(option, str) and option.strip().lower() == AUTO_WIDTHS:
        return tuple(default_widths(spec))
    items = option.replace(" ", "").split(",") if isinstance(option, str) else list(option)
    try:
        ws = sorted({int(w) for w in items if w != ""})
    except (TypeError, ValueError):
        raise UserError(f"widths {option!r}: expected comma-separated integers (e.g. 320,480,720) "
                        f"or '{AUTO_WIDTHS}'") from None
    low, top = spec.input_shape[2], spec.width_max
    if not ws or ws[0] < low or ws[-1] > top:
        raise UserError(f"widths {option!r}: each must be within {low}..{top} of {spec.name}")
    return tuple(ws)


def fit_width(width: int, widths: Sequence[int] | None) -> int:
    """The smallest of ``widths`` that holds ``width`` columns, or the largest of them when
    none does (that image is then squeezed to it: :func:`fit_columns`); ``width`` itself when
    the engine takes any width (``widths`` None). Widths are a runtime option, so a word wider
    than every listed width is read, per image, never a reason to stop the run."""
    if not widths:
        return width
    fitting = [w for w in sorted(widths) if w >= width]
    return fitting[0] if fitting else max(widths)


def fit_columns(x: np.ndarray, width: int, pad: str) -> np.ndarray:
    """float32 (..., W) -> (..., ``width``): padded on the right (``pad``: ``zeros`` or
    ``last-column``) when W <= width, else resampled to ``width`` columns by linear
    interpolation along W (pixel centres aligned, as ``cv2.resize`` with ``INTER_LINEAR``
    along one axis): a word wider than every width of a static-width engine is resized to
    the largest one. No copy when W == width."""
    w = x.shape[-1]
    if w <= width:
        return pad_width(x, width, pad)
    pos = np.clip((np.arange(width, dtype=np.float64) + 0.5) * (w / width) - 0.5, 0, w - 1)
    left = np.minimum(pos.astype(np.int64), w - 2)
    frac = (pos - left).astype(np.float32)
    return np.ascontiguousarray(x[..., left] * (1 - frac) + x[..., left + 1] * frac, np.float32)
