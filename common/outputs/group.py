"""Outputs of one or more files published together under the single-file rules: a model file
and the files read through it (an OpenVINO IR ``X.xml`` + ``X.bin``, a TensorRT plan or OM with
its sidecar ``X.engine.json``), or one file alone (an ``.onnx``).

The **entry** is the file a reader opens (``X.xml``, ``X.engine``, ``X.om``, ``X.onnx``); its
**companions** are only ever read through it. Publishing (:func:`publish_group`):

1. under an advisory lock on the output folder (``flock``), so two publishes of ours into one
   folder never interleave (one run's entry beside another run's companion);
2. every file already at a final name is checked again *now* (not only at start): without
   ``overwrite`` it is an error ("appeared while this run was working"); with it, the old entry
   is moved aside first (from then on no entry is visible, so an old companion left alone is not
   a model), then the old companions; each is checked to be ours *after* the move (a file
   swapped in meanwhile is put back, nothing is replaced);
3. the ownership record ``.ENTRY.crnn-deploy.json`` is written for the new files (size and
   SHA-256 of the entry and of each companion);
4. the companions are linked in, then the entry last, each by the atomic no-clobber step of
   :func:`common.outputs.single.link_new` (a file that appeared is never replaced);
5. the old files are deleted.

A failure or an interruption (Ctrl-C, SIGTERM) before the entry is linked undoes what was done:
the new companions are removed, the old files and the old record put back. A crash (SIGKILL,
power cut) leaves the old pair, or companions without an entry (not a model anything opens; the
record shows them ours, so the next ``--overwrite`` replaces them), or the new pair: never an
entry beside a companion of another run. The moved-aside old files are hidden
``.NAME.old-PID-RAND`` temporaries, removed by the next run (:func:`cleanup_stale`).

**Ownership.** A file is ours when the entry's record lists its exact bytes
(:func:`ownership`). Files written before records existed (no record at all) are judged by the
caller's ``legacy`` rule (the converter: the model spec embedded in the file); a companion
without a record is ours only beside an entry found ours that way.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.outputs.rules import read_small
from crnn_deploy.common.outputs.single import (
    content_id,
    link_new,
    read_record,
    record_data,
    record_path,
)
from crnn_deploy.common.outputs.staging import temp_path

#: ``legacy(final, path)``: why the file ``path`` (now at, or moved from, ``final``) that has no
#: ownership record is not ours (None: it is), for files written before records existed.
Legacy = Callable[[Path, Path], "str | None"]


def _recorded(record: dict, name: str) -> list | None:
    if record.get("file") == name:
        return [record.get("size"), record.get("sha256")]
    companions = record.get("companions")
    want = companions.get(name) if isinstance(companions, dict) else None
    return want if isinstance(want, list) else None


def ownership(entry: Path, final: Path, path: Path | None = None, record: dict | None = None,
              legacy: Legacy | None = None, entry_ours: bool = False) -> str | None:
    """Why the file ``path`` (default ``final``; ``final`` is ``entry`` or one of its
    companions) is not one this tool wrote, or None when it is.

    With a ``record`` (of the entry, read before anything moved): ``path`` must hold exactly
    the bytes it lists for ``final``'s name. Without one: the entry is judged by ``legacy``
    (None: not ours), a companion is ours only when ``entry_ours`` (its entry, beside it, was
    found ours).
    """
    path = final if path is None else path
    if record is not None:
        want = _recorded(record, final.name)
        if want is None:
            return f"the ownership record {record_path(entry).name} does not list it"
        got = content_id(path)
        if got is None:
            return "it is not a regular file"
        if list(got) != want:
            return (f"its bytes are not those recorded in {record_path(entry).name} (it "
                    "changed since this tool wrote it)")
        return None
    if final != entry:
        return None if entry_ours else f"it is not beside a {entry.suffix} file this tool wrote"
    if legacy is None:
        return f"it has no ownership record {record_path(entry).name}"
    return legacy(final, path)


def group_problem(entry: Path, finals: Sequence[Path], legacy: Legacy | None = None
                  ) -> tuple[Path, str] | None:
    """The first existing file of ``finals`` (the entry first, then its companions) that is
    not ours, with why; None when every existing one is ours (checked in place)."""
    record, entry_ours = read_record(entry), False
    for final in finals:
        if final.exists() or final.is_symlink():
            why = ("it is a symbolic link" if final.is_symlink() else
                   ownership(entry, final, None, record, legacy, entry_ours))
            if why:
                return final, why
            entry_ours = entry_ours or final == entry
    return None


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock (``flock``) on ``folder`` while inside; where the
    folder cannot be opened or the file system has no ``flock``, go on without it (the
    no-clobber links still never replace a file)."""
    try:
        import fcntl
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (ImportError, OSError):
        fd = None
    try:
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def publish_group(entry: tuple[Path, Path], companions: Sequence[tuple[Path, Path]],
                  overwrite: bool, command: str, legacy: Legacy | None = None,
                  what: str = "output", mode: int = 0o644) -> None:
    """Publish the complete temporaries ``(tmp, final)`` of ``entry`` and ``companions`` (same
    folder as their finals) in the order of the module docstring, with mode ``mode``.

    Raises:
        UserError: a final name is taken by a file that appeared during the run (without
            ``overwrite``) or that is not ours, or that changed while it was being moved
            aside; nothing is replaced then, the old files and record are back in place and
            the temporaries are left for the caller to remove.
        OSError: a failure to move or link (after the same undo).
    """
    (entry_tmp, entry_final), companions = entry, list(companions)
    for tmp, _ in (*companions, entry):
        os.chmod(tmp, mode)
    rpath = record_path(entry_final)
    with folder_lock(entry_final.parent):
        old_record, record = read_small(rpath), read_record(entry_final)
        moved: list[tuple[Path, Path]] = []  # (old file moved aside, its final name)
        linked: list[tuple[Path, int]] = []  # (final, inode) linked by this run
        wrote_record, entry_ours = False, False
        try:
            for final in (entry_final, *(f for _, f in companions)):  # the entry out of view first
                if not (final.exists() or final.is_symlink()):
                    continue
                if not overwrite:
                    ours = group_problem(entry_final, list(dict.fromkeys((entry_final, final))),
                                         legacy) is None
                    raise UserError(f"{what} {final} appeared while this run was working ("
                                    + ("pass --overwrite to replace it" if ours else
                                       "it is not a file this tool wrote")
                                    + "); nothing replaced, this run's output discarded")
                old = temp_path(final, "old")
                try:
                    os.rename(final, old)
                except FileNotFoundError:
                    continue
                moved.append((old, final))
                why = ("it is a symbolic link" if old.is_symlink() else
                       ownership(entry_final, final, old, record, legacy, entry_ours))
                if why:
                    raise UserError(f"refusing to replace {what} {final}: {why}; nothing "
                                    "replaced, this run's output discarded")
                entry_ours = entry_ours or final == entry_final
            from crnn_deploy.common.fileio import atomic_write_json

            wrote_record = True
            atomic_write_json(rpath, record_data(entry_tmp, entry_final.name, command,
                                                  companions))
            for tmp, final in (*companions, entry):  # the entry last
                ino = os.stat(tmp).st_ino
                try:
                    link_new(tmp, final)
                except FileExistsError:
                    raise UserError(f"{what} {final} appeared while this run was working; "
                                    "nothing replaced, this run's output discarded") from None
                linked.append((final, ino))
        except BaseException:
            _undo(linked, moved, rpath, old_record if wrote_record else False)
            raise
        for old, _ in moved:
            old.unlink(missing_ok=True)


def _undo(linked: list[tuple[Path, int]], moved: list[tuple[Path, Path]], rpath: Path,
          old_record: bytes | None | bool) -> None:
    """Remove what this run linked (still the same inode), put the old files back where free,
    and the old record (``False``: the record was not touched)."""
    from crnn_deploy.common.fileio import atomic_write_bytes

    for final, ino in reversed(linked):
        with contextlib.suppress(OSError):
            if os.lstat(final).st_ino == ino:
                final.unlink()
    for old, final in reversed(moved):
        with contextlib.suppress(OSError):
            link_new(old, final)  # taken meanwhile: the old file stays at its hidden name
    with contextlib.suppress(OSError):
        if old_record is None:
            rpath.unlink(missing_ok=True)
        elif old_record is not False:
            atomic_write_bytes(rpath, old_record)
