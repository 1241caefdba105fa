"""Checks of single spec fields (:mod:`models.spec_record` applies them to every record).

A spec name is read from files (a spec file, ONNX metadata, a sidecar) and becomes part of
output file names (``crnn-convert all`` writes ``OUTDIR/{name}_bsN.*``), so it must be a plain
file-name component (:func:`check_name`). Values shown in messages go through :func:`shown`
(escaped, shortened).
"""
from __future__ import annotations

import math
import re

from crnn_deploy.common.errors import UserError

#: a spec name: a plain file-name component (engines are named after it)
NAME_RULE = re.compile(r"[A-Za-z0-9._-]{1,100}")


def shown(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: an untrusted value safe to print (control
    characters and escape sequences escaped, a 1 MB string not printed whole)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def check_name(name, field_name: str = "spec 'name'") -> str:
    """``name`` when it is a plain file-name component (letters, digits, ``._-``, 1 to 100
    characters, not ``.`` or ``..``), else UserError naming ``field_name``."""
    if not isinstance(name, str) or not NAME_RULE.fullmatch(name) or name in (".", ".."):
        raise UserError(f"{field_name}: expected a plain file-name component (letters, digits, "
                        f"'._-', 1 to 100 characters, not '.' or '..'), got {shown(name)}")
    return name


def fail(spec: str, what: str, msg: str) -> UserError:
    """The UserError of a wrong field ``what`` of spec ``spec``."""
    return UserError(f"model spec {spec!r}: {what}: {msg}")


def is_int(v) -> bool:
    """True for an int that is not a bool."""
    return isinstance(v, int) and not isinstance(v, bool)


def choice(spec: str, what: str, value, choices: tuple) -> None:
    """Raise :func:`fail` unless ``value`` is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise fail(spec, what, f"{shown(value)} is not one of {', '.join(map(str, choices))}")


def per_channel(spec: str, what: str, value, c: int) -> tuple[float, ...]:
    """One finite float per channel from a number or a list of 1 or ``c`` numbers."""
    vals = list(value) if isinstance(value, (list, tuple)) else [value]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        raise fail(spec, what, f"expected a number or a list of numbers, got {shown(value)}")
    if len(vals) == 1:
        vals = vals * c
    if len(vals) != c:
        raise fail(spec, what, f"expected 1 or C = {c} values, got {len(vals)}")
    if not all(math.isfinite(v) for v in vals):
        raise fail(spec, what, f"values must be finite, got {vals}")
    return tuple(float(v) for v in vals)
