"""Fixtures of the preprocess tests (``iiit5k_lmdb`` and ``iiit5k_bin_nano`` are in tests/conftest.py)."""
from __future__ import annotations

import io
from pathlib import Path

import lmdb
import pytest
from click.testing import CliRunner
from PIL import Image

from crnn_deploy.preprocess.cli import main


def run_cli(*args: str):
    """Invoke ``crnn-preprocess ARGS`` in-process; returns the click Result."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="session")
def ic13_lmdb(assets: Path, tmp_path_factory) -> Path:
    """LMDB of IC13_857 (RGBA PNGs)."""
    out = tmp_path_factory.mktemp("ic13") / "ic13.lmdb"
    res = run_cli("build-lmdb", "--gt", assets / "eval_ic13_857" / "gt.txt", "--output", out)
    if res.exit_code != 0:
        raise RuntimeError(f"build-lmdb eval_ic13_857 failed: {res.output}")
    return out


# Helpers for synthetic LMDBs, exposed as fixtures (no imports from conftest in the tests).

def png_bytes(img: Image.Image, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", **params)
    return buf.getvalue()


def grey_png(w: int = 40, h: int = 12, value: int = 0) -> bytes:
    """A small valid PNG (mode L) with a gradient, offset by ``value``."""
    img = Image.new("L", (w, h))
    img.putdata([(value + 3 * x + 7 * y) % 256 for y in range(h) for x in range(w)])
    return png_bytes(img)


def write_lmdb(path: Path, entries: dict[str, bytes]) -> Path:
    """Write raw key/value pairs into a new LMDB directory (for error-path tests)."""
    env = lmdb.open(str(path), map_size=64 << 20)
    with env.begin(write=True) as txn:
        for k, v in entries.items():
            txn.put(k.encode(), v)
    env.close()
    return path


def clovaai_entries(n: int) -> dict[str, bytes]:
    """n good samples in the clovaai layout (labels ``w1``..``wn``)."""
    d = {"num-samples": str(n).encode()}
    for i in range(1, n + 1):
        d["image-%09d" % i] = grey_png(value=i)
        d["label-%09d" % i] = f"w{i}".encode()
    return d


@pytest.fixture
def cli():
    """``cli(*args)`` runs ``crnn-preprocess ARGS`` in-process and returns the click Result."""
    return run_cli


@pytest.fixture
def make_lmdb(tmp_path: Path):
    """``make_lmdb(entries, name="s.lmdb") -> Path``: an LMDB in tmp_path with those raw keys."""
    return lambda entries, name="s.lmdb": write_lmdb(tmp_path / name, entries)


@pytest.fixture
def good_entries():
    """``good_entries(n)``: dict of n good clovaai samples (labels w1..wn)."""
    return clovaai_entries


@pytest.fixture
def to_png():
    """``to_png(img, **save_params) -> bytes``; ``to_png.grey(w, h, value)`` a gradient PNG."""
    png_bytes.grey = grey_png
    return png_bytes
