"""Single-file outputs under the folder rules (rule 1 and 3 of :mod:`common.outputs`).

A file output (``crnn-recognize -o preds.tsv``, ``lmdb-to-bin --labels``) is written to a hidden
temporary beside it and published with an **atomic no-clobber step**: ``os.link(tmp, final)``,
which fails when ``final`` exists (then ``tmp`` is unlinked), or ``renameat2(RENAME_NOREPLACE)``
where the file system has no hard links. The target is checked again at that instant, not only
at start, so:

* a file that appeared at the path during the run is never replaced (without ``--overwrite``
  the run fails with ``Error:`` and its output is discarded);
* of two runs publishing to one path, exactly one wins; the other gets ``Error:`` and nothing
  either of them wrote is lost;
* with ``overwrite``, the existing file is moved aside atomically, checked to be ours *after*
  the move (so a file swapped in meanwhile is put back, not deleted), and the new file linked in
  without clobbering.

**Ownership record.** A file is "ours" when the hidden record ``.NAME.crnn-deploy.json`` beside
it (written right after publishing) names this tool and holds the file's size and SHA-256. A
user's file cannot carry it by accident: its bytes would have to be exactly what this tool
wrote, and a file of ours edited afterwards stops being ours. The record is independent of the
file's format (TSV, JSONL, CSV ...), so the writers of rows know nothing of it.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.outputs.rules import TOOL, check_output_path, read_json
from crnn_deploy.common.outputs.staging import cleanup_stale, make_parent, temp_file, temp_path

#: Suffix of the hidden ownership record ``.NAME.crnn-deploy.json`` beside a file output.
RECORD_SUFFIX = ".crnn-deploy.json"
_RENAME_NOREPLACE = 1  # linux/fs.h
_AT_FDCWD = -100


def record_path(target: str | os.PathLike) -> Path:
    """Where the ownership record of file ``target`` is: ``.NAME.crnn-deploy.json`` beside it."""
    target = Path(target)
    return target.parent / f".{target.name}{RECORD_SUFFIX}"


def _sha256(path: Path) -> tuple[int, str] | None:
    """(size, sha256 hex) of regular file ``path`` (not following a symlink), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        h, size = hashlib.sha256(), 0
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def content_id(path: str | os.PathLike) -> tuple[int, str] | None:
    """(size, SHA-256 hex) of regular file ``path`` (symlinks not followed), or None."""
    return _sha256(Path(path))


def read_record(target: str | os.PathLike) -> dict | None:
    """The ownership record of ``target`` (a dict with ``tool == crnn-deploy``), or None."""
    record = read_json(record_path(target))
    return record if record is not None and record.get("tool") == TOOL else None


