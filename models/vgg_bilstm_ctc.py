"""None-VGG-BiLSTM-CTC: EasyOCR's ``generation2`` recognizer (``english_g2``), imports torch.

The names of clovaai/deep-text-recognition-benchmark (Baek et al., "What Is Wrong With Scene
Text Recognition Model Comparisons?", ICCV 2019): no transformation, a VGG feature extractor,
two bidirectional LSTMs, a CTC head. EasyOCR 1.7.2 ``easyocr/model/vgg_model.py`` ``Model`` and
``easyocr/model/modules.py`` (``VGG_FeatureExtractor``, ``BidirectionalLSTM``) define it; the
parameter names here are theirs, so the ``module.``-stripped ``english_g2.pth`` state_dict
loads with ``strict=True``:

* ``FeatureExtraction.ConvNet``: convs at 0, 3, 6, 8, 11, 14, 18 (channels 32, 64, 128, 128,
  256, 256, 256; 3x3 pad 1 except the last, 2x2 valid), BatchNorm at 12 and 15 (the convs before
  them have no bias), 2x2 max pools after convs 0 and 3, (2, 1) pools after 8 and 14.
  (B, 1, 64, W) -> (B, 256, 3, W // 4 - 1).
* EasyOCR's ``AdaptiveAvgPool2d((None, 1))`` on the (B, W', C, H') permuted map averages the
  H' = 3 rows of each column; here it is ``mean`` over the height axis, the same operation
  written with no shape baked in, so the ONNX export is the same graph for every width.
* ``SequenceModeling.{0,1}``: ``rnn`` = LSTM(256, 256, bidirectional) then ``linear``
  (512 -> 256). EasyOCR runs them ``batch_first``; here they run time-major (an ``nn.LSTM``'s
  parameters do not depend on ``batch_first``), which is the layout of ONNX's LSTM op.
* ``Prediction``: Linear(256 -> num_class), raw logits.

Output: float32 (T, B, num_class) raw logits, time-major like every model of this project
(EasyOCR's own output is (B, T, C): the same numbers, transposed).
"""
from __future__ import annotations

import torch
from torch import nn


class VggFeatureExtractor(nn.Module):
    """EasyOCR's ``VGG_FeatureExtractor(input_channel, output_channel)``, same module indices."""

    def __init__(self, in_channels: int = 1, out_channels: int = 256):
        super().__init__()
        c = [out_channels // 8, out_channels // 4, out_channels // 2, out_channels]
        self.ConvNet = nn.Sequential(
            nn.Conv2d(in_channels, c[0], 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),       # 0-2
            nn.Conv2d(c[0], c[1], 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),              # 3-5
            nn.Conv2d(c[1], c[2], 3, 1, 1), nn.ReLU(True),                                  # 6-7
            nn.Conv2d(c[2], c[2], 3, 1, 1), nn.ReLU(True), nn.MaxPool2d((2, 1), (2, 1)),    # 8-10
            nn.Conv2d(c[2], c[3], 3, 1, 1, bias=False), nn.BatchNorm2d(c[3]), nn.ReLU(True),  # 11-13
            nn.Conv2d(c[3], c[3], 3, 1, 1, bias=False), nn.BatchNorm2d(c[3]), nn.ReLU(True),  # 14-16
            nn.MaxPool2d((2, 1), (2, 1)),                                                   # 17
            nn.Conv2d(c[3], c[3], 2, 1, 0), nn.ReLU(True),                                  # 18-19
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ConvNet(x)


class TimeMajorBiLSTM(nn.Module):
    """EasyOCR's ``BidirectionalLSTM``: ``rnn`` (bidirectional LSTM) then ``linear``
    (2 * hidden -> out), on a time-major (T, B, F) sequence."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int):
        super().__init__()
        self.rnn = nn.LSTM(n_in, n_hidden, bidirectional=True)
        self.linear = nn.Linear(n_hidden * 2, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        recurrent, _ = self.rnn(x)
        return self.linear(recurrent)


class VggBiLstmCtc(nn.Module):
    """None-VGG-BiLSTM-CTC: float32 (B, C, H, W) -> (W // 4 - 1, B, num_class) raw logits
    (for H = 64, EasyOCR's height; any width >= 8)."""

    def __init__(self, nc: int = 1, nclass: int = 97, channels: int = 256, hidden: int = 256):
        super().__init__()
        self.FeatureExtraction = VggFeatureExtractor(nc, channels)
        self.SequenceModeling = nn.Sequential(TimeMajorBiLSTM(channels, hidden, hidden),
                                              TimeMajorBiLSTM(hidden, hidden, hidden))
        self.Prediction = nn.Linear(hidden, nclass)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.FeatureExtraction(x).mean(dim=2)          # (B, C, T): AdaptiveAvgPool over H
        sequence = self.SequenceModeling(features.permute(2, 0, 1))  # (T, B, hidden)
        return self.Prediction(sequence)
