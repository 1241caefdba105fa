"""The peers, run as their users run them: RapidOCR's TextRecognizer and EasyOCR's recognizer,
and RapidOCR's whole page pipeline.

Bench and test only, never the product: ``rapidocr_onnxruntime`` (``pip install
'crnn-deploy[test]'``) and ``easyocr`` (``make oracle``: ``--no-deps`` with a stand-in
torchvision, see :func:`install_torchvision_stand_in`) are imported lazily, here only.
``crnn-bench peers`` runs each peer as a whole process::

    python -m crnn_deploy.bench.oracles rapidocr --list files.txt --output out.tsv
    python -m crnn_deploy.bench.oracles easyocr --list files.txt --output out.tsv --weights-dir weights
    python -m crnn_deploy.bench.oracles rapidocr-pages --list pages.txt --output out.jsonl

``--list``: one image path per line; ``--output``: ``path<TAB>text<TAB>confidence`` per input
line, in input order (``rapidocr-pages``: one page JSONL line per input line, see
:func:`run_rapidocr_pages`), written by this process; the caller owns the folder. Each peer at its
defaults: RapidOCR 1.4.4's packaged ``Rec`` config (its PP-OCRv4 model; ``rec_batch_num`` 6,
images sorted by aspect ratio, each batch padded to its widest; ONNX Runtime's default threads),
given every ``cv2.imread`` image in one call, as its pipeline passes the crops of a page;
EasyOCR 1.7.2 ``Reader(['en'], gpu=False, detector=False)`` (``quantize=True``, its CPU
default: torch dynamic INT8 LSTM/Linear) with one ``recognize(path)`` call per image, as its
docs show for word crops; ``crnn-bench pages``: RapidOCR 1.4.4's full pipeline ``RapidOCR()``
(detector, classifier, recognizer at its packaged config.yaml defaults) with one
``engine(path)`` call per page, in the given order.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np

from crnn_deploy.postprocess.pages_jsonl import page_line

__all__ = ["install_torchvision_stand_in", "easyocr_reader", "recognize_files",
           "rapidocr_recognizer", "run_rapidocr", "rapidocr_boxes", "run_rapidocr_pages"]


def install_torchvision_stand_in() -> None:
    """Register a minimal ``torchvision`` (``transforms.ToTensor``, empty ``models``) unless a
    real one is importable. EasyOCR's recognizer uses only ``transforms.ToTensor``
    (``easyocr/recognition.py``, ``NormalizePAD``; torchvision's ``to_tensor`` for 8-bit images:
    HWC uint8 -> CHW float32 / 255); ``torchvision.models`` is imported by
    ``easyocr/model/modules.py`` for the CRAFT detector only, never built with ``detector=False``.
    torchvision's PyPI wheels are CUDA builds that pull another torch: hence the stand-in."""
    if "torchvision" in sys.modules:
        return
    try:
        import torchvision  # noqa: F401  (a real CPU build, if someone has one)
        return
    except ImportError:
        pass
    import torch

    class ToTensor:
        """torchvision's ``ToTensor`` for mode ``L``/``RGB`` 8-bit PIL images."""

        def __call__(self, pic):
            a = np.array(pic, dtype=np.uint8, copy=True)
            if a.ndim == 2:
                a = a[:, :, None]
            return torch.from_numpy(a).permute(2, 0, 1).contiguous().to(torch.float32).div(255)

    root = types.ModuleType("torchvision")
    root.__stand_in__ = True
    root.transforms = types.ModuleType("torchvision.transforms")
    root.transforms.ToTensor = ToTensor
    root.models = types.ModuleType("torchvision.models")
    sys.modules.update({"torchvision": root, "torchvision.transforms": root.transforms,
                        "torchvision.models": root.models})


def easyocr_reader(weights_dir: str | Path, quantize: bool, workdir: str | Path | None = None):
    """``easyocr.Reader(['en'], gpu=False, detector=False, quantize=quantize)`` on the local
    ``english_g2.pth`` (no download; EasyOCR's user_network folder goes to ``workdir``, a
    temporary folder by default, instead of ``~/.EasyOCR``)."""
    install_torchvision_stand_in()
    import easyocr

    # EasyOCR's DataLoader asks for pin_memory on the CPU too: one warning per call
    warnings.filterwarnings("ignore", message=".*pin_memory.*")
    workdir = Path(workdir or tempfile.mkdtemp(prefix="easyocr_"))
    return easyocr.Reader(["en"], gpu=False, detector=False, quantize=quantize,
                          model_storage_directory=str(weights_dir),
                          user_network_directory=str(workdir), download_enabled=False,
                          verbose=False)


