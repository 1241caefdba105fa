"""Inputs of the Ray path: planning index ranges of LMDB shards / image lists, and reading them.

Nothing here imports Ray: :func:`plan_lmdb_ranges` / :func:`plan_list_ranges` /
:func:`plan_gt_ranges` run on the driver and return plain dicts (one per read task); :func:`read_range` runs inside a Ray Data task on
whichever node gets it, opens its shard read-only there (the shards must be on storage every node
can read: NFS, a shared volume, the same path on every node), and returns one block.

A block is a dict of equal-length numpy columns (the Ray Data "numpy" batch format):

| column | dtype | meaning |
| --- | --- | --- |
| ``shard`` | str | the LMDB path, or the image-list file |
| ``kind`` | str | ``lmdb`` or ``list``: how :func:`raw_samples` reads a row again |
| ``index`` | int64 | 1-based LMDB index, 1-based line number of the list, or 1-based sample number of a GT file |
| ``source`` | str | ``path-%09d`` value when the LMDB has it, else the ``image-%09d`` key; the image path for a list; the relpath for a GT file (escaped: :mod:`common.names`) |
| ``label`` | str or None | ``label-%09d`` (None when the shard has no ``label-`` keys, or for a list); a GT file's label |
| ``error`` | str or None | ``key: reason`` of a bad sample (then ``image`` is zeros and it is not inferred) |
| ``image`` | float32 (n, C, H, W) | :func:`preprocess.transform.preprocess_image` of the spec |
| ``image_bytes``, ``width`` | bytes, int64 | instead of ``image`` for a dynamic-width spec: each row's (C, H, W_i) float32 bytes and W_i |

The bad-sample policy is the local path's (:mod:`pipeline.fused`): a bad sample (missing key,
bad label, undecodable image) is kept as a row with ``error`` set and reported by shard and
key, or, with ``strict``, raises :class:`common.errors.UserError` naming shard and key. A
labeled row with ``error`` (a GT file's image that cannot be read or decoded) counts against the
score (:mod:`pipeline.ray.metrics`), as in the local path.
"""
from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.names import escape_name, unescape_name
from crnn_deploy.models.specs import ModelSpec
from crnn_deploy.pipeline.second_pass import sample_bytes
from crnn_deploy.preprocess.lmdb_io import (
    SampleError,
    image_key,
    open_lmdb,
    read_num_samples,
    read_sample,
    read_source,
)
from crnn_deploy.preprocess.sources import read_image_file
from crnn_deploy.preprocess.transform import ImageError, preprocess_image

#: Samples per read task (one block); 512 nano-ocr inputs are 8 MiB.
DEFAULT_RANGE = 512
#: Image lists: longest accepted line (bytes) and most lines read (bounded reads).
MAX_LIST_LINE = 4096
MAX_LIST_LINES = 10_000_000

COLUMNS = ("shard", "kind", "index", "source", "label", "error")


