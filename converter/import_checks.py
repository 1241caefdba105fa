"""What ``crnn-convert import`` checks on the model itself, before anything is written.

A spec file describes a model someone else built; these checks run the model (ONNX Runtime, on
small probe inputs: batches 1 and 3 at the smallest width and, for a width that follows the
word, a batch of 2 at about twice it; random pixels in [-1, 1]) and compare what it does with
what the spec says. A mismatch is a UserError naming the spec field:

==================  ===========================================================================
``output.name``     the output is floating point (not an integer tensor), finite, of rank 3,
                    and has an axis that follows the batch (one row per image)
``output.layout``   the batch axis is axis 1 for ``TBC``, axis 0 for ``BTC``; the time axis (the
                    other one) grows with the input width (dynamic width)
``alphabet``        the class axis (2) holds the alphabet's characters + the blank
``output.kind``     ``probabilities`` sum to 1 over the classes (and are >= 0),
                    ``log-probabilities`` log-sum-exp to 0 (and are <= 0), ``logits`` do neither
``output.blank``    on a blank-like input (a white image) the most frequent class per time step
                    should be the blank: when not, a *warning* (a model may read noise there)
==================  ===========================================================================

:func:`keep_output` then leaves the named output as the model's only one (the runtime reads it
by name, the others are pruned with the nodes only they used).
"""
from __future__ import annotations

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.spec_record import ModelSpec

#: |sum - 1| (probabilities) and |log-sum-exp| (log-probabilities) allowed, per time step:
#: float32 rounding over up to ~10^4 classes stays far below it; logits are off by O(1).
KIND_TOL = 1e-3
_KIND_NAMES = {"logits": "logits", "probabilities": "probabilities",
               "log_softmax": "log-probabilities"}


def observed_kind(ys: list[np.ndarray]) -> str:
    """``probabilities``, ``log-probabilities`` or ``logits``: what the (., ., C) outputs
    ``ys`` hold along the class axis (2)."""
    ys = [y.astype(np.float64) for y in ys]
    if all(y.min() >= -1e-6 and np.abs(y.sum(axis=2) - 1).max() <= KIND_TOL for y in ys):
        return "probabilities"
    def lse(y):
        m = y.max(axis=2, keepdims=True)
        return (m + np.log(np.exp(y - m).sum(axis=2, keepdims=True)))[..., 0]
    if all(y.max() <= 1e-6 and np.abs(lse(y)).max() <= KIND_TOL for y in ys):
        return "log-probabilities"
    return "logits"


def check_outputs(spec: ModelSpec, probes: dict[tuple[int, int], np.ndarray],
                  white: np.ndarray, where) -> tuple[int, list[str]]:
    """Check the source model's outputs against ``spec`` (module docstring).

    Args:
        spec: the spec as written (its layout and blank, before import normalizes them).
        probes: (batch N, width W) -> the output for an (N, C, H, W) random input.
        white: the output for one white image at the smallest width.
        where: the model file, for messages.

    Returns:
        (T at the smallest width, warnings).

    Raises:
        UserError: naming the spec field the model contradicts and what the model showed.
    """
    name = spec.output_name
    shapes = {k: tuple(y.shape) for k, y in probes.items()}
    for y in probes.values():
        if y.dtype.kind != "f":
            raise UserError(f"{where}: output {name!r} (spec output.name) has dtype {y.dtype}; "
                            "a CTC recognizer's output is floating point (logits or probabilities)")
        if y.ndim != 3:
            raise UserError(f"{where}: output {name!r} has rank {y.ndim} {y.shape}; a CTC "
                            "recognizer's output is (T, N, C) or (N, T, C)")
        if not np.isfinite(y).all():
            raise UserError(f"{where}: output {name!r} holds NaN or infinite values on probe "
                            "inputs (random pixels in [-1, 1])")
    batch_axis = 1 if spec.output_layout == "TBC" else 0
    follows = [a for a in (0, 1, 2) if all(s[a] == n for (n, _), s in shapes.items())]
    if batch_axis not in follows:
        if 1 - batch_axis in follows:
            raise UserError(f"{where}: spec output.layout is {spec.output_layout}, but the model's "
                            f"batch is on axis {1 - batch_axis} (output shapes {_list(shapes)}): "
                            f"that is {'BTC' if batch_axis else 'TBC'}")
        raise UserError(f"{where}: output {name!r} (spec output.name) ignores the batch: shapes "
                        f"{_list(shapes)}; every run needs one output row per image")
    time_axis = 1 - batch_axis
    (w0, t0), *wider = sorted({(w, s[time_axis]) for (_, w), s in shapes.items()})
    if any(t <= t0 for w, t in wider if w > w0):
        raise UserError(f"{where}: spec output.layout {spec.output_layout}: the time axis "
                        f"({time_axis}) does not grow with the input width (output shapes "
                        f"{_list(shapes)}); check output.layout and input.width")
    c = next(iter(shapes.values()))[2]
    if c != spec.num_classes:
        raise UserError(f"{where}: the output has C = {c} classes, but the spec's alphabet has "
                        f"{len(spec.alphabet)} characters + the blank = {spec.num_classes}")
    kind, want = observed_kind(list(probes.values())), _KIND_NAMES[spec.output]
    if kind != want:
        raise UserError(f"{where}: spec output.kind is {want!r}, but the model's output "
                        + {"probabilities": "sums to 1 over the classes",
                           "log-probabilities": "log-sum-exps to 0 over the classes",
                           "logits": "neither sums to 1 nor log-sum-exps to 0 over the classes"}[kind]
                        + f" on probe inputs: it holds {kind}; set output.kind to {kind!r}")
    warnings = []
    best = white.argmax(axis=2).reshape(-1)
    top = int(np.bincount(best, minlength=c).argmax())
    if top != spec.blank:
        warnings.append(f"spec output.blank is {spec.blank}, but on a blank (white) image the "
                        f"model's most frequent class is {top} ({int((best == top).sum())} of "
                        f"{best.size} time steps): check output.blank")
    return t0, warnings


def _list(shapes: dict) -> str:
    return ", ".join(f"{list(s)} for N={n}, W={w}" for (n, w), s in sorted(shapes.items()))


def white_input(spec: ModelSpec) -> np.ndarray:
    """One white (1, C, H, W) image at the smallest width, normalized as the spec says."""
    c, h, w = spec.input_shape
    value = (1.0 - np.array(spec.mean)) / np.array(spec.std)
    return np.broadcast_to(value.astype(np.float32)[None, :, None, None], (1, c, h, w)).copy()


def keep_output(model, name: str) -> None:
    """Leave ``name`` the only output of ``model``'s graph and drop the top-level nodes that
    only the other outputs used (names a subgraph reads are kept)."""
    graph = model.graph
    keep = []
    for o in graph.output:
        if o.name == name:
            keep.append(type(o)())
            keep[-1].CopyFrom(o)
    del graph.output[:]
    graph.output.extend(keep)
    needed, kept = {name}, []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
            needed.update(_subgraph_names(node))
    if len(kept) != len(graph.node):
        kept.reverse()
        del graph.node[:]
        graph.node.extend(kept)


def _subgraph_names(node) -> set:
    names = set()
    for attr in node.attribute:
        for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
            for n in g.node:
                names.update(n.input)
                names.update(_subgraph_names(n))
    return names
