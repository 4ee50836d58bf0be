"""Brightness, hue and colour-histogram similarity of the face (its hull, not the background)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from faceweave.faceset.sorts import Order, SortMethod, by_key
from faceweave.registries import SORTS

PIXELS = ("meta", "pixels")


def similarity_chain(vectors: npt.ArrayLike) -> Order:
    """A path through all rows, each step to the nearest row not yet visited, starting from the
    most typical one: look-alikes end up next to each other (DeepFaceLab's histogram sort).
    Hellinger distances (square roots of the histograms), so a few dominant bins do not rule."""
    points = np.sqrt(np.maximum(np.asarray(vectors, np.float64), 0))
    count = len(points)
    if count == 0:
        return np.zeros(0, np.int64)
    left = np.ones(count, bool)
    current = int(np.argmin(((points - points.mean(axis=0)) ** 2).sum(axis=1)))
    order = [current]
    left[current] = False
    squared = (points**2).sum(axis=1)
    for _ in range(count - 1):
        distances = squared - 2 * points @ points[current]
        distances[~left] = np.inf
        current = int(np.argmin(distances))
        order.append(current)
        left[current] = False
    return np.asarray(order, np.int64)


SORTS.add(
    "brightness",
    "brightest face first (mean L* inside the face)",
    SortMethod(lambda i: by_key(i.stats["brightness"], descending=True), PIXELS),
    __name__,
    rank=30,
)
SORTS.add(
    "hue",
    "by the face's mean hue, red through yellow to blue",
    SortMethod(lambda i: by_key(i.stats["hue"]), PIXELS),
    __name__,
    rank=31,
)
SORTS.add("histogram", "look-alikes together: each face next to the one whose colour histogram is nearest",
          SortMethod(lambda i: similarity_chain(i.stats["hist"]), PIXELS), __name__, rank=32)  # fmt: skip
