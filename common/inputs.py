"""Bounded reads of untrusted inputs and the one label rule (docs/DESIGN.md, "Errors and files").

* :func:`read_regular_file`: only regular files (no FIFO, device, socket or folder), at most a
  stated number of bytes, so a GT line pointing at ``/dev/zero`` or a huge file cannot make a
  command read until memory runs out.
* :func:`label_problem`: the rule every stage applies to a ground-truth label (build-lmdb on
  gt.txt, lmdb-to-bin and crnn-eval on LMDB labels, crnn-postprocess on label.txt).
"""
from __future__ import annotations

import os
import stat

from crnn_deploy.common.errors import UserError

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
    UserError (naming the path) when it holds a NUL byte (no file system allows one: a path
    read from a file), is not a regular file or is too large.
    """
    if "\0" in os.fsdecode(path):
        raise UserError(f"{what} path {os.fsdecode(path)!r} holds a NUL byte")
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
