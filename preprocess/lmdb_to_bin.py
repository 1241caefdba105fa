"""LMDB -> ais_bench inputs (``crnn-preprocess lmdb-to-bin``).

For every good sample i of the LMDB (1-based index) it writes ``input_bin/test_{i}.bin``: the
float32 little-endian C-contiguous tensor of shape (1, C, H, W) from
:func:`preprocess.transform.preprocess_image` (4*C*H*W bytes, 16,384 for nano-ocr), a line
``test_{i}.bin<TAB>{source}`` in ``input_bin/names.txt`` (source: the ``path-%09d`` value, else
the LMDB key ``image-%09d``) and, when the LMDB is labeled, a line ``test_{i}.bin:{label}`` in
``label.txt``. ``input_bin/meta.json`` records the spec and the source.

With ``second_pass`` (a ``second_pass.json`` of crnn-postprocess) only the listed samples are
written, contrast-stretched: the staged second pass (:mod:`preprocess.second_pass_input`).

Streaming and parallel: the parent only hands out index ranges of ``CHUNK`` samples, at most
``2 * workers`` at a time; every worker process opens the LMDB read-only itself, transforms and
writes its files, and returns (index, label, source, error) tuples. Memory does not depend on the LMDB
size. Everything is written into a staging directory next to ``input_bin/`` that replaces it only
when complete, so a failed or interrupted run leaves the previous output (or nothing).
"""
from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from crnn_deploy.common import outputs
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import atomic_write_bytes, atomic_write_json
from crnn_deploy.common.names import tsv_line
from crnn_deploy.models.specs import ModelSpec, spec_from_arg
from crnn_deploy.preprocess.lmdb_io import (
    has_labels,
    keys_sha256,
    open_lmdb,
    read_num_samples,
    read_source,
)
from crnn_deploy.preprocess.parallel import SampleTransformer, ordered_map
from crnn_deploy.preprocess.second_pass_input import plan_second_pass
from crnn_deploy.preprocess.transform import MAX_PIXELS

#: Samples per task handed to a worker.
CHUNK = 64
#: Bad samples printed one by one / keys kept in meta.json.
MAX_REPORTED = 20
META_NAME = "meta.json"
NAMES_NAME = "names.txt"

# (index, label (None: unlabeled LMDB), source, bad key or None, reason or None)
Outcome = tuple[int, "str | None", "str | None", "str | None", "str | None"]


@dataclass
class ConvertResult:
    """Outcome of :func:`lmdb_to_bin`: ``count`` files written, ``skipped`` bad samples
    (``skipped_keys``: the first :data:`MAX_REPORTED` offending keys), wall ``seconds``."""

    output: Path
    labels: Path | None
    count: int = 0
    skipped: int = 0
    skipped_keys: list[str] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1
    #: False when the LMDB has no label keys (then no label file is written)
    labeled: bool = True

    @property
    def images_per_s(self) -> float:
        """Throughput over the whole run (good and bad samples), images per second."""
        return (self.count + self.skipped) / self.seconds if self.seconds > 0 else float("nan")


class _Worker:
    """Per-process state: the sample transformer and the output dir."""

    state: "_Worker | Exception | None" = None

    def __init__(self, lmdb_path: str, spec: ModelSpec, outdir: str, contrast: float | None):
        self.samples, self.outdir = SampleTransformer(lmdb_path, spec, contrast), outdir

    def run(self, indices: Sequence[int]) -> list[Outcome]:
        out: list[Outcome] = []
        for i, label, x, reason in self.samples.transform_at(indices):
            if reason is not None:
                out.append((i, None, None, x, reason))
                continue
            suffix = "npy" if self.samples.spec.dynamic_width else "bin"  # .npy: W_i in the file
            write_input(os.path.join(self.outdir, f"test_{i}.{suffix}"), x[None])
            out.append((i, label, None, None, None))
        with self.samples.env.begin(buffers=False) as txn:  # sources of the good samples
            out = [(i, lab, read_source(txn, i) if key is None else None, key, reason)
                   for i, lab, _, key, reason in out]
        return out


def write_input(path: str, x: np.ndarray) -> None:
    """Write ``x`` as float32 little-endian: a ``.npy`` path with its shape in the header, any
    other as raw C-order bytes (temp name + rename)."""
    buf = io.BytesIO()
    x = np.ascontiguousarray(x, dtype="<f4")
    if path.endswith(".npy"):
        np.save(buf, x)
    else:
        buf.write(x.tobytes())
    atomic_write_bytes(path, buf.getvalue())


def _init(lmdb_path: str, spec: ModelSpec, outdir: str, contrast: float | None) -> None:
    # An exception here would make multiprocessing.Pool respawn workers forever: keep it for
    # the first task instead.
    try:
        _Worker.state = _Worker(lmdb_path, spec, outdir, contrast)
    except Exception as exc:  # noqa: BLE001
        _Worker.state = exc


