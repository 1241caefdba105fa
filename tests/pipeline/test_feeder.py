"""The thread feeder (pipeline.feeder.prepare_batches): order, bad items, every schedule gives
the same tensors as the serial transform, the consumer does unstarted work, niced pool."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from crnn_deploy.models.specs import get_spec
from crnn_deploy.pipeline.feeder import prepare_batches
from crnn_deploy.preprocess.transform import ImageError, preprocess_image


def _iiit5k(assets, n):
    gt = assets / "eval_iiit5k_3000" / "gt.txt"
    rels = [line.split("\t", 1)[0] for line in gt.read_text("utf-8").splitlines()[:n]]
    return [(gt.parent / rel).read_bytes() for rel in rels]


@pytest.mark.parametrize("threads,ahead,nice,slice_size,balance",
                         [(0, 0, 0, 4, False), (1, 0, 0, 16, False), (2, 1, 0, 4, True),
                          (2, 1, 19, 4, False), (3, 2, 5, 1, True), (2, 0, 0, 3, True)])
def test_every_schedule_gives_the_serial_tensors_in_order(assets, threads, ahead, nice,
                                                          slice_size, balance):
    spec = get_spec("nano-ocr")
    data = _iiit5k(assets, 40)
    data[5] = b"not an image"
    groups = [list(range(s, min(s + 16, len(data)))) for s in range(0, len(data), 16)]
    weight = (lambda i: len(data[i])) if balance else None
    batches = list(prepare_batches(groups, spec, data.__getitem__, threads, ahead, nice,
                                   slice_size, weight))
    assert [len(b.items) + len(b.bad) for b in batches] == [16, 16, 8]
    assert [i for b in batches for i in b.items] == [i for i in range(40) if i != 5]
    assert [i for b in batches for i, _ in b.bad] == [5]
    assert "cannot identify image format" in batches[0].bad[0][1]
    got = np.concatenate([b.images for b in batches])
    want = np.stack([preprocess_image(d, spec) for k, d in enumerate(data) if k != 5])
    assert got.dtype == np.float32 and got.shape == (39, 1, 32, 128)
    assert np.array_equal(got, want)


def test_the_consumer_runs_the_slices_no_pool_thread_has_started(assets):
    spec = get_spec("nano-ocr")
    data = _iiit5k(assets, 8)
    release, who = threading.Event(), {}

    def load(i):
        name = threading.current_thread().name
        who[i] = name
        if name.startswith("crnn-prep"):
            assert release.wait(60), "the consumer never did the pending slices"
        else:
            release.set()  # the pool's only thread waits until the consumer has worked
        return data[i]

    (batch,) = prepare_batches([list(range(8))], spec, load, threads=1, ahead=0, slice_size=2)
    assert batch.items == list(range(8)) and not batch.bad
    assert who[6] == who[7] == threading.current_thread().name
    assert np.array_equal(batch.images, np.stack([preprocess_image(d, spec) for d in data]))


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no per-thread priorities here")
def test_pool_threads_are_niced_and_errors_propagate(assets):
    spec = get_spec("nano-ocr")
    data = _iiit5k(assets, 4)
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen, pool_started = {}, threading.Event()

    def load(i):
        name = threading.current_thread().name
        seen[name] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        if name.startswith("crnn-prep"):
            pool_started.set()
        else:  # the consumer took the last slice: the others wait for the pool
            assert pool_started.wait(60)
        if i == 3:
            raise ImageError("bad on purpose")
        return data[i]

    (batch,) = prepare_batches([[0, 1, 2, 3]], spec, load, threads=2, ahead=0, nice=7,
                               slice_size=1)
    assert batch.bad == [(3, "bad on purpose")]
    pool = {k: v for k, v in seen.items() if k.startswith("crnn-prep")}
    assert pool and set(pool.values()) == {min(19, base + 7)}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base

    def broken(i):
        raise RuntimeError("a bug, not a bad image")

    with pytest.raises(RuntimeError, match="a bug"):
        list(prepare_batches([[0, 1]], spec, broken, threads=2))
