"""Staging and publishing of outputs (rules 3-5 of :mod:`common.outputs`): hidden temporaries
named after the PID (files, work folders), whole-folder publish by rename, file publish,
stale-temp cleanup, replaced-folder checks."""
from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.outputs.rules import (
    _TEMP_RE,
    MARKER,
    TOOL,
    Kind,
    check_dir_output,
    check_output_path,
    marker_of,
    resolved,
    why_not_ours,
)

# --- 3. staging and publishing ------------------------------------------------------------

def temp_path(target: str | os.PathLike, tag: str = "tmp") -> Path:
    """A hidden temporary name beside ``target``: ``.NAME.TAG-PID-RAND`` (see cleanup_stale)."""
    target = Path(target)
    return target.parent / f".{target.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}"


def make_parent(target: Path, what: str = "--output") -> None:
    """Create the folder ``target`` goes in (and its parents). Raises UserError naming the
    first ancestor that exists but is not a folder (``mkdir`` would only say "File exists")."""
    for folder in (target.parent, *target.parent.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                raise UserError(f"{what} {target}: {folder} is a file, not a folder; choose "
                                "another path")
            break
    target.parent.mkdir(parents=True, exist_ok=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def cleanup_stale(target: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of killed runs beside ``target``; returns what was removed.

    Only hidden ``.NAME.partial|old|tmp-PID-RAND`` entries of this tool (NAME = target's name)
    whose PID is not a running process are removed; a live run's temporaries are kept (PIDs
    are those of this machine and PID namespace).
    """
    target = resolved(target)
    pattern = re.compile(_TEMP_RE.format(name=re.escape(target.name)))
    removed = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for e in entries:
        m = pattern.fullmatch(e.name)
        if m and not _pid_alive(int(m.group(2))):
            _remove(Path(e.path))
            removed.append(Path(e.path))
    return removed


def write_marker(folder: Path, kind: Kind, command: str, **extra) -> dict:
    """Write ``folder/MARKER`` (JSON: tool, kind, command, run id, pid, time) and return it."""
    from crnn_deploy.common.fileio import atomic_write_json

    marker = {"tool": TOOL, "kind": kind.name, "command": command,
              "run": f"{os.getpid()}-{secrets.token_hex(8)}", "pid": os.getpid(),
              "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
    atomic_write_json(folder / MARKER, marker)
    return marker


def publish_dir(stage: Path, target: Path, kind: Kind, overwrite: bool,
                what: str = "--output") -> None:
    """Rename the complete folder ``stage`` to ``target``.

    When ``target`` appeared meanwhile (another run), it is replaced only with ``overwrite``
    and when it is still ours: moved aside, ``stage`` renamed in, the old one deleted. A reader
    sees no folder (for an instant) or one whole run. Raises UserError otherwise (``stage`` is
    left for the caller to remove).
    """
    for _ in range(20):
        try:
            os.rename(stage, target)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise UserError(f"cannot move the finished output into {target}: "
                                f"{exc.strerror}") from None
        if not target.is_dir():
            raise UserError(f"{what} {target} appeared during this run and is not a folder; "
                            "nothing replaced, this run's output discarded")
        why = why_not_ours(target, kind)
        if why or not overwrite:
            raise UserError(f"{what} {target} was written by another run while this one was "
                            f"running; {why or 'pass --overwrite to replace it'}; nothing "
                            "replaced, this run's output discarded")
        old = temp_path(target, "old")
        try:
            os.rename(target, old)
        except FileNotFoundError:
            continue
        try:
            os.rename(stage, target)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise UserError(f"cannot move the finished output into {target}: "
                                f"{exc.strerror}") from None
        finally:
            shutil.rmtree(old, ignore_errors=True)
    raise UserError(f"{what} {target} keeps being replaced by other runs; giving up")


class StagedDir:
    """Build an output folder in hidden staging and publish it whole.

    ``with StagedDir(target, kind, overwrite, "crnn-infer") as stage:`` checks ``target``
    (:func:`check_dir_output`), removes stale temporaries of killed runs, creates
    ``.NAME.partial-PID-RAND`` beside ``target`` with the marker in it and yields its path.
    On success the stage is renamed to ``target`` (:func:`publish_dir`); on any exception it
    is deleted and ``target`` is left untouched. ``self.marker`` holds the run's marker.
    """

    def __init__(self, target: str | os.PathLike, kind: Kind, overwrite: bool, command: str,
                 what: str = "--output", **marker_extra):
        self.target = check_dir_output(target, kind, overwrite, what)
        self.kind, self.overwrite, self.command, self.what = kind, overwrite, command, what
        self.marker_extra = marker_extra
        self.stage: Path | None = None
        self.marker: dict = {}

    def open(self) -> Path:
        """Remove stale temporaries, create the stage with the marker; returns the stage."""
        make_parent(self.target, self.what)
        cleanup_stale(self.target)
        self.stage = temp_path(self.target, "partial")
        self.stage.mkdir()
        try:
            self.marker = write_marker(self.stage, self.kind, self.command, **self.marker_extra)
        except BaseException:
            self.discard()
            raise
        return self.stage

    def commit(self) -> Path:
        """Publish the complete stage as the target (see :func:`publish_dir`)."""
        try:
            publish_dir(self.stage, self.target, self.kind, self.overwrite, self.what)
        finally:
            self.discard()
        return self.target

    def discard(self) -> None:
        """Delete the stage (if still there); the target is not touched."""
        if self.stage is not None and self.stage.exists():
            shutil.rmtree(self.stage, ignore_errors=True)

    def __enter__(self) -> Path:
        return self.open()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


@contextlib.contextmanager
def temp_file(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a hidden temporary name beside ``target`` (:func:`temp_path` + ``suffix``, e.g.
    ``.xml`` for a writer that picks the format by name; the file is not created) for a caller that publishes it itself (:func:`publish_file`), e.g. several files in
    an order. On exit the temporary is removed if still there, together with every file a
    writer put beside it under the same temporary stem (OpenVINO writes ``T.bin`` beside
    ``T.xml``): those names hold this run's PID and a random tag, so they are ours."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    base = temp_path(target, "tmp")
    try:
        yield base.with_name(base.name + suffix)
    finally:
        for p in (base, *base.parent.glob(glob.escape(base.name) + ".*")):
            _remove(p)


@contextlib.contextmanager
def temp_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty hidden work folder beside ``target`` (``.NAME.tmp-PID-RAND``, same file
    system, so its files can be published by rename); removed with its content on exit."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = temp_path(target, "tmp")
    work.mkdir()
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def publish_file(tmp: str | os.PathLike, target: str | os.PathLike, mode: int = 0o644) -> None:
    """Give the complete file ``tmp`` permission ``mode`` (default world-readable, as a plain
    file; temporaries of mkstemp or external tools may be 0600) and rename it to ``target``
    (atomic: same folder)."""
    os.chmod(tmp, mode)
    os.replace(tmp, target)


@contextlib.contextmanager
def staged_file(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a hidden temporary path beside ``target``; publish it as ``target`` on success
    (:func:`publish_file`), delete it on any exception. Stale temporaries of killed runs are
    removed first. A symlink at ``target`` is refused (:func:`check_output_path`)."""
    target = check_output_path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    cleanup_stale(target)
    with temp_file(target, suffix) as tmp:
        yield tmp
        publish_file(tmp, target)


# --- 5. readers detect a replaced folder --------------------------------------------------

def folder_identity(folder: str | os.PathLike) -> tuple:
    """(device, inode, marker run id) of ``folder``: changes when a run replaces it."""
    p = Path(folder)
    st = p.stat()
    marker = marker_of(p)
    return st.st_dev, st.st_ino, marker.get("run") if marker else None


def check_unchanged(folder: str | os.PathLike, identity: tuple, what: str) -> None:
    """Raise UserError when ``folder`` is no longer the folder of ``identity`` (another run
    replaced it while this command read it: what was read may mix two runs)."""
    try:
        now = folder_identity(folder)
    except OSError:
        now = None
    if now != identity:
        raise UserError(f"{what} {folder} was replaced by another run while it was being read; "
                        "nothing written, run this command again")
