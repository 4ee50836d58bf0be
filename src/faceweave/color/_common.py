"""What the built-in colour transfers share: pixel selection and matrix roots."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from faceweave.color import Image, Mask

# A variance floor (0.005 std) when inverting: a nearly flat source channel must not be blown up.
_FLOOR = 2.5e-5


def pixels(image: Image, mask: Mask | None) -> npt.NDArray[np.float64]:
    flat = image.reshape(-1, 3).astype(np.float64)
    if mask is None:
        return flat
    chosen = flat[mask.reshape(-1) > 0.5]
    return chosen if len(chosen) >= 16 else flat  # too small a mask says nothing about colour


def sqrtm(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    values, vectors = np.linalg.eigh(matrix)
    return np.asarray((vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T, np.float64)


def inv_sqrtm(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    values, vectors = np.linalg.eigh(matrix)
    return np.asarray((vectors / np.sqrt(np.clip(values, _FLOOR, None))) @ vectors.T, np.float64)


def random_rotation(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return np.asarray(q * np.sign(np.diag(r)), np.float64)


def selected(flat: npt.NDArray[np.float64], mask: Mask | None) -> npt.NDArray[np.bool_]:
    chosen = mask.reshape(-1) > 0.5 if mask is not None else np.ones(len(flat), bool)
    return chosen if chosen.sum() >= 16 else np.ones(len(flat), bool)


_LEVELS = np.linspace(0, 1, 256)


def quantiles(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The 256 quantiles np.quantile gives (linear between order statistics), from one sort:
    idt and sot take hundreds of them per face, and np.quantile's partition at 512 points costs
    several times a sort."""
    ordered = np.sort(values)
    position = _LEVELS * (len(ordered) - 1)
    low = position.astype(np.int64)
    high = np.minimum(low + 1, len(ordered) - 1)
    share = position - low
    return np.asarray(ordered[low] + (ordered[high] - ordered[low]) * share, np.float64)
