"""RapidOCR's own recognizer batching (``crnn-ocr --rec-batching rapidocr``) against RapidOCR
1.4.4's TextRecognizer on real IIIT5K words: the same padded tensors, the same texts."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import get_spec
from crnn_deploy.pipeline.pages.rec_batching import check_rapidocr_spec, rapidocr_reader
from crnn_deploy.pipeline.recognizer import Recognizer, load_input
from crnn_deploy.preprocess.transform import preprocess_image
from crnn_deploy.runtime.widths import ratio_batches

cv2 = pytest.importorskip("cv2")
pytest.importorskip("rapidocr_onnxruntime", reason="the test extra: rapidocr-onnxruntime==1.4.4")

N = 30


@pytest.fixture(scope="module")
def crops(assets):
    gt = assets / "eval_iiit5k_3000" / "gt.txt"
    rows = [line.split("\t")[0] for line in gt.read_text(encoding="utf-8").splitlines()[:N]]
    words = [cv2.imread(str(gt.parent / rel)) for rel in rows]
    lines = []  # page lines are wider than a word: 2-4 words side by side at the first's height
    for k in range(0, N - 3, 3):
        h = words[k].shape[0]
        parts = [cv2.resize(w, (max(1, round(w.shape[1] * h / w.shape[0])), h))
                 for w in words[k:k + 2 + k % 3]]
        lines.append(np.hstack(parts))
    return words + lines


def test_batch_tensors_are_rapidocrs_resize_norm_img(crops, ppocrv4_onnx):
    from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer

    with Recognizer(ppocrv4_onnx, threads=1) as r:
        spec = r.spec
    its = SimpleNamespace(rec_image_shape=[3, 48, 320])
    narrower = 0
    for pos, width in ratio_batches([(c.shape[1], c.shape[0]) for c in crops], 6, 48, 320):
        top = max([320 / 48] + [crops[k].shape[1] / crops[k].shape[0] for k in pos])
        for k in pos:
            mine = preprocess_image(load_input(crops[k], "bgr"), spec, batch_width=width)
            theirs = TextRecognizer.resize_norm_img(its, crops[k], top)
            assert mine.shape == theirs.shape, (k, mine.shape, theirs.shape)
            np.testing.assert_allclose(mine, theirs, atol=1e-6)
            alone = preprocess_image(load_input(crops[k], "bgr"), spec)
            narrower += alone.shape[-1] < width or not np.array_equal(alone, mine[:, :, :alone.shape[-1]])
    assert narrower >= 2  # crops that RapidOCR pads (or resizes) otherwise than alone


def test_reader_gives_rapidocr_texts_with_its_batches_of_6(crops, ppocrv4_onnx):
    from crnn_deploy.bench.oracles import rapidocr_recognizer

    theirs = rapidocr_recognizer(threads=2)(crops)[0]  # rec_batch_num 6, its default
    with Recognizer(ppocrv4_onnx, threads=2, channel_order="bgr") as r:
        ours = rapidocr_reader(r)(crops)
    assert [t for t, _ in ours] == [t for t, _ in theirs]
    assert max(abs(a[1] - float(b[1])) for a, b in zip(ours, theirs)) <= 1e-4


@pytest.mark.parametrize("name", ["english_g2", "nano-ocr"])
def test_recognizers_not_read_as_paddleocr_are_refused(name):
    with pytest.raises(UserError, match="rec-batching rapidocr"):
        check_rapidocr_spec(get_spec(name))
