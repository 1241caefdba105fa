"""Model specs: one frozen record per supported CRNN checkpoint family (no torch here).

The table in ``shared/docs/DESIGN.md`` is the source of every number:

* ``crnn``: meijieru/crnn.pytorch ``CRNN(32, 1, 37, 256)`` (Shi, Bai, Yao 2015), input 1x32x100,
  output (26, B, 37) raw logits, alphabet ``0-9a-z``.
* ``crnn-modelzoo``: Ascend ModelZoo ``CRNN_for_PyTorch``, same shapes, output log-softmax,
  PIL bicubic resize.
* ``nano-ocr``: the CRNN shipped in the ``nano-ocr==0.1.0`` wheel, input 1x32x128, output
  (33, B, 66) raw logits, alphabet ``0-9a-zA-Z.-`` plus space.
* ``nano-ocr-37``: derived from ``nano-ocr`` (same checkpoint, unchanged) to meet the classic
  contract of ``crnn``: input 1x32x100, output (26, B, 37) log-probabilities over ``0-9a-z``
  (see :data:`DERIVED` and the note on ``nano-ocr-37`` below).

Class 0 is the CTC blank; class k > 0 is ``alphabet[k - 1]``. Pixels are normalized as
``(x / 255 - mean) / std`` with mean = std = 0.5 (so the range is [-1, 1]).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from crnn_deploy.common.errors import UserError

DIGITS_LOWER = "0123456789abcdefghijklmnopqrstuvwxyz"
NANO_OCR_ALPHABET = DIGITS_LOWER + "ABCDEFGHIJKLMNOPQRSTUVWXYZ.- "

#: Key under which the spec JSON is stored in ONNX ``metadata_props`` / OpenVINO ``rt_info``.
METADATA_KEY = "crnn_deploy.spec"


@dataclass(frozen=True)
class ModelSpec:
    """What every stage needs to know about a model family.

    Attributes:
        name: registry name (``crnn``, ``crnn-modelzoo``, ``nano-ocr``, ``nano-ocr-37``).
        input_shape: (C, H, W) of one image; the batch axis is 0 (NCHW, float32).
        resize: PIL resampling filter name used in training (``bilinear`` or ``bicubic``).
        mean, std: normalization ``(x / 255 - mean) / std``.
        seq_len: T, the number of CTC time steps.
        alphabet: characters of classes 1..K (class 0 is the CTC blank).
        output: ``logits`` (raw) or ``log_softmax``.
        input_name, output_name: ONNX tensor names (ModelZoo flow: ``actual_input_1``/``output1``).
    """

    name: str
    input_shape: tuple[int, int, int]
    resize: str
    seq_len: int
    alphabet: str
    output: str
    mean: float = 0.5
    std: float = 0.5
    input_name: str = "actual_input_1"
    output_name: str = "output1"
    description: str = field(default="", compare=False)

    @property
    def num_classes(self) -> int:
        """C of the (T, B, C) output: alphabet size + 1 for the CTC blank."""
        return len(self.alphabet) + 1

    @property
    def output_shape(self) -> tuple[int, int]:
        """(T, C) of the output; the batch sits on axis 1: (T, B, C)."""
        return (self.seq_len, self.num_classes)

    @property
    def sample_bytes(self) -> int:
        """Bytes of one float32 (1, C, H, W) input sample."""
        c, h, w = self.input_shape
        return 4 * c * h * w

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists)."""
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["output_layout"] = "TBC"
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        """Inverse of :meth:`to_dict`; unknown keys are ignored. Raises UserError if incomplete."""
        names = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in names}
        try:
            kw["input_shape"] = tuple(int(x) for x in kw["input_shape"])
            return cls(**kw)
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"incomplete model spec {d!r}: {exc}") from None


SPECS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec(
            name="crnn",
            input_shape=(1, 32, 100),
            resize="bilinear",
            seq_len=26,
            alphabet=DIGITS_LOWER,
            output="logits",
            description="meijieru/crnn.pytorch CRNN(32, 1, 37, 256), Shi et al. 2015",
        ),
        ModelSpec(
            name="crnn-modelzoo",
            input_shape=(1, 32, 100),
            resize="bicubic",
            seq_len=26,
            alphabet=DIGITS_LOWER,
            output="log_softmax",
            description="Ascend ModelZoo-PyTorch CRNN_for_PyTorch (fw_rnn/bw_rnn BiLSTM)",
        ),
        ModelSpec(
            name="nano-ocr",
            input_shape=(1, 32, 128),
            resize="bilinear",
            seq_len=33,
            alphabet=NANO_OCR_ALPHABET,
            output="logits",
            description="CRNN of the nano-ocr==0.1.0 wheel (MIT), nano_ocr_ftr.pth",
        ),
        ModelSpec(
            name="nano-ocr-37",
            input_shape=(1, 32, 100),
            resize="bilinear",
            seq_len=26,
            alphabet=DIGITS_LOWER,
            output="log_softmax",
            description="nano-ocr weights at 1x32x100, 66 classes folded to the classic 37 "
                        "(softmax, sum of upper+lower case, '.-' and space to blank, log)",
        ),
    )
}