def expand_inputs(inputs: str | Path | list) -> list[Path]:
    """Paths and glob patterns -> the LMDB shard paths, sorted within each pattern, deduplicated.

    Raises:
        UserError: a pattern matches nothing, or a plain path does not exist.
    """
    items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    out: list[Path] = []
    for item in items:
        text = str(item)
        if glob.has_magic(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise UserError(f"no LMDB matches {text!r}")
            out.extend(Path(m) for m in matches)
        elif Path(text).exists():
            out.append(Path(text))
        else:
            raise UserError(f"LMDB not found: {text}")
    seen: set[Path] = set()
    return [p for p in out if not (p.resolve() in seen or seen.add(p.resolve()))]


def shard_size(path: Path) -> int:
    """``num-samples`` of one shard (read on the driver). Raises UserError for a non-LMDB."""
    env = open_lmdb(path)
    try:
        return read_num_samples(env, path)
    finally:
        env.close()


def plan_lmdb_ranges(shards: list[Path], range_size: int = DEFAULT_RANGE,
                     limit: int | None = None) -> list[dict]:
    """One ``{"kind": "lmdb", "shard", "start", "stop"}`` per read task ([start, stop), 1-based).

    ``limit`` keeps the first ``limit`` samples over the shards in the given order.
    Raises UserError when a shard is not an LMDB (checked here, before any task starts).
    """
    if range_size < 1:
        raise UserError(f"range size must be >= 1, got {range_size}")
    ranges, left = [], limit
    for path in shards:
        n = shard_size(path)
        if left is not None:
            n, left = min(n, left), left - min(n, left)
        ranges.extend({"kind": "lmdb", "shard": str(path), "start": s,
                       "stop": min(s + range_size, n + 1), "paths": ""}
                      for s in range(1, n + 1, range_size))
        if left == 0:
            break
    return ranges


def plan_list_ranges(list_file: str | Path, range_size: int = DEFAULT_RANGE,
                     limit: int | None = None) -> list[dict]:
    """Read a text file of image paths (one per line, UTF-8, escaped as
    :func:`common.names.escape_name` writes them, so any file name fits; relative paths are
    relative to the file's folder; blank lines ignored) into ``{"kind": "list", ...}`` ranges carrying the paths.

    Raises:
        UserError: unreadable file, a line over :data:`MAX_LIST_LINE` bytes or not UTF-8, more
            than :data:`MAX_LIST_LINES` lines, or no path at all.
    """
    list_file = Path(list_file)
    base = list_file.parent
    ranges: list[dict] = []
    current: list[tuple[int, str]] = []

    def flush():
        if current:
            ranges.append({"kind": "list", "shard": str(list_file), "start": current[0][0],
                           "stop": current[-1][0] + 1, "paths": json.dumps(current)})
            current.clear()

    try:
        with open(list_file, "rb") as f:
            _scan_list(f, list_file, base, current, flush, range_size, limit)
    except OSError as exc:
        raise UserError(f"cannot read image list {list_file}: {exc.strerror}") from None
    flush()
    if not ranges:
        raise UserError(f"image list {list_file} holds no path")
    return ranges


def plan_gt_ranges(gt: str | Path, root: str | Path | None = None,
                   range_size: int = DEFAULT_RANGE, limit: int | None = None) -> list[dict]:
    """A GT file (``relpath<TAB>label`` lines, paths relative to its folder or ``root``) as
    ``{"kind": "list", ...}`` ranges whose entries carry each image's path, label and relpath
    (the ``source``, as the local ``crnn-eval --gt``), numbered 1.. in file order.

    Parsed whole on the driver by :meth:`pipeline.gt_set.GtSet.open`, so the parsing and error
    rules are the local path's: a malformed line is an error naming it, before any task starts.

    Raises:
        UserError: as :func:`preprocess.sources.read_gt` (unreadable file or root, malformed
            lines, no sample, no listed image under the root).
    """
    from crnn_deploy.pipeline.gt_set import GtSet

    if range_size < 1:
        raise UserError(f"range size must be >= 1, got {range_size}")
    gt_set = GtSet.open(gt, root)
    samples = gt_set.samples[:limit] if limit is not None else gt_set.samples
    ranges = []
    for start in range(0, len(samples), range_size):
        part = samples[start:start + range_size]
        entries = [(k, os.path.join(gt_set.root, rel), label, rel)
                   for k, (_, rel, label) in enumerate(part, start + 1)]
        ranges.append({"kind": "list", "shard": str(gt), "start": start + 1,
                       "stop": start + len(part) + 1, "paths": json.dumps(entries)})
    return ranges


def _scan_list(f, list_file: Path, base: Path, current: list, flush, range_size: int,
               limit: int | None) -> None:
    """Read the list's lines (bounded: :data:`MAX_LIST_LINE` bytes, :data:`MAX_LIST_LINES`)."""
    count = 0
    for lineno, raw in enumerate(iter(lambda: f.readline(MAX_LIST_LINE + 1), b""), 1):
        if len(raw.rstrip(b"\r\n")) > MAX_LIST_LINE:
            raise UserError(f"{list_file}:{lineno}: line longer than {MAX_LIST_LINE} bytes")
        if lineno > MAX_LIST_LINES:
            raise UserError(f"{list_file}: more than {MAX_LIST_LINES} lines; "
                            "pack the images into LMDB shards (crnn-preprocess build-lmdb --shard-size)")
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise UserError(f"{list_file}:{lineno}: not valid UTF-8") from None
        if not text.strip():
            continue
        path = Path(os.fsdecode(unescape_name(text)))  # escaped names (common.names)
        current.append((lineno, str(path if path.is_absolute() else base / path)))
        count += 1
        if len(current) >= range_size:
            flush()
        if limit is not None and count >= limit:
            break


def _lmdb_samples(task: dict):
    """Yield (index, source, label, image bytes or None, error or None) of an LMDB range
    (:func:`preprocess.lmdb_io.read_sample` / :func:`~preprocess.lmdb_io.read_source`, the
    readers of the local path)."""
    env = open_lmdb(task["shard"])
    try:
        with env.begin(buffers=False) as txn:
            for i in range(int(task["start"]), int(task["stop"])):
                source = read_source(txn, i)
                try:
                    data, label = read_sample(txn, i)
                    yield i, source, label, data, None
                except SampleError as err:
                    yield i, source, None, None, str(err)
    finally:
        env.close()


def _list_samples(task: dict):
    """Yield (index, source, label, image bytes or None, error or None) of a list range: an
    entry is ``(line, path)`` (an image list) or ``(k, path, label, relpath)`` (a GT file)."""
    for index, path, *gt in json.loads(task["paths"]):
        label, source = gt if gt else (None, path)
        try:
            yield index, source, label, read_image_file(path), None
        except OSError as exc:
            yield index, source, label, None, f"{source}: cannot read: {exc.strerror or exc}"
        except ImageError as exc:  # not a regular file, or too large (names the path)
            yield index, source, label, None, str(exc)


def read_range(task: dict, spec: ModelSpec, strict: bool = False) -> dict[str, np.ndarray]:
    """Read and preprocess one planned range into a block (see the module docstring).

    Raises:
        UserError: with ``strict``, the first bad sample (``shard: key: reason``); always when
            the shard is not a readable LMDB.
    """
    rows: dict[str, list] = {c: [] for c in COLUMNS}
    images = []
    samples = _lmdb_samples(task) if task["kind"] == "lmdb" else _list_samples(task)
    for index, source, label, data, error in samples:
        x = None
        if error is None:
            try:
                x = preprocess_image(data, spec)
            except ImageError as exc:
                key = image_key(index) if task["kind"] == "lmdb" else source
                error = f"{key}: {exc}"
        if error is not None:
            if strict:
                raise UserError(f"{task['shard']}: {error} (--strict)")
            x = np.zeros(spec.input_shape, np.float32)
        # Arrow strings must be UTF-8: names (and errors quoting them) are escaped
        source, error = escape_name(source), None if error is None else escape_name(error)
        for col, value in zip(COLUMNS, (task["shard"], task["kind"], index, source, label, error)):
            rows[col].append(value)
        images.append(x)
    block = {c: np.array(v, dtype=object) for c, v in rows.items()}
    block["index"] = np.array(rows["index"], dtype=np.int64)
    if spec.dynamic_width:  # rows of different widths: float32 bytes + the width of each
        block["image_bytes"] = np.array([x.tobytes() for x in images], dtype=object)
        block["width"] = np.array([x.shape[-1] for x in images], dtype=np.int64)
        return block
    block["image"] = (np.stack(images) if images
                      else np.zeros((0, *spec.input_shape), np.float32))
    return block


def raw_samples(block: dict[str, np.ndarray], rows) -> list[bytes]:
    """The encoded images of ``block``'s rows ``rows`` (positions in the block), read again
    from where :func:`read_range` read them: an LMDB row from its shard by index (the shard
    opened once per call), a list row from its path (the ``source`` column, unescaped).

    For the second pass of the engine actor (:mod:`pipeline.ray.engine`), which needs the
    image of a low-confidence row again. A sample that can no longer be read gives ``b""``:
    the second pass then keeps its first reading (it read the first time, so only a changed
    or removed input does this).
    """
    out: dict[int, bytes] = {}
    lmdb_rows: dict[str, list[int]] = {}
    for r in map(int, rows):
        if block["kind"][r] == "lmdb":
            lmdb_rows.setdefault(str(block["shard"][r]), []).append(r)
            continue
        try:
            out[r] = read_image_file(os.fsdecode(unescape_name(str(block["source"][r]))))
        except (OSError, ImageError):
            out[r] = b""
    for shard, rs in lmdb_rows.items():
        try:
            data = sample_bytes(shard, [int(block["index"][r]) for r in rs])
        except (UserError, OSError):  # SampleError is a UserError
            data = [b""] * len(rs)
        out.update(zip(rs, data))
    return [out[int(r)] for r in rows]
