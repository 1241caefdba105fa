"""Bounded reads of untrusted inputs and the one label rule (DESIGN.md, "Errors and files").

* :func:`read_regular_file`: only regular files (no FIFO, device, socket or folder), at most a
  stated number of bytes, so a GT line pointing at ``/dev/zero`` or a huge file cannot make a
  command read until memory runs out.
* :func:`label_problem`: the rule every stage applies to a ground-truth label (build-lmdb on
  gt.txt, lmdb-to-bin and crnn-eval on LMDB labels, crnn-postprocess on label.txt).
"""
from __future__ import annotations

import json
import os
import re
import stat

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.names import escape_name

#: Largest image file read (bytes). Word crops are small: the largest file of the four
#: benchmark sets in shared/assets is 2.8 MB (IC13); 32 MiB leaves >10x headroom while keeping
#: a bad GT line from exhausting memory. Pixels are bounded separately (preprocess.transform).
MAX_IMAGE_BYTES = 32 << 20
#: Largest text input read whole (label.txt, gt.txt line by line): 256 MiB is ~8 million
#: 30-byte label lines, 1000x IIIT5K's 3000.
MAX_TEXT_BYTES = 256 << 20
#: Longest GT / label line (bytes): a path plus a word; 64 KiB stops a file without newlines.
MAX_LINE_BYTES = 64 << 10


def open_regular(path: str | os.PathLike, max_bytes: int, what: str = "file"):
    """Open ``path`` for binary reading after checking it is a regular file of at most
    ``max_bytes`` bytes (opened non-blocking, so a FIFO cannot hang the call).

    Returns the open file object (caller closes). Raises OSError when it cannot be opened and
    UserError (naming the path) when it is not a regular file or is too large.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"{what} {path} is not a regular file (a folder, FIFO, device or "
                            "socket); refusing to read it")
        if st.st_size > max_bytes:
            raise UserError(f"{what} {path} has {st.st_size} bytes, more than the limit of "
                            f"{max_bytes} bytes")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: str | os.PathLike, max_bytes: int, what: str = "file") -> bytes:
    """All bytes of regular file ``path`` (at most ``max_bytes``; see :func:`open_regular`).

    Raises OSError when it cannot be read, UserError when it is not a regular file or is (or
    grows while being read) larger than ``max_bytes``.
    """
    with open_regular(path, max_bytes, what) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UserError(f"{what} {path} grew past the limit of {max_bytes} bytes while read")
    return data


def read_text_file(path: str | os.PathLike, max_bytes: int, what: str = "file") -> str:
    """The UTF-8 text (a BOM dropped) of regular file ``path`` of at most ``max_bytes`` bytes.

    Raises:
        UserError: naming ``what`` and the path: not found, unreadable, not a regular file,
            too large, or not UTF-8.
    """
    try:
        return read_regular_file(path, max_bytes, what).decode("utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{what} {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {what} {path}: {exc}") from None


def label_problem(label: str) -> str | None:
    """None for a usable ground-truth label, else why not.

    The rule (the same in every stage): not empty, no leading or trailing whitespace (a
    spacing slip such as ``a.png<TAB> word``; inner spaces are kept: nano-ocr reads them), and
    no line break of any kind (``str.splitlines`` would cut the label.txt line in two).
    """
    if label == "":
        return "empty label"
    if label.strip() != label:
        return f"label has leading or trailing whitespace: {label[:40]!r}"
    if len(label.splitlines()) != 1:
        return f"label contains a line break: {label[:40]!r}"
    return None


#: Largest small JSON file read whole (meta.json, sidecars, spec files): a spec with a
#: 20,000-class alphabet is about 100 KB.
MAX_JSON_BYTES = 4 << 20
#: Deepest nesting of arrays/objects a JSON input may have (a spec is 3 deep; a record 4).
MAX_JSON_DEPTH = 64


def _unique_keys(pairs: list) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise UserError(f"duplicate key {key[:60]!r}")
        seen[key] = value
    return seen


def parse_json(text: str | bytes, what: str):
    """The value of untrusted JSON ``text``; every parse of a file, a metadata entry or a
    sidecar goes through here (``what`` names the source in messages).

    Refused (UserError naming ``what``): invalid JSON, a key given twice in one object (the
    standard module would keep the last silently), nesting deeper than :data:`MAX_JSON_DEPTH`
    (100,000 levels would otherwise end in a RecursionError).
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UserError(f"{what}: not UTF-8 ({exc})") from None
    depth = _max_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise UserError(f"{what}: JSON nested {depth} levels deep, more than the limit of "
                        f"{MAX_JSON_DEPTH}")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except UserError as exc:
        raise UserError(f"{what}: {exc.message}") from None
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{what}: not valid JSON: {str(exc)[:200]}") from None


_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def _max_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting of JSON ``text`` (brackets inside strings ignored)."""
    depth = deepest = 0
    for ch in re.sub(r"[^\[\]{}]", "", _STRINGS.sub("", text)):
        depth += 1 if ch in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def read_json_file(path: str | os.PathLike, max_bytes: int, what: str = "JSON file"):
    """The parsed JSON of regular file ``path`` of at most ``max_bytes`` bytes
    (:func:`read_text_file`, then :func:`parse_json`).

    Raises:
        UserError: naming ``what`` and the path (see both functions).
    """
    return parse_json(read_text_file(path, max_bytes, what), f"{what} {escape_name(path)}")
