"""None-VGG-BiLSTM-CTC (EasyOCR's english_g2): strict load of the real weights, the shape rule
T = W // 4 - 1, and the same outputs as EasyOCR's own ``Model`` at every width.

EasyOCR's model module imports torchvision; the ``easyocr_oracle`` fixture stands in a minimal
torchvision (``transforms.ToTensor`` only, see ``scripts/easyocr_oracle.py``): the CUDA wheels of
torchvision on PyPI do not load beside this CPU torch.
"""
from __future__ import annotations

import pytest
import torch

from crnn_deploy.models.checkpoint import read_state_dict
from crnn_deploy.models.english_g2 import ENGLISH_G2_ALPHABET, seq_len
from crnn_deploy.models.vgg_bilstm_ctc import VggBiLstmCtc

WIDTHS = (8, 64, 100, 256, 1000)


@pytest.fixture(scope="module")
def english_g2(english_g2_weights):
    state = read_state_dict(english_g2_weights)
    model = VggBiLstmCtc(nclass=len(ENGLISH_G2_ALPHABET) + 1).eval()
    model.load_state_dict(state, strict=True)
    return model, state


def test_alphabet_is_easyocr_english_g2():
    assert len(ENGLISH_G2_ALPHABET) == 96 == len(set(ENGLISH_G2_ALPHABET))
    assert ENGLISH_G2_ALPHABET[:11] == "0123456789!" and ENGLISH_G2_ALPHABET[42:44] == " \u20ac"
    assert ENGLISH_G2_ALPHABET.endswith("XYZabcdefghijklmnopqrstuvwxyz")


def test_checkpoint_layout_loads_strictly(english_g2):
    model, state = english_g2
    assert len(state) == 44 and not any(k.startswith("module.") for k in state)
    assert tuple(state["Prediction.weight"].shape) == (97, 256)
    assert set(model.state_dict()) == set(state)


@pytest.mark.parametrize("width", WIDTHS)
def test_time_steps_follow_the_width(english_g2, width):
    with torch.no_grad():
        y = english_g2[0](torch.zeros(2, 1, 64, width))
    assert tuple(y.shape) == (seq_len(width), 2, 97)


def test_same_outputs_as_easyocr_model(english_g2, easyocr_oracle):
    from easyocr.model.vgg_model import Model

    model, state = english_g2
    reference = Model(input_channel=1, output_channel=256, hidden_size=256, num_class=97).eval()
    reference.load_state_dict(state, strict=True)
    gen = torch.Generator().manual_seed(0)
    for width in WIDTHS:
        x = torch.rand(3, 1, 64, width, generator=gen) * 2 - 1
        with torch.no_grad():
            expected = reference(x, None).permute(1, 0, 2)  # EasyOCR: (B, T, C)
            got = model(x)
        assert float((expected - got).abs().max()) < 1e-4, width
