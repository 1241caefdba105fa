"""``crnn-ocr --draw DIR``: each page with its boxes and texts drawn (Pillow ``ImageDraw``).

Box outlines in green (angle 0) or orange (angle 180), each text on a white label above its box,
in DejaVu Sans (``/usr/share/fonts/truetype/dejavu``, Debian's fonts-dejavu-core) when present,
else Pillow's built-in font. Files are named ``NNNNNN-STEM.jpg`` (the page's 1-based position
and a sanitized file-name component of its name), so two pages never share a name and no name
read from input leaves the folder.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from crnn_deploy.common import outputs

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)
FONT_FILE = "DejaVuSans.ttf"
#: the files crnn-ocr writes in a --draw folder (the folder's kind for the output rules)
DRAWINGS = outputs.Kind("a page drawings folder", (r"\d{6}-[A-Za-z0-9._-]{1,80}\.jpg",))
COLOURS = {0: (0, 170, 0), 180: (230, 120, 0)}


@lru_cache(maxsize=32)
def _font(size: int):
    from PIL import ImageFont

    for folder in FONT_DIRS:
        path = Path(folder) / FONT_FILE
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default()


def drawing_name(position: int, name: str | None) -> str:
    """``NNNNNN-STEM.jpg`` for the page at 0-based ``position`` named ``name`` (its path; None:
    ``page``): the stem reduced to ``[A-Za-z0-9._-]`` (others become ``_``), at most 80
    characters, never starting with a dot."""
    stem = Path(str(name)).stem if name else "page"
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", stem)[:80].lstrip(".") or "page"
    return f"{position + 1:06d}-{stem}.jpg"


def draw_page(image, record: dict):
    """A copy of ``image`` (PIL image, any mode) as RGB with the boxes of ``record`` (a page
    record of :func:`stages.page_record`) drawn: outlines, and each text on a label above its
    box (font size from the box height, 10 to 40 pixels)."""
    from PIL import ImageDraw

    from crnn_deploy.preprocess.transform import to_rgb

    out = to_rgb(image).copy()
    draw = ImageDraw.Draw(out)
    for box in record["boxes"]:
        pts = [tuple(p) for p in box["points"]]
        colour = COLOURS.get(box.get("angle", 0), COLOURS[0])
        draw.polygon(pts, outline=colour, width=2)
        height = max(abs(pts[3][1] - pts[0][1]), abs(pts[2][1] - pts[1][1]))
        font = _font(int(min(40, max(10, height * 0.6))))
        label = f"{box['text']} ({box['confidence']:.2f})"
        x, y = pts[0][0], pts[0][1]
        left, top, right, bottom = draw.textbbox((x, y), label, font=font, anchor="lb")
        draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=(255, 255, 255))
        draw.text((x, y), label, fill=colour, font=font, anchor="lb")
    return out


def save_drawing(folder: Path, position: int, image, record: dict) -> Path:
    """Draw ``record`` on ``image`` and save it as JPEG in ``folder`` (the staging folder of
    --draw) under :func:`drawing_name`; returns the file. The path is checked to lie inside
    ``folder``.

    Raises:
        ValueError: the name would leave ``folder`` (cannot happen with :func:`drawing_name`).
    """
    path = folder / drawing_name(position, record.get("page"))
    if path.resolve().parent != folder.resolve():
        raise ValueError(f"drawing {path} is not inside {folder}")
    draw_page(image, record).save(path, "JPEG", quality=90)
    return path
