"""`faceset clean` and `faceset restore`: faces below the thresholds move (never are deleted) to
`<faceset>/_rejected/<reason>/`, with their applied masks, and come back byte for byte.

Each face gets the first reason that applies, in the order of REASONS; duplicates are judged
among the faces that pass every other check, and the sharpest of a group stays.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from faceweave.config import FacesetConfig
from faceweave.errors import UserError
from faceweave.faceset.moves import (
    REJECTED_DIR,
    Move,
    check_plan,
    folder_lock,
    make_parents,
    settle,
    with_masks,
)
from faceweave.faceset.sorts import SortInputs
from faceweave.faceset.sorts.identity import identity_distances
from faceweave.faceset.stats import FacesetStats, check_faceset, faceset_stats
from faceweave.formats.aligned import list_face_files
from faceweave.occlusion.labels import MASKS_DIR

REASONS = ("damaged", "size", "score", "blur", "identity", "duplicate")


@dataclass(frozen=True)
class Rejection:
    name: str
    reason: str
    detail: str  # the measured value against its threshold, for the listing


def groups_needed(cfg: FacesetConfig) -> tuple[str, ...]:
    """The statistics groups the enabled checks read (identity costs a descriptor per face)."""
    pixels = cfg.blur > 0 or cfg.duplicate_bits >= 0
    return ("meta", *(("pixels",) if pixels else ()), *(("identity",) if cfg.identity > 0 else ()))


# A twin must also show the same pose and expression (stats columns, tolerance): aligned faces of
# one person hash alike, and a blink or a parted mouth is what training needs, not a duplicate.
ALIKE = (("yaw", 2.0), ("pitch", 2.0), ("mouth_open", 0.03), ("eye_open", 0.03), ("smile", 0.03),
         ("brow_raise", 0.03))  # fmt: skip


def alike_measures(stats: FacesetStats) -> npt.NDArray[np.float64]:
    """(N, k): each face's pose and expression scaled by its tolerance (alike: all within 1)."""
    return np.column_stack([np.asarray(stats[name], np.float64) / tol for name, tol in ALIKE])


def duplicate_of(hashes: Sequence[int], quality: npt.NDArray[np.float64], bits: int,
                 measures: npt.NDArray[np.float64] | None = None,
                 origins: Sequence[int] | None = None) -> list[int]:  # fmt: skip
    """For each face, the index of a sharper face whose hash differs in at most `bits` bits, or -1.
    With `measures` (alike_measures), a twin also lies within 1 on each; with `origins`, only a face
    of another origin counts (combine folds copies across sources, not the still frames of one video).

    Multi-index hashing: split the 64 bits into bits+1 chunks; two hashes that differ in at most
    `bits` bits agree on at least one chunk, so only faces sharing a chunk are compared."""
    edges = np.linspace(0, 64, bits + 2).astype(int)
    masks = [((1 << (hi - lo)) - 1, lo) for lo, hi in itertools.pairwise(edges.tolist())]
    buckets: dict[tuple[int, int], list[int]] = {}
    found = [-1] * len(hashes)
    for i in np.argsort(-quality, kind="stable").tolist():
        h = hashes[i]
        keys = [(k, (h >> lo) & mask) for k, (mask, lo) in enumerate(masks)]
        candidates = {j for key in keys for j in buckets.get(key, ())}
        near = [j for j in candidates if (h ^ hashes[j]).bit_count() <= bits
                and (origins is None or origins[j] != origins[i])
                and (measures is None or bool(np.all(np.abs(measures[i] - measures[j]) <= 1)))]  # fmt: skip
        if near:
            found[i] = min(near, key=lambda j: ((h ^ hashes[j]).bit_count(), j))
            continue
        for key in keys:
            buckets.setdefault(key, []).append(i)
    return found


def plan_clean(stats: FacesetStats, cfg: FacesetConfig,
               reference: npt.NDArray[np.float64] | None = None) -> list[Rejection]:  # fmt: skip
    """What `clean` would move, and why."""
    out = [Rejection(d.name, "damaged", d.reason) for d in stats.damaged]
    alive = np.ones(len(stats), bool)

    def reject(hit: npt.NDArray[np.bool_], reason: str, detail: npt.NDArray[np.str_] | list[str]) -> None:
        for i in np.flatnonzero(hit & alive):
            out.append(Rejection(stats.names[i], reason, str(detail[i])))
        alive[hit] = False

    size, score = stats["size_frame"], stats["score"]
    reject(size < cfg.min_size, "size", [f"{v:.0f} px < {cfg.min_size:g}" for v in size])
    reject(score < cfg.min_score, "score", [f"{v:.2f} < {cfg.min_score:g}" for v in score])
    if cfg.blur > 0 and len(stats):
        blur = stats["blur"]
        floor = cfg.blur * float(np.median(blur))
        reject(blur < floor, "blur", [f"{v:.0f} < {floor:.0f} ({cfg.blur:g} x median)" for v in blur])
    if cfg.identity > 0 and len(stats):
        distance = identity_distances(SortInputs(stats, reference))
        reject(
            distance > cfg.identity, "identity", [f"distance {v:.2f} > {cfg.identity:g}" for v in distance]
        )
    if cfg.duplicate_bits >= 0 and alive.any():
        rows = np.flatnonzero(alive)
        hashes = stats["phash"][rows].tolist()
        quality = np.asarray(stats["blur"][rows], np.float64)
        twins = duplicate_of(hashes, quality, cfg.duplicate_bits, alike_measures(stats)[rows])
        hit = np.zeros(len(stats), bool)
        detail = [""] * len(stats)
        for k, twin in enumerate(twins):
            if twin >= 0:
                hit[rows[k]] = True
                detail[rows[k]] = f"like {stats.names[rows[twin]]} (sharper)"
        reject(hit, "duplicate", detail)
    return out


