"""``crnn-preprocess lmdb-to-bin --second-pass LIST``: which samples to stage, and how.

LIST is the ``second_pass.json`` that ``crnn-postprocess`` wrote beside a first result
(:mod:`common.second_pass_list`): the files read below the spec's ``second_pass_below``.
lmdb-to-bin then stages only those LMDB samples, contrast-stretched to the spec's
``second_pass_contrast`` (:func:`preprocess.height_fit.stretch_contrast`), as the same
``test_{i}`` files, so that crnn-infer runs them and ``crnn-postprocess --second-pass`` keeps
the more confident reading (docs/EASYOCR.md, "The staged path").
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.second_pass_list import read_list
from crnn_deploy.models.specs import ModelSpec


@dataclass(frozen=True)
class SecondPassPlan:
    """The samples to stage (LMDB indices, ascending), the contrast target, and what
    ``meta.json`` records under ``second_pass`` (list path, below, contrast, count)."""

    indices: list[int]
    contrast: float
    meta: dict


def plan_second_pass(list_path: str | Path, spec: ModelSpec, lmdb_path: Path, num_samples: int,
                     keys_sha: str) -> SecondPassPlan:
    """Check LIST against the spec and the LMDB and plan the second-pass inputs.

    Args:
        list_path: a ``second_pass.json`` (:func:`common.second_pass_list.read_list`).
        spec: the ``--model`` spec; must have a second pass and be the list's spec.
        lmdb_path, num_samples, keys_sha: the LMDB being read, its ``num-samples`` and
            :func:`preprocess.lmdb_io.keys_sha256`.

    Raises:
        UserError: the spec has no second pass, is not grey or is not the list's; the list was made from an
            LMDB with other keys (when it records them); it lists no sample, a bad file name or
            an index beyond ``num_samples``; not a readable list.
    """
    list_path = Path(list_path)
    below = spec.decoding.second_pass_below
    if not below:
        raise UserError(f"--second-pass: spec {spec.name!r} has no second pass "
                        "(decoding.second_pass_below is 0): its first reading is final")
    if spec.input_shape[0] != 1:
        raise UserError(f"--second-pass: spec {spec.name!r} has {spec.input_shape[0]} input "
                        "channels; the contrast stretch of the second pass is for grey inputs")
    lst = read_list(list_path)
    if lst.spec != spec.name:
        raise UserError(f"{list_path} lists samples read by spec {lst.spec!r}, not {spec.name!r} "
                        "(--model)")
    if lst.keys_sha256 is not None and lst.keys_sha256 != keys_sha:
        raise UserError(f"{list_path} lists samples of another LMDB ({lst.lmdb}): the keys of "
                        f"{lmdb_path} differ; give --lmdb the LMDB of the first run")
    indices = sorted(lst.indices(str(list_path)))
    if not indices:
        raise UserError(f"{list_path} lists no sample (no word was read below {lst.below}): "
                        "the first result is final, there is nothing to read again")
    if indices[-1] > num_samples:
        raise UserError(f"{list_path} lists test_{indices[-1]}, beyond the {num_samples} "
                        f"samples of {lmdb_path}")
    contrast = spec.decoding.second_pass_contrast
    return SecondPassPlan(indices, contrast, {"list": str(list_path.resolve()), "below": below,
                                              "contrast": contrast, "count": len(indices)})
