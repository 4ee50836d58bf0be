"""Blend modes: how the swapped face, warped into its region of the frame, meets the frame.

A blend mode is a plugin in `BLENDS` (faceweave.registries): `paste(background, face, mask)` on
float32 BGR in [0, 1] over the face's region of the frame, and optionally `adjust(face, dst, skin)`
on the face in aligned space before it is pasted (after the colour transfer, before shading).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from faceweave.registries import BLENDS

Pixels = npt.NDArray[np.float32]


@dataclass(frozen=True)
class BlendMode:
    paste: Callable[[Pixels, Pixels, Pixels], Pixels]  # (background, face, mask) -> blended
    adjust: Callable[[Pixels, Pixels, Pixels], Pixels] | None = None  # (face, dst, skin) -> face


def overlay(background: npt.NDArray[np.float32], face: npt.NDArray[np.float32],
            mask: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:  # fmt: skip
    alpha = mask[..., None]
    return np.asarray(background * (1 - alpha) + face * alpha, np.float32)


BLENDS.add("overlay", "alpha blend through the soft mask", BlendMode(overlay), __name__, rank=0)