def record_data(path: str | os.PathLike, name: str, command: str,
                companions: list | tuple | None = None) -> dict:
    """The ownership record of the file ``path`` published as ``name``: its size and SHA-256,
    and (``companions``: ``(path, final)`` pairs) those of the files published with it, by
    final name (:mod:`common.outputs.group`)."""
    size, sha = _sha256(Path(path)) or (None, None)
    data = {"tool": TOOL, "command": command, "file": name, "size": size, "sha256": sha}
    if companions is not None:
        data["companions"] = {final.name: list(_sha256(Path(tmp)) or (None, None))
                              for tmp, final in companions}
    return {**data, "pid": os.getpid(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def is_ours(target: str | os.PathLike, path: str | os.PathLike | None = None) -> bool:
    """True when file ``path`` (default: ``target``) holds exactly the bytes recorded by the
    ownership record of ``target`` (tool, size and SHA-256; :func:`record_path`)."""
    record = read_record(target)
    got = _sha256(Path(path if path is not None else target))
    return (record is not None and got is not None
            and [got[0], got[1]] == [record.get("size"), record.get("sha256")])


def _write_record(target: Path, command: str) -> None:
    from crnn_deploy.common.fileio import atomic_write_json

    atomic_write_json(record_path(target), record_data(target, target.name, command))


def _renameat2_noreplace(src: Path, dst: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available", str(dst))
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(src), None, str(dst))


def link_new(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Move file ``src`` to ``dst`` only if ``dst`` does not exist, atomically.

    ``os.link`` + unlink of ``src``; where hard links are not supported (EPERM, ENOTSUP),
    ``renameat2(RENAME_NOREPLACE)``. Raises FileExistsError when ``dst`` exists (``src`` is
    then left in place) and OSError for other failures.
    """
    src, dst = Path(src), Path(dst)
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        try:
            _renameat2_noreplace(src, dst)
        except OSError as exc2:
            if exc2.errno == errno.EEXIST:
                raise FileExistsError(errno.EEXIST, "File exists", str(dst)) from None
            raise
        return
    src.unlink()


def publish_new_file(tmp: str | os.PathLike, target: str | os.PathLike, overwrite: bool,
                     command: str, what: str = "--output", mode: int = 0o644,
                     ours=None, record: bool = True) -> None:
    """Publish the complete file ``tmp`` as ``target`` without ever clobbering a file that is
    not ours (module docstring), then write its ownership record (unless ``record`` is False:
    a caller with its own rule). ``ours(path)`` judges a file found at the target (default:
    :func:`is_ours` against the target's record).

    Raises:
        UserError: ``target`` appeared during the run (without ``overwrite``, or not ours), or
            another run published to it at the same time; ``tmp`` is left for the caller to
            remove, nothing at ``target`` is lost.
    """
    tmp, target = Path(tmp), Path(target)
    ours = ours or (lambda p: is_ours(target, p))
    os.chmod(tmp, mode)
    for _ in range(20):
        try:
            link_new(tmp, target)
            if record:
                _write_record(target, command)
            return
        except FileExistsError:
            pass
        if not overwrite or not ours(target):
            why = ("pass --overwrite to replace it" if ours(target) else
                   "it is not a file this tool wrote")
            raise UserError(f"{what} {target} appeared while this run was working ({why}); "
                            "nothing replaced, this run's output discarded")
        old = temp_path(target, "old")
        try:
            os.rename(target, old)
        except FileNotFoundError:
            continue  # gone meanwhile: try the no-clobber link again
        if not ours(old):  # swapped between the check and the move: put it back
            try:
                link_new(old, target)
            except FileExistsError:
                raise UserError(f"{what} {target} changed while it was being replaced; the "
                                f"file that was there is kept as {old}; nothing replaced, "
                                "this run's output discarded") from None
            raise UserError(f"{what} {target} changed while it was being replaced (it is no "
                            "longer the file this tool wrote); nothing replaced, this run's "
                            "output discarded")
        try:
            link_new(tmp, target)
        except FileExistsError:
            raise UserError(f"{what} {target} was written by another run at the same time; "
                            "its file is kept, this run's output discarded") from None
        finally:
            old.unlink(missing_ok=True)
        if record:
            _write_record(target, command)
        return
    raise UserError(f"{what} {target} keeps being replaced by other runs; giving up")


@contextlib.contextmanager
def staged_new_file(target: str | os.PathLike, overwrite: bool, command: str,
                    what: str = "--output", suffix: str = "") -> Iterator[Path]:
    """Yield a hidden temporary path beside ``target`` to write; on success publish it with
    :func:`publish_new_file`, on any exception (Ctrl-C, SIGTERM under :mod:`common.cli`, an
    OSError) remove it. Stale temporaries of killed runs are removed first. A symlink at
    ``target`` (dangling or not) is refused (:func:`common.outputs.paths.check_output_path`)."""
    target = check_output_path(target, what)
    make_parent(target, what)
    cleanup_stale(target)
    with temp_file(target, suffix) as tmp:
        yield tmp
        publish_new_file(tmp, target, overwrite, command, what)