def move_rejected(folder: Path, rejections: Sequence[Rejection]) -> int:
    """Move each rejected face (and its mask) into `_rejected/<reason>/`; nothing moves when any
    destination is taken. Each rename is atomic: a face is always in one place or the other."""
    with folder_lock(folder):
        settle(folder)
        moves = with_masks(
            folder, [Move(r.name, str(Path(REJECTED_DIR, r.reason, r.name))) for r in rejections]
        )
        check_plan(folder, moves)
        make_parents(folder, moves)
        for done, move in enumerate(moves):
            try:
                os.rename(folder / move.old, folder / move.new)
            except OSError as exc:
                raise UserError(
                    f"{move.old} could not be moved ({exc.strerror}) after {done} other file(s) were; "
                    "`faceweave faceset restore` brings those back"
                ) from exc
    return len(rejections)


@dataclass(frozen=True)
class Restored:
    restored: int
    left: list[str]  # faces left in _rejected/: a face (or mask) of that name is back in the faceset


def rejected_reasons(folder: Path) -> list[str]:
    root = folder / REJECTED_DIR
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def restore(folder: Path, reasons: Sequence[str] = ()) -> Restored:
    """Bring the faces of `_rejected/<reason>/` (every reason when none is given) back, each with
    its mask; a face whose name or mask name is taken stays where it is and is listed."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    known = rejected_reasons(folder)
    unknown = [r for r in reasons if r not in known]
    if unknown:
        has = ", ".join(known) or "none"
        raise UserError(f"{folder / REJECTED_DIR} has no {', '.join(unknown)} folder; it has: {has}")
    faces = [
        p.relative_to(folder) for r in reasons or known for p in list_face_files(folder / REJECTED_DIR / r)
    ]
    return restore_faces(folder, faces)


def restore_faces(folder: Path, faces: Sequence[Path]) -> Restored:
    """Bring back the set-aside `faces` (paths relative to `folder`, inside `_rejected/<reason>/`),
    each with its mask; emptied shelves go. A face whose name is taken in the faceset stays."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    restored, left = 0, []
    with folder_lock(folder):
        settle(folder)
        shelves = set()
        for relative in faces:
            path = folder / relative
            if len(relative.parts) != 3 or relative.parts[0] != REJECTED_DIR or ".." in relative.parts:
                raise UserError(f"{relative} is not a set-aside face")
            if not path.is_file() or path.is_symlink():
                left.append(str(relative))  # gone meanwhile, or not a face file: left where it is
                continue
            shelves.add(path.parent)
            moves = with_masks(folder, [Move(str(relative), path.name)])
            if any(os.path.lexists(folder / m.new) for m in moves):
                left.append(str(relative))
                continue
            make_parents(folder, moves)
            for move in moves:
                os.rename(folder / move.old, folder / move.new)
            restored += 1
        for shelf in sorted(shelves):
            for empty in (shelf / MASKS_DIR, shelf):
                _remove_if_empty(empty)
        _remove_if_empty(folder / REJECTED_DIR)
    return Restored(restored, left)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (a user's file, a face left behind), or gone
        folder.rmdir()


@dataclass(frozen=True)
class CleanReport:
    faces: int  # valid faces before cleaning
    rejections: list[Rejection]
    moved: bool


def run_clean(
    folder: Path,
    cfg: FacesetConfig,
    references: Sequence[Path] = (),
    dry_run: bool = False,
    say: Callable[[str], None] = lambda _: None,
    tick: Callable[[int, int], None] = lambda done, total: None,
) -> CleanReport:
    """Measure (cached), judge every face against `cfg`'s thresholds, and move the rejected ones
    unless `dry_run`."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    stats = faceset_stats(folder, groups_needed(cfg), cfg.workers, say, tick)
    check_faceset(stats, damaged_ok=True)
    reference = None
    if references:
        from faceweave.extract.run import reference_descriptors

        reference = reference_descriptors(references)
    rejections = plan_clean(stats, cfg, reference)
    if not dry_run and rejections:
        move_rejected(folder, rejections)
    return CleanReport(len(stats), rejections, not dry_run and bool(rejections))
