"""A seeded generator of page images with word boxes and texts: the page set of crnn-ocr's tests,
the RapidOCR oracle and the page benchmarks (no public page set with boxes is on this machine).

Each page is a background (plain color, two-color linear gradient, Gaussian noise over a color,
or a light low-frequency texture) with, placed without overlap and with margins around each item:

* real word crops from the benchmark sets in ``--assets`` (IIIT5K, SVT, IC03, IC13; read from
  their gt.txt, never copied anywhere else), scaled to a height of 28-64 px, about a third of them
  turned 180 degrees;
* lines of 1-3 words rendered with Debian's DejaVu fonts (``/usr/share/fonts/truetype/dejavu``,
  Pillow ``ImageFont.truetype``; the words are benchmark labels in varied case, and numbers), 18-44
  px, in a color far from the background's, a few turned 180 degrees.

Writes ``DIR/page_XXXX.png`` and ``DIR/gt.jsonl`` in the page JSONL format of docs/DESIGN.md ("Pages"):
``{"page": "page_0000.png", "boxes": [{"points": [[x, y] x 4], "text": ..., "angle": 0|180}]}``,
points in pixels, clockwise from the top-left, boxes top to bottom then left to right. A crop's
box is the pasted crop rectangle (the benchmark crops have some margin around the word); a
rendered line's box is its ink box (``ImageFont.getbbox``) with 2 px on each side.

Deterministic for a seed (NumPy ``default_rng(seed)``; the same Pillow and FreeType give the same
bytes). The folder is published whole (built in a hidden temporary beside it, then renamed) and
only where nothing is, or, with ``--overwrite``, over a page set this script wrote.

Usage: python scripts/make_pages.py --seed 0 --count 30 --output build/pages [--assets DIR]
"""
from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import click
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from crnn_deploy.common import outputs
from crnn_deploy.common.cli import command
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.inputs import MAX_IMAGE_BYTES, read_regular_file
from crnn_deploy.postprocess.metrics import normalize_standard
from crnn_deploy.preprocess.sources import parse_gt

ROOT = Path(__file__).resolve().parents[1]
SETS = ("eval_iiit5k_3000", "eval_svt_647", "eval_ic03_860", "eval_ic13_857")
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
PAGES = outputs.Kind("a page set", (r"page_\d{4,}\.png", r"gt\.jsonl"))
MAX_COUNT = 10000


def load_words(assets: Path) -> list[tuple[Path, str]]:
    """(image path, label) of every usable crop of :data:`SETS` in gt.txt order (labels with
    2-24 characters of which at least one is in [0-9a-z] after lowercasing)."""
    words = []
    for name in SETS:
        gt = assets / name / "gt.txt"
        if not gt.is_file():
            raise UserError(f"--assets {assets}: {gt} not found (expected the benchmark sets "
                            f"{', '.join(SETS)})")
        for _, rel, label, err in parse_gt(gt):
            if err is None and 2 <= len(label) <= 24 and normalize_standard(label):
                words.append((gt.parent / rel, label))
    return words


def fonts() -> list[Path]:
    """The DejaVu fonts used (sorted; the math and extra-light faces left out)."""
    found = sorted(p for p in FONT_DIR.glob("DejaVu*.ttf")
                   if "Math" not in p.name and "ExtraLight" not in p.name)
    if not found:
        raise UserError(f"no DejaVu font in {FONT_DIR} (Debian: apt-get install fonts-dejavu-core)")
    return found


