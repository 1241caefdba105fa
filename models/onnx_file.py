"""Reading an untrusted ONNX file: bounded, self-contained, and its spec metadata.

Every ONNX read of the tree (the converter, the runtime's spec reader, a spec argument) goes
through :func:`load_onnx_spec`:

* only a regular file (a folder named ``x.onnx`` is said to be a folder; a FIFO or device is
  refused instead of read), at most :data:`MAX_ONNX_BYTES` (protobuf's limit);
* a 0-byte file, or one that parses to a model without a graph, is "not an ONNX model";
* weights stored as *external data* (``onnx.external_data_helper``: a tensor whose bytes live in
  another file, named by the model) are refused: the file could name any path, and the result
  would depend on the folder it is read from. Save the model with its weights inside
  (``onnx.save(model, path, save_as_external_data=False)``) and import that.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.names import escape_name
from crnn_deploy.models.spec_record import METADATA_KEY

#: Largest ONNX file read (protobuf's limit; weights above it need external data).
MAX_ONNX_BYTES = 2 << 30


def _tensors(graph):
    """Every TensorProto of ``graph``: initializers and node attributes, subgraphs included."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from _tensors(sub)


def external_data_tensor(model) -> str | None:
    """The name of the first tensor of ``model`` whose data is stored outside the file (with
    the file it names), or None when the model is self-contained."""
    from onnx.external_data_helper import uses_external_data

    for t in _tensors(model.graph):
        if uses_external_data(t):
            where = next((e.value for e in t.external_data if e.key == "location"), "?")
            return f"{t.name!r} (in {where!r})"
    return None


def check_onnx_path(path: str | os.PathLike) -> int:
    """The size of ONNX file ``path`` after checking it exists, is a regular file and is not
    larger than :data:`MAX_ONNX_BYTES`; UserError naming the path otherwise."""
    shown_path = escape_name(path)  # no raw escape sequence reaches the terminal
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"ONNX file not found: {shown_path}") from None
    except OSError as exc:
        raise UserError(f"cannot read ONNX model {shown_path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"{shown_path} is a folder, not an ONNX file")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{shown_path} is not a regular file (a FIFO, device or socket); refusing "
                        "to read it as an ONNX model")
    if st.st_size > MAX_ONNX_BYTES:
        raise UserError(f"{shown_path} is larger than {MAX_ONNX_BYTES >> 30} GiB, the protobuf limit "
                        "of an ONNX file")
    if st.st_size == 0:
        raise UserError(f"{shown_path} is empty (0 bytes), not an ONNX model")
    return st.st_size


def load_onnx_spec(path: str | Path):
    """``(model, text)``: the ONNX ``ModelProto`` of ``path`` and the spec JSON in its
    ``metadata_props`` under :data:`models.spec_record.METADATA_KEY` (None when absent).

    Raises:
        UserError: naming the file: missing, a folder, not a regular file, larger than
            :data:`MAX_ONNX_BYTES`, empty, not a readable ONNX model (protobuf decode error,
            no graph), or holding weights as external data (module docstring).
    """
    import onnx

    check_onnx_path(path)
    shown_path = escape_name(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # DecodeError, OSError, ...
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        raise UserError(f"cannot read ONNX model {shown_path}: {msg}") from None
    if not model.HasField("graph") or not (len(model.graph.node) or len(model.graph.output)):
        raise UserError(f"{shown_path} is not an ONNX model (it holds no graph)")
    external = external_data_tensor(model)
    if external:
        raise UserError(f"{shown_path} keeps weights as external data: tensor {external}; refusing "
                        "it (the result would depend on files beside it): save the model with "
                        "its weights inside (onnx.save(model, path, save_as_external_data=False))")
    return model, next((p.value for p in model.metadata_props if p.key == METADATA_KEY), None)
