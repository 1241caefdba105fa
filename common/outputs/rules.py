"""The output rules of every command, in one place (docs/DESIGN.md, "Errors and files").

1. An output path is written only when it does not exist (an empty folder counts as free), or
   when it holds what this tool wrote before *and* ``--overwrite`` is given. "Ours" means: a
   folder holding the marker file :data:`MARKER` (or, for folders written before the marker
   existed, a ``meta.json`` with our keys) and nothing but the file names this tool writes in a
   folder of that :class:`Kind`; a single file recorded as ours by its caller (see
   :func:`check_file_output`).
2. An output is never one of the same command's inputs, nor inside or containing an input
   folder: paths are compared resolved (symlinks, ``..``, the same folder) and by inode (hard
   links, bind mounts). :func:`check_not_input`.
3. A folder output is built in a hidden staging folder beside it (``.NAME.partial-PID-RAND``)
   and renamed into place when complete (:class:`StagedDir`), so a reader sees no folder or one
   whole run, never a mix; ``--overwrite`` replaces the old folder whole. A single file goes
   through a hidden ``.NAME.tmp-PID-RAND[.SUFFIX]`` and ``os.replace`` (:func:`staged_file`;
   :func:`temp_file`, :func:`temp_dir` and :func:`publish_file` for files published in an order).
4. Temporaries of killed runs (their PID is dead) are removed by the next run into the same
   parent folder (:func:`cleanup_stale`).
5. A reader can tell whether a folder was replaced while it read it (:func:`folder_identity`).

Every refusal is a :class:`common.errors.UserError` naming the path and the reason.
"""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import loads_json
from crnn_deploy.common.outputs.paths import check_output_path, resolved  # noqa: F401
from crnn_deploy.common.second_pass_list import NAME as _SECOND_PASS_LIST
from crnn_deploy.common.second_pass_list import is_list as _is_list

#: Hidden marker file in every folder this tool publishes: JSON {tool, kind, command, run, pid}.
MARKER = ".crnn-deploy.json"
TOOL = "crnn-deploy"
#: Largest marker / meta.json / report file read to recognize ours (bytes).
MAX_SMALL_FILE = 1 << 20
#: Hidden temporary names (NAME: the target's name; an optional suffix such as ``.xml`` for
#: writers that pick the format by name, and the files they write beside it, like X.bin).
_TEMP_RE = r"\.{name}\.(partial|old|tmp)-([0-9]+)-[0-9a-f]{{8}}(\..+)?"
#: :func:`input_overlap`'s ``why`` for an output that is an input (path or inode).
SAME = "is the same path as"


@dataclass(frozen=True)
class Kind:
    """A kind of output folder: a name for messages, the file names this tool writes in it
    (full-match regexes; the marker is always allowed) and the ``meta.json`` keys that
    recognize a folder of ours written before the marker existed (empty: marker only)."""

    name: str
    names: tuple[str, ...]
    meta_keys: tuple[str, ...] = ()

    def owns_name(self, name: str) -> bool:
        return name == MARKER or any(re.fullmatch(p, name) for p in self.names)


REPORT_NAMES = (r"accuracy\.json", r"errors\.tsv", r"predictions\.tsv", r"misreads\.html",
                r"review\.png", r"second_pass\.json")
LMDB = Kind("an LMDB", (r"data\.mdb", r"lock\.mdb"))
INPUT_BIN = Kind("an input folder", (r"test_[0-9]+\.(bin|npy)", r"meta\.json", r"names\.txt"), ("keys_sha256", "model_spec"))
RESULT = Kind("a result folder", (r".+_0\.(bin|npy)", r"summary\.json", r"meta\.json",
                                *REPORT_NAMES), ("spec", "backend", "output_batchsize_axis"))
REPORT = Kind("a report folder", (r"summary\.json", *REPORT_NAMES))
RAY_PREDICTIONS = Kind("a Ray predictions folder", (r"predictions", r"summary\.json", *REPORT_NAMES))