def recognize_files(reader, paths) -> list[tuple[str, float]]:
    """``reader.recognize(path)`` per file -> (text, confidence); ('', 0.0) when EasyOCR
    returns no box (it skips an image whose resized width would be 0)."""
    out = []
    for path in paths:
        result = reader.recognize(str(path))
        out.append((result[0][1], float(result[0][2])) if result else ("", 0.0))
    return out


def rapidocr_recognizer(threads: int | None = None):
    """RapidOCR 1.4.4's TextRecognizer with its packaged Rec config (the model of its wheel);
    ``threads``: ONNX Runtime intra-op threads (None: RapidOCR's default)."""
    import rapidocr_onnxruntime
    from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
    from rapidocr_onnxruntime.utils import read_yaml

    root = Path(rapidocr_onnxruntime.__file__).parent
    cfg = read_yaml(str(root / "config.yaml"))["Rec"]
    cfg["model_path"] = str(root / cfg["model_path"])
    if threads:
        cfg["intra_op_num_threads"], cfg["inter_op_num_threads"] = threads, 1
    return TextRecognizer(cfg)


def run_rapidocr(paths, per_call: bool = False, threads: int | None = None
                 ) -> list[tuple[str, float]]:
    """(text, confidence) per path: every ``cv2.imread`` image in one TextRecognizer call (its
    own batching), or one call per image (``per_call``: each image at its own width)."""
    import cv2

    rec = rapidocr_recognizer(threads)
    if per_call:
        return [(r[0][0], float(r[0][1])) for r in (rec(cv2.imread(str(p)))[0] for p in paths)]
    res, _ = rec([cv2.imread(str(p)) for p in paths])
    return [(text, float(conf)) for text, conf in res]


def rapidocr_boxes(engine, path) -> list[dict]:
    """``engine(path)`` of a ``RapidOCR`` pipeline as page JSONL boxes (docs/DESIGN.md):
    ``[{"points": [[x, y] x 4] (pixels, float), "text", "confidence"}]`` (no ``angle``:
    RapidOCR does not return it); [] when it finds no text."""
    result, _ = engine(str(path))
    return [{"points": [[float(x), float(y)] for x, y in pts], "text": text,
             "confidence": float(score)} for pts, text, score in (result or [])]


def run_rapidocr_pages(paths) -> list[dict]:
    """``RapidOCR()`` at its defaults, one call per page in the given order -> one page dict
    per path: ``{"page": file name, "boxes": rapidocr_boxes(...)}``."""
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()
    return [{"page": Path(path).name, "boxes": rapidocr_boxes(engine, path)} for path in paths]


def main(argv: list[str] | None = None) -> int:
    """``python -m crnn_deploy.bench.oracles {rapidocr,easyocr,rapidocr-pages} --list L
    --output O``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("peer", choices=("rapidocr", "easyocr", "rapidocr-pages"))
    ap.add_argument("--list", type=Path, required=True, help="image paths, one per line")
    ap.add_argument("--output", type=Path, required=True,
                    help="TSV: path, text, confidence (rapidocr-pages: page JSONL)")
    ap.add_argument("--weights-dir", default="weights", help="easyocr: english_g2.pth here")
    args = ap.parse_args(argv)
    paths = [line for line in args.list.read_text(encoding="utf-8").splitlines() if line]
    if args.peer == "rapidocr-pages":
        args.output.write_text("".join(page_line(page) + "\n" for page in
                                       run_rapidocr_pages(paths)), encoding="utf-8")
        return 0
    if args.peer == "rapidocr":
        rows = run_rapidocr(paths)
    else:
        rows = recognize_files(easyocr_reader(args.weights_dir, quantize=True), paths)
    args.output.write_text("".join(f"{p}\t{t}\t{c!r}\n" for p, (t, c) in zip(paths, rows)),
                           encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
