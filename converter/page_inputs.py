"""Page-like check inputs for the detector and classifier conversions (no data files needed).

A conversion's parity check should run the model on what it will see: a detector on a page with
text, not on noise (a DB map of noise is near 0 everywhere and hides differences). The page is
drawn here with OpenCV's Hershey fonts (``cv2.putText``): black and grey text lines of several
sizes on a white page with a light gradient and a dark band with white text, fixed by a seed.
The transforms are the specs' (:mod:`models.page_specs`): detector resize
(:meth:`DetInput.input_size`) and ``(x * scale - mean) / std`` in the spec's channel order;
classifier crops resized to the input height keeping their ratio, zeros on the right.
"""
from __future__ import annotations

import numpy as np

from crnn_deploy.models.page_specs import ClassifierSpec, DetectorSpec

WORDS = ("Invoice", "TOTAL", "2024-05-17", "crnn-deploy", "Zurich", "page 3 of 7", "OCR",
         "Quantity", "x 12.50", "Hello world", "Deploy", "ABCDEFG", "seventeen", "Nr. 4711")


def render_page(height: int = 900, width: int = 700, seed: int = 0) -> np.ndarray:
    """uint8 (height, width, 3) BGR page with lines of text (module docstring)."""
    import cv2

    rng = np.random.default_rng(seed)
    ramp = np.linspace(255, 225, width, dtype=np.float32)[None, :, None]
    page = np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8).copy()
    y = 40
    while y < height - 20:
        scale = float(rng.uniform(0.6, 1.6))
        colour = tuple(int(c) for c in rng.integers(0, 90, 3))
        x = int(rng.integers(10, max(11, width // 4)))
        words = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 4))))
        cv2.putText(page, words, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                    max(1, int(round(scale * 2))), cv2.LINE_AA)
        y += int(40 * scale) + int(rng.integers(10, 40))
    band = height // 3
    page[band:band + 60, width // 8:width - width // 8] = (60, 40, 30)
    cv2.putText(page, "WHITE ON DARK", (width // 8 + 10, band + 45), cv2.FONT_HERSHEY_DUPLEX,
                1.2, (255, 255, 255), 2, cv2.LINE_AA)
    return page


def det_tensor(spec: DetectorSpec, image: np.ndarray, size: tuple[int, int] | None = None
               ) -> np.ndarray:
    """float32 (1, 3, H, W) detector input of a BGR uint8 image: resized to ``size`` (H, W)
    or :meth:`DetInput.input_size`, normalized as the spec says."""
    import cv2

    inp = spec.input
    h, w = size or inp.input_size(*image.shape[:2])
    x = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    if inp.channels == "RGB":
        x = x[:, :, ::-1]
    x = (x * inp.scale - np.array(inp.mean, np.float32)) / np.array(inp.std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


def det_check_inputs(spec: DetectorSpec) -> list[np.ndarray]:
    """The detector's check inputs: a page at the spec's own size (736 x ~960 for the preset),
    a wide one at a smaller fixed size, and a batch of 2 of the first page at 320 x 256."""
    a = det_tensor(spec, render_page(900, 700, seed=1))
    b = det_tensor(spec, render_page(500, 1100, seed=2), size=(384, 832))
    c = np.concatenate([det_tensor(spec, render_page(900, 700, seed=1), size=(320, 256)),
                        det_tensor(spec, render_page(500, 1100, seed=2), size=(320, 256))])
    m, top = spec.input.multiple, spec.input.max_side
    return [x for x in (a, b, c) if all(s % m == 0 and 0 < s <= top for s in x.shape[2:])]


def cls_tensor(spec: ClassifierSpec, crops: list[np.ndarray]) -> np.ndarray:
    """float32 (N, 3, height, width) classifier input of BGR uint8 crops (RapidOCR's
    ``resize_norm_img``: keep-ratio resize to the height, width capped, zeros on the right)."""
    import cv2

    inp = spec.input
    out = np.zeros((len(crops), 3, inp.height, inp.width), np.float32)
    for k, crop in enumerate(crops):
        rw = inp.resized_width(*crop.shape[:2])
        x = cv2.resize(crop, (rw, inp.height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        if inp.channels == "RGB":
            x = x[:, :, ::-1]
        x = (x / 255.0 - np.array(inp.mean, np.float32)) / np.array(inp.std, np.float32)
        out[k, :, :, :rw] = x.transpose(2, 0, 1)
    return out


def cls_check_inputs(spec: ClassifierSpec) -> list[np.ndarray]:
    """The classifier's check inputs: 6 text-line crops drawn with ``cv2.putText`` (3 upright,
    the same 3 turned 180 degrees), one crop alone, and 6 of uniform noise in [-1, 1] (its
    probabilities are far from 0 and 1, where a rounding difference shows)."""
    import cv2

    crops = []
    for word, width in (("Invoice 2024", 300), ("crnn-deploy pages", 420), ("TOTAL", 160)):
        strip = np.full((48, width, 3), 245, np.uint8)
        cv2.putText(strip, word, (6, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (20, 20, 20), 2,
                    cv2.LINE_AA)
        crops.append(strip)
    crops += [np.ascontiguousarray(c[::-1, ::-1]) for c in crops]
    noise = np.random.default_rng(0).uniform(-1, 1, (6, *spec.input_shape)).astype(np.float32)
    return [cls_tensor(spec, crops), cls_tensor(spec, crops[1:2]), noise]


def check_inputs_of(spec) -> list[np.ndarray]:
    """The check inputs of a detector or classifier spec."""
    return det_check_inputs(spec) if spec.kind == "detector" else cls_check_inputs(spec)
