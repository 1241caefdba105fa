"""preprocess_image on synthetic images of every mode, and the decoding guards."""
from __future__ import annotations

import io
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from crnn_deploy.models.specs import get_spec
from crnn_deploy.preprocess.transform import (
    MAX_PIXELS,
    ImageError,
    open_image,
    open_image_opencv,
    preprocess_image,
)

NANO = get_spec("nano-ocr")
RNG = np.random.default_rng(1)


def ref_from_grey(grey: Image.Image, w=128, h=32, resample=Image.BILINEAR) -> np.ndarray:
    """Independent computation from an 8-bit grey image: (1, h, w) float32."""
    x = np.asarray(grey.resize((w, h), resample), dtype=np.float32) / 255.0
    return ((x - 0.5) / 0.5).reshape(1, h, w)


def rand(shape) -> np.ndarray:
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def palette_img(transparency=None) -> Image.Image:
    img = Image.fromarray(rand((20, 50)), mode="L").convert("P")
    img.putpalette(rand(768).tolist())
    if transparency is not None:
        img.info["transparency"] = transparency
    return img


CASES = {
    "L": lambda: Image.fromarray(rand((20, 50)), mode="L"),
    "RGB": lambda: Image.fromarray(rand((20, 50, 3)), mode="RGB"),
    "RGBA": lambda: Image.fromarray(rand((20, 50, 4)), mode="RGBA"),
    "LA": lambda: Image.fromarray(rand((20, 50, 2)), mode="LA"),
    "P": lambda: palette_img(),
    "P+transparency index": lambda: palette_img(transparency=3),
    "P+transparency bytes": lambda: palette_img(transparency=bytes(range(256))),
    "1": lambda: Image.fromarray(rand((20, 50)) > 127),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", ["PNG", "object"])
def test_modes_match_pil_convert_L(case, fmt, to_png, recwarn):
    img = CASES[case]()
    if fmt == "PNG":
        params = {"transparency": img.info["transparency"]} if "transparency" in img.info else {}
        data = to_png(img, **params)
        img = Image.open(io.BytesIO(data))
    else:
        data = img
    x = preprocess_image(data, NANO)
    assert x.dtype == np.float32 and x.shape == (1, 32, 128) and x.flags.c_contiguous
    assert -1.0 <= x.min() and x.max() <= 1.0
    assert not [w for w in recwarn if "Palette images with Transparency" in str(w.message)]
    # the training transform: plain convert('L'), which ignores alpha / transparency
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grey = img.convert("L")
    np.testing.assert_allclose(x, ref_from_grey(grey), rtol=0, atol=1e-6)


def test_rgba_alpha_is_ignored(to_png):
    rgb = rand((16, 40, 3))
    a = np.dstack([rgb, np.zeros((16, 40), np.uint8)])
    b = np.dstack([rgb, np.full((16, 40), 255, np.uint8)])
    xa = preprocess_image(to_png(Image.fromarray(a, "RGBA")), NANO)
    xb = preprocess_image(to_png(Image.fromarray(b, "RGBA")), NANO)
    np.testing.assert_array_equal(xa, xb)


def test_16bit_grey_is_scaled_not_clipped(to_png):
    v8 = rand((20, 50))
    img16 = Image.frombytes("I;16", (50, 20), (v8.astype("<u2") * 257).tobytes())
    data = to_png(img16)
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    x = preprocess_image(data, NANO)
    np.testing.assert_allclose(x, ref_from_grey(Image.fromarray(v8, "L")), rtol=0, atol=1e-6)


def test_8bit_values_in_16_and_32bit_modes_read_as_pillow_converts_them(to_png):
    """Mode ``I``/``I;16`` images holding 8-bit values used to be divided by 257 and read as
    empty text: Pillow's own ``convert('L')`` keeps them."""
    v8 = rand((20, 50))
    ref = ref_from_grey(Image.fromarray(v8, "L"))
    img16 = Image.frombytes("I;16", (50, 20), v8.astype("<u2").tobytes())
    for img in (img16, Image.fromarray(v8.astype(np.int32), "I"), Image.fromarray(v8.astype(np.float32), "F")):
        np.testing.assert_allclose(preprocess_image(img, NANO), ref, rtol=0, atol=1e-6, err_msg=img.mode)
    np.testing.assert_allclose(preprocess_image(to_png(img16), NANO), ref, rtol=0, atol=1e-6)


#: every mode Pillow can hold an image in (Pillow's "Modes" page), made from one RGB image
ALL_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
             "LAB", "HSV", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")


@pytest.mark.parametrize("mode", ALL_MODES)
def test_every_pillow_mode_gives_a_tensor_or_an_image_error(mode):
    base = Image.fromarray(rand((20, 50, 3)), "RGB")
    try:
        img = base.convert(mode)
    except ValueError:
        img = Image.new(mode, base.size)
    rgb_spec = NANO.with_changes(name="t", input_shape=(3, 32, 64), channels="BGR",
                                 resize_mode="keep-ratio", width_max=256)
    for spec in (NANO, rgb_spec):
        try:
            x = preprocess_image(img, spec)
        except ImageError as exc:  # a clear refusal (e.g. LAB has no RGB conversion in Pillow)
            assert mode in str(exc)
            continue
        assert x.dtype == np.float32 and x.shape[:2] == spec.input_shape[:2] and np.isfinite(x).all()


def test_other_modes_work():
    for mode in ("CMYK", "YCbCr", "I", "F", "La"):
        img = Image.new(mode, (30, 10))
        x = preprocess_image(img, NANO)
        assert x.shape == (1, 32, 128) and x.dtype == np.float32


def test_bicubic_spec_and_100x32():
    img = Image.fromarray(rand((31, 77)), "L")
    x = preprocess_image(img, get_spec("crnn-modelzoo"))
    assert x.shape == (1, 32, 100)
    np.testing.assert_allclose(x, ref_from_grey(img, 100, 32, Image.BICUBIC), rtol=0, atol=1e-6)
    assert not np.allclose(x, ref_from_grey(img, 100, 32, Image.BILINEAR), atol=1e-6)
    np.testing.assert_allclose(preprocess_image(img, get_spec("crnn")),
                               ref_from_grey(img, 100, 32, Image.BILINEAR), rtol=0, atol=1e-6)


def test_bytes_and_image_give_the_same(to_png):
    img = Image.fromarray(rand((25, 60, 3)), "RGB")
    np.testing.assert_array_equal(preprocess_image(to_png(img), NANO), preprocess_image(img, NANO))


@pytest.mark.parametrize("data,match", [
    (b"", "empty image"),
    (b"not an image at all", "cannot identify image format"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 30, "cannot identify image format"),
])
def test_undecodable(data, match):
    with pytest.raises(ImageError, match=match):
        preprocess_image(data, NANO)


def test_truncated_png(to_png):
    data = to_png(Image.fromarray(rand((40, 90, 3)), "RGB"))
    with pytest.raises(ImageError, match="cannot decode image"):
        open_image(data[: len(data) // 2])


def test_zero_sized_image_object():
    with pytest.raises(ImageError, match="zero-sized image"):
        preprocess_image(Image.new("L", (0, 5)), NANO)


def test_decompression_bomb_rejected_before_decoding(to_png):
    side = int((MAX_PIXELS * 1.3) ** 0.5)  # 65 Mpixel, but a tiny 1-bit PNG
    data = to_png(Image.new("1", (side, side)))
    assert len(data) < 20_000
    with pytest.raises(ImageError, match=r"too large: \d+x\d+ = 65.0 Mpixel > 50 Mpixel"):
        open_image(data)
    # Pillow's own guard (DecompressionBombWarning above 89 Mpixel) is caught as well
    big = to_png(Image.new("1", (10000, 10000)))
    with pytest.raises(ImageError, match="too large"):
        open_image(big, max_pixels=10**12)


def test_no_torch_import():
    code = ("import sys, preprocess, preprocess.cli, preprocess.transform, preprocess.lmdb_io, "
            "preprocess.lmdb_build, preprocess.lmdb_to_bin; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_keep_ratio_widths_follow_paddleocr_resize_norm_img():
    import math

    from crnn_deploy.models.presets import PRESETS
    from crnn_deploy.models.spec_schema import spec_from_schema
    from crnn_deploy.preprocess.transform import keep_ratio_widths

    spec = spec_from_schema(PRESETS["ppocrv4-rec"], metadata={"character": "a"}, seq_len=40)
    for w, h in [(100, 50), (48, 48), (1000, 48), (333, 47), (7, 300), (100000, 10)]:
        ratio = w / h
        width = int(48 * max(320 / 48, ratio))  # RapidOCR, one image per call
        resized = width if math.ceil(48 * ratio) > width else math.ceil(48 * ratio)
        assert keep_ratio_widths((w, h), spec) == (max(1, min(resized, 3200)), min(width, 3200))
    bucket8 = spec.with_changes(width_multiple=8, input_shape=(3, 48, 320))
    assert keep_ratio_widths((1000, 48), bucket8) == (1000, 1000)
    assert keep_ratio_widths((1001, 48), bucket8) == (1001, 1008)


def test_keep_ratio_pads_and_matches_opencv_bgr():
    import cv2

    from crnn_deploy.models.specs import get_spec
    from crnn_deploy.preprocess.transform import preprocess_image

    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(20, 50, 3), dtype=np.uint8)
    spec = get_spec("nano-ocr").with_changes(
        name="t", input_shape=(3, 32, 64), channels="BGR", resize_mode="keep-ratio",
        resize_library="opencv", width_max=256, width_multiple=16, mean=(0.5, 0.4, 0.3))
    x = preprocess_image(Image.fromarray(rgb), spec)
    ref = cv2.resize(rgb[:, :, ::-1].copy(), (80, 32)).astype(np.float32).transpose(2, 0, 1) / 255
    ref = (ref - np.float32([0.5, 0.4, 0.3]).reshape(3, 1, 1)) / np.float32(0.5)
    assert x.shape == (3, 32, 80) and np.array_equal(x, ref)
    wide = preprocess_image(Image.fromarray(rgb), spec, width=96)
    assert wide.shape == (3, 32, 96) and np.array_equal(wide[:, :, 80:], np.zeros((3, 32, 16)))
    edge = preprocess_image(Image.fromarray(rgb), spec.with_changes(pad="last-column"), width=96)
    assert np.array_equal(edge[:, :, 95], ref[:, :, 79])


# -- decoder 'opencv': cv2.imdecode as cv2.imread ------------------------------------------
def test_decode_matches_opencv_imread(assets):
    import cv2

    path = assets / "eval_iiit5k_3000" / "test" / "1002_1.png"
    assert np.array_equal(np.asarray(open_image_opencv(path.read_bytes(), "gray")),
                          cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_bad_bytes_are_image_errors(data):
    with pytest.raises(ImageError):
        open_image_opencv(data)


def test_oversized_image_refused_before_decoding():
    buf = io.BytesIO()
    Image.new("L", (400, 300)).save(buf, "PNG")
    with pytest.raises(ImageError, match="too large"):
        open_image_opencv(buf.getvalue(), max_pixels=100_000)


def test_english_g2_transform_is_height_fit(assets):
    """The english_g2 spec's transform is the OpenCV grey decode + ``fit_height``, padded to
    ceil(w/h) * 64 with the last column; ``contrast`` is the second pass's stretch."""
    from crnn_deploy.preprocess.height_fit import fit_height

    spec = get_spec("english_g2")
    data = (assets / "eval_iiit5k_3000" / "test" / "1002_1.png").read_bytes()
    grey = np.asarray(open_image_opencv(data, "gray"))
    x = preprocess_image(data, spec)
    assert np.array_equal(x, fit_height(grey, 64))
    assert x.shape[2] % 64 == 0 and x.shape[2] >= 64
    assert np.array_equal(preprocess_image(data, spec, contrast=0.5),
                          fit_height(grey, 64, contrast_target=0.5))
    wide = preprocess_image(data, spec, width=x.shape[2] + 64)
    assert np.array_equal(wide[:, :, -1], x[:, :, -1])  # last-column padding
