"""The primary output of postprocess, ``predictions.tsv``, and the ``names.txt`` it takes its
source column from (docs/DESIGN.md, "Predictions").

``names.txt`` (written by ``crnn-preprocess lmdb-to-bin``): ``test_{i}.bin<TAB>source`` per
sample, the source being the image path (``path-%09d``) or the LMDB key ``image-%09d``.
``predictions.tsv``: a header, then ``file<TAB>source<TAB>text<TAB>confidence`` per sample.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from crnn_deploy.common import outputs
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import atomic_write_text
from crnn_deploy.common.inputs import read_text_file
from crnn_deploy.common.names import tsv_line, unescape_name

#: Columns of ``predictions.tsv`` (docs/DESIGN.md, "Predictions"); the file starts with this header.
PREDICTION_COLUMNS = ("file", "source", "text", "confidence")
NAMES_NAME = "names.txt"
#: Largest names.txt read (bytes): 1,000,000 samples with 1 KB paths.
MAX_NAMES_BYTES = 1 << 30


def read_names(path: str | os.PathLike) -> dict[str, str]:
    """Parse ``names.txt`` (written by ``crnn-preprocess lmdb-to-bin``): one
    ``test_{i}.bin<TAB>{source}`` per line -> ``{file: source}`` in file order.

    Raises:
        UserError: the file is missing, not a regular file, larger than
            :data:`MAX_NAMES_BYTES`, not UTF-8, or a line has no tab (the message gives the
            line number).
    """
    path = Path(path)
    text = read_text_file(path, MAX_NAMES_BYTES, "names file")
    names: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, source = line.partition("\t")
        if not sep or not name.strip():
            raise UserError(f"{path} line {lineno}: expected 'test_{{i}}.bin<TAB>source', "
                            f"got {line[:80]!r}")
        names[name.strip()] = os.fsdecode(unescape_name(source))  # escaped by lmdb-to-bin
    return names


def find_names(result_dir: str | os.PathLike, names: str | os.PathLike | None = None
               ) -> Path | None:
    """Where the names.txt of RESULT_DIR is: ``names`` if given, else ``RESULT_DIR/names.txt``,
    else ``names.txt`` in the input folder recorded by crnn-infer in ``RESULT_DIR/meta.json``
    (key ``input``); None when there is none."""
    if names is not None:
        return Path(names)
    result_dir = Path(result_dir)
    if (result_dir / NAMES_NAME).is_file():
        return result_dir / NAMES_NAME
    meta = outputs.read_json(result_dir / "meta.json")  # bounded; None when absent or bad
    folder = meta.get("input") if meta is not None else None
    if isinstance(folder, str) and (Path(folder) / NAMES_NAME).is_file():
        return Path(folder) / NAMES_NAME
    return None


_RESULT = re.compile(r"^(.+)_0\.(bin|npy)$")


def list_result_entries(result_dir: str | os.PathLike) -> list[tuple[str, None]]:
    """``(file, None)`` entries for every ``{stem}_0.bin``/``.npy`` of RESULT_DIR, as
    ``{stem}.bin``, in natural order (``test_2`` before ``test_10``): what to decode when
    neither label.txt nor names.txt lists the samples.

    Raises:
        UserError: RESULT_DIR holds no result file.
    """
    stems = {m.group(1) for p in Path(result_dir).iterdir() if (m := _RESULT.match(p.name))}
    if not stems:
        raise UserError(f"{result_dir} holds no result file (test_{{i}}_0.bin or .npy)")
    return [(f"{stem}.bin", None) for stem in sorted(stems, key=_natural)]


def _natural(text: str) -> list:
    return [int(t) if k % 2 else t for k, t in enumerate(re.split(r"([0-9]+)", text))]


def format_predictions(rows, header: tuple[str, ...] | None = PREDICTION_COLUMNS) -> str:
    """Rows of (file, source, text, confidence) or (path, text, confidence) as TSV text:
    tab-separated, every text field escaped by :func:`common.names.escape_name` (a tab, line
    break, backslash or non-UTF-8 byte of a file name becomes ``\\t``, ``\\n``, ``\\\\``,
    ``\\xNN``: no name breaks a row or the file's encoding), confidence with 6 decimals, ``\\n``
    line ends, ``header`` first unless None."""
    out = [tsv_line(header)] if header else []
    out.extend(tsv_line((*r[:-1], f"{r[-1]:.6f}")) for r in rows)
    return "".join(out)


def write_predictions(out_dir: str | os.PathLike, rows) -> Path:
    """Write ``out_dir/predictions.tsv`` atomically: the :data:`PREDICTION_COLUMNS` header,
    then one ``file, source, text, confidence`` row per sample in input order (``text``: the
    raw greedy decode; ``confidence``: in [0, 1], see
    :func:`postprocess.ctc.greedy_decode_with_confidence`). Raises OSError if not writable."""
    return atomic_write_text(Path(out_dir) / "predictions.tsv", format_predictions(rows))
