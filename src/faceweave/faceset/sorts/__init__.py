"""Sort methods: each turns a faceset's statistics (faceset/stats.py) into an order, best first.

A method is one module here (or in a plugin) that registers a `SortMethod` in `SORTS`:

    @SORTS.register("blur", "sharpest first (variance of the Laplacian)", rank=10)
    def _() -> SortMethod: ...

`needs` names the statistics groups it reads, so a metadata-only sort never decodes an image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from faceweave.faceset.stats import FacesetStats

Order = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SortInputs:
    stats: FacesetStats
    reference: npt.NDArray[np.float64] | None = None  # (k, 128) identity descriptors
    count: int | None = None  # how many faces `best` keeps


@dataclass(frozen=True)
class SortMethod:
    order: Callable[[SortInputs], Order]  # row indices of the stats, the first is the best
    needs: tuple[str, ...] = ("meta",)
    uses_count: bool = False  # `--count N` keeps N faces (the rest go to _rejected/<method>/)
    uses_reference: bool = False


def by_key(key: npt.ArrayLike, descending: bool = False) -> Order:
    """Rows by `key` (ties keep the faceset's name order); NaN last."""
    values = np.asarray(key, np.float64)
    values = np.where(np.isnan(values), np.inf if not descending else -np.inf, values)
    return np.argsort(-values if descending else values, kind="stable").astype(np.int64)
