"""PyTorch definitions of the three CRNN families of ``models.specs`` (imports torch).

Parameter names match the original checkpoints exactly, so their state_dicts load with
``strict=True``:

* :class:`MeijieruCRNN` - meijieru/crnn.pytorch ``CRNN(imgH=32, nc=1, nclass=37, nh=256)``:
  7 convs (64, 128, 256, 256, 512, 512, 512; BatchNorm after convs 2, 4, 6), two
  ``BidirectionalLSTM`` blocks (``rnn`` + ``embedding``). Output (26, B, 37) raw logits.
* :class:`ModelZooCRNN` - Ascend ModelZoo-PyTorch ``CRNN_for_PyTorch``: the same CNN, but each
  BiLSTM is ``fw_rnn`` + ``bw_rnn`` (one-direction LSTMs, the backward one run on the time-flipped
  sequence) + ``embedding``, and the output is ``log_softmax`` over classes.
* :class:`NanoOCRCRNN` - the CRNN of the ``nano-ocr==0.1.0`` wheel: ``cnn`` is a flat
  ``nn.Sequential`` (6 convs 64, 128, 256, 256, 512 and a 2x2 512 conv; BatchNorm after convs
  3, 5, 6), one ``nn.LSTM(512, 256, bidirectional=True)`` named ``rnn`` and ``fc`` Linear(512, 66).
* :class:`FoldedNanoOCR` - ``nano-ocr-37``: :class:`NanoOCRCRNN` (same parameter names, so the
  nano-ocr state_dict loads unchanged) at 1x32x100 plus :class:`ClassFold`, a fixed head that
  folds the 66 classes into the classic 37 (see ``models.specs.DERIVED``).
* ``english_g2``: EasyOCR's None-VGG-BiLSTM-CTC, :class:`models.vgg_bilstm_ctc.VggBiLstmCtc`
  (any width: T = W // 4 - 1).

All take float32 NCHW input and return time-major float32 (T, B, C).
"""
from __future__ import annotations

import torch
from torch import nn

from crnn_deploy.models.specs import DERIVED, FOLD_EPS, ModelSpec, fold_map, get_spec
from crnn_deploy.models.vgg_bilstm_ctc import VggBiLstmCtc

_CHANNELS = (64, 128, 256, 256, 512, 512, 512)


def _shi_cnn(in_channels: int) -> nn.Sequential:
    """The 7-conv VGG-style CNN of Shi et al. 2015, module names as in meijieru/crnn.pytorch.

    (B, 1, 32, 100) -> (B, 512, 1, 26): two 2x2 pools, then two (2,2)/(2,1)/(0,1) pools
    that halve the height only, then a 2x2 valid conv.
    """
    cnn = nn.Sequential()
    pools = {0: nn.MaxPool2d(2, 2), 1: nn.MaxPool2d(2, 2),
             3: nn.MaxPool2d((2, 2), (2, 1), (0, 1)), 5: nn.MaxPool2d((2, 2), (2, 1), (0, 1))}
    pool_index = 0
    for i, out_ch in enumerate(_CHANNELS):
        in_ch = in_channels if i == 0 else _CHANNELS[i - 1]
        kernel, pad = (2, 0) if i == 6 else (3, 1)
        cnn.add_module(f"conv{i}", nn.Conv2d(in_ch, out_ch, kernel, 1, pad))
        if i in (2, 4, 6):
            cnn.add_module(f"batchnorm{i}", nn.BatchNorm2d(out_ch))
        cnn.add_module(f"relu{i}", nn.ReLU(True))
        if i in pools:
            cnn.add_module(f"pooling{pool_index}", pools[i])
            pool_index += 1
    return cnn


def _to_sequence(conv: torch.Tensor) -> torch.Tensor:
    """(B, C, 1, W) feature map -> (W, B, C) sequence."""
    return conv.squeeze(2).permute(2, 0, 1)


class BidirectionalLSTM(nn.Module):
    """meijieru block: ``rnn`` (bidirectional LSTM) then ``embedding`` (Linear 2h -> out)."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int):
        super().__init__()
        self.rnn = nn.LSTM(n_in, n_hidden, bidirectional=True)
        self.embedding = nn.Linear(n_hidden * 2, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        recurrent, _ = self.rnn(x)
        return self.embedding(recurrent)


class SplitBidirectionalLSTM(nn.Module):
    """ModelZoo block: ``fw_rnn`` on x, ``bw_rnn`` on flip(x) (flipped back), concat, ``embedding``."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int):
        super().__init__()
        self.fw_rnn = nn.LSTM(n_in, n_hidden)
        self.bw_rnn = nn.LSTM(n_in, n_hidden)
        self.embedding = nn.Linear(n_hidden * 2, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        forward, _ = self.fw_rnn(x)
        backward, _ = self.bw_rnn(torch.flip(x, [0]))
        return self.embedding(torch.cat((forward, torch.flip(backward, [0])), 2))


class MeijieruCRNN(nn.Module):
    """meijieru/crnn.pytorch ``CRNN(32, 1, 37, 256)``: (B, 1, 32, 100) -> (26, B, 37) logits."""

    def __init__(self, nc: int = 1, nclass: int = 37, nh: int = 256):
        super().__init__()
        self.cnn = _shi_cnn(nc)
        self.rnn = nn.Sequential(BidirectionalLSTM(512, nh, nh), BidirectionalLSTM(nh, nh, nclass))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(_to_sequence(self.cnn(x)))


class ModelZooCRNN(nn.Module):
    """Ascend ModelZoo ``CRNN_for_PyTorch``: (B, 1, 32, 100) -> (26, B, 37) log-softmax."""

    def __init__(self, nc: int = 1, nclass: int = 37, nh: int = 256):
        super().__init__()
        self.cnn = _shi_cnn(nc)
        self.rnn = nn.Sequential(SplitBidirectionalLSTM(512, nh, nh),
                                 SplitBidirectionalLSTM(nh, nh, nclass))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.rnn(_to_sequence(self.cnn(x))), dim=2)


