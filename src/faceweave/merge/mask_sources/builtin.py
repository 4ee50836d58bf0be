"""The built-in mask sources: the landmark hull, the model's mask, both, or the whole crop."""

from __future__ import annotations

import numpy as np

from faceweave.merge.mask_sources import Mask, MaskInputs
from faceweave.merge.masks import hull_mask
from faceweave.registries import MASKS


def _hull(inputs: MaskInputs) -> Mask:
    return hull_mask(inputs.landmarks_crop, inputs.size, inputs.crop_size)


def _learned(inputs: MaskInputs) -> Mask:
    return inputs.learned


def _full(inputs: MaskInputs) -> Mask:
    return np.ones((inputs.size, inputs.size), np.float32)


MASKS.add("dst", "the hull of dst's face landmarks", _hull, __name__, rank=0)
MASKS.add("learned", "the mask the model learnt with the face", _learned, __name__, rank=1)
MASKS.add("full", "the whole aligned crop", _full, __name__, rank=2)
