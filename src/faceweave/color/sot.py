"""Sliced optimal transport, DeepFaceLab's sot-m."""

from __future__ import annotations

import numpy as np

from faceweave.color import ColorTransfer, Image, Mask
from faceweave.color._common import pixels, quantiles, selected
from faceweave.registries import COLORS


def sot(source: Image, target: Image, source_mask: Mask | None, target_mask: Mask | None) -> Image:
    """Each step moves every pixel by the mean, over random directions, of how far its projection is
    from where the sorted target projections put it."""
    rng = np.random.default_rng(0)
    flat = source.reshape(-1, 3).astype(np.float64)
    chosen, reference = selected(flat, source_mask), pixels(target, target_mask)
    directions = 8
    for _ in range(24):
        step = np.zeros_like(flat)
        for _ in range(directions):
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            projected = flat @ direction
            wanted = np.interp(projected, quantiles(projected[chosen]), quantiles(reference @ direction))
            step += np.outer(wanted - projected, direction)
        # A random unit direction carries 1/3 of a displacement on average: scale to a full step.
        flat = flat + step * 3 / directions
    return np.clip(flat, 0, 1).astype(np.float32).reshape(source.shape)


COLORS.add("sot", "sliced optimal transport of the colour distribution", ColorTransfer(sot), __name__, rank=5)
