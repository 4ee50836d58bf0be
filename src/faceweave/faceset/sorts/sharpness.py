"""Blur and motion blur: the sharpest faces first."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from faceweave.faceset.sorts import SortInputs, SortMethod, by_key
from faceweave.registries import SORTS

DIRECTIONS = 8  # over 180 degrees


def smear(gradient: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Per face, 1 where no direction lost more sharpness than another, towards 0 where one did.

    Gradient energy along each direction comes from the structure tensor (N, 3); each direction is
    taken relative to the faceset's typical face, because faces are not isotropic (eyes, brows and
    mouth are horizontal). A smear one way leaves that direction weak and the others as they
    were; an out-of-focus face loses every direction alike and is the `blur` sort's business."""
    tensor = np.asarray(gradient, np.float64).reshape(-1, 3)
    angles = np.linspace(0, np.pi, DIRECTIONS, endpoint=False)
    c, s = np.cos(angles), np.sin(angles)
    energy = tensor[:, :1] * c**2 + 2 * tensor[:, 1:2] * c * s + tensor[:, 2:] * s**2
    relative = energy / np.maximum(np.median(energy, axis=0), 1e-9)
    return np.asarray(relative.min(axis=1) / np.maximum(relative.max(axis=1), 1e-9), np.float64)


def _motion(inputs: SortInputs) -> npt.NDArray[np.int64]:
    return by_key(smear(inputs.stats["gradient"]), descending=True)


SORTS.add(
    "blur",
    "sharpest first: variance of the Laplacian inside the face",
    SortMethod(lambda i: by_key(i.stats["blur"], descending=True), needs=("meta", "pixels")),
    __name__,
    rank=10,
)
SORTS.add(
    "motion-blur",
    "least motion blur first: faces smeared in one direction (sharp across it, soft along it, "
    "against the faceset's typical face) last",
    SortMethod(_motion, needs=("meta", "pixels")),
    __name__,
    rank=11,
)
