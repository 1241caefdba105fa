"""Page JSONL: one line per page, ``{"page": PATH, "boxes": [{"points": [[x, y] x 4], "text": ...,
"confidence": ..., "angle": 0 | 180}]}`` (shared/docs/DESIGN.md, "Pages"). A page GT file and
``crnn-ocr``'s output use the same format; a GT box must have ``text``.

Every read is bounded (:data:`MAX_FILE_BYTES`, :data:`MAX_LINE_BYTES`, :data:`MAX_BOXES`,
:data:`MAX_TEXT_CHARS`, :data:`MAX_COORD`) and every field checked; a bad line is a
:class:`~crnn_deploy.common.errors.UserError` ``FILE:LINE: page N, box K, FIELD: what was
expected``. Page paths follow the rule of gt.txt and of every name read from a file
(docs/SAFETY.md): relative to the JSONL file's folder and never leaving it (no absolute path, no
``..`` component), unless the caller passes ``allow_outside=True`` (e.g. for predictions that name
pages by the path given on the command line).
"""
from __future__ import annotations

import json
import math
from pathlib import Path, PurePosixPath

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import parse_guarded
from crnn_deploy.common.inputs import MAX_TEXT_BYTES, open_regular

#: Largest page JSONL file read (bytes), the bound of every text input (common.inputs).
MAX_FILE_BYTES = MAX_TEXT_BYTES
#: Longest line (bytes): MAX_BOXES boxes of ~1.6 KB each (4 points, a long text).
MAX_LINE_BYTES = 8 << 20
#: Most boxes on one page: 5x PaddleOCR/RapidOCR's DB ``max_candidates`` default of 1000.
MAX_BOXES = 5000
#: Longest box text (characters); a text line of a page, not a paragraph.
MAX_TEXT_CHARS = 1000
#: Largest absolute coordinate (pixels): 50 Mpixel images (common.inputs) are under 10^5 a side.
MAX_COORD = 1e6
#: The angles of the angle classifier (PP-OCR's ``label_list ['0', '180']``).
ANGLES = (0, 180)


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where}: expected a number, got {type(value).__name__} {value!r:.40}")
    if not math.isfinite(value) or abs(value) > MAX_COORD:
        raise UserError(f"{where}: expected a finite number of at most {MAX_COORD:g} in "
                        f"absolute value, got {value!r}")
    return float(value)


def _points(value, where: str) -> list[list[float]]:
    if not isinstance(value, list) or len(value) != 4:
        got = f"{len(value)} items" if isinstance(value, list) else type(value).__name__
        raise UserError(f"{where}: expected 4 points [[x, y], ...] clockwise from the top-left, "
                        f"got {got}")
    out = []
    for k, point in enumerate(value):
        if not isinstance(point, list) or len(point) != 2:
            raise UserError(f"{where}[{k}]: expected a point [x, y], got {point!r:.60}")
        out.append([_number(point[0], f"{where}[{k}][0]"), _number(point[1], f"{where}[{k}][1]")])
    return out


def validate_box(box, where: str, require_text: bool = False) -> dict:
    """A checked copy of one box dict: ``points`` (4 [x, y] floats), and when present ``text``
    (str, at most :data:`MAX_TEXT_CHARS`, no line break), ``confidence`` (a number in [0, 1]),
    ``angle`` (0 or 180). Other keys are dropped. Raises UserError naming ``where`` and the field.
    """
    if not isinstance(box, dict):
        raise UserError(f"{where}: expected an object {{\"points\": ..., \"text\": ...}}, got "
                        f"{type(box).__name__}")
    if "points" not in box:
        raise UserError(f"{where}: missing field 'points'")
    out = {"points": _points(box["points"], f"{where}, points")}
    if "text" in box or require_text:
        text = box.get("text")
        if not isinstance(text, str):
            raise UserError(f"{where}, text: expected a string"
                            + (" (a GT box needs its text)" if require_text else "")
                            + f", got {type(text).__name__}")
        if len(text) > MAX_TEXT_CHARS or len(text.splitlines()) > 1:
            raise UserError(f"{where}, text: expected one line of at most {MAX_TEXT_CHARS} "
                            f"characters, got {len(text)} characters: {text[:40]!r}")
        out["text"] = text
    if box.get("confidence") is not None:
        conf = _number(box["confidence"], f"{where}, confidence")
        if not 0.0 <= conf <= 1.0:
            raise UserError(f"{where}, confidence: expected a number in [0, 1], got {conf}")
        out["confidence"] = conf
    if box.get("angle") is not None:
        if box["angle"] not in ANGLES or isinstance(box["angle"], bool):
            raise UserError(f"{where}, angle: expected 0 or 180, got {box['angle']!r:.40}")
        out["angle"] = int(box["angle"])
    return out