class NanoOCRCRNN(nn.Module):
    """nano-ocr CRNN: (B, 1, 32, 128) -> (33, B, 66) raw logits.

    ``cnn`` indices follow the checkpoint (convs at 0, 3, 6, 9, 12, 16; BatchNorm at 7, 13, 17);
    the pools are those of Shi et al. (two 2x2, then two (2,2)/(2,1)/(0,1)), which turn a width
    of 128 into 34 and, after the 2x2 valid conv, into T = 33.
    """

    def __init__(self, nc: int = 1, nclass: int = 66, nh: int = 256):
        super().__init__()
        tall_pool = nn.MaxPool2d((2, 2), (2, 1), (0, 1))
        self.cnn = nn.Sequential(
            nn.Conv2d(nc, 64, 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),          # 0-2
            nn.Conv2d(64, 128, 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),         # 3-5
            nn.Conv2d(128, 256, 3, 1, 1), nn.BatchNorm2d(256), nn.ReLU(True),       # 6-8
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(True), tall_pool,                 # 9-11
            nn.Conv2d(256, 512, 3, 1, 1), nn.BatchNorm2d(512), nn.ReLU(True),       # 12-14
            nn.MaxPool2d((2, 2), (2, 1), (0, 1)),                                   # 15
            nn.Conv2d(512, 512, 2, 1, 0), nn.BatchNorm2d(512), nn.ReLU(True),       # 16-18
        )
        self.rnn = nn.LSTM(512, nh, bidirectional=True)
        self.fc = nn.Linear(nh * 2, nclass)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        recurrent, _ = self.rnn(_to_sequence(self.cnn(x)))
        return self.fc(recurrent)


class ClassFold(nn.Module):
    """Fixed head: logits (T, B, S) -> log of class-summed probabilities (T, B, K), float32.

    ``log(max(softmax(x, dim=2) @ M, eps))`` with ``M`` the S x K 0/1 matrix of ``mapping``
    (``M[s, mapping[s]] = 1``; see ``models.specs.fold_map``). ``M`` is a non-persistent buffer:
    it is not in the state_dict (checkpoints stay those of the base model) but it is a constant
    of the exported ONNX graph (Softmax -> MatMul -> Max -> Log). ``eps`` (default
    ``models.specs.FOLD_EPS`` = 2**-24) keeps the log finite where every summed probability
    underflows to 0 (or is quantized to 0 by an INT8 model).

    The floor is an ONNX ``Max`` with a constant, not a ``Clip``: ONNX Runtime's QDQ quantizer
    treats a Clip after a quantized MatMul as a removable activation and drops it (onnxruntime
    1.32 ``QDQRemovableActivation``), which gave the INT8 model -inf outputs; ``Max`` is not in
    its QDQ registry and stays in float.
    """

    def __init__(self, mapping: list[int], num_out: int, eps: float = FOLD_EPS):
        super().__init__()
        matrix = torch.zeros(len(mapping), num_out)
        matrix[torch.arange(len(mapping)), torch.tensor(mapping)] = 1.0
        self.register_buffer("matrix", matrix, persistent=False)
        self.register_buffer("eps", torch.tensor(float(eps)), persistent=False)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        probs = torch.matmul(torch.softmax(logits, dim=2), self.matrix)
        return torch.log(torch.maximum(probs, self.eps))


class FoldedNanoOCR(NanoOCRCRNN):
    """``nano-ocr-37``: nano-ocr at (B, 1, 32, 100) -> (26, B, 37) log-probabilities over
    blank + ``0-9a-z`` (upper and lower case summed; ``.``, ``-``, space sent to the blank).

    The parameters are exactly :class:`NanoOCRCRNN`'s (66-class ``fc``); only the fold head is
    added, as a constant.
    """

    def __init__(self, nc: int = 1, nclass: int = 37, nh: int = 256):
        base = get_spec(DERIVED["nano-ocr-37"])
        super().__init__(nc=nc, nclass=base.num_classes, nh=nh)
        target = get_spec("nano-ocr-37")
        if nclass != target.num_classes:
            raise ValueError(f"nano-ocr-37 has {target.num_classes} output classes, not {nclass}")
        self.fold = ClassFold(fold_map(base.alphabet, target.alphabet), target.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fold(super().forward(x))


_ARCHS = {"crnn": MeijieruCRNN, "crnn-modelzoo": ModelZooCRNN, "nano-ocr": NanoOCRCRNN,
          "nano-ocr-37": FoldedNanoOCR, "english_g2": VggBiLstmCtc}


def build_model(spec: ModelSpec | str) -> nn.Module:
    """A freshly initialised (random-weight) model of ``spec``, in eval mode.

    Float32 NCHW (B, *spec.input_shape) -> float32 (spec.seq_len, B, spec.num_classes).
    Raises UserError for an unknown spec name.
    """
    spec = get_spec(spec) if isinstance(spec, str) else spec
    if spec.name not in _ARCHS:
        get_spec(spec.name)  # raises UserError listing the known names
    model = _ARCHS[spec.name](nc=spec.input_shape[0], nclass=spec.num_classes)
    return model.eval()
