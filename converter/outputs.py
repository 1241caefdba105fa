"""Where the converters may write, and how their outputs are published.

Rules (docs/DESIGN.md, "Errors and files"; docs/SAFETY.md), applied by every ``crnn-convert``
subcommand before any work is done (:func:`prepare_outputs`) and again when publishing
(:func:`publish_outputs`):

* an output is never one of the command's inputs: same resolved path (symlinks, ``..``) or
  the same inode (hard links) is refused, and so is one inside an input folder (``--calib``);
* an output that exists is replaced only with ``--overwrite``, and only when this tool wrote it
  (:func:`ownership_problem`): its ownership record ``.NAME.crnn-deploy.json`` lists its exact
  bytes (and those of the files written with it: an IR's ``.bin``, a plan's or OM's sidecar
  ``X.json``). A file with no record at all was written before records existed: it is ours when
  it carries our spec (an ``.onnx`` whose ``metadata_props`` hold
  :data:`models.specs.METADATA_KEY`, an IR ``.xml`` whose ``rt_info`` holds ``crnn_deploy/spec``,
  a plan / OM with our sidecar holding ``"spec"``), and its companions are ours beside it;
* an existing folder is never an output;
* the files are written to hidden temporaries beside the output and published by
  :func:`common.outputs.group.publish_group`: checked again at that instant (a file that
  appeared during the run is never replaced), the old entry moved out of view first, the
  companions linked in before the entry (``.bin`` before ``.xml``, sidecar before plan), each
  without clobbering, so a crash never leaves an entry beside a companion of another run.

Everything generic comes from :mod:`common.outputs`: the input comparison
(:func:`common.outputs.input_overlap`), the hidden PID-named temporaries beside the final file
(``temp_file``, ``temp_dir``), the group publish and the ownership records, and the removal of
temporaries left by killed runs (``cleanup_stale``, run here for every output before any work).
This module keeps only what is the converter's own: which record-less ``.onnx`` / ``.xml`` /
``.engine`` / ``.plan`` / ``.om`` files are ours.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import loads_json
from crnn_deploy.common.outputs import (
    SAME,
    check_inside,
    check_output_path,
    cleanup_stale,
    group_problem,
    input_overlap,
    ownership,
    publish_group,
    read_record,
    read_small,
)
from crnn_deploy.models.specs import METADATA_KEY, load_onnx_spec

#: Largest IR ``.xml`` read to look for our rt_info (this project's IRs are ~100 kB).
MAX_XML_BYTES = 64 << 20
#: Largest sidecar JSON read (ours are < 2 kB).
MAX_SIDECAR_BYTES = 1 << 20


def check_not_input(output: Path, inputs: Mapping[str, str | Path | None]) -> None:
    """Raise UserError when ``output`` is one of ``inputs`` (option name -> path).

    Compares resolved paths (symlinks, ``..``) and inodes (hard links), and refuses an output
    inside or around an input too (:func:`common.outputs.input_overlap`).
    """
    hit = input_overlap(output, inputs.items())
    if hit:
        why, option, path = hit
        same = why == SAME
        raise UserError(f"output {output} {'is' if same else why} the input {option} {path}: "
                        f"a command never writes over {'' if same else 'or around '}its own "
                        "input; choose another output path")


def _onnx_problem(path: Path) -> str | None:
    try:
        _, text = load_onnx_spec(path)  # bounded: models.specs.MAX_ONNX_BYTES
    except UserError as exc:
        return f"it is not a readable ONNX file ({exc})"
    if text is None:
        return f"its metadata_props carry no {METADATA_KEY!r} (not written by crnn-convert)"
    return None


def _xml_problem(path: Path) -> str | None:
    import xml.etree.ElementTree as ET

    from crnn_deploy.runtime.openvino_backend import RT_INFO_PATH

    data = read_small(path, MAX_XML_BYTES)
    if data is None:
        return f"it is larger than {MAX_XML_BYTES >> 20} MiB, not an IR of this tool"
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        return f"it is not an XML file ({exc})"
    if root.tag != "net":
        return "it is not an OpenVINO IR (no <net> root)"
    if root.find("rt_info/" + "/".join(RT_INFO_PATH)) is None:
        return f"its rt_info has no {'/'.join(RT_INFO_PATH)} (not written by crnn-convert)"
    return None


def _sidecar_problem(engine: Path) -> str | None:
    from crnn_deploy.models.specs import sidecar_path

    side = sidecar_path(engine)
    if not side.is_file():
        return f"it has no sidecar {side.name} (crnn-convert writes one beside every engine)"
    raw = read_small(side, MAX_SIDECAR_BYTES)
    if raw is None:
        return f"its sidecar {side.name} is too large or not a plain file, so not ours"
    try:
        data = loads_json(raw, str(side))
    except UserError:
        return f"its sidecar {side.name} is not JSON (or nested too deep, or repeats a key)"
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        return f"its sidecar {side.name} holds no model spec"
    return None


def content_problem(final: Path, path: Path | None = None) -> str | None:
    """Why the record-less file ``path`` (default ``final``; possibly moved aside from
    ``final``, whose name gives the kind) is not a model file of crnn-convert, judged by its
    content: the rule of files written before ownership records existed (module docstring).

    Reads are bounded (:data:`MAX_XML_BYTES`, :data:`MAX_SIDECAR_BYTES`,
    :data:`models.specs.MAX_ONNX_BYTES`).
    """
    path = final if path is None else path
    if path.is_symlink():
        return "it is a symbolic link (to " + os.readlink(path) + ")"
    if path.is_dir():
        return "it is a folder"
    if not path.is_file():
        return "it is not a regular file"
    suffix = final.suffix.lower()
    if suffix == ".onnx":
        return _onnx_problem(path)
    if suffix == ".xml":
        return _xml_problem(path)
    if suffix in (".engine", ".plan", ".om"):
        return _sidecar_problem(final)
    return f"crnn-convert writes no {suffix or 'suffix-less'} file"


def ownership_problem(path: str | Path) -> str | None:
    """Why the existing model file ``path`` is not one this tool wrote (None: it is ours): its
    ownership record does not list its exact bytes, or, with no record at all, its content is
    not ours (:func:`content_problem`)."""
    path = Path(path)
    if path.is_symlink():
        return "it is a symbolic link (to " + os.readlink(path) + ")"
    if path.is_dir():
        return "it is a folder"
    return ownership(path, path, record=read_record(path), legacy=content_problem)


def prepare_outputs(outputs: Iterable[str | Path], inputs: Mapping[str, str | Path | None],
                    overwrite: bool = False, companions: Iterable[str | Path] = (),
                    within: str | Path | None = None) -> None:
    """Check that ``outputs`` may be written; remove stale temporaries of dead runs beside them.

    Args:
        outputs: the main files the command writes (a model file each).
        inputs: option name -> path of everything the command reads.
        overwrite: allow replacing an existing output this tool wrote.
        companions: files written with the outputs and read through them (the ``.bin`` of an
            IR, the ``.json`` sidecar of a plan): checked against the inputs and for folders;
            an existing one is replaced only with ``overwrite`` and when the record of its
            output lists its bytes (or, with no record, beside an output found ours).
        within: the folder the user named (``--outdir``) when the file names are built from
            a name read from a file (the spec's model name): every output and companion must
            resolve inside it (:func:`common.outputs.check_inside`).

    Raises:
        UserError: an output is an input, a folder, exists without ``overwrite``, or exists
            and is not a file of this tool, is a symlink (dangling or not) or lies outside
            ``within`` (the message names the path and why).
    """
    outputs = [Path(p) for p in outputs]
    companions = [Path(p) for p in companions]

    def where(path: Path) -> None:
        if within is not None:
            check_inside(path, within, "output")
        check_output_path(path, "output")

    for out in outputs:
        check_not_input(out, inputs)
        where(out)
        if out.is_dir():
            raise UserError(f"output {out} is an existing folder; give a file path")
        if out.exists() or out.is_symlink():
            if not overwrite:
                raise UserError(f"output {out} exists; pass --overwrite to replace it "
                                "(only files written by crnn-convert are replaced)")
            why = ownership_problem(out)
            if why:
                raise UserError(f"refusing to overwrite {out}: {why}")
        cleanup_stale(out)
    for extra in companions:
        check_not_input(extra, inputs)
        where(extra)
        if extra.is_dir():
            raise UserError(f"{extra} (written with the output) is an existing folder")
        if (extra.exists() or extra.is_symlink()) and not overwrite:
            raise UserError(f"{extra} (written with the output) exists; pass --overwrite "
                            "to replace it")
        cleanup_stale(extra)
    for out in outputs:
        hit = group_problem(out, [out, *companions], content_problem) if overwrite else None
        if hit:
            raise UserError(f"refusing to overwrite {hit[0]} (written with the output): {hit[1]}")


def publish_outputs(output: Path, files: Iterable[tuple[Path, Path]], overwrite: bool) -> None:
    """Publish the finished temporaries ``files`` = ``(tmp, final)`` of one output (``output``
    is the final of the entry; the others are its companions) by
    :func:`common.outputs.group.publish_group`, with this tool's ownership rule.

    Raises:
        UserError: a final name was taken during the run by a file that may not be replaced
            (nothing is replaced then; the temporaries are left for the caller to remove).
    """
    files = list(files)
    entry = next(f for f in files if f[1] == output)
    publish_group(entry, [f for f in files if f is not entry], overwrite, "crnn-convert",
                  legacy=content_problem)