def page_path(name, folder: Path, where: str, allow_outside: bool = False) -> Path:
    """The image path of page ``name`` read from a file in ``folder``: ``folder / name``.

    Raises UserError (naming ``where``) for a name that is not a non-empty string, holds NUL,
    or, unless ``allow_outside``, is absolute or has a ``..`` component (it would leave the
    folder of the file that names it; docs/SAFETY.md).
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise UserError(f"{where}, page: expected a non-empty image path, got {name!r:.60}")
    pure = PurePosixPath(name)
    if not allow_outside and (pure.is_absolute() or ".." in pure.parts):
        raise UserError(f"{where}, page: {name!r:.80} leaves the folder of the file; page paths "
                        "are relative to it (no absolute path, no '..')")
    return folder / name


def validate_page(page, where: str, folder: Path | None = None, require_text: bool = False,
                  allow_outside: bool = False) -> dict:
    """A checked copy of one page dict: ``page`` (the name as given), ``boxes`` (each through
    :func:`validate_box`, at most :data:`MAX_BOXES`) and, when ``folder`` is given, ``path``
    (:func:`page_path`). Raises UserError naming ``where`` and the field.
    """
    if not isinstance(page, dict):
        raise UserError(f"{where}: expected an object {{\"page\": ..., \"boxes\": [...]}}, got "
                        f"{type(page).__name__}")
    for key in ("page", "boxes"):
        if key not in page:
            raise UserError(f"{where}: missing field {key!r}")
    boxes = page["boxes"]
    if not isinstance(boxes, list):
        raise UserError(f"{where}, boxes: expected a list, got {type(boxes).__name__}")
    if len(boxes) > MAX_BOXES:
        raise UserError(f"{where}, boxes: {len(boxes)} boxes, more than the limit of {MAX_BOXES}")
    out = {"page": page["page"],
           "boxes": [validate_box(b, f"{where}, box {k}", require_text) for k, b in enumerate(boxes)]}
    if folder is not None:
        out["path"] = page_path(page["page"], folder, where, allow_outside)
    elif not isinstance(page["page"], str):
        raise UserError(f"{where}, page: expected a string, got {type(page['page']).__name__}")
    return out


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def read_pages(path: str | Path, require_text: bool = True, allow_outside: bool = False
               ) -> list[dict]:
    """Every page of page JSONL file ``path``, in file order (blank lines skipped).

    Each page is :func:`validate_page`'s dict with ``path`` = the image path (relative names are
    taken from the file's folder). ``require_text``: every box must have ``text`` (a GT file).

    Raises:
        UserError: ``FILE:LINE: ...`` for a file that cannot be read, is not a regular file or
            is larger than :data:`MAX_FILE_BYTES`; a line longer than :data:`MAX_LINE_BYTES`,
            not UTF-8 or not a JSON object (NaN/Infinity refused); a bad field (see
            :func:`validate_page`); a page named twice; no page at all.
    """
    path = Path(path)
    try:
        f = open_regular(path, MAX_FILE_BYTES, "page JSONL file")
    except FileNotFoundError:
        raise UserError(f"page JSONL file not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read page JSONL file {path}: {exc.strerror}") from None
    pages, seen = [], {}
    with f:
        for lineno, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
            where = f"{path}:{lineno}"
            if len(raw) > MAX_LINE_BYTES:
                raise UserError(f"{where}: line longer than {MAX_LINE_BYTES} bytes; not page "
                                "JSONL (one page object per line)?")
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                obj = parse_guarded(raw.decode("utf-8"), parse_constant=_no_constant)
            except UnicodeDecodeError as exc:
                raise UserError(f"{where}: not valid UTF-8 ({exc.reason} at byte {exc.start})"
                                ) from None
            except (ValueError, RecursionError) as exc:
                raise UserError(f"{where}: not a JSON object ({str(exc)[:80]})") from None
            page = validate_page(obj, f"{where}: page {len(pages)}", path.parent, require_text,
                                 allow_outside)
            if page["page"] in seen:
                raise UserError(f"{where}: page {page['page']!r:.80} is already listed on line "
                                f"{seen[page['page']]}")
            seen[page["page"]] = lineno
            pages.append(page)
    if not pages:
        raise UserError(f"{path}: no page (expected one JSON object per line: "
                        '{"page": PATH, "boxes": [...]})')
    return pages


def page_line(page: dict) -> str:
    """One page dict as its JSONL line (no newline; ``page``, ``boxes`` with ``points``,
    ``text``, ``confidence``, ``angle`` as present; non-ASCII text kept as UTF-8)."""
    keys = ("points", "text", "confidence", "angle")
    boxes = [{k: b[k] for k in keys if k in b} for b in page["boxes"]]
    return json.dumps({"page": page["page"], "boxes": boxes}, ensure_ascii=False)
