"""The model spec as a frozen, validated record (no torch, no I/O).

Every stage reads what it needs about a recognizer from one :class:`ModelSpec`: the transform
(channels, height, fixed or dynamic width, resize, padding, mean/std), the output (T, C, kind,
layout, blank) and the decoding (alphabet, ignored characters, confidence formula). A record is
checked field by field when it is made (``__post_init__``), so a preset, a spec file
(:mod:`models.spec_schema`), ONNX metadata and a sidecar are held to the same rules; a wrong
field raises :class:`~common.errors.UserError` naming it.

The serialized form (:meth:`ModelSpec.to_dict`, stored in ONNX ``metadata_props`` under
:data:`METADATA_KEY`, in OpenVINO ``rt_info`` and in sidecar JSON) is flat; files a person
writes use the nested schema of :mod:`models.spec_schema`.

Adding a decoding option (e.g. a second pass): add a field with its default to
:class:`Decoding`, validate it in ``Decoding.__post_init__``, map it in
``models.spec_schema.DECODING_KEYS`` (file key -> field), and use it in
``postprocess.ctc.decode_batch``. A new confidence formula is a name in
:data:`CONFIDENCES` plus its function in ``postprocess.ctc.CONFIDENCE_FORMULAS``
(tests/postprocess/test_ctc.py checks that both list the same names).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.spec_checks import (
    check_name,
    choice,
    fail,
    is_int,
    per_channel,
    shown,
)

#: Key under which the spec JSON is stored in ONNX ``metadata_props`` / OpenVINO ``rt_info``.
METADATA_KEY = "crnn_deploy.spec"

CHANNELS = {"gray": 1, "RGB": 3, "BGR": 3}
RESIZE_MODES = ("stretch", "keep-ratio")
PADS = ("zeros", "last-column")
#: interpolation names each resize library has (PIL ``Image.Resampling``, OpenCV ``INTER_*``)
INTERPOLATIONS = {
    "pil": ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"),
    "opencv": ("nearest", "bilinear", "bicubic", "lanczos", "area"),
}
#: what the engine output holds; ``log_softmax`` is log-probabilities (the historic name)
OUTPUT_KINDS = ("logits", "log_softmax", "probabilities")
LAYOUTS = ("TBC", "BTC")
#: per-word confidence formulas (``postprocess.ctc.CONFIDENCE_FORMULAS`` implements them)
CONFIDENCES = ("mean", "product-sqrt")
#: how the image is decoded to pixels: Pillow (``convert('L')``/``RGB``) or ``cv2.imdecode``
DECODERS = ("pil", "opencv")
#: keep-ratio: the padded width from the resized width (``resized``) or from the aspect ratio
#: (``aspect``: ``preprocess.height_fit``, EasyOCR's recognizer transform)
WIDTH_RULES = ("resized", "aspect")
#: the largest width a dynamic-width spec may ask for (a memory bound on one input row)
MAX_WIDTH = 8192
#: the largest input height (a memory bound; text-line recognizers use 32 to 64)
MAX_HEIGHT = 1024
#: the most classes an output may have (PP-OCRv4 has 6625; CJK sets stay below 20,000)
MAX_CLASSES = 100_000
@dataclass(frozen=True)
class Decoding:
    """How engine outputs become text (greedy CTC: argmax per step, merge repeats, drop blanks).

    Attributes:
        ignore: characters that are never emitted: their classes get probability 0 before the
            argmax (the rest renormalized), as EasyOCR's ``ignore_idx``.
        confidence: the per-word confidence formula, a name of :data:`CONFIDENCES`; ``mean``
            (PaddleOCR's ``CTCLabelDecode``): the mean over the emitted steps of the best
            class's probability, 0.0 for an empty word; ``product-sqrt`` (EasyOCR's
            ``custom_mean``): prod(p) ** (2 / sqrt(n)) over the n non-blank steps.
        second_pass_below: words whose confidence is below this are read a second time from the
            contrast-stretched image (``preprocess.height_fit.stretch_contrast``) and the more
            confident reading is kept (EasyOCR's ``contrast_ths``, 0.1); 0 = no second pass.
        second_pass_contrast: the stretch's target contrast (EasyOCR's ``adjust_contrast``, 0.5).
    """

    ignore: str = ""
    confidence: str = "mean"
    second_pass_below: float = 0.0
    second_pass_contrast: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.ignore, str):
            raise UserError(f"decoding.ignore must be a string of characters, got {self.ignore!r}")
        if self.confidence not in CONFIDENCES:
            raise UserError(f"decoding.confidence {self.confidence!r} is not one of "
                            f"{', '.join(CONFIDENCES)}")
        for name, low in (("second_pass_below", 0.0), ("second_pass_contrast", 1e-9)):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not low <= v <= 1:
                raise UserError(f"decoding.{name} must be a number in [{low:g}, 1], got {v!r}")


@dataclass(frozen=True)
class ModelSpec:
    """What every stage needs to know about a recognizer.

    Attributes:
        name: the spec's name (a preset name, or the ``name`` of a spec file).
        input_shape: (C, H, W) of one image, batch axis 0 (NCHW, float32); W is the fixed
            width, or the smallest width when ``width_max > 0`` (dynamic width).
        resize: interpolation name, one of :data:`INTERPOLATIONS` of ``resize_library``.
        seq_len: T, the CTC time steps at width W (0: not known yet, dynamic width only).
        alphabet: characters of the non-blank classes, in class order (str, one code point a
            class, or a tuple of strings).
        output: what the output holds, one of :data:`OUTPUT_KINDS`.
        mean, std: normalization ``(x / 255 - mean) / std``, one value or one per channel
            (stored as a tuple of C floats; std > 0).
        input_name, output_name: ONNX tensor names.
        channels: ``gray``, ``RGB`` or ``BGR``: what the C input channels hold.
        resize_mode: ``stretch`` to (W, H), or ``keep-ratio`` (height H, width from the aspect
            ratio, padded on the right).
        resize_library: ``pil`` or ``opencv`` (they differ on downscaling: docs/DESIGN.md).
        pad: ``zeros`` (0 after normalization) or ``last-column`` (a copy of the last column).
        width_max: 0 for a fixed width; else the largest width of a dynamic-width input.
        width_multiple: dynamic width: batch widths are rounded up to a multiple of this.
        output_layout: ``TBC`` (batch on axis 1; every engine crnn-convert writes) or ``BTC``.
        blank: the CTC blank's class index (0 in every engine crnn-convert writes).
        decoding: :class:`Decoding` options.
        decoder: ``pil`` (Pillow, then ``convert('L')``/``RGB``) or ``opencv`` (``cv2.imdecode``,
            as ``cv2.imread``: OpenCV's own grey conversion).
        width_rule: keep-ratio: ``resized`` (the padded width is the resized width rounded up to
            ``width_multiple``) or ``aspect`` (:mod:`preprocess.height_fit`: resized to
            int(H * w / h) columns, an image taller than wide resized upright then narrowed,
            padded to ceil(max(w/h, h/w, 1)) * H columns; grey only).
    """

    name: str
    input_shape: tuple[int, int, int]
    resize: str
    seq_len: int
    alphabet: str | tuple[str, ...]
    output: str
    mean: float | tuple[float, ...] = 0.5
    std: float | tuple[float, ...] = 0.5
    input_name: str = "actual_input_1"
    output_name: str = "output1"
    description: str = field(default="", compare=False)
    channels: str = "gray"
    resize_mode: str = "stretch"
    resize_library: str = "pil"
    pad: str = "zeros"
    width_max: int = 0
    width_multiple: int = 1
    output_layout: str = "TBC"
    blank: int = 0
    decoding: Decoding = Decoding()
    decoder: str = "pil"
    width_rule: str = "resized"
    kind = "recognizer"  # not a field (no annotation); models.page_specs: the other kinds

    def __post_init__(self) -> None:
        n = check_name(self.name)
        shape = self.input_shape
        if (not isinstance(shape, (tuple, list)) or len(shape) != 3
                or not all(is_int(d) and d > 0 for d in shape)):
            raise fail(n, "input (channels, height, width)", f"expected positive integers, got "
                       f"{shown(shape)}")
        object.__setattr__(self, "input_shape", tuple(int(d) for d in shape))
        c, h, w = self.input_shape
        if h > MAX_HEIGHT or w > MAX_WIDTH:
            raise fail(n, "input.height" if h > MAX_HEIGHT else "input.width",
                       f"H = {h}, W = {w}: at most H {MAX_HEIGHT} and W {MAX_WIDTH}")
        choice(n, "input.channels", self.channels, tuple(CHANNELS))
        if CHANNELS[self.channels] != c:
            raise fail(n, "input.channels", f"{self.channels!r} has {CHANNELS[self.channels]} "
                        f"channel(s), but the input has C = {c}")
        choice(n, "input.library", self.resize_library, tuple(INTERPOLATIONS))
        choice(n, "input.interpolation", self.resize, INTERPOLATIONS[self.resize_library])
        choice(n, "input.resize", self.resize_mode, RESIZE_MODES)
        choice(n, "input.pad", self.pad, PADS)
        choice(n, "input.decoder", self.decoder, DECODERS)
        choice(n, "input.width_rule", self.width_rule, WIDTH_RULES)
        if self.width_rule == "aspect" and (self.resize_mode, self.channels) != ("keep-ratio", "gray"):
            raise fail(n, "input.width_rule", "'aspect' needs input.resize 'keep-ratio' and input.channels 'gray'")
        choice(n, "output.kind", self.output, OUTPUT_KINDS)
        choice(n, "output.layout", self.output_layout, LAYOUTS)
        for name in ("mean", "std"):
            object.__setattr__(self, name, per_channel(n, f"input.{name}", getattr(self, name), c))
        if any(s <= 0 for s in self.std):
            raise fail(n, "input.std", f"every value must be > 0 (it divides), got {list(self.std)}")
        self._check_width(n, w)
        if (not is_int(self.seq_len) or not 0 <= self.seq_len <= MAX_WIDTH
                or (self.seq_len == 0 and not self.width_max)):
            raise fail(n, "output.time_steps", f"expected a positive integer <= {MAX_WIDTH}, got "
                       f"{shown(self.seq_len)}")
        self._check_alphabet(n)
        if not is_int(self.blank) or not 0 <= self.blank <= len(self.alphabet):
            raise fail(n, "output.blank", f"expected a class index in 0..{len(self.alphabet)}, "
                        f"got {shown(self.blank)}")
        for name in ("input_name", "output_name", "description"):
            if not isinstance(getattr(self, name), str):
                raise fail(n, name.replace("_", "."), f"expected a string, got {shown(getattr(self, name))}")
        if not isinstance(self.decoding, Decoding):
            raise fail(n, "decoding", f"expected a Decoding, got {self.decoding!r}")

    def _check_width(self, n: str, w: int) -> None:
        for name in ("width_max", "width_multiple"):
            if not is_int(getattr(self, name)) or getattr(self, name) < 0:
                raise fail(n, f"input.width.{name[6:]}", f"expected an integer >= 0, got {getattr(self, name)!r}")
        if self.width_multiple < 1:
            raise fail(n, "input.width.multiple", "must be >= 1")
        if self.width_max:
            if not w <= self.width_max <= MAX_WIDTH:
                raise fail(n, "input.width", f"min {w} <= max {self.width_max} <= {MAX_WIDTH} expected")
            if self.resize_mode != "keep-ratio":
                raise fail(n, "input.resize", "a dynamic width needs 'keep-ratio'")
        elif self.width_multiple != 1:
            raise fail(n, "input.width.multiple", "only a dynamic width has a multiple")

    def _check_alphabet(self, n: str) -> None:
        a = self.alphabet
        if isinstance(a, list):
            a = tuple(a)
        if isinstance(a, tuple) and all(isinstance(s, str) and len(s) == 1 for s in a):
            a = "".join(a)  # one code point per class: the compact form
        if isinstance(a, tuple):
            if not all(isinstance(s, str) and s for s in a):
                raise fail(n, "alphabet", "every class must be a non-empty string")
        elif not isinstance(a, str):
            raise fail(n, "alphabet", f"expected a string or a list of strings, got {type(a).__name__}")
        if not a:
            raise fail(n, "alphabet", "is empty")
        if len(a) + 1 > MAX_CLASSES:
            raise fail(n, "alphabet", f"{len(a)} classes, more than {MAX_CLASSES - 1}")
        seen: set = set()
        twice = [ch for ch in a if ch in seen or seen.add(ch)]
        if twice:
            raise fail(n, "alphabet", f"class(es) given more than once: "
                        f"{shown(''.join(dict.fromkeys(twice)) if isinstance(a, str) else tuple(dict.fromkeys(twice)))}")
        object.__setattr__(self, "alphabet", a)

    # -- derived -------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """C of the output: alphabet size + 1 for the CTC blank."""
        return len(self.alphabet) + 1

    @property
    def output_shape(self) -> tuple[int, int]:
        """(T, C) of the output at width W; the batch sits on axis 1: (T, B, C)."""
        return (self.seq_len, self.num_classes)

    @property
    def dynamic_width(self) -> bool:
        """True when the input width follows the word (``width_max > 0``)."""
        return self.width_max > 0

    @property
    def sample_bytes(self) -> int:
        """Bytes of one float32 (1, C, H, W) input sample (at width W)."""
        c, h, w = self.input_shape
        return 4 * c * h * w

    def with_changes(self, **changes) -> ModelSpec:
        """A validated copy with ``changes`` applied."""
        return replace(self, **changes)

    # -- serialization -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready flat dict (tuples become lists; ``decoding`` a nested dict)."""
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        if not isinstance(self.alphabet, str):
            d["alphabet"] = list(self.alphabet)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        """Inverse of :meth:`to_dict` (keys of older versions are accepted and unknown keys
        ignored, so engines written earlier still load). Raises UserError if incomplete or
        invalid."""
        if not isinstance(d, dict):
            raise UserError(f"model spec must be a JSON object, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        dec = kw.get("decoding", {})
        try:
            if not isinstance(dec, dict):
                raise TypeError(f"decoding must be an object, got {dec!r}")
            kw["decoding"] = Decoding(**dec)
            if not isinstance(kw["input_shape"], (list, tuple)):
                raise UserError(f"model spec 'input_shape': expected [C, H, W], got "
                                f"{shown(kw['input_shape'])}")
            kw["input_shape"] = tuple(kw["input_shape"])
            if isinstance(kw.get("alphabet"), list):
                kw["alphabet"] = tuple(kw["alphabet"])
            return cls(**kw)
        except KeyError as exc:
            raise UserError(f"incomplete model spec: missing {exc}") from None
        except TypeError as exc:
            raise UserError(f"model spec: a field of the wrong type: {str(exc)[:200]}") from None
