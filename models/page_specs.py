"""Specs of the page models: a DB text detector and a text-line angle classifier (no torch, no I/O).

A spec says what its ``kind`` is at its top (``"recognizer"``, the default, is
:class:`models.spec_record.ModelSpec`). The page kinds have one JSON form, the same in a spec file,
in ONNX ``metadata_props`` (key ``crnn_deploy.spec``), OpenVINO ``rt_info`` and sidecars; every
key is checked (:mod:`models.page_fields`: an unknown key, a wrong type or value is an error
naming it, e.g. ``spec input.limit_type``). Schema (``?``: optional, default after it)::

    {"kind": "detector", "name": "...", "description"?: "",
     "input": {"name"?: the model's only input, "channels"?: "BGR" | "RGB",
               "mean"?: 0.5 | [b, g, r], "std"?: 0.5 | [...], "scale"?: 1/255,
               "interpolation"?: "bilinear", "limit_side_len"?: 736, "limit_type"?: "min" | "max",
               "multiple"?: 32, "max_side"?: 4096, "max_side_len"?: 2000, "min_side_len"?: 30,
               "min_height"?: 30, "width_height_ratio"?: 8},
     "output"?: {"name"?: the model's only output, "kind"?: "probability-map"},
     "postprocess"?: {"thresh"?: 0.3, "box_thresh"?: 0.5, "unclip_ratio"?: 1.6,
                      "max_candidates"?: 1000, "use_dilation"?: true, "score_mode"?: "fast",
                      "min_size"?: 3}}

    {"kind": "classifier", "name": "...", "description"?: "",
     "input": {"name"?, "channels"?: "BGR", "height"?: 48, "width"?: 192,
               "resize"?: "keep-ratio", "pad"?: "zeros", "interpolation"?: "bilinear",
               "mean"?: 0.5, "std"?: 0.5},
     "output"?: {"name"?, "kind"?: "probabilities"},
     "labels"?: ["0", "180"], "threshold"?: 0.9, "batch_size"?: 6}

Meaning (PaddleOCR's and RapidOCR 1.4.4's names and semantics, ``ch_ppocr_det/utils.py``,
``ch_ppocr_cls/text_cls.py``, ``config.yaml``): detector input x = ((pixel * scale) - mean) / std
per channel in ``channels`` order, NCHW float32, H and W dynamic; ``limit_type`` ``min`` scales the
image up so its shorter side is at least ``limit_side_len`` (``max``: down so its longer side is
at most it), each side then ``int()``-ed and rounded to the nearest ``multiple``
(:meth:`DetInput.input_size`). ``max_side`` is crnn-deploy's bound on either input side (engines'
profiles and memory); ``max_side_len``/``min_side_len`` (RapidOCR's Global page resize before
detection) and ``min_height``/``width_height_ratio`` (its letterbox of a short or wide page; -1 turns
the ratio off) are for the page pipeline. The output is the text probability map (N, 1, H, W) in
[0, 1]; ``postprocess`` holds DBPostProcess's parameters (``min_size`` is its fixed 3).
Classifier: each crop resized to ``height`` keeping its ratio, width min(ceil(height * w / h),
``width``), (x / 255 - mean) / std, zeros on the right; output (N, len(labels)) probabilities; a
crop whose best label is ``"180"`` with a probability above ``threshold`` is turned 180 degrees.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

from crnn_deploy.models.page_fields import choice, fail, integer, number, section, text
from crnn_deploy.models.page_sections import (
    ClsInput,
    ClsOutput,
    DBPostprocess,
    DetInput,
    DetOutput,
)
from crnn_deploy.models.spec_checks import check_name

PAGE_KINDS = ("detector", "classifier")
__all__ = ["PAGE_KINDS", "ClassifierSpec", "ClsInput", "ClsOutput", "DBPostprocess", "DetInput",
           "DetOutput", "DetectorSpec", "page_spec_from_dict"]


def _set(obj, name: str, value) -> None:
    object.__setattr__(obj, name, value)


def _batch_of(dims: Sequence, engine) -> int | None:
    n = dims[0]
    return n if isinstance(n, int) and n > 0 else None


class _PageSpec:
    """What both page kinds share: JSON form, copies with changes, the runtime's checks."""

    kind: str
    name: str

    def _check_top(self) -> None:
        check_name(self.name)  # a plain file-name component, as every spec's name
        text("description", self.description)

    def to_dict(self) -> dict:
        """The JSON form (module docstring): nested objects, tuples as lists."""
        return json.loads(json.dumps(asdict(self)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    def with_changes(self, **changes):
        """A validated copy with ``changes`` applied (a section is replaced whole)."""
        return replace(self, **changes)

    @property
    def input_name(self) -> str:
        return self.input.name

    @property
    def output_name(self) -> str:
        return self.output.name


@dataclass(frozen=True)
class DetectorSpec(_PageSpec):
    """A DB text detector: ``input`` (:class:`DetInput`), ``output`` (:class:`DetOutput`) and
    ``postprocess`` (:class:`DBPostprocess`)."""

    name: str
    input: DetInput = DetInput()
    output: DetOutput = DetOutput()
    postprocess: DBPostprocess = DBPostprocess()
    description: str = field(default="", compare=False)
    kind: str = "detector"

    def __post_init__(self) -> None:
        choice("kind", self.kind, ("detector",))
        self._check_top()
        for key, cls in (("input", DetInput), ("output", DetOutput), ("postprocess", DBPostprocess)):
            if not isinstance(getattr(self, key), cls):
                _set(self, key, section(cls, getattr(self, key), key))

    def describe(self) -> str:
        """One line for the user: the input and output tensors."""
        m, top = self.input.multiple, self.input.max_side
        return (f"detector {self.name}: input {self.input.name} N x 3 x H x W (multiples of {m} "
                f"up to {top}), output {self.output.name} N x 1 x H x W")

    def check_dims(self, dims: Sequence, engine) -> int | None:
        """Check an engine's input dims (N, C, H, W; ints or symbols); return its static batch
        (None: dynamic). Raises UserError: not rank 4, C not 3, or a static H or W."""
        from crnn_deploy.common.errors import UserError

        dims = list(dims)
        if len(dims) != 4 or (isinstance(dims[1], int) and dims[1] > 0 and dims[1] != 3):
            raise UserError(f"engine {engine}: input {dims} is not (N, 3, H, W) of detector {self.name}")
        if any(isinstance(d, int) and d > 0 for d in dims[2:]):
            raise UserError(f"engine {engine}: input {dims} has a static height or width; detector "
                            f"{self.name} needs both dynamic (crnn-convert import)")
        return _batch_of(dims, engine)

    def check_input(self, shape: Sequence[int]) -> None:
        """Raise UserError unless ``shape`` is (N, 3, H, W) with H and W multiples of
        ``input.multiple`` in 1..``input.max_side``."""
        from crnn_deploy.common.errors import UserError

        m, top = self.input.multiple, self.input.max_side
        if (len(shape) != 4 or shape[1] != 3
                or not all(0 < s <= top and s % m == 0 for s in shape[2:])):
            raise UserError(f"input shape {tuple(shape)} is not (N, 3, H, W) with H and W "
                            f"multiples of {m} up to {top} ({self.name})")


@dataclass(frozen=True)
class ClassifierSpec(_PageSpec):
    """A text-line angle classifier: ``input`` (:class:`ClsInput`), ``output``
    (:class:`ClsOutput`), ``labels`` (class order), ``threshold`` and ``batch_size``."""

    name: str
    input: ClsInput = ClsInput()
    output: ClsOutput = ClsOutput()
    labels: tuple[str, ...] = ("0", "180")
    threshold: float = 0.9
    batch_size: int = 6
    description: str = field(default="", compare=False)
    kind: str = "classifier"

    def __post_init__(self) -> None:
        choice("kind", self.kind, ("classifier",))
        self._check_top()
        for key, cls in (("input", ClsInput), ("output", ClsOutput)):
            if not isinstance(getattr(self, key), cls):
                _set(self, key, section(cls, getattr(self, key), key))
        labels = self.labels
        if (not isinstance(labels, (list, tuple)) or len(labels) < 2 or len(set(labels)) != len(labels)
                or not all(isinstance(s, str) and s for s in labels)):
            raise fail("labels", f"expected 2 or more distinct non-empty strings, got "
                       f"{json.dumps(labels)[:60]}")
        _set(self, "labels", tuple(labels))
        _set(self, "threshold", number("threshold", self.threshold, 0, 1))
        integer("batch_size", self.batch_size, 1, 4096)

    def describe(self) -> str:
        """One line for the user: the input and output tensors."""
        return (f"classifier {self.name}: input {self.input.name} N x "
                f"{' x '.join(map(str, self.input_shape))}, output {self.output.name} N x "
                f"{len(self.labels)} (labels {', '.join(self.labels)})")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one input crop."""
        return (3, self.input.height, self.input.width)

    def check_dims(self, dims: Sequence, engine) -> int | None:
        """Check an engine's input dims against (N, 3, height, width); return the static batch
        (None: dynamic). Raises UserError naming the engine."""
        from crnn_deploy.common.errors import UserError

        dims = list(dims)
        if len(dims) != 4 or any(isinstance(g, int) and g > 0 and g != w
                                 for g, w in zip(dims[1:], self.input_shape)):
            raise UserError(f"engine {engine}: input {dims} is not (N, "
                            f"{', '.join(map(str, self.input_shape))}) of classifier {self.name}")
        return _batch_of(dims, engine)

    def check_input(self, shape: Sequence[int]) -> None:
        """Raise UserError unless ``shape`` is (N, 3, height, width)."""
        from crnn_deploy.common.errors import UserError

        if len(shape) != 4 or tuple(shape[1:]) != self.input_shape:
            raise UserError(f"input shape {tuple(shape)} does not match (N, "
                            f"{', '.join(map(str, self.input_shape))}) of {self.name}")


PAGE_SPEC_CLASSES = {"detector": DetectorSpec, "classifier": ClassifierSpec}


def page_spec_from_dict(d: dict):
    """A :class:`DetectorSpec` or :class:`ClassifierSpec` from its JSON form (``kind`` picks).

    Raises:
        UserError: naming the first wrong key (unknown, missing, wrong type or value).
    """
    if not isinstance(d, dict):
        raise fail("(top level)", f"expected an object, got {json.dumps(d)[:60]}")
    cls = PAGE_SPEC_CLASSES[choice("kind", d.get("kind"), PAGE_KINDS)]
    return section(cls, d, "", required=("name", "input"))