def _task(indices: Sequence[int]) -> list[Outcome]:
    if isinstance(_Worker.state, Exception):
        raise _Worker.state
    return _Worker.state.run(indices)


def _run(tasks: Iterable[Sequence[int]], workers: int, initargs: tuple
         ) -> Iterator[list[Outcome]]:
    """Results of the tasks in order; at most ``2 * workers`` tasks in flight."""
    try:
        yield from ordered_map(_task, tasks, workers, workers == 1, _init, initargs,
                               preload="crnn_deploy.preprocess.lmdb_to_bin")
    finally:
        if isinstance(_Worker.state, _Worker):  # inline run
            _Worker.state.samples.close()
        _Worker.state = None


def _check_output(lmdb_path: Path, output: Path, labels: Path | None, overwrite: bool,
                  second_pass: str | Path | None):
    """The output rules of common.outputs for --output (a folder) and --labels (a file)."""
    if lmdb_path.is_dir():
        inputs = [("input LMDB", lmdb_path)]
    else:  # subdir=False: the file and its "-lock" file
        inputs = [("input LMDB", lmdb_path), ("input LMDB", Path(f"{lmdb_path}-lock"))]
    if second_pass is not None:
        inputs.append(("--second-pass list", Path(second_pass)))
    outputs.check_not_input(output, inputs)
    outputs.check_dir_output(output, outputs.INPUT_BIN, overwrite)
    if labels is None:
        return None
    outputs.check_not_input(labels, [*inputs, ("--output folder", output)], "--labels")
    # --labels is ours when the folder being replaced (ours) recorded it in its meta.json, so
    # the labels of one folder are never replaced by a run writing another folder
    meta = outputs.read_json(output / META_NAME) if output.is_dir() else None
    ours = (meta is not None and meta.get("labels") == str(labels)
            and outputs.why_not_ours(output, outputs.INPUT_BIN) is None)
    outputs.check_file_output(labels, overwrite, ours, "--labels")
    known = outputs.content_id(labels) if ours else None  # the bytes judged ours now

    def still_ours(path) -> bool:  # at publish (common.outputs.single): those same bytes
        return known is not None and outputs.content_id(path) == known
    return still_ours


