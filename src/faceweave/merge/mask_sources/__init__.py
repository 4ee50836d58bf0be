"""Mask sources: which pixels of the aligned crop the swapped face replaces, before erode and blur.

A mask source is a plugin in `MASKS` (faceweave.registries): a function from `MaskInputs` to a
float32 mask in [0, 1] of `inputs.size` px, in the aligned crop's space (1 = the swap shows). A
source that keeps state across frames (to steady itself over time) registers a class instead: a
merge makes one instance and calls it for every face in frame order. `merge.mask` multiplies the
sources it names ("learned*dst*occlusion").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

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
    track_id: int = 0
    frame_index: int = 0
    face_path: Path | None = None  # the dst face file, for sources that read what was stored beside it


MaskSource = Callable[[MaskInputs], Mask]
MaskPlugin = MaskSource | Callable[[], MaskSource]  # a function, or a class made once per merge


def open_sources(spec: str) -> list[MaskSource]:
    """The sources `spec` multiplies ("learned*dst"), each ready for one merge."""
    from faceweave.registries import MASKS

    sources = []
    for name in spec.split("*"):
        value = MASKS.get(name)
        sources.append(
            cast(Callable[[], MaskSource], value)() if isinstance(value, type) else cast(MaskSource, value)
        )
    return sources


def combined(sources: list[MaskSource], inputs: MaskInputs) -> Mask:
    mask = sources[0](inputs)
    for source in sources[1:]:
        mask = mask * source(inputs)
    return np.asarray(mask, np.float32)
