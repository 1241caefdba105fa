"""The Recognizer API's traps (issue 21): one image -> one result, the CLI's option names
(``--threads`` ends in no traceback), BGR arrays, options validated like the CLI, and one
Recognizer shared by threads. Real nano-ocr weights on IIIT5K crops."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from crnn_deploy import Recognizer
from crnn_deploy.common.errors import OptionError, UserError
from crnn_deploy.pipeline.recognize_cli import main as recognize_cli


@pytest.fixture(scope="module")
def words(assets):
    lines = (assets / "eval_iiit5k_3000" / "gt.txt").read_text("utf-8").splitlines()[:12]
    return [assets / "eval_iiit5k_3000" / line.split("\t", 1)[0] for line in lines]


@pytest.fixture(scope="module")
def rec(nano_dynamic_onnx):
    with Recognizer(nano_dynamic_onnx, batch_size=4) as r:
        yield r


def test_cli_threads_option_runs(nano_dynamic_onnx, words):
    """``crnn-recognize --threads N`` used to end in "got multiple values for argument
    'threads'"."""
    args = ["--engine", str(nano_dynamic_onnx), *map(str, words[:5])]
    plain = CliRunner().invoke(recognize_cli, args)
    res = CliRunner().invoke(recognize_cli, [*args, "--threads", "1", "--prep-threads", "1"])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    got = [line.split("\t")[:2] for line in res.stdout.splitlines()]
    assert got == [line.split("\t")[:2] for line in plain.stdout.splitlines()] and len(got) == 5


def test_one_image_of_any_type_gives_one_result(rec, words):
    path = words[0]
    img = Image.open(path)
    one = rec.recognize(path)
    assert isinstance(one, tuple) and isinstance(one[0], str) and 0.5 < one[1] <= 1.0
    rgb = np.asarray(img.convert("RGB"))  # H x W x 3, what cv2.imread gives (in BGR)
    assert rgb.ndim == 3 and rgb.shape[0] > 1  # one result, not one per pixel row
    for single in (str(path), path.read_bytes(), img, rgb, np.asarray(img.convert("L"))):
        text, conf = rec.recognize(single)
        assert text == one[0] and conf == pytest.approx(one[1], abs=1e-5)
    assert rec(path) == one  # __call__
    assert rec.recognize([path]) == [one]  # a list gives a list
    assert len(list(rec.iter(rgb))) == 1
    stack = np.stack([rgb, rgb])  # (N, H, W, 3): a batch
    assert [t for t, _ in rec.recognize(stack)] == [one[0], one[0]]


def test_bgr_arrays(nano_dynamic_onnx, rec, words):
    """cv2.imread returns BGR: channel_order="bgr" reads it as the file reads; RGB (PIL's
    order) stays the default, so a BGR array read as RGB changes the grey image."""
    expected = rec.recognize(words)
    rgb = [np.asarray(Image.open(p).convert("RGB")) for p in words]
    bgr = [a[:, :, ::-1] for a in rgb]
    same = rec.recognize(rgb)
    assert [t for t, _ in same] == [t for t, _ in expected]
    assert [c for _, c in same] == pytest.approx([c for _, c in expected], abs=1e-6)
    swapped = rec.recognize(bgr)
    assert any(abs(a[1] - b[1]) > 1e-4 for a, b in zip(swapped, expected))
    with Recognizer(nano_dynamic_onnx, batch_size=4, channel_order="BGR") as r:
        got = r.recognize(bgr)
        assert [t for t, _ in got] == [t for t, _ in expected]
        assert [c for _, c in got] == pytest.approx([c for _, c in expected], abs=1e-6)
        bgra = np.dstack([bgr[0], np.full(bgr[0].shape[:2], 255, np.uint8)])
        assert r.recognize(bgra)[0] == expected[0][0]


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"batch_size": -4}, "batch_size must be >= 1"),
    ({"threads": 0}, "threads must be >= 1"),
    ({"prep_threads": -1}, "prep_threads must be >= 1"),
    ({"ahead": -1}, "ahead must be >= 0"),
    ({"streams": 0}, "streams must be >= 1"),
    ({"threads": 1.5}, "threads must be an integer"),
    ({"batch_size": True}, "batch_size must be an integer"),
    ({"hint": "FAST"}, "hint must be one of LATENCY, THROUGHPUT"),
    ({"precision": "int4"}, "precision must be one of f32, bf16, f16"),
    ({"channel_order": "gbr"}, "channel_order must be one of rgb, bgr"),
])
def test_options_are_validated_like_the_cli(nano_dynamic_onnx, kwargs, message):
    with pytest.raises(OptionError, match=message) as err:
        Recognizer(nano_dynamic_onnx, **kwargs)
    assert isinstance(err.value, UserError) and isinstance(err.value, ValueError)


