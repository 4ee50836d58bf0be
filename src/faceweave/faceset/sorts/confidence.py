"""How far the detector and the landmarks can be trusted, from the metadata alone."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from faceweave.faceset.sorts import Order, SortInputs, SortMethod, by_key
from faceweave.registries import SORTS

BRIDGED_PENALTY = 1.0  # inter-ocular units: a mesh re-fitted over a detector miss sorts after any fit


def landmark_doubt(inputs: SortInputs) -> npt.NDArray[np.float64]:
    """Per face, in inter-ocular distances: how far the mesh's rigid points (eye corners, nose,
    temples) lie from the faceset's median rigid shape (a misfit bends what cannot bend), plus how
    far smoothing had to move the detector's mesh (a jump the face did not make)."""
    shape = np.asarray(inputs.stats["shape"], np.float64)
    if not len(shape):
        return np.zeros(0)
    residual = np.linalg.norm(shape - np.median(shape, axis=0), axis=2).mean(axis=1)
    jump = np.asarray(inputs.stats["mesh_jump"], np.float64)
    return np.asarray(residual + jump + BRIDGED_PENALTY * inputs.stats["bridged"], np.float64)


def _landmarks(inputs: SortInputs) -> Order:
    return by_key(landmark_doubt(inputs))


SORTS.add("landmarks", "most trustworthy landmarks first: rigid mesh points where the faceset's shape "
          "puts them, no smoothing jump, not bridged over a detector miss",
          SortMethod(_landmarks), __name__, rank=50)  # fmt: skip
SORTS.add("score", "highest detector score first",
          SortMethod(lambda i: by_key(i.stats["score"], descending=True)), __name__, rank=51)  # fmt: skip
SORTS.add(
    "origin",
    "extraction order: by source, frame and face (undoes any sort)",
    SortMethod(lambda i: np.lexsort((i.stats["face_index"], i.stats["frame_index"], i.stats["source"]))),
    __name__,
    rank=52,
)
