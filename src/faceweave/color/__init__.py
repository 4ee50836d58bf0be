"""Colour transfer: make one face's colours match another's, inside masks.

Used twice: the merger matches the predicted face to the dst face it replaces, and training can
recolour src samples toward dst statistics (DeepFaceLab's ct_mode) so the model does not learn a
colour cast. Images are float32 BGR in [0, 1]; statistics are taken where the mask is above 0.5
and the mapping is applied to the whole image.

Each transfer is a plugin in this package (`COLORS`). Those that work through statistics (rct,
lct, mkl) also give `stats`, "measure" and "apply" apart, so the merger can smooth a track's
statistics over time and the colour does not flicker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from faceweave.registries import COLORS

Image = npt.NDArray[np.float32]
Mask = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Stats:
    """Mean (3,) and covariance (3, 3) of pixels, in the colour space of the transfer."""

    mean: npt.NDArray[np.float64]
    cov: npt.NDArray[np.float64]

    def blend(self, newer: Stats, weight: float) -> Stats:
        """Exponential moving average: `weight` of the newer statistics."""
        return Stats(
            (1 - weight) * self.mean + weight * newer.mean, (1 - weight) * self.cov + weight * newer.cov
        )


@dataclass(frozen=True)
class StatsTransfer:
    """A transfer split in two: statistics of an image inside a mask, and a mapping between two."""

    measure: Callable[[Image, Mask | None], Stats]
    apply: Callable[[Image, Stats, Stats], Image]  # image, its statistics, the wanted ones


@dataclass(frozen=True)
class ColorTransfer:
    """`transfer(source, target, source_mask, target_mask)`: source recoloured toward target."""

    transfer: Callable[[Image, Image, Mask | None, Mask | None], Image]
    stats: StatsTransfer | None = None
    training: bool = False  # cheap enough to recolour every training sample (train.color_transfer)


def transfer(
    mode: str,
    source: Image,
    target: Image,
    source_mask: Mask | None = None,
    target_mask: Mask | None = None,
) -> Image:
    """`source` recoloured so that its colours inside `source_mask` match `target`'s inside
    `target_mask`."""
    return COLORS.get(mode).transfer(source, target, source_mask, target_mask)


def measure(mode: str, image: Image, mask: Mask | None = None) -> Stats:
    """The statistics a statistics-based transfer works with; ValueError for the others."""
    stats = COLORS.get(mode).stats
    if stats is None:
        raise ValueError(f"{mode} is not a statistics-based colour transfer")
    return stats.measure(image, mask)
