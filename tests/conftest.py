"""Shared fixtures: where the real assets and weights are, and skips (with reasons) when absent.

Environment variables:
    CRNN_ASSETS   folder of the real data (default ``../shared/assets`` from the project root)
    CRNN_WEIGHTS  nano-ocr state_dict (default ``weights/nano_ocr_ftr.pth``, ``make weights``)
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("CRNN_ASSETS", ROOT.parent / "shared" / "assets"))
WEIGHTS = Path(os.environ.get("CRNN_WEIGHTS", ROOT / "weights" / "nano_ocr_ftr.pth"))


@pytest.fixture(scope="session")
def assets() -> Path:
    """The real-data folder; skips when it is absent."""
    if not (ASSETS / "eval_iiit5k_3000" / "gt.txt").is_file():
        pytest.skip(f"real assets not found at {ASSETS} (set CRNN_ASSETS)")
    return ASSETS


@pytest.fixture(scope="session")
def nano_weights() -> Path:
    """The real nano-ocr state_dict; skips when `make weights` has not run."""
    if not WEIGHTS.is_file():
        pytest.skip(f"nano-ocr weights not found at {WEIGHTS} (run `make weights`)")
    return WEIGHTS


def _export_nano(weights: Path, path: Path, dynamic: bool) -> Path:
    from crnn_deploy.converter.onnx_export import export_onnx
    from crnn_deploy.models.checkpoint import load_model
    from crnn_deploy.models.specs import get_spec

    spec = get_spec("nano-ocr")
    export_onnx(load_model(spec, weights), spec, path, batch_size=16, dynamic=dynamic,
                checkpoint=weights)
    return path


@pytest.fixture(scope="session")
def nano_dynamic_onnx(nano_weights, tmp_path_factory) -> Path:
    """nano-ocr ONNX exported from the real weights for this session, dynamic batch
    (input actual_input_1 (batch, 1, 32, 128), output output1 (33, batch, 66))."""
    folder = tmp_path_factory.mktemp("nano_onnx")
    return _export_nano(nano_weights, folder / "nano-ocr_dynamic.onnx", dynamic=True)


@pytest.fixture(scope="session")
def nano_bs16_onnx(nano_weights, tmp_path_factory) -> Path:
    """nano-ocr ONNX exported from the real weights for this session, static batch 16."""
    folder = tmp_path_factory.mktemp("nano_onnx")
    return _export_nano(nano_weights, folder / "nano-ocr_bs16.onnx", dynamic=False)


def _preprocess(*args) -> None:
    from click.testing import CliRunner

    from crnn_deploy.preprocess.cli import main

    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    if res.exit_code != 0:
        raise RuntimeError(f"crnn-preprocess {args[0]} failed: {res.output}")


@pytest.fixture(scope="session")
def iiit5k_lmdb(assets: Path, tmp_path_factory) -> Path:
    """LMDB (clovaai layout) of IIIT5K_3000 built by ``crnn-preprocess build-lmdb``: 3000
    samples, index i = line i of ``eval_iiit5k_3000/gt.txt``."""
    out = tmp_path_factory.mktemp("iiit5k") / "iiit5k.lmdb"
    _preprocess("build-lmdb", "--gt", assets / "eval_iiit5k_3000" / "gt.txt", "--output", out)
    return out


@pytest.fixture(scope="session")
def iiit5k_bin_nano(iiit5k_lmdb: Path) -> tuple[Path, Path]:
    """(input_bin_dir, label_txt) of ``lmdb-to-bin --model nano-ocr --workers 2`` on IIIT5K:
    3000 files test_{i}.bin, float32 (1, 1, 32, 128), and label.txt ``test_{i}.bin:{label}``."""
    out = iiit5k_lmdb.parent / "nano"
    _preprocess("lmdb-to-bin", "--lmdb", iiit5k_lmdb, "--model", "nano-ocr", "--workers", "2",
                "--output", out / "input_bin", "--labels", out / "label.txt")
    return out / "input_bin", out / "label.txt"


ENGLISH_G2 = ROOT / "weights" / "english_g2.pth"


@pytest.fixture(scope="session")
def english_g2_weights() -> Path:
    """EasyOCR's english_g2 state_dict (``module.``-prefixed); skips when `make weights` has not
    run."""
    if not ENGLISH_G2.is_file():
        pytest.skip(f"english_g2 weights not found at {ENGLISH_G2} (run `make weights`)")
    return ENGLISH_G2


@pytest.fixture(scope="session")
def easyocr_oracle():
    """``scripts/easyocr_oracle.py`` as a module (EasyOCR 1.7.2 with a stand-in torchvision, see
    its docstring); skips when EasyOCR is not installed (`make oracle`)."""
    import importlib.util

    pytest.importorskip("cv2", reason="EasyOCR's oracle needs opencv (`make oracle`)")
    spec = importlib.util.spec_from_file_location("easyocr_oracle", ROOT / "scripts" / "easyocr_oracle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.install_torchvision_stand_in()
    pytest.importorskip("easyocr", reason="EasyOCR is a test-only install (`make oracle`)")
    return module


PPOCR_SOURCE = ROOT / "weights" / "ch_PP-OCRv4_rec_infer.onnx"


@pytest.fixture(scope="session")
def ppocrv4_onnx(tmp_path_factory) -> Path:
    """RapidOCR's PP-OCRv4 recognizer (``make weights``) imported with the ``ppocrv4-rec``
    preset for this session (input x (batch, 3, 48, width), output (T, batch, 6625))."""
    if not PPOCR_SOURCE.is_file():
        pytest.skip(f"PP-OCRv4 weights not found at {PPOCR_SOURCE} (run `make weights`)")
    from crnn_deploy.converter.onnx_import import import_onnx

    out = tmp_path_factory.mktemp("ppocrv4") / "ppocrv4-rec.onnx"
    import_onnx(PPOCR_SOURCE, "ppocrv4-rec", out)
    return out


@pytest.fixture(scope="session")
def english_g2_onnx(english_g2_weights, tmp_path_factory) -> Path:
    """english_g2 exported from EasyOCR's weights for this session: dynamic batch and width
    (input actual_input_1 (batch, 1, 64, width), output output1 (width // 4 - 1, batch, 97))."""
    from crnn_deploy.converter.onnx_export import export_onnx
    from crnn_deploy.models.checkpoint import load_model
    from crnn_deploy.models.specs import get_spec

    spec = get_spec("english_g2")
    path = tmp_path_factory.mktemp("english_g2") / "english_g2.onnx"
    export_onnx(load_model(spec, english_g2_weights), spec, path, batch_size=4,
                check_batches=(1, 3))
    return path


# --- whole pages (pipeline/pages): real IIIT5K words pasted on a canvas ----------------------
DET_ONNX = ROOT / "weights" / "ch_PP-OCRv4_det_infer.onnx"
CLS_ONNX = ROOT / "weights" / "ch_ppocr_mobile_v2.0_cls_infer.onnx"


def compose_page(assets: Path, start: int, size=(960, 720), flip_every: int = 5,
                 background=(236, 231, 220), word_height: int = 40):
    """A page (PIL RGB) of IIIT5K test words from line ``start`` of its gt.txt, pasted in rows
    left to right at ``word_height`` pixels, every ``flip_every``-th word turned 180 degrees;
    returns ``(image, [(label, (x, y, w, h), turned)])``."""
    from PIL import Image

    lines = (assets / "eval_iiit5k_3000" / "gt.txt").read_text().splitlines()
    page = Image.new("RGB", size, background)
    placed, k, y = [], start, 24
    while y + word_height < size[1] - 16:
        x = 24 + (k % 3) * 11
        while True:
            rel, label = lines[k % len(lines)].split("\t", 1)
            word = Image.open(assets / "eval_iiit5k_3000" / rel).convert("RGB")
            w = max(1, round(word.width * word_height / word.height))
            if x + w > size[0] - 24:
                break
            word = word.resize((w, word_height), Image.Resampling.BICUBIC)
            turned = flip_every > 0 and k % flip_every == flip_every - 1
            page.paste(word.rotate(180) if turned else word, (x, y))
            placed.append((label, (x, y, w, word_height), turned))
            x, k = x + w + 28, k + 1
        y += word_height + 44
    return page, placed


@pytest.fixture(scope="session")
def det_onnx() -> Path:
    """RapidOCR's PP-OCRv4 DB detector ONNX (``make weights``); skips when absent."""
    if not DET_ONNX.is_file():
        pytest.skip(f"{DET_ONNX} not found (run `make weights`)")
    return DET_ONNX


@pytest.fixture(scope="session")
def composed_pages(assets: Path, tmp_path_factory) -> list[Path]:
    """Three PNG pages of real IIIT5K words (:func:`compose_page`), some words turned 180."""
    folder = tmp_path_factory.mktemp("pages")
    paths = []
    for i, start in enumerate((0, 60, 120)):
        image, _ = compose_page(assets, start, size=(960 - 80 * i, 720 + 60 * i))
        paths.append(folder / f"page{i}.png")
        image.save(paths[-1])
    return paths


@pytest.fixture(scope="session")
def page_probability(composed_pages, det_onnx):
    """(BGR page array, detector input, (1, 1, H, W) probability map) of the first composed
    page, with RapidOCR's own detector preprocessing and ONNX Runtime."""
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    det_utils = pytest.importorskip("rapidocr_onnxruntime.ch_ppocr_det.utils")
    bgr = np.ascontiguousarray(np.asarray(Image.open(composed_pages[0]).convert("RGB"))[:, :, ::-1])
    x = det_utils.DetPreProcess(736, "min", [0.5] * 3, [0.5] * 3)(bgr)
    session = ort.InferenceSession(str(det_onnx), providers=["CPUExecutionProvider"])
    return bgr, x, session.run(None, {session.get_inputs()[0].name: x})[0]


# -- page models (detector, angle classifier) ---------------------------------------------------
PAGE_WEIGHTS = {"ppocrv4-det": ROOT / "weights" / "ch_PP-OCRv4_det_infer.onnx",
                "ppocr-cls": ROOT / "weights" / "ch_ppocr_mobile_v2.0_cls_infer.onnx"}


def _import_page(name: str, folder: Path) -> Path:
    from crnn_deploy.converter.onnx_import import import_onnx

    if not PAGE_WEIGHTS[name].is_file():
        pytest.skip(f"{PAGE_WEIGHTS[name]} not found (run `make weights`)")
    out = folder / f"{name}.onnx"
    import_onnx(PAGE_WEIGHTS[name], name, out)
    return out


@pytest.fixture(scope="session")
def ppocr_det_onnx(tmp_path_factory) -> Path:
    """RapidOCR's PP-OCRv4 DB detector imported with the ppocrv4-det preset (dynamic N, H, W)."""
    return _import_page("ppocrv4-det", tmp_path_factory.mktemp("page_models"))


@pytest.fixture(scope="session")
def ppocr_cls_onnx(tmp_path_factory) -> Path:
    """RapidOCR's angle classifier imported with the ppocr-cls preset (dynamic N, 3x48x192)."""
    return _import_page("ppocr-cls", tmp_path_factory.mktemp("page_models"))


@pytest.fixture(scope="session")
def ppocr_det_xml(ppocr_det_onnx: Path) -> Path:
    """The detector's OpenVINO IR (FP32, checked at conversion)."""
    from crnn_deploy.converter.openvino_convert import convert_openvino

    out = ppocr_det_onnx.with_name("ppocrv4-det.xml")
    convert_openvino(ppocr_det_onnx, out)
    return out


@pytest.fixture(scope="session")
def iiit5k_page(assets: Path):
    """``page(seed, n=8, size=(900, 700))``: a uint8 BGR page of ``n`` real IIIT5K word crops
    pasted on a white canvas (rows apart, so none overlap), and the crops' paths."""
    import cv2
    import numpy as np

    lines = (assets / "eval_iiit5k_3000" / "gt.txt").read_text().splitlines()

    def page(seed: int, n: int = 8, size: tuple[int, int] = (900, 700)):
        rng = np.random.default_rng(seed)
        canvas = np.full((*size, 3), 255, np.uint8)
        picks = rng.choice(len(lines), n, replace=False)
        y, used = 20, []
        for k in picks:
            path = assets / "eval_iiit5k_3000" / lines[k].split("\t")[0]
            crop = cv2.imread(str(path), cv2.IMREAD_COLOR)
            scale = 40.0 / crop.shape[0]
            crop = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), 40))[:, : size[1] - 40]
            if y + 40 > size[0] - 20:
                break
            x = int(rng.integers(10, max(11, size[1] - crop.shape[1] - 10)))
            canvas[y:y + 40, x:x + crop.shape[1]] = crop
            used.append(path)
            y += 40 + int(rng.integers(30, 60))
        return canvas, used

    return page
