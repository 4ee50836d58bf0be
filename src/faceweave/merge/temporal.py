"""Steadiness: the model predicts each frame alone, so its face boils a little from frame to frame
where dst's face stands still. Per track, each prediction is blended with the previous frame's
(already steadied) prediction, but only where the model's input, dst's aligned face, did not
change between the two frames: a mouth that opens, a blink or a light that flashes changes dst
there, and the prediction passes through at once, so nothing lags behind the performance.

Both predictions are in aligned face space, where a pixel is the same point of the face from one
frame to the next as far as the alignment can tell, so head motion needs no compensation; where
the alignment wavers, dst's aligned face changes too and is not smoothed over.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.float32]
# dst's change (0-1 levels, mean of channels, blurred) at which the blend weight falls to 1/e:
# above a compressed video's noise, below what any expression moves.
TOLERANCE = 0.035


@dataclass
class _Previous:
    frame_index: int
    dst: Image
    face: Image
    mask: Image


def still_weight(dst_now: Image, dst_before: Image, strength: float) -> Image:
    """Per pixel, `strength` where dst did not change, falling to 0 where it did."""
    change = np.abs(dst_now - dst_before).mean(axis=2)
    sigma = max(0.8, dst_now.shape[0] / 48)
    change = np.asarray(cv2.GaussianBlur(change, (0, 0), sigma), np.float32)
    return np.asarray(strength * np.exp(-((change / TOLERANCE) ** 2)), np.float32)


class TemporalFilter:
    """Called in frame order per track with dst's aligned face and the prediction for it;
    returns the steadied (face, mask)."""

    def __init__(self, strength: float) -> None:
        self.strength = strength
        self.tracks: dict[int, _Previous] = {}

    def __call__(self, track: int, frame_index: int, dst: Image, face: Image, mask: Image,
                 strength: float | None = None) -> tuple[Image, Image]:  # fmt: skip
        """`strength`, when given, replaces the filter's own for this frame (a merge session's range)."""
        strength = self.strength if strength is None else strength
        before = self.tracks.get(track)
        if strength > 0 and before is not None and before.frame_index == frame_index - 1:
            w = still_weight(dst, before.dst, strength)
            face = face + w[..., None] * (before.face - face)
            mask = mask + w * (before.mask - mask)
        self.tracks[track] = _Previous(frame_index, dst, face, mask)
        return face, mask