def read_small(path: Path, limit: int = MAX_SMALL_FILE) -> bytes | None:
    """The bytes of regular file ``path`` if it is at most ``limit`` bytes, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        data = f.read(limit + 1)
    return data if len(data) <= limit else None


def read_json(path: Path) -> dict | None:
    """A small JSON object file, or None (missing, too large, not a regular file, not JSON,
    nested too deep or with a duplicate key: :func:`common.fileio.loads_json`; not an object).
    """
    data = read_small(path)
    try:
        obj = loads_json(data, str(path)) if data is not None else None
    except UserError:
        return None
    return obj if isinstance(obj, dict) else None


# --- 2. inputs are never outputs ----------------------------------------------------------

def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def input_overlap(output: str | os.PathLike, inputs: Iterable[tuple[str, str | os.PathLike]],
                  allow_inside: bool = False) -> tuple[str, str, str | os.PathLike] | None:
    """How ``output`` overlaps the first of ``inputs`` it touches, or None (see
    :func:`check_not_input`, which raises with a message built from it).

    Returns ``(why, description, input path)``, ``why`` one of :data:`SAME` ("is the same path
    as"), "contains", "lies inside" (only without ``allow_inside``), "is a hard link to a file of".
    """
    out = resolved(output)
    out_ino = _inode(out)
    for desc, path in inputs:
        if path is None:
            continue
        inp = resolved(path)
        inp_ino = _inode(inp)
        why = None
        if out == inp or (out_ino is not None and out_ino == inp_ino):
            why = SAME
        elif inp.is_relative_to(out):
            why = "contains"
        elif out.is_relative_to(inp) and not allow_inside:
            why = "lies inside"
        elif out_ino is not None and out.is_file() and out.stat().st_nlink > 1 and inp.is_dir():
            with os.scandir(inp) as it:
                if any(e.is_file() and (e.stat().st_dev, e.stat().st_ino) == out_ino for e in it):
                    why = "is a hard link to a file of"
        if why:
            return why, desc, path
    return None


def check_not_input(output: str | os.PathLike, inputs: Iterable[tuple[str, str | os.PathLike]],
                    what: str = "--output", allow_inside: bool = False) -> Path:
    """Refuse ``output`` when it is, contains or lies inside one of ``inputs``.

    Args:
        output: the path about to be written (file or folder, existing or not).
        inputs: ``(description, path)`` of everything the command reads (files or folders).
        what: how the output is called in messages (e.g. ``--labels``).
        allow_inside: accept an output inside an input folder (for a folder that is only
            where inputs are looked up, like build-lmdb's image root).

    Returns the resolved output path (a symlink at ``output`` is refused:
    :func:`check_output_path`). Paths are compared after resolving symlinks and ``..``
    and by (device, inode), so hard links and bind mounts of an input are caught too; an
    existing output file with several links is compared with every file of an input folder
    (:func:`input_overlap`).

    Raises:
        UserError: naming both paths and how they overlap.
    """
    hit = input_overlap(output, inputs, allow_inside)
    if hit:
        why, desc, path = hit
        raise UserError(f"{what} {output} {why} the {desc} {path}; this command never "
                        f"writes over or around its own input: choose another {what}")
    return check_output_path(output, what)


# --- 1. only what we wrote is replaced ----------------------------------------------------

def marker_of(folder: Path) -> dict | None:
    """The marker of ``folder`` (a dict with ``tool == crnn-deploy``) or None."""
    m = read_json(folder / MARKER)
    return m if m is not None and m.get("tool") == TOOL else None


def why_not_ours(folder: Path, kind: Kind) -> str | None:
    """None when ``folder`` is an output folder of ours of ``kind``, else the reason why not."""
    try:
        names = os.listdir(folder)
    except OSError as exc:
        return f"it cannot be listed ({exc.strerror})"
    foreign = sorted(n for n in names if not kind.owns_name(n))
    if foreign:
        return f"it holds files this tool did not write (e.g. {foreign[0]!r})"
    if marker_of(folder) is not None:
        return None
    meta = read_json(folder / "meta.json") if kind.meta_keys else None
    if meta is not None and all(k in meta for k in kind.meta_keys):
        return None
    return f"it has no {MARKER} marker, so it is not {kind.name} this tool wrote"


def check_dir_output(output: str | os.PathLike, kind: Kind, overwrite: bool,
                     what: str = "--output") -> Path:
    """Decide whether folder ``output`` may be (re)written; returns its resolved path.

    Free: it does not exist or is an empty folder. Replaceable: ``overwrite`` and
    :func:`why_not_ours` finds it ours. Anything else raises UserError naming the path and why.
    """
    out = check_output_path(output, what)
    if not out.exists():
        return out
    if not out.is_dir():
        raise UserError(f"{what} {output} exists and is not a folder; refusing to replace it")
    with os.scandir(out) as entries:
        if not any(entries):
            return out
    why = why_not_ours(out, kind)
    if why:
        raise UserError(f"refusing to replace {what} {output}: {why}; choose a new or empty "
                        "folder")
    if not overwrite:
        raise UserError(f"{what} {output} already holds {kind.name} written earlier; pass "
                        "--overwrite to replace it whole, or choose a new folder")
    return out


def check_file_output(output: str | os.PathLike, overwrite: bool, ours: bool,
                      what: str = "--output") -> Path:
    """Decide whether file ``output`` may be (re)written; returns its resolved path.

    ``ours``: the caller recognized an existing file as written by this tool (e.g. recorded in
    the meta.json of the folder it replaces, or a report header). Raises UserError when it
    exists and is not a regular file, is not ours, or ``overwrite`` is not given.
    """
    out = check_output_path(output, what)
    if not out.exists() and not out.is_symlink():
        return out
    if not out.is_file():
        raise UserError(f"{what} {output} exists and is not a regular file; refusing to "
                        "replace it")
    if not ours:
        raise UserError(f"refusing to replace {what} {output}: this tool did not write it "
                        "(or cannot tell); choose a new path")
    if not overwrite:
        raise UserError(f"{what} {output} exists (written earlier); pass --overwrite to "
                        "replace it, or choose a new path")
    return out


def file_starts_with(path: str | os.PathLike, prefix: bytes) -> bool:
    """True when ``path`` is a regular file whose first bytes are ``prefix`` (only
    ``len(prefix)`` bytes are read; FIFOs and devices are False without blocking)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as f:
        return stat.S_ISREG(os.fstat(fd).st_mode) and f.read(len(prefix)) == prefix


#: First bytes of the report files of crnn-postprocess / crnn-eval (how an old one is
#: recognized as ours in a folder without our marker, e.g. an ais_bench result folder).
#: errors.tsv: the header of today (postprocess.metrics.ERROR_COLUMNS) and the earlier one.
REPORT_HEADERS = {"errors.tsv": (b"source\tlabel\tprediction\tconfidence\terror\n",
                                 b"file\tlabel\tprediction"),
                  "predictions.tsv": (b"file\t",),
                  "misreads.html": (b"<!DOCTYPE html>\n<!-- crnn-deploy misreads -->\n",)}


def _report_is_ours(path: Path) -> bool:
    if path.name == "accuracy.json":
        meta = read_json(path)
        return meta is not None and "protocol" in meta and "word_accuracy" in meta
    if path.name == _SECOND_PASS_LIST:
        return _is_list(read_json(path))
    return any(file_starts_with(path, prefix) for prefix in REPORT_HEADERS.get(path.name, ()))


def check_report_files(folder: str | os.PathLike, names: Iterable[str],
                       inputs: Iterable[tuple[str, str | os.PathLike]]) -> None:
    """Check the report files ``names`` about to be written into ``folder`` (which may be the
    command's input folder, as crnn-postprocess writes beside the results it reads).

    Each must not be one of ``inputs`` (paths, inodes: see :func:`check_not_input`). An
    existing one is replaced only when it is a regular file written by this tool: the folder
    has our marker, or the file has our report header (:data:`REPORT_HEADERS`). Reports are
    derived data, replaced without ``--overwrite``.

    Raises:
        UserError: naming the file and why it is not replaced.
    """
    folder = resolved(folder)
    inputs = list(inputs)
    ours_folder = marker_of(folder) is not None
    for name in names:
        path = folder / name
        check_not_input(path, inputs, "report file")
        if not path.exists() and not path.is_symlink():
            continue
        if path.is_symlink() or not path.is_file():
            raise UserError(f"refusing to replace {path}: it is a symlink or not a regular "
                            "file, so this tool did not write it")
        if not (ours_folder or _report_is_ours(path)):
            raise UserError(f"refusing to replace {path}: this tool did not write it (no "
                            f"{MARKER} in the folder and not a report of ours); move it away")
