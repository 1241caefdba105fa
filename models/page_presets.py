"""The built-in page-model specs (detector, angle classifier), in the spec-file form.

Both are the models the ``rapidocr-onnxruntime==1.4.4`` wheel ships (fetched and sha256-checked by
``scripts/fetch_weights.py``), with the defaults of its ``config.yaml`` and the transforms of its
code (read as the oracle; tests/models/test_page_presets.py reads the yaml and holds them equal):

* ``ppocrv4-det``: ``models/ch_PP-OCRv4_det_infer.onnx``, PaddleOCR's PP-OCRv4 DB detector.
  ``Det``: ``limit_side_len 736``, ``limit_type min``, ``mean``/``std`` ``[0.5, 0.5, 0.5]``,
  ``thresh 0.3``, ``box_thresh 0.5``, ``max_candidates 1000``, ``unclip_ratio 1.6``,
  ``use_dilation true``, ``score_mode fast``. ``ch_ppocr_det/utils.py`` ``DetPreProcess``:
  ``cv2.resize`` (bilinear) to sides rounded to multiples of 32, ``(x * 1/255 - mean) / std`` on
  the image as RapidOCR holds it: BGR (``LoadImage`` turns PIL's RGB into BGR; a numpy array is
  taken as BGR), so the mean/std 0.5 apply to B, G, R (PaddleOCR's own det config uses the
  ImageNet mean/std instead; RapidOCR's values are kept, as the oracle runs them).
  ``Global``: ``max_side_len 2000``, ``min_side_len 30``, ``min_height 30``,
  ``width_height_ratio 8``. ``max_side`` 4096 is ours (module :mod:`models.page_specs`).
* ``ppocr-cls``: ``models/ch_ppocr_mobile_v2.0_cls_infer.onnx``, PaddleOCR's mobile v2.0
  text-line angle classifier. ``Cls``: ``cls_image_shape [3, 48, 192]``, ``cls_batch_num 6``,
  ``cls_thresh 0.9``, ``label_list ['0', '180']``; ``ch_ppocr_cls/text_cls.py``
  ``resize_norm_img``: BGR, ``cv2.resize`` to height 48 keeping the ratio (width capped at 192),
  ``(x / 255 - 0.5) / 0.5``, zeros on the right.
"""
from __future__ import annotations

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.page_specs import ClassifierSpec, DetectorSpec, page_spec_from_dict

PAGE_PRESETS: dict[str, dict] = {
    "ppocrv4-det": {
        "kind": "detector",
        "name": "ppocrv4-det",
        "description": "PaddleOCR PP-OCRv4 DB text detector (ch_PP-OCRv4_det_infer.onnx of "
                       "rapidocr-onnxruntime 1.4.4), RapidOCR's TextDetector defaults",
        "input": {"name": "x", "channels": "BGR", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                  "scale": 1 / 255, "interpolation": "bilinear", "limit_side_len": 736,
                  "limit_type": "min", "multiple": 32, "max_side": 4096, "max_side_len": 2000,
                  "min_side_len": 30, "min_height": 30, "width_height_ratio": 8},
        "output": {"kind": "probability-map"},
        "postprocess": {"thresh": 0.3, "box_thresh": 0.5, "unclip_ratio": 1.6,
                        "max_candidates": 1000, "use_dilation": True, "score_mode": "fast",
                        "min_size": 3},
    },
    "ppocr-cls": {
        "kind": "classifier",
        "name": "ppocr-cls",
        "description": "PaddleOCR mobile v2.0 text-line angle classifier "
                       "(ch_ppocr_mobile_v2.0_cls_infer.onnx of rapidocr-onnxruntime 1.4.4), "
                       "RapidOCR's TextClassifier defaults",
        "input": {"name": "x", "channels": "BGR", "height": 48, "width": 192,
                  "resize": "keep-ratio", "pad": "zeros", "interpolation": "bilinear",
                  "mean": 0.5, "std": 0.5},
        "output": {"kind": "probabilities"},
        "labels": ["0", "180"],
        "threshold": 0.9,
        "batch_size": 6,
    },
}

#: The presets as validated records (output names are filled in by ``crnn-convert import``).
PAGE_SPECS: dict[str, DetectorSpec | ClassifierSpec] = {
    name: page_spec_from_dict(d) for name, d in PAGE_PRESETS.items()
}


def get_page_spec(name: str) -> DetectorSpec | ClassifierSpec:
    """The page-model preset ``name`` (``ppocrv4-det``, ``ppocr-cls``).

    Raises:
        UserError: an unknown name (the message lists the known ones).
    """
    try:
        return PAGE_SPECS[name]
    except KeyError:
        raise UserError(f"unknown page model {name!r}; known: {', '.join(PAGE_SPECS)}") from None
