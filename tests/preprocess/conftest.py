"""Fixtures of the preprocess tests.

``iiit5k_lmdb`` and ``iiit5k_bin_nano`` are meant for other stages too (to be moved to the shared
tests/conftest.py): built once per session from the real assets, skipped when they are absent.
"""
from __future__ import annotations

import io
from pathlib import Path

import lmdb
import pytest
from click.testing import CliRunner
from PIL import Image

from preprocess.cli import main


def run_cli(*args: str):
    """Invoke ``crnn-preprocess ARGS`` in-process; returns the click Result."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _build(assets: Path, name: str, out: Path) -> Path:
    res = run_cli("build-lmdb", "--gt", assets / name / "gt.txt", "--output", out)
    if res.exit_code != 0:
        raise RuntimeError(f"build-lmdb {name} failed: {res.output}")
    return out


@pytest.fixture(scope="session")
def iiit5k_lmdb(assets: Path, tmp_path_factory) -> Path:
    """LMDB (clovaai layout) of IIIT5K_3000 built by ``crnn-preprocess build-lmdb``: 3000
    samples, index i = line i of ``eval_iiit5k_3000/gt.txt``."""
    return _build(assets, "eval_iiit5k_3000", tmp_path_factory.mktemp("iiit5k") / "iiit5k.lmdb")


@pytest.fixture(scope="session")
def iiit5k_bin_nano(iiit5k_lmdb: Path) -> tuple[Path, Path]:
    """(input_bin_dir, label_txt) of ``lmdb-to-bin --model nano-ocr --workers 2`` on IIIT5K:
    3000 files test_{i}.bin, float32 (1, 1, 32, 128), and label.txt ``test_{i}.bin:{label}``."""
    out = iiit5k_lmdb.parent / "nano"
    res = run_cli("lmdb-to-bin", "--lmdb", iiit5k_lmdb, "--model", "nano-ocr", "--workers", "2",
                  "--output", out / "input_bin", "--labels", out / "label.txt")
    if res.exit_code != 0:
        raise RuntimeError(f"lmdb-to-bin failed: {res.output}")
    return out / "input_bin", out / "label.txt"


@pytest.fixture(scope="session")
def ic13_lmdb(assets: Path, tmp_path_factory) -> Path:
    """LMDB of IC13_857 (RGBA PNGs)."""
    return _build(assets, "eval_ic13_857", tmp_path_factory.mktemp("ic13") / "ic13.lmdb")


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
