"""The row formats of ``crnn-recognize``: TSV, CSV, JSONL and JSON, one row per image
``path, text, confidence``.

Formatting only: where the text goes (stdout, or a file published whole by
:mod:`common.outputs`) is the caller's business, so the two can change apart.

========  =====================================================================================
format    what is written
========  =====================================================================================
tsv       header ``path<TAB>text<TAB>confidence`` (a file; stdout: no header), then rows,
          tab-separated, unquoted
csv       header ``path,text,confidence``, then RFC 4180 rows (``csv`` module, ``\\n`` ends)
jsonl     one object ``{"path": ..., "text": ..., "confidence": ...}`` per line
json      one array of those objects (streamed: ``[`` first, ``]`` last)
========  =====================================================================================

Confidence: 6 decimals in every format. ``path`` and ``text`` are escaped in every format by
:func:`common.names.escape_name` (a tab, line break, backslash or a byte that is not UTF-8 in a
file name becomes ``\\t``, ``\\n``, ``\\\\``, ``\\xNN``; ordinary names are unchanged), so any
name survives and :func:`common.names.unescape_name` gives its exact bytes back.
"""
from __future__ import annotations

import csv
import io
import json
from typing import TextIO

from crnn_deploy.common.names import escape_name
from crnn_deploy.postprocess.predictions import format_predictions

#: ``--output`` suffix -> format.
FORMATS = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "json"}
COLUMNS = ("path", "text", "confidence")
#: First bytes of a file written by crnn-recognize, per format.
SIGNATURES = {"tsv": b"path\ttext\tconfidence\n", "csv": b"path,text,confidence\n",
              "jsonl": b'{"path": ', "json": b'[{"path": '}


def _obj(path: str, text: str, conf: float) -> str:
    return json.dumps({"path": escape_name(path), "text": escape_name(text),
                       "confidence": round(conf, 6)}, ensure_ascii=False)


class RowWriter:
    """Writes rows of one format to ``out``: :meth:`write` per image, :meth:`close` at the end
    (JSON's closing bracket). ``header``: TSV's header line (CSV always has its header)."""

    def __init__(self, out: TextIO, fmt: str = "tsv", header: bool = True):
        if fmt not in SIGNATURES:
            raise ValueError(f"unknown row format {fmt!r}; use one of {', '.join(SIGNATURES)}")
        self.out, self.fmt, self.rows = out, fmt, 0
        if fmt == "tsv" and header:
            out.write(format_predictions([], COLUMNS))
        elif fmt == "csv":
            out.write(",".join(COLUMNS) + "\n")

    def write(self, path: str, text: str, conf: float) -> None:
        """One row: the image's path, its text, its confidence in [0, 1]."""
        if self.fmt == "tsv":
            line = format_predictions([(path, text, conf)], None)
        elif self.fmt == "csv":
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow((escape_name(path), escape_name(text),
                                                            f"{conf:.6f}"))
            line = buf.getvalue()
        elif self.fmt == "jsonl":
            line = _obj(path, text, conf) + "\n"
        else:
            line = ("[" if self.rows == 0 else ",\n") + _obj(path, text, conf)
        self.out.write(line)
        self.rows += 1

    def close(self) -> None:
        """End the document (JSON: ``]``; ``[]`` when no row was written)."""
        if self.fmt == "json":
            self.out.write("]\n" if self.rows else "[]\n")
