"""`faceset sort`: rename a faceset's faces into the order of a sort method, undoably."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceweave.config import FacesetConfig
from faceweave.errors import UserError
from faceweave.faceset.moves import (
    REJECTED_DIR,
    Move,
    apply_moves,
    sorted_name,
    with_masks,
)
from faceweave.faceset.sorts import SortInputs
from faceweave.faceset.stats import check_faceset, faceset_stats
from faceweave.registries import SORTS

Say = Callable[[str], None]


@dataclass(frozen=True)
class SortReport:
    method: str
    faces: int
    set_aside: int  # faces `--count` moved to _rejected/<method>/
    first: list[str]  # the new names of the first faces, for the console


def sort_moves(names: Sequence[str], order: Sequence[int], method: str, count: int | None) -> list[Move]:
    """Renames into `order` (the first `count` faces when given; the others to _rejected/)."""
    kept = list(order[:count]) if count else list(order)
    width = max(5, len(str(len(kept))))
    moves = [Move(names[i], sorted_name(rank, names[i], width)) for rank, i in enumerate(kept)]
    aside = order[len(kept) :] if count else []
    moves += [Move(names[i], str(Path(REJECTED_DIR, method, names[i]))) for i in aside]
    return moves


def run_sort(
    folder: Path,
    method: str,
    cfg: FacesetConfig,
    references: Sequence[Path] = (),
    count: int | None = None,
    reverse: bool = False,
    say: Say = lambda _: None,
    tick: Callable[[int, int], None] = lambda done, total: None,
) -> SortReport:
    sort = SORTS.get(method)
    if count is not None and not sort.uses_count:
        raise UserError(f"--count keeps the best faces of `best`; sort by {method} orders all of them")
    if count is not None and reverse:
        raise UserError("--count keeps the best faces; it does not go with --reverse")
    if references and not sort.uses_reference:
        raise UserError(f"--reference is for sorting by identity, not by {method}")
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    stats = faceset_stats(folder, sort.needs, cfg.workers, say, tick)
    check_faceset(stats)
    reference = None
    if references:
        from faceweave.extract.run import reference_descriptors

        reference = reference_descriptors(references)
    order = np.asarray(sort.order(SortInputs(stats, reference, count)), np.int64)
    if sorted(order.tolist()) != list(range(len(stats))):
        raise UserError(f"the sort method {method!r} returned an order that is not one of the faces")
    if reverse:
        order = order[::-1]
    moves = sort_moves(stats.names, order.tolist(), method, count)
    apply_moves(folder, with_masks(folder, moves), f"sort by {method}")
    aside = len(stats) - min(count or len(stats), len(stats))
    return SortReport(method, len(stats), aside, [m.new for m in moves[:5]])
