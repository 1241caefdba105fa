"""Helpers for the postprocess tests: crafted CTC outputs for a given alphabet."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.models.specs import get_spec

NANO = get_spec("nano-ocr")  # T = 33, C = 66, alphabet 0-9a-zA-Z.- and space


def _path_logits(path: list[str | None], alphabet: str, t: int | None = None,
                seed: int = 0) -> np.ndarray:
    """(T, C) float32 scores whose argmax per step follows ``path`` (None = blank), padded
    with blanks to ``t`` steps. Other classes get random scores well below the winner."""
    t = len(path) if t is None else t
    c = len(alphabet) + 1
    rng = np.random.default_rng(seed)
    x = rng.uniform(-5.0, 0.0, size=(t, c)).astype(np.float32)
    ids = [0 if ch is None else alphabet.index(ch) + 1 for ch in path]
    ids += [0] * (t - len(ids))
    x[np.arange(t), ids] = 10.0
    return x


def _text_path(text: str) -> list[str | None]:
    """A path that decodes to ``text``: each character once, a blank after each one."""
    out: list[str | None] = []
    for ch in text:
        out += [ch, None]
    return out


@pytest.fixture
def nano():
    """The nano-ocr spec (T = 33, C = 66)."""
    return NANO


@pytest.fixture
def path_logits():
    """``path_logits(path, alphabet, t=None, seed=0) -> (T, C) float32``."""
    return _path_logits


@pytest.fixture
def text_path():
    """``text_path(text) -> path`` decoding to ``text`` (a blank after every character)."""
    return _text_path