def background(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, bool]:
    """(H, W, 3) uint8 background and whether it is light."""
    light = bool(rng.random() < 0.7)
    lo, hi = (170, 256) if light else (0, 80)
    base = rng.integers(lo, hi, 3).astype(np.float32)
    kind = rng.integers(4)
    if kind == 0:  # plain
        img = np.broadcast_to(base, (h, w, 3)).copy()
    elif kind == 1:  # linear gradient in a random direction
        other = rng.integers(lo, hi, 3).astype(np.float32)
        a = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = xx * np.cos(a) + yy * np.sin(a)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        img = base + t[..., None] * (other - base)
    elif kind == 2:  # Gaussian noise over a color
        img = base + rng.normal(0, rng.uniform(4, 14), (h, w, 3))
    else:  # light texture: smooth low-frequency blobs plus fine grain
        coarse = rng.normal(0, 1, (h // 40 + 2, w // 40 + 2, 1)).astype(np.float32)
        smooth = np.asarray(Image.fromarray(((coarse[..., 0] + 4) * 32).clip(0, 255).astype(np.uint8))
                            .resize((w, h), Image.BICUBIC), np.float32) / 32 - 4
        img = base + smooth[..., None] * rng.uniform(6, 16) + rng.normal(0, 3, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8), light


def crop_item(rng, words, page_w: int) -> tuple[Image.Image, str] | None:
    """A benchmark crop scaled to a height of 28-64 px (None: unusable, e.g. taller than wide)."""
    path, label = words[int(rng.integers(len(words)))]
    try:
        data = read_regular_file(path, MAX_IMAGE_BYTES, "image")
        img = Image.open(io.BytesIO(data)).convert("RGB")
    except (OSError, UserError) as exc:
        raise UserError(f"cannot read crop {path}: {exc}") from None
    if img.width < img.height:
        return None
    height = int(rng.integers(28, 65))
    width = round(img.width * height / img.height)
    if width > page_w - 40:
        width = page_w - 40
        height = round(img.height * width / img.width)
    if height < 16:
        return None
    return img.resize((width, height), Image.BICUBIC), label


def line_text(rng, words) -> str:
    """1-3 words: benchmark labels (as is, lower, capitalized) or numbers."""
    out = []
    for _ in range(int(rng.integers(1, 4))):
        if rng.random() < 0.15:
            out.append(str(int(rng.integers(0, 100000))))
            continue
        word = words[int(rng.integers(len(words)))][1]
        case = rng.integers(3)
        out.append(word if case == 0 else word.lower() if case == 1 else word.capitalize())
    return " ".join(out)


def line_item(rng, words, font_files, light: bool, page_w: int) -> tuple[Image.Image, str] | None:
    """A rendered text line as an RGBA patch: its ink box with 2 px each side."""
    text = line_text(rng, words)
    font = ImageFont.truetype(str(font_files[int(rng.integers(len(font_files)))]),
                              int(rng.integers(18, 45)))
    left, top, right, bottom = font.getbbox(text)
    pad = 2
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    if w > page_w - 40:
        return None
    color = tuple(int(c) for c in (rng.integers(0, 90, 3) if light else rng.integers(180, 256, 3)))
    patch = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(patch).text((pad - left, pad - top), text, font=font, fill=color + (255,))
    return patch, text


def place(rng, w, h, size, taken, tries=60) -> tuple[int, int] | None:
    """A top-left corner for a ``size`` box inside the page (20 px from the edges) whose box,
    grown by a margin of half its height (at least 8 px), overlaps no ``taken`` box."""
    bw, bh = size
    margin = max(8, bh // 2)
    if bw > w - 40 or bh > h - 40:
        return None
    for _ in range(tries):
        x, y = int(rng.integers(20, w - 20 - bw + 1)), int(rng.integers(20, h - 20 - bh + 1))
        if all(x + bw + margin <= x0 or x1 + margin <= x or y + bh + margin <= y0
               or y1 + margin <= y for x0, y0, x1, y1 in taken):
            return x, y
    return None


def make_page(rng, words, font_files, max_side: int) -> tuple[Image.Image, list[dict]]:
    """One page image and its boxes (docs/DESIGN.md page boxes with ``text`` and ``angle``)."""
    w = int(rng.integers(int(max_side * 0.66), max_side + 1))
    h = int(rng.integers(int(max_side * 0.5), int(max_side * 0.85) + 1))
    bg, light = background(rng, w, h)
    page = Image.fromarray(bg)
    taken, boxes = [], []
    for _ in range(int(rng.integers(5, 13))):
        is_crop = rng.random() < 0.55
        item = crop_item(rng, words, w) if is_crop else line_item(rng, words, font_files, light, w)
        if item is None:
            continue
        img, text = item
        angle = 180 if rng.random() < (0.33 if is_crop else 0.1) else 0
        if angle:
            img = img.rotate(180)
        at = place(rng, w, h, img.size, taken)
        if at is None:
            continue
        x, y = at
        page.paste(img, (x, y), img if img.mode == "RGBA" else None)
        x1, y1 = x + img.width, y + img.height
        taken.append((x, y, x1, y1))
        boxes.append({"points": [[x, y], [x1, y], [x1, y1], [x, y1]], "text": text, "angle": angle})
    boxes.sort(key=lambda b: (b["points"][0][1], b["points"][0][0]))
    return page, boxes


def make_pages(output: Path, seed: int, count: int, assets: Path, max_side: int = 960,
               overwrite: bool = False) -> Path:
    """Write ``count`` pages and ``gt.jsonl`` to folder ``output`` (see the module docstring).

    Raises UserError for an output that is, contains or lies in the assets, is not new (or,
    with ``overwrite``, not a page set of ours), or missing assets/fonts.
    """
    if not 1 <= count <= MAX_COUNT:
        raise UserError(f"--count must be in 1..{MAX_COUNT}, got {count}")
    outputs.check_not_input(output, [("assets folder", assets)])
    words, font_files = load_words(assets), fonts()
    rng = np.random.default_rng(seed)
    with outputs.StagedDir(output, PAGES, overwrite, "make_pages.py", seed=seed) as stage:
        lines = []
        for k in range(count):
            page, boxes = make_page(rng, words, font_files, max_side)
            name = f"page_{k:04d}.png"
            page.save(stage / name)
            lines.append(json.dumps({"page": name, "boxes": boxes}, ensure_ascii=False) + "\n")
        (stage / "gt.jsonl").write_text("".join(lines), encoding="utf-8")
    return Path(output)


@command()
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path),
              help="New folder for page_XXXX.png and gt.jsonl.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option("--count", default=30, show_default=True, type=int, help="Number of pages.")
@click.option("--max-side", default=960, show_default=True, type=click.IntRange(320, 4096),
              help="Page width range [0.66, 1] x this; height [0.5, 0.85] x this (pixels).")
@click.option("--assets", type=click.Path(path_type=Path, file_okay=False),
              default=lambda: os.environ.get("CRNN_ASSETS", str(ROOT.parent / "shared" / "assets")),
              help="Folder of the benchmark sets [default: $CRNN_ASSETS or ../shared/assets].")
@click.option("--overwrite", is_flag=True, help="Replace a page set this script wrote before.")
def main(output, seed, count, max_side, assets, overwrite):
    """Compose COUNT seeded pages of real word crops and rendered text lines, with boxes."""
    make_pages(output, seed, count, Path(assets), max_side, overwrite)
    click.echo(f"{count} pages and gt.jsonl written to {output}", err=True)


if __name__ == "__main__":
    sys.exit(main())
