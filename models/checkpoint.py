"""Checkpoint loading: never runs pickled code, and explains every mismatch (imports torch).

Accepted layouts: a bare state_dict, or a dict holding it under ``state_dict`` or ``model``
(the ModelZoo / training-script convention); a ``module.`` prefix (``nn.DataParallel``) is
stripped. Files are read with ``torch.load(weights_only=True, map_location='cpu')``, both the
zip format (PyTorch >= 1.6) and the legacy format of old checkpoints such as meijieru's
``crnn.pth``.
"""
from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.arch import build_model
from crnn_deploy.models.specs import SPECS, ModelSpec, get_spec


def read_state_dict(path: str | Path) -> "OrderedDict[str, torch.Tensor]":
    """Read the tensors of a checkpoint file, ``module.`` prefixes stripped.

    Raises:
        UserError: the file is missing, truncated or not a PyTorch file, holds pickled code
            (anything ``weights_only=True`` refuses), holds no state_dict, or holds NaN/Inf
            values (the message names the tensors).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _unpickling_reason(str(exc))
        if "GLOBAL" in reason:
            raise UserError(
                f"refusing to load {path}: it holds pickled objects other than tensors, which "
                f"could run code (torch.load weights_only=True: {reason})") from None
        raise UserError(f"cannot read checkpoint {path}: {reason} "
                        "(truncated, or not a PyTorch checkpoint?)") from None
    except Exception as exc:  # truncated zip, garbage bytes, EOF: torch raises many types
        raise UserError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc} "
                        "(truncated, or not a PyTorch checkpoint?)") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"{path} holds no state_dict (expected a dict of tensors, or a dict "
                        "with one under 'state_dict' or 'model')")
    state = OrderedDict((k[len("module."):] if k.startswith("module.") else k, v)
                        for k, v in obj.items())
    bad = [k for k, v in state.items()
           if (v.is_floating_point() or v.is_complex()) and not bool(torch.isfinite(v).all())]
    if bad:
        raise UserError(f"checkpoint {path} holds NaN/Inf values in {len(bad)} of {len(state)} "
                        f"tensors: {_summary(bad)} (a diverged or corrupted training run?)")
    return state


def _unpickling_reason(message: str) -> str:
    """The informative line of torch's long weights_only error (e.g. 'unsupported GLOBAL ...')."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if "GLOBAL" in line or line.startswith("Unsupported"):
            return line
    return lines[0] if lines else "unpickling failed"


def reorder_npu_lstm_gates(state_dict: dict, hidden: int = 256) -> "OrderedDict[str, torch.Tensor]":
    """Swap LSTM gate blocks 1 and 2 of ModelZoo ``fw_rnn``/``bw_rnn`` tensors.

    Ascend NPU training stores the four gates in another order than ``torch.nn.LSTM``
    (i, f, g, o); ModelZoo's ``pthtar2onx.py`` splits each tensor into blocks of ``hidden`` rows
    and reorders them as (0, 2, 1, 3). Needed only for checkpoints trained on the NPU.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith("rnn.") and (".fw_rnn." in key or ".bw_rnn." in key):
            blocks = value.split(hidden)
            value = torch.cat((blocks[0], blocks[2], blocks[1], blocks[3]), 0)
        out[key] = value
    return out


def _mismatch(model: nn.Module, state_dict: dict) -> tuple[list, list, list]:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
              for k, v in expected.items() if k in state_dict and state_dict[k].shape != v.shape]
    return missing, unexpected, shapes


def _summary(items: list, limit: int = 6) -> str:
    more = f" ... (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def load_model(spec: ModelSpec | str, checkpoint: str | Path,
               npu_lstm_gates: bool = False) -> nn.Module:
    """Build ``spec``'s architecture and load ``checkpoint`` into it strictly; eval mode, CPU.

    Raises:
        UserError: unreadable checkpoint (see :func:`read_state_dict`), or keys/shapes that do
            not match; the message lists missing, unexpected and wrongly shaped keys and names
            another spec whose layout does match, if one does.
    """
    spec = get_spec(spec) if isinstance(spec, str) else spec
    state_dict = read_state_dict(checkpoint)
    if npu_lstm_gates:
        state_dict = reorder_npu_lstm_gates(state_dict)
    model = build_model(spec)
    missing, unexpected, shapes = _mismatch(model, state_dict)
    if missing or unexpected or shapes:
        lines = [f"checkpoint {checkpoint} does not match model {spec.name!r}:"]
        for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                             ("wrongly shaped", shapes)):
            if items:
                lines.append(f"  {label} ({len(items)}): {_summary(items)}")
        others = [n for n in SPECS if n != spec.name and not any(_mismatch(build_model(n), state_dict))]
        if others:
            lines.append(f"  its layout matches --model {others[0]}")
        raise UserError("\n".join(lines))
    model.load_state_dict(state_dict, strict=True)
    return model.eval()
