"""images + GT file -> LMDB shards ``name-00000.lmdb``, ``name-00001.lmdb``, ... (``--shard-size``).

Built on :func:`preprocess.lmdb_build.build_lmdb`: the GT is cut into pieces of ``shard_size``
non-blank lines, each piece is built into one LMDB (same layout, checks and bad-line policy; a
skipped line leaves its shard one sample short), and bad lines are reported with their line
number in the original GT. The shards are built inside a hidden temporary folder beside the
output and moved into place only when all are complete; an interrupted build leaves no shard.
For ``--output data/words.lmdb`` the shards are ``data/words-00000.lmdb``, ... (5 digits).
"""
from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crnn_deploy.common import outputs
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.inputs import MAX_LINE_BYTES
from crnn_deploy.preprocess.lmdb_build import build_lmdb

#: Most shards one build writes (5-digit names).
MAX_SHARDS = 100_000


@dataclass
class ShardResult:
    """Outcome of :func:`build_shards`: shard paths, samples written per shard, skipped
    ``(original GT line number, reason)``, total image bytes."""

    shards: list[Path] = field(default_factory=list)
    written: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    image_bytes: int = 0


def shard_name(output: Path, k: int) -> Path:
    """``words.lmdb`` -> ``words-00003.lmdb`` for shard k = 3 (``.lmdb`` suffix kept if any)."""
    stem, suffix = (output.stem, output.suffix) if output.suffix else (output.name, "")
    return output.with_name(f"{stem}-{k:05d}{suffix}")


def existing_shards(output: Path) -> list[Path]:
    """Shards of ``output`` already on disk (names ``stem-NNNNN[.lmdb]``)."""
    first = shard_name(output, 0)
    pattern = re.compile(re.escape(first.name).replace("00000", r"\d{5}") + "$")
    if not output.parent.is_dir():
        return []
    return sorted(p for p in output.parent.iterdir() if pattern.match(p.name))


def _pieces(gt: Path, shard_size: int):
    """Yield (piece lines as bytes, original line numbers) of ``shard_size`` non-blank lines."""
    lines, numbers = [], []
    with open(gt, "rb") as f:
        for lineno, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
            if len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
                raise UserError(f"{gt}:{lineno}: line longer than {MAX_LINE_BYTES} bytes")
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            lines.append(raw if raw.endswith(b"\n") else raw + b"\n")
            numbers.append(lineno)
            if len(lines) == shard_size:
                yield lines, numbers
                lines, numbers = [], []
    if lines:
        yield lines, numbers


def build_shards(gt: str | Path, output: str | Path, shard_size: int,
                 root: str | Path | None = None, strict: bool = False, overwrite: bool = False,
                 log: Callable[[str], None] | None = None, outside_ok: bool = False
                 ) -> ShardResult:
    """Pack the images of ``gt`` into LMDB shards of at most ``shard_size`` samples each.

    Args:
        gt, root, strict: as :func:`preprocess.lmdb_build.build_lmdb` (root defaults to the
            GT's folder).
        output: the name the shards derive from (:func:`shard_name`).
        shard_size: GT lines per shard (>= 1).
        overwrite: replace existing shards of this name (all ``stem-NNNNN`` ones, so no stale
            shard of a larger earlier build remains), only after the new ones are complete.

    Raises:
        UserError: as build_lmdb (bad line with ``strict``, unreadable GT), existing shards
            without ``overwrite``, more than :data:`MAX_SHARDS` shards, or no valid sample.
    """
    log = log or (lambda m: print(m, file=sys.stderr))
    gt, output = Path(gt), Path(output)
    root = Path(root) if root is not None else gt.parent
    if shard_size < 1:
        raise UserError(f"--shard-size must be >= 1, got {shard_size}")
    if not gt.is_file():
        raise UserError(f"GT file not found: {gt}")
    old = existing_shards(output)
    if old and not overwrite:
        raise UserError(f"shards already exist: {old[0]} ... (remove them or pass --overwrite)")
    for p in old:  # only LMDBs this tool wrote are replaced
        why = outputs.why_not_ours(p, outputs.LMDB) if p.is_dir() else "it is not a folder"
        if why:
            raise UserError(f"refusing to replace shard {p}: {why}")
    outputs.cleanup_stale(output)
    res = ShardResult()
    with outputs.temp_dir(output) as tmp:
        for piece_no, (lines, numbers) in enumerate(_pieces(gt, shard_size)):
            k = len(res.shards)
            if k >= MAX_SHARDS:
                raise UserError(f"{gt}: more than {MAX_SHARDS} shards; use a larger --shard-size")
            piece = tmp / f"piece-{piece_no:05d}.txt"
            piece.write_bytes(b"".join(lines))
            where = re.compile(re.escape(str(piece)) + r":(\d+)")

            def remap(msg: str, numbers=numbers, where=where) -> str:
                return where.sub(lambda m: f"{gt}:{numbers[int(m.group(1)) - 1]}", msg)

            try:
                built = build_lmdb(piece, tmp / shard_name(output, k).name, root=root,
                                   strict=strict, log=lambda m: log(remap(m)),
                                   outside_ok=outside_ok)
            except UserError as exc:
                if strict or "no valid sample" not in exc.message:
                    raise UserError(remap(exc.message)) from None
                log(f"skipped {gt}:{numbers[0]}-{numbers[-1]}: no valid sample in these lines")
                res.skipped.extend((n, "no valid sample in its shard") for n in numbers)
                continue
            finally:
                piece.unlink(missing_ok=True)
            res.shards.append(shard_name(output, k))
            res.written.append(built.written)
            res.image_bytes += built.image_bytes
            res.skipped.extend((numbers[n - 1], why) for n, why in built.skipped)
        if not res.shards:
            raise UserError(f"{gt}: no valid sample")
        for p in old:  # overwrite: the new set is complete, drop the old one (ours, checked)
            shutil.rmtree(p)
        for p in res.shards:
            os.replace(tmp / p.name, p)
    return res
