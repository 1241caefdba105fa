"""Field checks of the detector and classifier specs (:mod:`models.page_specs`); no I/O.

Every check names the JSON key at fault as it is written in a spec file (``input.limit_type``,
``postprocess.thresh``) and raises :class:`~common.errors.UserError`; a section (a JSON object
of a spec) is read by :func:`section`, which refuses an unknown key by name.
"""
from __future__ import annotations

import json
from dataclasses import fields

from crnn_deploy.common.errors import UserError


def fail(key: str, msg: str) -> UserError:
    """The error of a wrong field: ``spec KEY: MSG``."""
    return UserError(f"spec {key}: {msg}")


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def text(key: str, v) -> str:
    """A string field."""
    if not isinstance(v, str):
        raise fail(key, f"expected a string, got {json.dumps(v)[:60]}")
    return v


def choice(key: str, v, choices: tuple) -> str:
    """A string among ``choices``."""
    if v not in choices:
        raise fail(key, f"{json.dumps(v)[:60]} is not one of {', '.join(map(str, choices))}")
    return v


def integer(key: str, v, low: int, high: int) -> int:
    """An integer in [low, high] (a bool is not an integer)."""
    if not is_int(v) or not low <= v <= high:
        raise fail(key, f"expected an integer in {low}..{high}, got {json.dumps(v)[:60]}")
    return int(v)


def number(key: str, v, low: float, high: float, low_open: bool = False) -> float:
    """A number in [low, high] (``(low, high]`` when ``low_open``); NaN is refused."""
    ok = is_num(v) and (low < v if low_open else low <= v) and v <= high
    if not ok:
        span = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise fail(key, f"expected a number in {span}, got {json.dumps(v)[:60]}")
    return float(v)


def flag(key: str, v) -> bool:
    """A JSON boolean."""
    if not isinstance(v, bool):
        raise fail(key, f"expected true or false, got {json.dumps(v)[:60]}")
    return v


def per_channel(key: str, v, channels: int, positive: bool = False) -> tuple[float, ...]:
    """One number or a list of ``channels`` numbers -> a tuple of ``channels`` floats."""
    vals = list(v) if isinstance(v, (list, tuple)) else [v]
    if not vals or not all(is_num(x) and x == x for x in vals):
        raise fail(key, f"expected a number or a list of numbers, got {json.dumps(v)[:60]}")
    if len(vals) == 1:
        vals *= channels
    if len(vals) != channels:
        raise fail(key, f"expected 1 or {channels} values (one per channel), got {len(vals)}")
    if positive and not all(x > 0 for x in vals):
        raise fail(key, f"every value must be > 0 (it divides), got {vals}")
    return tuple(float(x) for x in vals)


def section(cls, d, where: str, required: tuple = ()):
    """Build the section dataclass ``cls`` from the JSON object ``d`` (a missing key takes the
    field's default). ``where`` is the section's key (``""`` at the top level).

    Raises:
        UserError: ``d`` is not an object, has a key ``cls`` does not have, or lacks one of
            ``required``.
    """
    label = where or "(top level)"
    if not isinstance(d, dict):
        raise UserError(f"spec {label}: expected an object, got {json.dumps(d)[:60]}")
    known = [f.name for f in fields(cls)]
    unknown = [k for k in d if k not in known]
    if unknown:
        raise UserError(f"spec {label}: unknown field {unknown[0]!r} (known: {', '.join(known)})")
    missing = [k for k in required if k not in d]
    if missing:
        raise UserError(f"spec {label}: missing field {missing[0]!r}")
    return cls(**d)
