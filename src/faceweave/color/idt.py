"""Iterative distribution transfer (Pitie et al.), DeepFaceLab's idt."""

from __future__ import annotations

import numpy as np

from faceweave.color import ColorTransfer, Image, Mask
from faceweave.color._common import pixels, quantiles, random_rotation, selected
from faceweave.registries import COLORS


def idt(source: Image, target: Image, source_mask: Mask | None, target_mask: Mask | None) -> Image:
    """In random rotated bases, match each axis's 1-D distribution by quantiles; repeated, the 3-D
    distribution converges to the target's."""
    rng = np.random.default_rng(0)
    flat = source.reshape(-1, 3).astype(np.float64)
    chosen, reference = selected(flat, source_mask), pixels(target, target_mask)
    for _ in range(12):
        rotation = random_rotation(rng)
        moved, ref = flat @ rotation, reference @ rotation
        for axis in range(3):
            moved[:, axis] = np.interp(
                moved[:, axis], quantiles(moved[chosen, axis]), quantiles(ref[:, axis])
            )
        flat = moved @ rotation.T
    return np.clip(flat, 0, 1).astype(np.float32).reshape(source.shape)


COLORS.add(
    "idt",
    "iterative distribution transfer: the whole colour distribution, not only its spread",
    ColorTransfer(idt),
    __name__,
    rank=4,
)