def test_unknown_keyword_names_the_options(nano_dynamic_onnx):
    with pytest.raises(TypeError, match=r"unknown option 'engine_threads' \(did you mean"):
        Recognizer(nano_dynamic_onnx, engine_threads=2)
    with pytest.raises(TypeError, match="options: batch_size, threads, prep_threads"):
        Recognizer(nano_dynamic_onnx, bogus=1)


@pytest.mark.parametrize("kwargs", [{}, {"streams": 1, "threads": 1},
                                    {"backend": "openvino", "hint": "THROUGHPUT"}],
                         ids=["streams", "one-engine", "openvino-async"])
def test_shared_by_threads(nano_dynamic_onnx, words, kwargs):
    """Calls from several threads at once give what one thread gives, with every schedule."""
    with Recognizer(nano_dynamic_onnx, batch_size=4, **kwargs) as r:
        expected = r.recognize(words)
        results: dict[int, list] = {}

        def work(k: int) -> None:
            results[k] = r.recognize(words[k:] + words[:k])

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for k in range(4):
            got = results[k][-k:] + results[k][:-k] if k else results[k]
            assert [t for t, _ in got] == [t for t, _ in expected]
            assert [c for _, c in got] == pytest.approx([c for _, c in expected], abs=1e-5)
        stream = r.iter(words)
        next(stream)
        with pytest.raises(RuntimeError, match="already running"):
            r.recognize(words[0])
        stream.close()
        assert r.recognize(words[0])[0] == expected[0][0]  # the lock was released


def test_a_file_object_is_one_image_read_as_bytes(rec, words):
    """A file object used to be iterated line by line (one "image" per chunk of PNG bytes)."""
    import io

    want = rec.recognize(words[0])
    with open(words[0], "rb") as f:
        assert rec.recognize(f) == want  # one image -> one result
    assert rec.recognize([io.BytesIO(words[1].read_bytes()), words[0]])[1] == want
    with open(words[0], encoding="latin-1") as f, pytest.raises(UserError, match="text mode"):
        rec.recognize(f)


def test_a_nul_in_a_path_is_an_error_result_not_a_crash(rec, words):
    bad = str(words[1]) + "\0.png"
    with pytest.raises(UserError, match=r"NUL byte"):
        rec.recognize([words[0], bad])
    got = rec.recognize([words[0], bad, words[2]], errors="ignore")
    assert got[1] == ("", 0.0)
    for k in (0, 2):  # the others read as alone (batch composition: float rounding only)
        assert got[k][0] == rec.recognize(words[k])[0]
        assert got[k][1] == pytest.approx(rec.recognize(words[k])[1], abs=1e-6)


def test_static_widths_warm_up_at_a_listed_width_and_take_every_word(english_g2_onnx, words):
    """``widths="320,480"`` on english_g2 (smallest width 64) failed at warm-up ("input width 64
    is not one of the engine's widths"); with ``widths="64"`` one wider word aborted the run.
    Now each word runs at the smallest listed width that holds it, or squeezed to the largest."""
    with Recognizer(english_g2_onnx, backend="openvino") as dyn:
        ref = [t for t, _ in dyn(words)]
    with Recognizer(english_g2_onnx, backend="openvino", widths="320,480") as r:
        got = [t for t, _ in r(words)]
    assert len(got) == len(words)
    assert sum(a.lower() == b.lower() for a, b in zip(got, ref)) >= 0.75 * len(words), (got, ref)
    with Recognizer(english_g2_onnx, backend="openvino", widths="64") as r:
        narrow = r(words)
    assert len(narrow) == len(words) and all(0.0 <= c <= 1.0 for _, c in narrow)
    res = CliRunner().invoke(recognize_cli, ["--engine", str(english_g2_onnx), "--backend", "openvino",
                                             "--widths", "64", *map(str, words[:4])])
    assert res.exit_code == 0, res.output
    assert len(res.stdout.splitlines()) == 4