#: Derived specs: name -> the spec whose architecture and checkpoint they reuse unchanged.
#:
#: ``nano-ocr-37`` is the classic CRNN contract (Shi, Bai, Yao 2015; the Ascend ModelZoo
#: CRNN_for_PyTorch flow: 1x32x100 input, ``reshape(26, -1, 37)`` output) served by the real
#: nano-ocr weights. Derivation:
#:
#: * Width 100: the nano-ocr network is convolutional + BiLSTM, so it accepts any width; its
#:   pools (two 2x2, two (2,2)/(2,1)/(0,1)) and final 2x2 valid conv map W = 100 to
#:   100 -> 50 -> 25 -> 26 -> 27 -> 26 = T time steps, exactly the classic 26.
#: * Classes: the network's 66 softmax probabilities are summed into the classic 37 by a fixed
#:   66x37 0/1 matrix (:func:`fold_map`): blank -> blank, each digit -> itself, ``a`` and ``A``
#:   -> ``a`` (and so on for every letter), ``.``, ``-`` and space -> blank (the standard
#:   protocol drops them anyway). A sum of probabilities of disjoint events is the probability
#:   of their union, so the result is again a distribution over 37 classes.
#: * Output: ``log(max(P @ M, FOLD_EPS))``, log-probabilities like ``crnn-modelzoo``'s
#:   log-softmax. The clamp keeps a class whose probabilities all underflow to 0 at
#:   ``log(FOLD_EPS)`` instead of ``-inf`` (see :data:`FOLD_EPS`).
#:
#: The fold is part of the model that ``models.arch.build_model`` builds, hence of the exported
#: ONNX graph: every engine (ONNX Runtime, OpenVINO, INT8, TensorRT, OM) gives (26, B, 37).
#: Measured on IIIT5K (3000 words, PIL bilinear, greedy CTC, case-insensitive alphanumeric):
#: ``nano-ocr-37`` 76.90 % (2307/3000; PyTorch, ONNX Runtime and OpenVINO f32 alike),
#: ``nano-ocr`` (1x32x128) 77.60 % (2328/3000); the Ascend ModelZoo CRNN_for_PyTorch publishes
#: 76.57 % (910A, batch 16). SVT / IC03 / IC13: 68.47 / 86.40 / 82.38 % (nano-ocr: 69.09 /
#: 85.12 / 83.20 %), see docs/BENCHMARKS.md.
DERIVED: dict[str, str] = {"nano-ocr-37": "nano-ocr"}

#: Floor of the folded probabilities before the log: 2**-24 (~5.96e-8, log = -16.64), the
#: smallest positive float16, so the clamp does not round to 0 (and the log to -inf) in an
#: engine that computes in FP16 (TensorRT --fp16, atc's default precision mode). Greedy decoding
#: is unaffected (the best of 37 classes has p >= 1/37), and the softmax of the output (the
#: confidence of ``postprocess.ctc``) moves by less than 36 * FOLD_EPS = 2.1e-6.
FOLD_EPS = 2.0 ** -24


def fold_map(source_alphabet: str, target_alphabet: str) -> list[int]:
    """Target class of every source class when folding one CTC alphabet into another.

    Class 0 (the blank) maps to 0; a source character maps to the target class of its lowercase
    form when the target alphabet has it, otherwise to the blank (0).

    Returns:
        A list of ``len(source_alphabet) + 1`` ints in ``[0, len(target_alphabet)]``.
    """
    index = {c: k for k, c in enumerate(target_alphabet, start=1)}
    return [0] + [index.get(c.lower(), 0) for c in source_alphabet]


def get_spec(name: str) -> ModelSpec:
    """The spec registered under ``name``. Raises UserError listing the known names."""
    try:
        return SPECS[name]
    except KeyError:
        raise UserError(f"unknown model {name!r}; known: {', '.join(SPECS)}") from None


def sidecar_path(engine) -> Path:
    """``X.engine`` -> ``X.engine.json``: the spec beside engines that cannot carry metadata
    (TensorRT plans, Ascend OM files)."""
    engine = Path(engine)
    return engine.with_name(engine.name + ".json")


def write_sidecar(engine, spec: ModelSpec, **extra) -> None:
    """Write the sidecar JSON (``{"spec": ..., **extra}``) atomically."""
    from crnn_deploy.common.fileio import atomic_write_json

    atomic_write_json(sidecar_path(engine), {"spec": spec.to_dict(), **extra})


def read_sidecar(engine) -> ModelSpec:
    """The spec of the sidecar JSON of ``engine``. Raises UserError when absent or invalid."""
    path = sidecar_path(engine)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"no spec for engine {engine}: expected {path} "
                        "(written by crnn-convert beside the engine)") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    return ModelSpec.from_dict(data.get("spec", data))
