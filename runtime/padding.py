"""How far a word whose width follows it is padded: the ``min_width`` engine option (issue 28).

PaddleOCR (and RapidOCR, whose text the ``ppocrv4-rec`` preset reproduces) pads every word to at
least the width of ``rec_image_shape`` (3, 48, **320**): a word 100 columns wide at height 48
runs as 320 columns, 220 of them zeros. On IIIT5K 61 % of the columns PP-OCRv4 computes are such
padding. ``min_width=W`` pads to at least W columns instead, and rounds each word's bucket up to
the model's horizontal stride (input width / CTC steps: 320 / 40 = 8 for PP-OCRv4, whose graph
takes any width and emits ceil(W / 8) steps), so that words of similar width share a batch.

Padding changes PP-OCRv4's output (its SVTR mixing blocks see the whole row): the accuracy with
and without is in docs/PERFORMANCE.md ("Padding"); the default stays the spec's (RapidOCR's text).
"""
from __future__ import annotations

import dataclasses

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import ModelSpec


def stride(spec: ModelSpec) -> int:
    """Input columns per CTC step (``input width / seq_len`` when it divides, else the spec's
    width multiple)."""
    w, t = spec.input_shape[2], spec.seq_len
    return w // t if t and w % t == 0 else spec.width_multiple


def padded_spec(spec: ModelSpec, min_width: int | None) -> ModelSpec:
    """``spec`` with words padded to at least ``min_width`` columns (None: ``spec`` itself).

    The result's smallest width is ``min_width`` rounded up to :func:`stride`, its width
    multiple the stride (``preprocess.transform.keep_ratio_widths`` then gives each word
    ``ceil(own width / stride) * stride`` columns, at least ``min_width``).

    Raises:
        UserError: a spec whose width does not follow the word by a keep-ratio resize (a fixed
            width, EasyOCR's height fit), or ``min_width`` outside 1..the spec's smallest width.
    """
    if min_width is None:
        return spec
    c, h, wmin = spec.input_shape
    if not spec.dynamic_width or spec.resize_mode != "keep-ratio" or spec.width_rule != "resized":
        raise UserError(f"--min-width is for a keep-ratio spec whose width follows the word "
                        f"(ppocrv4-rec); {spec.name} sets its widths itself")
    if isinstance(min_width, bool) or not isinstance(min_width, int) or not 1 <= min_width <= wmin:
        raise UserError(f"--min-width {min_width!r}: expected an integer in 1..{wmin} "
                        f"(the spec's own smallest width, {wmin}, pads most)")
    m = stride(spec)
    low = min(-(-min_width // m) * m, wmin)
    if low == wmin and m == spec.width_multiple:
        return spec
    return dataclasses.replace(spec, input_shape=(c, h, low), width_multiple=m,
                               seq_len=low // m if low % m == 0 else 0)