def lmdb_to_bin(lmdb_path: str | Path, model: str | ModelSpec, output: str | Path,
                labels: str | Path | None = None, workers: int | None = None,
                limit: int | None = None, strict: bool = False, progress: bool | None = None,
                overwrite: bool = False, log: Callable[[str], None] | None = None,
                second_pass: str | Path | None = None) -> ConvertResult:
    """Convert a clovaai LMDB into ``output/test_{i}.bin`` + ``output/names.txt`` +
    ``output/meta.json`` (+ ``labels`` when the LMDB is labeled).

    ``ConvertResult.seconds`` is the wall time of the whole call (key scan, pool start-up,
    conversion, renames).

    Args:
        lmdb_path: LMDB directory (or data.mdb file) in the clovaai layout.
        model: spec name (``crnn``, ``crnn-modelzoo``, ``nano-ocr``) or a ModelSpec.
        output: directory of the .bin files; created (must not exist or be empty), or with
            ``overwrite`` replaced whole when it is a previous output of ours (marker,
            test_*.bin, names.txt, meta.json only).
        labels: label file, one ``test_{i}.bin:{label}`` line per written sample, index order;
            written only when the LMDB has labels (``ConvertResult.labeled``); None: no label
            file. An existing one is replaced only with ``overwrite`` and when the meta.json of
            the replaced ``output`` recorded it. Neither path may be, hold or lie in the LMDB.
        workers: processes (default ``os.cpu_count()``; 1 runs in this process).
        limit: only the first ``limit`` indices (1..limit).
        strict: fail on the first bad sample (index order) instead of skipping it.
        progress: tqdm bar on stderr; None shows it only on a terminal.
        log: where messages about bad samples go (default: stderr).
        overwrite: allow replacing an earlier output of ours (see ``output``, ``labels``).
        second_pass: a ``second_pass.json`` written by crnn-postprocess: write only the
            samples it lists, contrast-stretched to the spec's ``second_pass_contrast``
            (:func:`preprocess.second_pass_input.plan_second_pass`; not with ``limit``).

    Each file holds float32 little-endian (1, C, H, W) of the spec, 4*C*H*W bytes.
    ``names.txt`` has one ``test_{i}.bin<TAB>{source}`` line per written sample (source: the
    ``path-%09d`` value, else the LMDB key ``image-%09d``).

    Raises:
        UserError: not an LMDB / no ``num-samples``, unusable output paths, no good sample, a
            ``second_pass`` list that does not fit (spec, LMDB, names), or
            (``strict``) a bad sample, named by key (e.g. ``image-000000017``). On any failure
            neither ``output`` nor ``labels`` is modified.
    """
    t0 = time.perf_counter()
    log = log or (lambda m: tqdm.write(m, file=sys.stderr))
    spec = model if isinstance(model, ModelSpec) else spec_from_arg(model)
    lmdb_path, output = Path(lmdb_path), outputs.check_output_path(output)
    workers = max(1, int(workers or os.cpu_count() or 1))
    env = open_lmdb(lmdb_path)
    try:
        n = read_num_samples(env, lmdb_path)
        with env.begin() as txn:
            labeled = has_labels(txn)
    finally:
        env.close()
    if labels is not None and not labeled:
        log(f"{lmdb_path} is unlabeled (no label-%09d keys): no label file written to {labels}")
    labels = (outputs.check_output_path(labels, "--labels") if labels is not None and labeled
              else None)
    total = n if limit is None else min(n, limit)
    if total == 0:
        raise UserError(f"{lmdb_path}: num-samples is 0, nothing to convert")
    if second_pass is not None and limit is not None:
        raise UserError("--second-pass stages the samples its list names: --limit does not apply")
    labels_ours = _check_output(lmdb_path, output, labels, overwrite, second_pass)
    keys_sha = keys_sha256(lmdb_path)
    if second_pass is not None:
        plan = plan_second_pass(second_pass, spec, lmdb_path, n, keys_sha)
        order, contrast, total = plan.indices, plan.contrast, len(plan.indices)
    else:
        order, contrast, plan = range(1, total + 1), None, None
    staged = outputs.StagedDir(output, outputs.INPUT_BIN, overwrite, "crnn-preprocess lmdb-to-bin")
    stage = staged.open()  # hidden .NAME.partial-PID-RAND beside output, with our marker
    if labels is not None:
        labels.parent.mkdir(parents=True, exist_ok=True)
        outputs.cleanup_stale(labels)
        label_tmp = outputs.temp_path(labels)
    else:
        label_tmp = Path(os.devnull)
    res = ConvertResult(output=output, labels=labels, workers=min(workers, -(-total // CHUNK)),
                        labeled=labeled)
    tasks = (order[s:s + CHUNK] for s in range(0, total, CHUNK))
    initargs = (str(lmdb_path), spec, str(stage), contrast)
    suffix = "npy" if spec.dynamic_width else "bin"
    try:
        with open(label_tmp, "w", encoding="utf-8", newline="\n") as lf, \
                open(stage / NAMES_NAME, "w", encoding="utf-8", newline="\n") as nf, \
                closing(_run(tasks, res.workers, initargs)) as results, \
                tqdm(total=total, unit="img", disable=None if progress is None else not progress,
                     desc="lmdb-to-bin", file=sys.stderr) as bar:
            for chunk in results:
                for i, label, source, key, reason in chunk:
                    if key is None:
                        if label is not None:
                            lf.write(f"test_{i}.{suffix}:{label}\n")
                        nf.write(tsv_line((f"test_{i}.{suffix}", source)))
                        res.count += 1
                        continue
                    if strict:
                        raise UserError(f"{lmdb_path}: {key}: {reason} (--strict; nothing written)")
                    res.skipped += 1
                    if res.skipped <= MAX_REPORTED:
                        res.skipped_keys.append(key)
                        log(f"skipped {key}: {reason}")
                bar.update(len(chunk))
        if res.count == 0:
            raise UserError(f"{lmdb_path}: no usable sample among {total} "
                            f"(first bad keys: {', '.join(res.skipped_keys[:5])})")
        meta = {
            "spec": spec.name, "dtype": "float32", "format": suffix,
            "shape": [1, *spec.input_shape[:2], None if spec.dynamic_width else spec.input_shape[2]],
            "byte_order": "little", "layout": "NCHW", "count": res.count,
            "skipped": res.skipped, "skipped_keys": res.skipped_keys,
            "lmdb": str(lmdb_path.resolve()), "lmdb_num_samples": n, "limit": limit,
            "keys_sha256": keys_sha, "labels": str(labels) if labels is not None else None,
            "labeled": labeled, "names": NAMES_NAME,
            "max_pixels": MAX_PIXELS, "model_spec": spec.to_dict(),
            **({"second_pass": plan.meta} if plan is not None else {}),
        }
        atomic_write_json(stage / META_NAME, meta)
        if labels is not None:  # first: a file that appeared at --labels stops the run here
            outputs.publish_new_file(label_tmp, labels, overwrite, "crnn-preprocess lmdb-to-bin",
                                     "--labels", ours=labels_ours, record=False)
        staged.commit()  # renamed into place whole (an old output of ours replaced only now)
    except BaseException:
        staged.discard()
        if labels is not None:
            label_tmp.unlink(missing_ok=True)
        raise
    res.seconds = time.perf_counter() - t0
    if res.skipped > MAX_REPORTED:
        log(f"... and {res.skipped - MAX_REPORTED} more bad sample(s)")
    return res
