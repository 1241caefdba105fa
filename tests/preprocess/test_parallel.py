"""preprocess/parallel.py: the per-process LMDB sample transformer and the ordered, bounded
worker pool."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.models.specs import get_spec
from crnn_deploy.preprocess import parallel
from crnn_deploy.preprocess.transform import preprocess_image


def test_transformer_matches_the_image_files_on_ic13(ic13_lmdb, assets):
    """LMDB samples 1..40 of IC13 give the same tensors as the image files of gt.txt."""
    spec = get_spec("nano-ocr")
    root = assets / "eval_ic13_857"
    lines = [ln.split("\t", 1) for ln in (root / "gt.txt").read_text().splitlines() if ln.strip()]
    t = parallel.SampleTransformer(str(ic13_lmdb), spec)
    try:
        out = list(t.transform(1, 41))
    finally:
        t.close()
    assert [s[0] for s in out] == list(range(1, 41))
    for (i, label, x, reason), (rel, want_label) in zip(out, lines):
        assert reason is None and label == want_label, i
        assert x.dtype == np.float32 and x.shape == spec.input_shape
        assert np.array_equal(x, preprocess_image((root / rel).read_bytes(), spec)), i


def test_transformer_names_bad_samples(make_lmdb, good_entries, to_png):
    entries = good_entries(5)
    del entries["image-000000002"]
    entries["image-000000004"] = b"not an image"
    t = parallel.SampleTransformer(str(make_lmdb(entries)), get_spec("crnn"))
    out = list(t.transform(1, 6))
    t.close()
    assert [s[0] for s in out] == [1, 2, 3, 4, 5]
    assert out[1][1:] == (None, "image-000000002", "missing image key")
    # an undecodable image keeps its label: crnn-eval --workers scores it as wrong
    assert out[3][1] == "w4" and out[3][2] == "image-000000004" and out[3][3]
    assert [s[1] for s in out if s[3] is None] == ["w1", "w3", "w5"]


def test_transformer_remaps_after_remap_bytes(make_lmdb, good_entries, monkeypatch):
    monkeypatch.setattr(parallel, "REMAP_BYTES", 1)
    t = parallel.SampleTransformer(str(make_lmdb(good_entries(6))), get_spec("crnn"))
    first = list(t.transform(1, 4))
    env = t.env
    second = list(t.transform(1, 4))  # read > REMAP_BYTES: reopened before this range
    assert t.env is not env
    t.close()
    assert all(np.array_equal(a[2], b[2]) for a, b in zip(first, second))


def test_ordered_map_inline_calls_the_initializer_once():
    calls = []
    out = list(parallel.ordered_map(lambda t: t * 2, range(5), workers=3, inline=True,
                                    initializer=calls.append, initargs=("init",)))
    assert out == [0, 2, 4, 6, 8] and calls == ["init"]


def test_ordered_map_pool_keeps_order_and_bounds_tasks_in_flight():
    """Two worker processes; results in task order; the task iterator is read at most
    2 * workers ahead of the results consumed."""
    pulled = []

    def tasks():
        for n in range(40):
            pulled.append(n)
            yield list(range(n % 7 * 1000))

    out = []
    for result in parallel.ordered_map(sum, tasks(), workers=2, inline=False, initializer=int,
                                       initargs=()):
        assert len(pulled) <= len(out) + 1 + 2 * 2
        out.append(result)
    assert out == [sum(range(n % 7 * 1000)) for n in range(40)]


@pytest.mark.parametrize("inline", [True, False])
def test_ordered_map_of_nothing(inline):
    assert list(parallel.ordered_map(abs, [], workers=2, inline=inline, initializer=int,
                                     initargs=())) == []
