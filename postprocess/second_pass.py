"""The staged second pass in crnn-postprocess: list the low-confidence samples of a first
result, and keep the more confident of two readings (docs/EASYOCR.md, "The staged path").

A spec with ``decoding.second_pass_below`` (EasyOCR's english_g2, 0.1) reads the words below
that confidence a second time, contrast-stretched, and keeps the more confident reading
(:func:`postprocess.confidence.keep_more_confident`), as the fused paths do
(``pipeline.second_pass``). The staged path splits it over its stages:
``crnn-postprocess RESULT`` writes ``RESULT/second_pass.json`` (:func:`low_list`),
``crnn-preprocess lmdb-to-bin --second-pass`` and ``crnn-infer`` make RESULT2 from it, and
``crnn-postprocess RESULT --second-pass RESULT2`` merges (:func:`merge_second_pass`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crnn_deploy.common import outputs
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.second_pass_list import SecondPassList
from crnn_deploy.models.specs import ModelSpec
from crnn_deploy.postprocess.confidence import keep_more_confident
from crnn_deploy.postprocess.predictions import list_result_entries
from crnn_deploy.postprocess.results import Decoded, decode_result_dir, read_meta_spec, result_stem


@dataclass
class Merged:
    """What :func:`merge_second_pass` did: ``read_again`` samples had a second reading,
    ``taken`` of them kept it (more confident), ``changed`` of those with another text."""

    read_again: int = 0
    taken: int = 0
    changed: int = 0


def low_rows(decoded: Decoded, spec: ModelSpec) -> list[int]:
    """Positions in ``decoded`` whose confidence is below the spec's ``second_pass_below``
    (none for a spec without a second pass)."""
    below = spec.decoding.second_pass_below
    return [k for k, c in enumerate(decoded.confidences) if c < below] if below else []


def low_list(result_dir: str | Path, decoded: Decoded, spec: ModelSpec) -> SecondPassList:
    """The ``second_pass.json`` of a first result: the files of :func:`low_rows`, and the LMDB
    they came from (``RESULT/meta.json`` -> the input folder's ``meta.json``: ``lmdb``,
    ``keys_sha256``; None when not found)."""
    meta = outputs.read_json(Path(result_dir) / "meta.json") or {}
    folder = meta.get("input")
    source = (outputs.read_json(Path(folder) / "meta.json") or {}) if isinstance(folder, str) else {}
    lmdb, keys = source.get("lmdb"), source.get("keys_sha256")
    return SecondPassList(spec.name, spec.decoding.second_pass_below,
                          spec.decoding.second_pass_contrast,
                          tuple(decoded.samples[k][0] for k in low_rows(decoded, spec)),
                          lmdb if isinstance(lmdb, str) else None,
                          keys if isinstance(keys, str) else None,
                          str(Path(result_dir).resolve()))


def _check_inputs(result2: Path, spec: ModelSpec) -> None:
    """RESULT2 holds outputs of ``spec`` on contrast-stretched inputs (as far as its
    ``meta.json`` and its input folder's tell)."""
    spec2 = read_meta_spec(result2)
    if spec2 is not None and (spec2.name, spec2.alphabet) != (spec.name, spec.alphabet):
        raise UserError(f"--second-pass {result2} holds outputs of spec {spec2.name!r}, the "
                        f"first result of {spec.name!r}")
    folder = (outputs.read_json(result2 / "meta.json") or {}).get("input")
    source = outputs.read_json(Path(folder) / "meta.json") if isinstance(folder, str) else None
    if source is not None and "second_pass" not in source:
        raise UserError(f"--second-pass {result2} was run on {folder}, whose inputs are not "
                        "contrast-stretched: stage them with crnn-preprocess lmdb-to-bin "
                        "--second-pass RESULT/second_pass.json")


def merge_second_pass(result2: str | Path, decoded: Decoded, spec: ModelSpec) -> Merged:
    """Replace, in ``decoded`` (the first result, in place), the reading of every low row
    (:func:`low_rows`) by the more confident of it and RESULT2's reading of the same file.

    RESULT2 must hold a result file for exactly the low rows (``test_{i}_0.bin|npy``, i as in
    the first result), from the same spec; they are decoded with that spec.

    Raises:
        UserError: RESULT2 is not a folder, lacks a low row's file or holds a file that is not
            a low row (it is not the second pass of this result), holds another spec's outputs
            or outputs of inputs that are not contrast-stretched, a bad result file
            (:func:`postprocess.results.decode_result_dir`), or changed while read.
    """
    result2 = Path(result2)
    if not result2.is_dir():
        raise UserError(f"--second-pass {result2} does not exist or is not a folder")
    identity = outputs.folder_identity(result2)
    _check_inputs(result2, spec)
    low = low_rows(decoded, spec)
    wanted = {result_stem(decoded.samples[k][0]): k for k in low}
    have = {result_stem(name): name for name, _ in list_result_entries(result2)}
    below = spec.decoding.second_pass_below
    for stem, k in wanted.items():
        if stem not in have:
            raise UserError(f"--second-pass {result2} has no {stem}_0.bin/.npy, though the first "
                            f"result reads it at {decoded.confidences[k]:.4f} (below {below:g}): "
                            "make it from this result's second_pass.json")
    for stem in have:
        if stem not in wanted:
            raise UserError(f"--second-pass {result2} holds {stem}_0, which the first result "
                            f"does not read below {below:g} (or does not list): it is not the "
                            "second pass of this result")
    out = Merged(read_again=len(low))
    if not low:
        return out
    second = decode_result_dir(result2, [(have[result_stem(decoded.samples[k][0])], None)
                                         for k in low],
                               spec.alphabet, None, labels_name=str(result2), spec=spec)
    outputs.check_unchanged(result2, identity, "--second-pass folder")
    first = [(decoded.samples[k][2], decoded.confidences[k]) for k in low]
    kept = keep_more_confident(first, list(zip((p for _, _, p in second.samples),
                                               second.confidences)))
    for k, (text, conf), (text1, conf1) in zip(low, kept, first):
        if (text, conf) != (text1, conf1):
            out.taken += 1
            out.changed += text != text1
        name, label, _ = decoded.samples[k]
        decoded.samples[k] = (name, label, text)
        decoded.confidences[k] = conf
    return out
