"""The sections of the page-model specs (:mod:`models.page_specs`): input, output, postprocess.

Each is a frozen record checked field by field when made (:mod:`models.page_fields`: errors name
the JSON key, e.g. ``spec input.limit_type``). Meanings and sources: :mod:`models.page_specs`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from crnn_deploy.models.page_fields import choice, flag, integer, number, per_channel, text

CHANNEL_ORDERS = ("BGR", "RGB")
LIMIT_TYPES = ("min", "max")
SCORE_MODES = ("fast", "slow")
#: OpenCV ``INTER_*`` names the page transforms may use
CV_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "area", "lanczos")
#: the largest side of any page-model input (a memory bound on one (1, 3, H, W) input)
MAX_SIDE = 16384


def _set(obj, name: str, value) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class DetInput:
    """The detector's input: tensor name, pixel transform and resize rule (module docstring)."""

    name: str = ""
    channels: str = "BGR"
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    scale: float = 1 / 255
    interpolation: str = "bilinear"
    limit_side_len: int = 736
    limit_type: str = "min"
    multiple: int = 32
    max_side: int = 4096
    max_side_len: int = 2000
    min_side_len: int = 30
    min_height: int = 30
    width_height_ratio: float = 8

    def __post_init__(self) -> None:
        text("input.name", self.name)
        choice("input.channels", self.channels, CHANNEL_ORDERS)
        _set(self, "mean", per_channel("input.mean", self.mean, 3))
        _set(self, "std", per_channel("input.std", self.std, 3, positive=True))
        _set(self, "scale", number("input.scale", self.scale, 0, 1, low_open=True))
        choice("input.interpolation", self.interpolation, CV_INTERPOLATIONS)
        choice("input.limit_type", self.limit_type, LIMIT_TYPES)
        integer("input.multiple", self.multiple, 1, 256)
        integer("input.max_side", self.max_side, self.multiple, MAX_SIDE)
        integer("input.limit_side_len", self.limit_side_len, 1, self.max_side)
        integer("input.max_side_len", self.max_side_len, 0, MAX_SIDE)
        integer("input.min_side_len", self.min_side_len, 0, MAX_SIDE)
        integer("input.min_height", self.min_height, 0, MAX_SIDE)
        if self.width_height_ratio != -1:
            _set(self, "width_height_ratio",
                 number("input.width_height_ratio", self.width_height_ratio, 0, 1e6, low_open=True))

    def input_size(self, h: int, w: int) -> tuple[int, int]:
        """(H, W) of the detector input for an image of ``h`` x ``w`` pixels.

        RapidOCR 1.4.4 ``DetPreProcess.resize``: ratio = limit_side_len / the shorter side when
        it is below the limit (``min``; ``max``: / the longer side when above it), else 1; each
        side ``int(side * ratio)``, then rounded to the nearest ``multiple``. When a side would
        exceed ``max_side``, the ratio is lowered so the longer side is ``max_side`` (rounded
        down to the multiple): crnn-deploy's bound, not RapidOCR's. A (0, ...) result means the
        image is too small to detect anything (RapidOCR returns no boxes then).

        Raises:
            ValueError: ``h`` or ``w`` is not a positive int (a caller's bug, not user input).
        """
        if not (isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0):
            raise ValueError(f"image size must be positive integers, got {h} x {w}")
        short, long_ = min(h, w), max(h, w)
        ratio = 1.0
        if self.limit_type == "min" and short < self.limit_side_len:
            ratio = self.limit_side_len / short
        elif self.limit_type == "max" and long_ > self.limit_side_len:
            ratio = self.limit_side_len / long_
        m = self.multiple
        rh, rw = (int(round(int(s * ratio) / m) * m) for s in (h, w))
        if max(rh, rw) > self.max_side:
            ratio = (self.max_side // m * m) / long_
            rh, rw = (min(self.max_side // m * m, int(round(int(s * ratio) / m) * m)) for s in (h, w))
        return rh, rw


@dataclass(frozen=True)
class DetOutput:
    """The detector's output: the text probability map (N, 1, H, W), values in [0, 1]."""

    name: str = ""
    kind: str = "probability-map"

    def __post_init__(self) -> None:
        text("output.name", self.name)
        choice("output.kind", self.kind, ("probability-map",))


@dataclass(frozen=True)
class DBPostprocess:
    """PaddleOCR's ``DBPostProcess`` parameters (``ppocr/postprocess/db_postprocess.py``).

    Attributes:
        thresh: the map is binarized at ``map > thresh``.
        box_thresh: a box whose mean probability (score) is below it is dropped.
        unclip_ratio: the box polygon grows by area * ratio / perimeter (Vatti clipping,
            pyclipper) before its minimum-area rectangle is taken.
        max_candidates: at most this many contours are read.
        use_dilation: dilate the binary map with a 2x2 kernel first.
        score_mode: ``fast`` (mean of the map inside the box) or ``slow`` (inside the contour).
        min_size: boxes whose shorter side is below it (below ``min_size + 2`` after unclip)
            are dropped; PaddleOCR's fixed 3.
    """

    thresh: float = 0.3
    box_thresh: float = 0.5
    unclip_ratio: float = 1.6
    max_candidates: int = 1000
    use_dilation: bool = True
    score_mode: str = "fast"
    min_size: int = 3

    def __post_init__(self) -> None:
        _set(self, "thresh", number("postprocess.thresh", self.thresh, 0, 1))
        _set(self, "box_thresh", number("postprocess.box_thresh", self.box_thresh, 0, 1))
        _set(self, "unclip_ratio", number("postprocess.unclip_ratio", self.unclip_ratio, 0, 100,
                                          low_open=True))
        integer("postprocess.max_candidates", self.max_candidates, 1, 1_000_000)
        flag("postprocess.use_dilation", self.use_dilation)
        choice("postprocess.score_mode", self.score_mode, SCORE_MODES)
        integer("postprocess.min_size", self.min_size, 0, 10_000)


@dataclass(frozen=True)
class ClsInput:
    """The classifier's input: (3, height, width) crops, keep-ratio resize, zeros on the right."""

    name: str = ""
    channels: str = "BGR"
    height: int = 48
    width: int = 192
    resize: str = "keep-ratio"
    pad: str = "zeros"
    interpolation: str = "bilinear"
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        text("input.name", self.name)
        choice("input.channels", self.channels, CHANNEL_ORDERS)
        integer("input.height", self.height, 1, 1024)
        integer("input.width", self.width, 1, MAX_SIDE)
        choice("input.resize", self.resize, ("keep-ratio",))
        choice("input.pad", self.pad, ("zeros",))
        choice("input.interpolation", self.interpolation, CV_INTERPOLATIONS)
        _set(self, "mean", per_channel("input.mean", self.mean, 3))
        _set(self, "std", per_channel("input.std", self.std, 3, positive=True))

    def resized_width(self, h: int, w: int) -> int:
        """Columns of a ``h`` x ``w`` crop after the resize: min(ceil(height * w / h), width)
        (RapidOCR ``TextClassifier.resize_norm_img``); the rest up to ``width`` is zeros."""
        return min(self.width, int(math.ceil(self.height * w / float(h))))


@dataclass(frozen=True)
class ClsOutput:
    """The classifier's output: (N, len(labels)) probabilities (softmax applied in the model)."""

    name: str = ""
    kind: str = "probabilities"

    def __post_init__(self) -> None:
        text("output.name", self.name)
        choice("output.kind", self.kind, ("probabilities",))
