"""Where an output may be: rule 0 of :mod:`common.outputs`, checked before anything is written.

* The output a user names (``--output``, ``-o``, ``--labels``, ``--outdir``) is written at that
  path, never through a symbolic link: a symlink there (to a file, a folder, or nothing at all:
  a *dangling* link) is refused, since following it would create folders and write wherever
  it points (:func:`check_output_path`). Folders *above* the output may be symlinks the user
  chose (``/tmp`` on some systems, a data disk), but not dangling ones: creating the folders
  of a missing link target would write outside every named place.
* A path built from a name read from a file (a model name, a sample key) is checked, after
  resolving symlinks and ``..``, to lie inside the folder the user named
  (:func:`check_inside`).

Every refusal is a :class:`common.errors.UserError` naming the path (printed safely:
:func:`common.names.display_name`) and what to do.
"""
from __future__ import annotations

import os
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.names import display_name

__all__ = ["resolved", "check_output_path", "check_inside"]


def resolved(path: str | os.PathLike) -> Path:
    """``path`` made absolute with symlinks and ``..`` resolved (non-existing tails kept)."""
    return Path(path).expanduser().resolve()  # "link/.." follows the link, as the OS does


def _link_text(path: Path) -> str:
    try:
        return display_name(os.readlink(path))
    except OSError:
        return "?"


def check_output_path(output: str | os.PathLike, what: str = "--output") -> Path:
    """The resolved path of the output ``output`` after refusing a symlink at it.

    Raises:
        UserError: ``output`` is a symbolic link (dangling or not: its target is named), or a
            folder above it is a dangling symlink (creating the output's folders would create
            the link's target elsewhere).
    """
    path = Path(output).expanduser()
    if path.is_symlink():
        state = "a symbolic link" if path.exists() else "a dangling symbolic link"
        raise UserError(f"{what} {display_name(output)} is {state} (to {_link_text(path)}); "
                        "an output is written only at the path named, never through a link: "
                        "give the real path")
    for folder in path.absolute().parents:
        if folder.is_symlink() and not folder.exists():
            raise UserError(f"{what} {display_name(output)}: the folder {display_name(folder)} "
                            f"is a dangling symbolic link (to {_link_text(folder)}); refusing "
                            "to create folders through it")
    return resolved(path)


def check_inside(path: str | os.PathLike, folder: str | os.PathLike,
                 what: str = "output") -> Path:
    """The resolved ``path`` after checking that it lies inside the resolved ``folder`` and is
    not a symbolic link itself (:func:`check_output_path`).

    Raises:
        UserError: ``path`` resolves outside ``folder`` (an absolute name, ``..``, a symlink),
            naming both.
    """
    out = check_output_path(path, what)
    root = resolved(folder)
    if out == root or not out.is_relative_to(root):
        raise UserError(f"{what} {display_name(path)} resolves to {display_name(out)}, outside "
                        f"the folder {display_name(folder)} it must be written in; refusing "
                        "to write it")
    return out
