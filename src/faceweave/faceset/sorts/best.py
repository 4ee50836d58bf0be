"""`best`: the sharpest faces spread evenly over head pose and expression (DeepFaceLab's "best").

Faces are binned by yaw and pitch (POSE_BIN_DEG) and by how far the mouth opens and the eyes close
from the faceset's rest; the order then takes the sharpest face of every bin before the second
sharpest of any, so a rare pose or expression is kept before a tenth copy of a common one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from faceweave.faceset.sorts import Order, SortInputs, SortMethod
from faceweave.faceset.stats import FacesetStats
from faceweave.registries import SORTS

POSE_BIN_DEG = 10.0
MOUTH_EDGES = (0.05, 0.15)  # inter-ocular distances above the faceset's resting mouth
EYE_EDGES = (0.08, 0.18)  # eye widths below the faceset's open eyes


def expression_bins(stats: FacesetStats) -> npt.NDArray[np.int64]:
    """0-8: mouth at rest / parted / wide, times eyes open / half / closed."""
    mouth = np.asarray(stats["mouth_open"], np.float64)
    eyes = np.asarray(stats["eye_open"], np.float64)
    opened = np.digitize(mouth - np.percentile(mouth, 5), MOUTH_EDGES)
    closed = np.digitize(np.percentile(eyes, 95) - eyes, EYE_EDGES)
    return np.asarray(opened * 3 + closed, np.int64)


def spread_order(cells: npt.NDArray[np.int64], quality: npt.NDArray[np.float64]) -> Order:
    """Round robin over cells: every cell's best, then every cell's second best, ...; within a
    round the cells whose faces are sharper come first."""
    by_quality = np.argsort(-quality, kind="stable")
    seen: dict[int, int] = {}
    rounds = np.empty(len(cells), np.int64)
    for i in by_quality:
        cell = int(cells[i])
        rounds[i] = seen.get(cell, 0)
        seen[cell] = rounds[i] + 1
    # Within a round, sharper first; lexsort's last key is the primary one.
    return np.asarray(np.lexsort((-quality, rounds)), np.int64)


def _order(inputs: SortInputs) -> Order:
    stats = inputs.stats
    if not len(stats):
        return np.zeros(0, np.int64)
    yaw = np.floor(np.asarray(stats["yaw"], np.float64) / POSE_BIN_DEG).astype(np.int64)
    pitch = np.floor(np.asarray(stats["pitch"], np.float64) / POSE_BIN_DEG).astype(np.int64)
    cells = ((yaw + 100) * 1000 + (pitch + 100)) * 10 + expression_bins(stats)
    return spread_order(cells, np.log1p(np.asarray(stats["blur"], np.float64)))


SORTS.add(
    "best",
    "the sharpest faces spread evenly over yaw, pitch and expression; with --count N the other "
    "faces move to _rejected/best/",
    SortMethod(_order, needs=("meta", "pixels"), uses_count=True),
    __name__,
    rank=5,
)
