"""Who the face is: dlib descriptor distance to a reference, or to the faceset's own identity."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from faceweave.faceset.sorts import Order, SortInputs, SortMethod, by_key
from faceweave.registries import SORTS


def own_identity(descriptors: npt.ArrayLike, rounds: int = 3) -> npt.NDArray[np.float64]:
    """The faceset's main identity: the mean of the half of its descriptors nearest the current
    estimate, from the median on. A third of the faces may be someone else without moving it."""
    points = np.asarray(descriptors, np.float64)
    centre = np.median(points, axis=0)
    for _ in range(rounds):
        distances = np.linalg.norm(points - centre, axis=1)
        nearest = distances <= np.median(distances)
        centre = points[nearest].mean(axis=0)
    return np.asarray(centre, np.float64)


def identity_distances(inputs: SortInputs) -> npt.NDArray[np.float64]:
    """Each face's distance to the nearest reference, or to the faceset's own identity."""
    descriptors = np.asarray(inputs.stats["descriptor"], np.float64)
    if not len(descriptors):
        return np.zeros(0)
    if inputs.reference is not None and len(inputs.reference):
        gaps = np.linalg.norm(descriptors[:, None, :] - inputs.reference[None, :, :], axis=2)
        return np.asarray(gaps.min(axis=1), np.float64)
    return np.asarray(np.linalg.norm(descriptors - own_identity(descriptors), axis=1), np.float64)


def _order(inputs: SortInputs) -> Order:
    return by_key(identity_distances(inputs))


SORTS.add(
    "identity",
    "nearest to --reference first, or to the faceset's own main identity: other people sort last",
    SortMethod(_order, needs=("meta", "identity"), uses_reference=True),
    __name__,
    rank=40,
)
