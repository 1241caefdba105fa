"""Batching by width (plan_widths, padding_share), the width set of static-shape engines
(default_widths, fit_width) and the staged .npy inputs."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import get_spec
from crnn_deploy.runtime.widths import (
    check_npy,
    default_widths,
    engine_widths,
    fit_columns,
    fit_width,
    padding_share,
    plan_widths,
    ratio_batches,
    read_npy_batch,
)

SPEC = get_spec("nano-ocr").with_changes(
    name="dyn", input_shape=(3, 48, 320), channels="BGR", resize_mode="keep-ratio",
    width_max=3200, width_multiple=32)


def test_bucket_groups_equal_widths_and_widest_pads_to_the_batch_max():
    widths = [320, 640, 320, 480, 320, 640, 320]
    plans = plan_widths(widths, 3, "bucket")
    assert plans == [([0, 2, 4], 320), ([6], 320), ([3], 480), ([1, 5], 640)]
    assert sorted(k for pos, _ in plans for k in pos) == list(range(7))
    assert padding_share(widths, plans) == 0.0
    wide = plan_widths(widths, 3, "widest")
    assert wide == [([0, 2, 4], 320), ([6, 3, 1], 640), ([5], 640)]
    assert padding_share(widths, wide) == pytest.approx(1 - sum(widths) / (3 * 320 + 4 * 640))
    with pytest.raises(ValueError):
        plan_widths(widths, 3, "random")


def test_static_engines_get_a_small_width_set_and_the_smallest_that_fits():
    ws = default_widths(SPEC)
    assert ws[0] == 320 and ws[-1] == 3200 and len(ws) <= 6 and ws == sorted(ws)
    assert all(w % 32 == 0 for w in ws)
    assert default_widths(get_spec("crnn")) == [100]
    assert fit_width(321, ws) == ws[1] and fit_width(320, ws) == 320 and fit_width(999, None) == 999
    assert fit_width(4000, ws) == ws[-1]  # wider than every width: squeezed to the largest


def test_a_word_wider_than_every_width_is_resized_to_the_largest():
    ramp = np.linspace(-1, 1, 400, dtype=np.float32)[None, None].repeat(2, axis=1)  # (1, 2, 400)
    x = fit_columns(ramp, 100, "last-column")
    assert x.shape == (1, 2, 100) and x.dtype == np.float32
    assert np.all(np.diff(x[0, 0]) > 0) and abs(x[0, 0, 0] + 1) < 0.01 and abs(x[0, 0, -1] - 1) < 0.01
    assert np.allclose(fit_columns(np.full((1, 2, 400), 0.25, np.float32), 64, "zeros"), 0.25)
    padded = fit_columns(ramp, 410, "last-column")  # narrower: padded as before
    assert padded.shape[-1] == 410 and np.all(padded[..., 400:] == ramp[..., -1:])


def test_the_widths_option_gives_the_static_widths_of_an_engine():
    assert engine_widths(SPEC, None) is None and engine_widths(SPEC, "dynamic") is None
    assert engine_widths(SPEC, "auto") == tuple(default_widths(SPEC))
    assert engine_widths(SPEC, " 640, 320,640") == (320, 640)
    assert engine_widths(SPEC, [480, 320]) == (320, 480)
    for bad, why in (("abc", "comma-separated integers"), ("320,x", "comma-separated integers"),
                     ("100,320", "within 320..3200"), ("3201", "within 320..3200"),
                     (",", "within 320..3200")):
        with pytest.raises(UserError, match=why):
            engine_widths(SPEC, bad)
    with pytest.raises(UserError, match="fixed width of 100"):
        engine_widths(get_spec("crnn"), "auto")


def test_npy_inputs_carry_their_width(tmp_path):
    a, b = np.ones((1, 3, 48, 320), np.float32), np.full((1, 3, 48, 352), 2, np.float32)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    files = [tmp_path / "a.npy", tmp_path / "b.npy"]
    assert check_npy(files, SPEC) == [320, 352]
    x = read_npy_batch(files, 352, 3, SPEC)
    assert x.shape == (3, 3, 48, 352) and x[0, :, :, 320:].sum() == 0 and x[2].sum() == 0
    edge = read_npy_batch(files, 352, 2, SPEC.with_changes(pad="last-column"))
    assert (edge[0, :, :, 320:] == 1).all()
    np.save(tmp_path / "c.npy", np.ones((1, 1, 48, 320), np.float32))
    with pytest.raises(UserError, match="c.npy has shape"):
        check_npy([tmp_path / "c.npy"], SPEC)
    (tmp_path / "d.npy").write_bytes(b"not numpy")
    with pytest.raises(UserError, match="d.npy is not a readable .npy"):
        check_npy([tmp_path / "d.npy"], SPEC)


def test_ratio_batches_sort_by_aspect_ratio_and_take_the_batch_width_as_paddleocr():
    # (w, h): ratios 4.0, 10.0, 2.0, 7.5, 9.9, 0.5, 8.0
    sizes = [(160, 40), (300, 30), (40, 20), (300, 40), (99, 10), (10, 20), (320, 40)]
    plans = ratio_batches(sizes, 3, 48, 320)
    # sorted by ratio: 5 (0.5), 2 (2.0), 0 (4.0) | 3 (7.5), 6 (8.0), 4 (9.9) | 1 (10.0)
    assert [pos for pos, _ in plans] == [[5, 2, 0], [3, 6, 4], [1]]
    # width int(48 * max(320 / 48, largest ratio)): at least 320; 48 * 9.9 = 475.2 -> 475
    assert [w for _, w in plans] == [320, 475, 480]
    assert ratio_batches(sizes, 3, 48, 320, max_width=400)[1][1] == 400
    assert ratio_batches([], 6, 48, 320) == []
