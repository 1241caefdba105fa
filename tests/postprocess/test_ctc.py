"""Greedy CTC decoding against hand-made paths (class 0 = blank, class k = alphabet[k-1])."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.postprocess.ctc import best_path, collapse_mask, greedy_decode, paths_to_text

ABC = "abc"
B = None  # blank in a path


def decode_one(path, alphabet=ABC, t=None, path_logits=None):
    x = path_logits(path, alphabet, t)
    return greedy_decode(x[:, None, :], alphabet, batch_axis=1)


@pytest.mark.parametrize(
    "path, expected",
    [
        (["a", "a"], "a"),  # repeats merge
        (["a", B, "a"], "aa"),  # a blank separates two equal characters
        (["a", "a", B, B, "a", "a", "a"], "aa"),
        ([B, "a", "b", B, "c", B], "abc"),
        (["a", "b", "a", "b"], "abab"),  # different neighbours never merge
        (["c", B, B, "b", "b", "a"], "cba"),
        (["a"], "a"),
        ([B], ""),
        ([B, B, B, B], ""),  # all blank -> empty string
    ],
)
def test_collapse_rules(path, expected, path_logits):
    assert decode_one(path, path_logits=path_logits) == [expected]


def test_hello_needs_blank_between_ls(path_logits):
    alphabet = "ehlo"
    assert decode_one(list("hello"), alphabet, path_logits=path_logits) == ["helo"]
    assert decode_one(["h", "e", "l", B, "l", "o"], alphabet, path_logits=path_logits) == ["hello"]
    # trailing blank padding (T longer than the path) changes nothing
    assert decode_one(["h", "e", "l", B, "l", "o"], alphabet, t=20,
                      path_logits=path_logits) == ["hello"]


def test_batch_axis_0_and_1_agree_and_keep_order(path_logits):
    paths = [["a", B, "a"], [B, B, B, B], ["c", "b", "b", "a"], ["b", B, B, B]]
    per_sample = np.stack([path_logits(p, ABC, t=6, seed=i) for i, p in enumerate(paths)])
    expected = ["aa", "", "cba", "b"]
    assert greedy_decode(per_sample, ABC, batch_axis=0) == expected  # (N, T, C)
    tnc = np.ascontiguousarray(per_sample.transpose(1, 0, 2))  # (T, N, C)
    assert greedy_decode(tnc, ABC, batch_axis=1) == expected
    assert greedy_decode(tnc, ABC) == expected  # default axis is 1 (engine layout)


def test_empty_batch_and_zero_steps():
    assert greedy_decode(np.zeros((5, 0, 4), np.float32), ABC, batch_axis=1) == []
    assert greedy_decode(np.zeros((0, 3, 4), np.float32), ABC, batch_axis=1) == ["", "", ""]


def test_nano_alphabet_space_dot_dash(nano, path_logits):
    alphabet = nano.alphabet
    assert alphabet[-3:] == ".- " and len(alphabet) + 1 == 66
    path = ["a", ".", B, ".", "-", " ", " ", "Z", B, " "]  # ends with a kept space
    x = path_logits(path, alphabet, t=nano.seq_len)
    assert greedy_decode(x[None], alphabet, batch_axis=0) == ["a..- Z "]
    # class ids of the special characters are their alphabet position + 1
    assert [alphabet.index(ch) + 1 for ch in ".- "] == [63, 64, 65]
    assert paths_to_text(np.array([[65, 0, 63, 64, 64, 65]]), alphabet) == [" .- "]


def test_log_softmax_decodes_like_logits(path_logits):
    x = path_logits(["b", B, "b", "c"], ABC, t=8)[None]
    log_sm = x - np.log(np.exp(x).sum(-1, keepdims=True))
    assert greedy_decode(x, ABC, 0) == greedy_decode(log_sm, ABC, 0) == ["bbc"]


def test_matches_naive_reference_on_random_batches():
    rng = np.random.default_rng(7)
    alphabet = "0123456789abc .-"
    paths = rng.integers(0, len(alphabet) + 1, size=(300, 25))
    paths[:50] = rng.integers(0, 3, size=(50, 25))  # many repeats and blanks

    def naive(row):
        out, prev = [], None
        for k in row:
            if k != 0 and k != prev:
                out.append(alphabet[k - 1])
            prev = k
        return "".join(out)

    assert paths_to_text(paths, alphabet) == [naive(r) for r in paths]


def test_nul_in_alphabet_uses_fallback():
    assert paths_to_text(np.array([[1, 2, 0, 2], [2, 2, 2, 0]]), "x\0") == ["x\0\0", "\0"]


def test_best_path_and_mask_shapes():
    x = np.zeros((4, 2, 3), np.float32)  # (T=4, N=2, C=3)
    x[:, 0, 1] = 1
    x[2, 1, 2] = 1
    p = best_path(x, batch_axis=1)
    assert p.shape == (2, 4) and p.tolist() == [[1, 1, 1, 1], [0, 0, 2, 0]]
    assert collapse_mask(p).tolist() == [[True, False, False, False],
                                         [False, False, True, False]]


def test_alphabet_size_mismatch_is_user_error():
    with pytest.raises(UserError, match=r"3 characters needs C = 4 .* C = 66"):
        greedy_decode(np.zeros((33, 1, 66), np.float32), ABC)


@pytest.mark.parametrize("bad, axis", [(np.zeros((3, 4)), 1), (np.zeros((2, 3, 4)), 2)])
def test_bad_shape_or_axis_is_value_error(bad, axis):
    with pytest.raises(ValueError):
        greedy_decode(bad, ABC, batch_axis=axis)


def test_class_id_out_of_range():
    with pytest.raises(ValueError, match="outside 0..3"):
        paths_to_text(np.array([[0, 4]]), ABC)


def test_confidence_hand_computed():
    """Two steps emit 'a' then 'b' (the repeat of 'a' merges); confidence = mean of their
    max softmax probabilities, computed by hand."""
    import math

    from crnn_deploy.postprocess.ctc import greedy_decode_with_confidence

    # classes: blank, a, b; T=4, N=1
    steps = [[0.0, 2.0, 0.0], [0.0, 1.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, math.log(3.0)]]
    logits = np.array(steps, dtype=np.float32)[:, None, :]
    texts, conf = greedy_decode_with_confidence(logits, "ab")
    assert texts == ["ab"]
    p_a = math.exp(2.0) / (math.exp(2.0) + 2.0)  # step 0 emits 'a'; step 1 repeats it
    p_b = 3.0 / (3.0 + 2.0)  # step 3: exp(log 3) / (exp(0) + exp(0) + 3)
    assert conf[0] == pytest.approx((p_a + p_b) / 2, abs=1e-7)
    # log-softmax input gives the same confidence; an all-blank word gets 0
    logp = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
    assert greedy_decode_with_confidence(logp, "ab")[1][0] == pytest.approx(conf[0], abs=1e-7)
    blank = np.zeros((3, 1, 3), np.float32)
    blank[:, :, 0] = 5.0
    assert greedy_decode_with_confidence(blank, "ab") == ([""], [0.0])


def test_decode_batch_follows_kind_ignore_and_confidence():
    from crnn_deploy.models.spec_record import CONFIDENCES, Decoding
    from crnn_deploy.models.specs import get_spec
    from crnn_deploy.postprocess.ctc import CONFIDENCE_FORMULAS, decode_batch, greedy_decode_with_confidence

    assert set(CONFIDENCE_FORMULAS) == set(CONFIDENCES)
    rng = np.random.default_rng(0)
    nano = get_spec("nano-ocr")
    logits = rng.normal(size=(33, 5, 66)).astype(np.float32) * 4
    assert decode_batch(logits, nano) == greedy_decode_with_confidence(logits, nano.alphabet)
    # probabilities are used as they are (no second softmax), batch on axis 0
    probs = np.array([[[0.1, 0.6, 0.2, 0.1], [0.7, 0.1, 0.1, 0.1], [0.2, 0.2, 0.5, 0.1],
                       [0.2, 0.2, 0.1, 0.5]]], np.float32)
    spec = nano.with_changes(name="p", alphabet="abc", output="probabilities", seq_len=4)
    texts, confs = decode_batch(probs, spec, batch_axis=0)
    assert texts == ["abc"] and confs[0] == pytest.approx((0.6 + 0.5 + 0.5) / 3)
    # an ignored class never wins; the others are renormalized
    ign = spec.with_changes(decoding=Decoding(ignore="c"))
    texts, confs = decode_batch(probs, ign, batch_axis=0)
    assert texts == ["ab"] and confs[0] == pytest.approx((0.6 / 0.9 + 0.5 / 0.9) / 2)
    logit_ign = spec.with_changes(output="logits", decoding=Decoding(ignore="c"))
    texts, _ = decode_batch(np.log(probs), logit_ign, batch_axis=0)
    assert texts == ["ab"]
