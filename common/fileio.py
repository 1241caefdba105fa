"""Atomic file writes shared by every stage: write to a temporary name beside the target, then
rename, so an interrupted run never leaves a half-written file (docs/DESIGN.md, "Errors and files").

And the one guarded JSON reader of untrusted files (meta.json, second_pass.json, ownership
records, specs, sidecars): :func:`read_json` reads through the bounded reader
(:func:`common.inputs.read_regular_file`: a regular file, at most ``max_bytes``, so a FIFO does
not hang and ``/dev/zero`` is refused), and :func:`loads_json` refuses nesting deeper than
:data:`MAX_JSON_DEPTH` (100,000 nested brackets would be a RecursionError) and duplicate keys
(``{"blank": 0, "blank": 5}``: which one was meant?), each as a UserError naming the file.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.inputs import read_regular_file

#: Largest meta.json / marker-like JSON file of a result or input folder read (bytes): ours
#: hold a spec (PP-OCRv4's 6,623-character alphabet: ~30 kB); 16 MiB leaves room.
MAX_META_BYTES = 16 << 20
#: Deepest nesting of arrays/objects accepted in a JSON file (ours nest 3 deep).
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # unrolled: linear on long strings
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> int:
    """The nesting depth of the arrays/objects of JSON ``text`` (brackets inside strings do
    not count), counted up to ``limit + 1`` (stops there)."""
    depth = deepest = 0
    for m in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if m.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        else:
            depth -= 1
    return deepest


def no_duplicate_keys(pairs: list) -> dict:
    """``object_pairs_hook`` of ``json.loads``: the object, or ValueError on a key given twice
    (``{"blank": 0, "blank": 5}``: which one was meant?)."""
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key[:80]!r}")
        obj[key] = value
    return obj


def parse_guarded(text: str, **options) -> object:
    """``json.loads(text, **options)`` of untrusted text: at most :data:`MAX_JSON_DEPTH` levels
    deep (checked before parsing), no key given twice in an object.

    Raises:
        ValueError: too deep, a duplicate key, not JSON (JSONDecodeError).
        RecursionError: not expected after the depth check; callers treat it as ValueError.
    """
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(text, object_pairs_hook=no_duplicate_keys, **options)


def loads_json(text: str | bytes, what: str) -> object:
    """Parse untrusted JSON ``text`` (``what``: the file or field, for messages).

    Raises:
        UserError: not UTF-8, not JSON, nested deeper than :data:`MAX_JSON_DEPTH`, or an object
            with a duplicate key; the message names ``what``.
    """
    from crnn_deploy.common.names import display_name

    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8-sig")
        return parse_guarded(text)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError too
        raise UserError(f"{display_name(what)} is not usable JSON: {exc}") from None


def read_json(path: str | os.PathLike, *, max_bytes: int, what: str = "JSON file") -> object:
    """Read and parse the untrusted JSON file ``path`` (bounded: at most ``max_bytes`` of a
    regular file; guarded: :func:`loads_json`).

    Raises:
        UserError: missing, unreadable, not a regular file, too large, or not usable JSON,
            naming ``what`` and the path.
        FileNotFoundError: is not raised: a missing file is a UserError too (callers that
            accept a missing file check first).
    """
    from crnn_deploy.common.names import display_name

    where = f"{what} {display_name(path)}"
    try:
        data = read_regular_file(path, max_bytes, what)
    except FileNotFoundError:
        raise UserError(f"{where} not found") from None
    except OSError as exc:
        raise UserError(f"cannot read {where}: {exc.strerror or exc}") from None
    return loads_json(data, where)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    The file gets mode 0644. Raises OSError on I/O failure (the temporary file is removed).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 ``text`` to ``path``, atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    """``obj`` as indented, key-sorted UTF-8 JSON to ``path``, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
