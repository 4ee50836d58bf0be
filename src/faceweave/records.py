"""Typed records passed between stages."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt

ImageBGR = npt.NDArray[np.uint8]


def image_hw(image: npt.NDArray[np.generic]) -> tuple[int, int]:
    """(height, width) of an image, typed as a pair."""
    return int(image.shape[0]), int(image.shape[1])


def as_image(array: object) -> ImageBGR:
    """Type an OpenCV/PyAV result as the uint8 BGR image it is (checked, not converted)."""
    image = np.asarray(array)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {image.dtype}")
    return image


@dataclass(frozen=True)
class AudioInfo:
    index: int
    codec: str
    sample_rate: int
    channels: int
    duration_s: float | None


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a video without decoding more than one frame.

    `width`/`height` are the display size, after rotation; `coded_width`/`coded_height` are as stored.
    `rotation_deg` is counter-clockwise, as in the container's display matrix.
    `frame_count` counts the packets that can be read; `declared_frames` is what the container's
    header promises (0 when it does not say): fewer readable than declared means truncated.
    """

    path: Path
    container: str
    codec: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    rotation_deg: int
    fps: Fraction
    is_vfr: bool
    frame_count: int
    declared_frames: int
    duration_s: float
    start_s: float
    audio: tuple[AudioInfo, ...]

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)


@dataclass(frozen=True)
class Frame:
    """One decoded picture: upright BGR pixels, its 0-based index and its presentation time."""

    index: int
    pts_s: float
    image_bgr_u8: ImageBGR
