"""``second_pass.json``: the samples the staged path reads a second time (docs/EASYOCR.md).

A spec with a second pass (``decoding.second_pass_below``, EasyOCR's english_g2) reads the words
whose confidence is below the threshold again from their contrast-stretched image and keeps
the more confident reading. The fused paths do it in one process; the staged path keeps its
stages apart, and this file passes the choice from one to the next:

1. ``crnn-postprocess RESULT LABELS`` decodes the first result and writes
   ``RESULT/second_pass.json``, the files read below the threshold (this module's
   :func:`write_list`);
2. ``crnn-preprocess lmdb-to-bin --second-pass RESULT/second_pass.json`` stages only those
   samples, contrast-stretched (:func:`read_list`), for ``crnn-infer``;
3. ``crnn-postprocess RESULT LABELS --second-pass RESULT2`` keeps the more confident reading.

The file is JSON: ``tool`` (``crnn-deploy``), ``kind`` (:data:`KIND`), ``spec`` (the spec
name), ``below`` and ``contrast`` (the spec's ``second_pass_below`` / ``second_pass_contrast``),
``lmdb`` and ``keys_sha256`` (the LMDB that lmdb-to-bin read for RESULT and the sha256 of its
keys' order, from its ``meta.json``; null when unknown), ``result`` (RESULT, absolute) and
``files``: the input file names as label.txt / names.txt give them (``test_{i}.npy``,
``test_{i}.bin``; i = the LMDB index), in that order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import atomic_write_json, read_json
from crnn_deploy.common.inputs import MAX_TEXT_BYTES

NAME = "second_pass.json"
KIND = "second-pass list"
_FILE = re.compile(r"(?:.*/)?test_([0-9]+)\.(?:bin|npy)")  # ASCII digits only: not "1١"


@dataclass(frozen=True)
class SecondPassList:
    """The content of a ``second_pass.json`` (fields as in the module docstring)."""

    spec: str
    below: float
    contrast: float
    files: tuple[str, ...]
    lmdb: str | None = None
    keys_sha256: str | None = None
    result: str | None = None

    def indices(self, where: str = NAME) -> list[int]:
        """The LMDB index i of each ``test_{i}.bin|npy`` file, in file order.

        Raises:
            UserError: a name of another form, or a name listed twice (naming ``where``).
        """
        out, seen = [], set()
        for name in self.files:
            m = _FILE.fullmatch(name)
            if m is None or int(m.group(1)) < 1:
                raise UserError(f"{where}: {name!r} is not an input file name test_{{i}}.bin "
                                "or test_{i}.npy (i >= 1)")
            i = int(m.group(1))
            if i in seen:
                raise UserError(f"{where}: sample {i} is listed twice")
            seen.add(i)
            out.append(i)
        return out


def write_list(folder: str | Path, lst: SecondPassList) -> Path:
    """Write ``folder/second_pass.json`` (temp name + rename); returns its path. Raises OSError."""
    path = Path(folder) / NAME
    atomic_write_json(path, {"tool": "crnn-deploy", "kind": KIND, "spec": lst.spec,
                             "below": lst.below, "contrast": lst.contrast, "lmdb": lst.lmdb,
                             "keys_sha256": lst.keys_sha256, "result": lst.result,
                             "files": list(lst.files)})
    return path


def is_list(data: object) -> bool:
    """True when parsed JSON ``data`` is a second-pass list (its ``tool`` and ``kind``)."""
    return isinstance(data, dict) and data.get("tool") == "crnn-deploy" and data.get("kind") == KIND


def read_list(path: str | Path) -> SecondPassList:
    """Read a ``second_pass.json`` (bounded: :data:`common.inputs.MAX_TEXT_BYTES`; guarded:
    :func:`common.fileio.read_json`).

    Raises:
        UserError: missing, not a regular file, too large, not UTF-8 JSON (nested too deep, a
            duplicate key), not a second-pass list, or a field of the wrong type (the message
            names the file).
    """
    path = Path(path)
    data = read_json(path, max_bytes=MAX_TEXT_BYTES, what="second-pass list")
    if not is_list(data):
        raise UserError(f"{path} is not a second-pass list (the {NAME} that crnn-postprocess "
                        "writes beside the results of a spec with a second pass)")
    try:
        files = data["files"]
        if not (isinstance(files, list) and all(isinstance(f, str) for f in files)
                and isinstance(data["spec"], str)):
            raise TypeError
        return SecondPassList(data["spec"], float(data["below"]), float(data["contrast"]),
                              tuple(files), _text(data.get("lmdb")),
                              _text(data.get("keys_sha256")), _text(data.get("result")))
    except (KeyError, TypeError, ValueError):
        raise UserError(f"{path}: a field is missing or of the wrong type (spec: str, below, "
                        "contrast: numbers, files: a list of file names)") from None


def _text(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError
    return value
