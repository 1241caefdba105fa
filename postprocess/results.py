"""Reading the inputs of postprocess: label.txt, RESULT_DIR/meta.json and the result files
(names.txt and predictions.tsv: :mod:`postprocess.predictions`).

Result files (written by runtime/, see docs/DESIGN.md): for a label.txt entry
``test_{i}.bin``, ``RESULT_DIR/test_{i}_0.bin`` (raw float32 little-endian, shape (T, 1, C),
``T * C * 4`` bytes) or ``RESULT_DIR/test_{i}_0.npy`` (numpy format, same shape). Files are read
in chunks straight into one preallocated (chunk, T, C) buffer and each chunk is decoded at once,
so memory stays bounded for 100,000 files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crnn_deploy.common.engine_output import nonfinite_rows
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import MAX_META_BYTES, loads_json, read_json
from crnn_deploy.common.inputs import MAX_TEXT_BYTES, label_problem, open_regular, read_text_file
from crnn_deploy.models.spec_record import MAX_WIDTH
from crnn_deploy.models.specs import SPECS, ModelSpec, get_spec
from crnn_deploy.postprocess.ctc import decode_batch, greedy_decode_with_confidence

#: Room for a ``.npy`` header above the data (numpy pads headers to 64 bytes; 4 KiB is ample).
NPY_HEADER_MAX = 4096
CHUNK = 4096  # samples decoded per vectorized call (~36 MB of float32 for nano-ocr)


def read_labels(path: str | os.PathLike) -> list[tuple[str, str]]:
    """Parse label.txt: one ``{file}:{label}`` per line, split on the FIRST ':' (the label may
    hold ':' and inner spaces, kept as is; only the line ending is removed). Empty lines are
    skipped. Labels follow the rule of every stage (:func:`common.inputs.label_problem`: not
    empty, no surrounding whitespace). The file must be a regular file of at most
    :data:`common.inputs.MAX_TEXT_BYTES` bytes.

    Returns:
        ``(file, label)`` pairs in file order.

    Raises:
        UserError: the file is missing, not a regular file, too large or not UTF-8; a line has
            no ':', an empty file name or a bad label (the message gives the file and line
            number); a file name is listed twice; no entries.
    """
    path = Path(path)
    text = read_text_file(path, MAX_TEXT_BYTES, "label file")
    entries: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, label = line.partition(":")
        if not sep or not name.strip():
            raise UserError(
                f"{path} line {lineno}: expected '{{file}}:{{label}}' (e.g. test_1.bin:hello), "
                f"got {line!r}"
            )
        name = name.strip()
        problem = label_problem(label)  # the one label rule (common.inputs)
        if problem:
            raise UserError(f"{path} line {lineno}: {problem} (for {name})")
        if name in seen:
            raise UserError(f"{path} line {lineno}: {name!r} already listed on line {seen[name]}")
        seen[name] = lineno
        entries.append((name, label))
    if not entries:
        raise UserError(f"label file {path} has no entries")
    return entries


def read_meta_spec(result_dir: str | os.PathLike) -> ModelSpec | None:
    """The spec stored in ``RESULT_DIR/meta.json`` (the dict at top level or under ``"spec"``,
    that dict possibly JSON-encoded as a string), or None when meta.json does not exist.

    Raises:
        UserError: meta.json is unreadable, not a regular file, larger than
            :data:`common.fileio.MAX_META_BYTES`, not JSON (nested too deep, a duplicate key:
            :func:`common.fileio.read_json`), or does not hold a complete spec.
    """
    path = Path(result_dir) / "meta.json"
    if not (path.exists() or path.is_symlink()):
        return None
    meta = read_json(path, max_bytes=MAX_META_BYTES, what="result meta")  # bounded, guarded
    spec = meta.get("spec", meta) if isinstance(meta, dict) else meta
    if isinstance(spec, str):
        spec = loads_json(spec, f"{path}: 'spec'")
    if not isinstance(spec, dict):
        raise UserError(f"{path}: expected a JSON object with the model spec, got {spec!r:.80}")
    try:
        return ModelSpec.from_dict(spec)
    except UserError as exc:
        raise UserError(f"{path}: {exc.message}") from None


def resolve_alphabet(
    result_dir: str | os.PathLike, model: str | None = None, alphabet: str | None = None,
) -> tuple[str, int | None, int]:
    """Decide ``(alphabet, T, C)`` from ``--model``, ``--alphabet`` or RESULT_DIR/meta.json.

    ``model`` gives all three from the registry; ``alphabet`` gives only the alphabet, with
    C = len(alphabet) + 1 and T from meta.json if present, else None (inferred from the files).
    Neither: all three from meta.json.

    Raises:
        UserError: both or neither given and no meta.json; unknown model; empty alphabet;
            the alphabet size or the model's (T, C) disagrees with meta.json.
    """
    meta_path = Path(result_dir) / "meta.json"
    if model is not None and alphabet is not None:
        raise UserError("give either --model or --alphabet, not both")
    meta = read_meta_spec(result_dir)
    if model is not None:
        spec = get_spec(model)
        if meta is not None and meta.output_shape != spec.output_shape:
            raise UserError(
                f"--model {model} has output (T, C) = {spec.output_shape}, but {meta_path} "
                f"describes {meta.name!r} with (T, C) = {meta.output_shape}"
            )
        return spec.alphabet, spec.seq_len, spec.num_classes
    if alphabet is not None:
        if not alphabet:
            raise UserError("--alphabet is empty")
        c = len(alphabet) + 1
        if meta is not None and meta.num_classes != c:
            raise UserError(
                f"--alphabet has {len(alphabet)} characters, so C = {c} classes with the CTC "
                f"blank, but {meta_path} ({meta.name!r}) has C = {meta.num_classes}"
            )
        return alphabet, (meta.seq_len if meta is not None else None), c
    if meta is None:
        raise UserError(
            f"{meta_path} not found, so the alphabet is unknown: give --model NAME "
            f"({', '.join(SPECS)}) or --alphabet STR"
        )
    return meta.alphabet, (None if meta.dynamic_width else meta.seq_len), meta.num_classes


def result_stem(name: str) -> str:
    """``test_7.bin`` (or ``some/dir/test_7.bin``) -> ``test_7``; its result is ``test_7_0.bin``."""
    return os.path.splitext(name.replace("\\", "/").rsplit("/", 1)[-1])[0]


@dataclass
class Decoded:
    """What :func:`decode_result_dir` found: scored samples in label.txt order, and the rest."""

    samples: list[tuple[str, str | None, str]] = field(default_factory=list)  # (file, label, pred)
    confidences: list[float] = field(default_factory=list)  # per sample, see ctc.py
    missing: list[str] = field(default_factory=list)  # label.txt names without a result file
    seq_len: int | None = None


def _check_npy_header(f, path: Path, max_values: int) -> None:
    """Read the ``.npy`` header of open file ``f`` and rewind: a float array of at most
    ``max_values`` values, so a header claiming a huge shape never allocates it."""
    version = np.lib.format.read_magic(f)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    shape, _, dtype = read(f)
    if dtype.kind != "f" or int(np.prod(shape, dtype=np.float64)) > max_values:
        raise UserError(f"result file {path} has shape {shape} dtype {dtype}, expected float "
                        f"values, at most {max_values} (largest T x C)")
    f.seek(0)


def _wrong(path: Path, got: str, t: int | None, c: int) -> UserError:
    if t is None:
        want = f"float32 (T, 1, {c}), a multiple of {4 * c} bytes (C = len(alphabet) + 1 = {c})"
    else:
        want = f"float32 ({t}, 1, {c}) = {t * c * 4} bytes"
    return UserError(f"result file {path} has {got}, expected {want}")


def decode_result_dir(
    result_dir: str | os.PathLike,
    entries: list[tuple[str, str]],
    alphabet: str,
    seq_len: int | None = None,
    *,
    allow_missing: bool = False,
    chunk: int = CHUNK,
    labels_name: str = "label.txt",
    spec: ModelSpec | None = None,
) -> Decoded:
    """Read the result file of each label.txt entry and greedy-decode them, chunk by chunk.

    Args:
        result_dir: folder of ``{stem}_0.bin`` / ``{stem}_0.npy`` files (stem: the entry's file
            name without folder and extension).
        entries: ``(file, label)`` pairs from :func:`read_labels`; label None when unlabeled.
        alphabet: C - 1 characters (class 0 = blank).
        seq_len: T; None to take it from the first result file (then all must agree).
        allow_missing: skip entries without a result file instead of failing.
        labels_name: the label file's name, for messages.
        spec: the model's spec, when known: decoded with :func:`postprocess.ctc.decode_batch`
            (its output kind, ignored characters and confidence formula); a dynamic-width spec's
            files each have their own T (read from each file).

    Raises:
        UserError: RESULT_DIR is not a folder; a result file has the wrong size/shape (the
            message names it and the expected bytes) or holds NaN/inf (named); a file is missing (unless
            ``allow_missing``); no result file at all.
    """
    result_dir = Path(result_dir)
    if not result_dir.is_dir():
        raise UserError(f"result folder {result_dir} does not exist or is not a folder")
    c, t = len(alphabet) + 1, seq_len
    out = Decoded()
    buf: np.ndarray | None = None
    pending: list[tuple[str, str, Path]] = []
    variable = spec is not None and spec.dynamic_width
    # the largest T a file may have: the spec's (fixed width), else at most one step per pixel
    # of the widest input (dynamic width), else models.spec_record.MAX_WIDTH
    t_max = (spec.width_max if variable else t) or MAX_WIDTH
    max_bytes = 4 * t_max * c + NPY_HEADER_MAX

    def flush() -> None:
        block = buf[: len(pending)]
        bad = nonfinite_rows(block, batch_axis=0)  # the shared check of every path
        if len(bad):
            names = ", ".join(str(pending[r][2]) for r in bad[:3])
            raise UserError(f"{len(bad)} result file(s) hold NaN or inf (first: {names}); their "
                            "text would be meaningless, nothing decoded: check the engine "
                            "(precision, conversion, device)")
        if spec is not None:
            preds, confs = decode_batch(block, spec, batch_axis=0)
        else:
            preds, confs = greedy_decode_with_confidence(block, alphabet, batch_axis=0)
        out.samples.extend((n, lab, pred) for (n, lab, _), pred in zip(pending, preds))
        out.confidences.extend(confs)
        pending.clear()

    for name, label in entries:
        stem = result_stem(name)
        for ext in (".bin", ".npy"):
            path = result_dir / f"{stem}_0{ext}"
            try:  # a regular file no larger than the largest (T, 1, C) allows (no FIFO hang)
                f = open_regular(path, max_bytes, "result file")
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise UserError(f"cannot open result file {path}: {exc}") from None
            break
        else:
            out.missing.append(name)
            continue
        with f:
            if variable:
                t = None
            if ext == ".bin":
                size = os.fstat(f.fileno()).st_size
                if t is None:
                    if size == 0 or size % (4 * c):
                        raise _wrong(path, f"{size} bytes", None, c)
                    t = size // (4 * c)
                if size != t * c * 4:
                    raise _wrong(path, f"{size} bytes", t, c)
                row = None
            else:
                try:
                    _check_npy_header(f, path, t_max * c)
                    row = np.lib.format.read_array(f, allow_pickle=False)
                except (ValueError, OSError) as exc:
                    raise UserError(f"cannot read result file {path}: {exc}") from None
                if row.dtype.kind != "f" or row.ndim == 0 or row.shape[-1] != c or row.size == 0:
                    raise _wrong(path, f"shape {row.shape} dtype {row.dtype}", t, c)
                if t is None and row.size % c == 0:
                    t = row.size // c
                if row.size != (t or 0) * c:
                    raise _wrong(path, f"shape {row.shape} dtype {row.dtype}", t, c)
            if buf is not None and buf.shape[1] != t:  # variable T: one block per T
                if pending:
                    flush()
                buf = None
            if buf is None:
                buf = np.empty((min(chunk, len(entries)), t, c), dtype="<f4")
            if row is None:
                if f.readinto(memoryview(buf[len(pending)]).cast("B")) != size:
                    raise UserError(f"result file {path}: short read, expected {size} bytes")
            else:
                buf[len(pending)] = row.reshape(t, c)
        pending.append((name, label, path))
        if len(pending) == len(buf):
            flush()
    if pending:
        flush()
    out.seq_len = t
    if out.missing and not allow_missing:
        first = ", ".join(f"{result_stem(m)}_0.bin" for m in out.missing[:3])
        raise UserError(
            f"{len(out.missing)} of {len(entries)} result files listed in {labels_name} are missing "
            f"from {result_dir} (first: {first}; .npy also accepted); "
            "use --allow-missing to score the rest"
        )
    if not out.samples:
        raise UserError(f"none of the {len(entries)} result files listed exists in {result_dir}")
    return out

