"""Mask sources: which pixels of the aligned crop the swapped face replaces, before erode and blur.

A mask source is a plugin in `MASKS` (faceweave.registries): a function from `MaskInputs` to a
float32 mask in [0, 1] of `inputs.size` px, in the aligned crop's space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from faceweave.records import ImageBGR

Mask = npt.NDArray[np.float32]


@dataclass(frozen=True)
class MaskInputs:
    learned: Mask  # the model's own mask, at `size` px
    landmarks_crop: npt.NDArray[np.float64]  # (478, 2) dst landmarks in crop pixels
    size: int  # side of the mask to return
    crop_size: int  # side of the dst crop the landmarks are in
    dst_crop: ImageBGR  # the dst face itself (crop_size px), for sources that look at pixels


MaskSource = Callable[[MaskInputs], Mask]
