"""File names in text outputs: one reversible escaping, used by every writer.

A Linux file name is any bytes but ``/`` and NUL: tabs, line breaks and bytes that are not UTF-8
(a Latin-1 ``é`` is the single byte 0xE9) are all allowed. Python gives such bytes to us as lone
surrogates (``os.fsdecode``, PEP 383), which cannot be written as UTF-8 text, and a tab or a line
break would split a TSV row. So every file name (and every other text field) written to
``predictions.tsv``, ``errors.tsv``, ``names.txt``, crnn-recognize's TSV/JSONL and the Ray
Parquet ``source`` column goes through :func:`escape_name`:

==========================================  =========================
in the name                                 written as
==========================================  =========================
backslash                                   ``\\\\``
tab, line feed, carriage return             ``\\t``, ``\\n``, ``\\r``
other ASCII control characters, DEL         ``\\xNN`` (NN < 0x80)
a byte that is not UTF-8 (0x80-0xFF)        ``\\xNN`` (NN >= 0x80)
C1 controls, U+2028, U+2029                 ``\\uNNNN``
anything else (UTF-8 text)                  itself
==========================================  =========================

The escaped text is valid UTF-8 with no tab or line break, so rows stay rows; ordinary names
are unchanged. :func:`unescape_name` gives the exact bytes back (``os.fsencode`` form), so
``open(unescape_name(field), "rb")`` opens the file. JSONL holds the same escaped string (JSON
then escapes its backslashes once more, as for any string). In an LMDB, ``path-%09d`` holds the
name's raw bytes (nothing is lost); readers escape it when they write it out.
"""
from __future__ import annotations

import os
import re

_SPECIAL = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_NEEDS = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff]")
_ESCAPED = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|(.))", re.S)
_BACK = {"\\": b"\\", "t": b"\t", "n": b"\n", "r": b"\r"}


def _one(m: re.Match) -> str:
    ch = m.group()
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def escape_name(name: str | bytes | os.PathLike) -> str:
    """The escaped text of a file name or any text field (table in the module docstring).

    ``bytes`` and path objects are decoded with ``os.fsdecode`` first.
    """
    if not isinstance(name, str):
        name = os.fsdecode(name)
    return _NEEDS.sub(_one, name) if _NEEDS.search(name) else name


def unescape_name(text: str) -> bytes:
    """The exact bytes of a name written by :func:`escape_name` (``\\\\``, ``\\t``, ``\\n``,
    ``\\r``, ``\\xNN`` a byte, ``\\uNNNN`` a character in UTF-8)."""
    out = bytearray()
    pos = 0
    for m in _ESCAPED.finditer(text):
        out += text[pos:m.start()].encode("utf-8", "surrogateescape")
        byte, code, other = m.groups()
        if byte is not None:
            out.append(int(byte, 16))
        elif code is not None:
            out += chr(int(code, 16)).encode("utf-8")
        else:
            out += _BACK.get(other, ("\\" + other).encode("utf-8", "surrogateescape"))
        pos = m.end()
    out += text[pos:].encode("utf-8", "surrogateescape")
    return bytes(out)


#: Longest name :func:`display_name` prints whole (characters, after escaping).
DISPLAY_LIMIT = 200


def display_name(name: str | bytes | os.PathLike, limit: int = DISPLAY_LIMIT) -> str:
    """A file name (or any untrusted text) safe to print on a terminal or in a message.

    Escaped as in files (:func:`escape_name`: ESC and every other control character become
    ``\\xNN``, so an escape sequence in a name never reaches the terminal raw), and cut to
    ``limit`` characters with the full length said (a 1 MB name is not printed whole).
    """
    text = escape_name(name)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text)} characters)"
    return text


_TERMINAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff]")


def terminal_safe(text: str) -> str:
    """``text`` (a whole message) with every control character but tab and line feed escaped
    as :func:`escape_name` does (ESC ``\\x1b``, CR ``\\r``, C1 controls, bytes that were not
    UTF-8): a file name inside a message cannot move the cursor, recolour or retitle the
    terminal. Used by the ``Error:`` path of every command (:mod:`common.cli`)."""
    return _TERMINAL.sub(_one, text) if _TERMINAL.search(text) else text


def tsv_line(fields) -> str:
    """One TSV row: every field escaped with :func:`escape_name` (non-strings through ``str``),
    joined by tabs, ending in ``\\n``. Read it back with ``line.rstrip("\\n").split("\\t")`` and
    :func:`unescape_name` per field (csv readers: ``quoting=csv.QUOTE_NONE``)."""
    return "\t".join(escape_name(f if isinstance(f, (str, bytes)) else str(f))
                     for f in fields) + "\n"
